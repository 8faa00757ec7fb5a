"""`t2e evolve`: the improvement loop (t2e_tui/evolve). Exit 0 when a candidate was promoted on
clean heldout evidence (and, with --transfer, not discarded on transfer), 3 when the loop ended
without one (inconclusive), 2 on bad input."""

from __future__ import annotations

import click

from ..errors import T2EError
from ..textsafe import one_line
from .common import echo_json

EXIT_NO_PROMOTION = 3


def _human(out: dict) -> str:
    stand_in = (" [offline proposer + scripted agent: a stand-in, proves nothing about models]"
                if out["stand_in"] else "")
    lines = [f"evolve loop {out['loop_id'][:8]}: {out['status']}{stand_in}"]
    if out.get("why"):
        lines.append(f"  {one_line(out['why'])}")
    for it in out["iterations"]:
        lines.append(f"iteration {it['iteration']}: parent {it['parent'][:10]}, "
                     f"{len(it['proposals'])} proposal(s), Pareto set {len(it['pareto'])}")
        if it.get("proposals_short"):
            lines.append(f"  {one_line(it['proposals_short'])}")
        for p in it["proposals"]:
            if "error" in p:
                lines.append(f"  skipped: {one_line(p['error'])}")
                continue
            dev = it["dev_means"].get(p["hash"])
            mark = "*" if p["hash"] == it.get("frozen") else " "
            lines.append(f" {mark} {one_line(p['name'])} ({p['hash'][:10]}) dev reward "
                         f"{dev if dev is None else round(dev, 3)}: {one_line(p['hypothesis'])}")
        g = it.get("gate")
        if g:
            lines.append(f"  frozen -> heldout gate row {g['row_id']}: {g['decision']} "
                         f"({g['evidence_role']}), p = {g['p_value']:.4g}")
        tg = it.get("transfer_gate")
        if tg:
            lines.append(f"  transfer gate row {tg['row_id']}: {tg['decision']}")
        why = it.get("verdict") or it.get("why")
        if why:
            lines.append(f"  -> {'promoted' if it.get('promoted') else 'not promoted'}: "
                         f"{one_line(why)}")
    for r in out["refused_reads"]:
        lines.append(f"refused read: {one_line(r['why'])}")
    lines.append(f"{out['episodes']} episodes run, ${out['cost_usd']:.4f} spent")
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    @cli.command("evolve")
    @click.option("--from", "start", help="Starting candidate (name, hash or file).")
    @click.option("--domain", default="mini-retail", show_default=True)
    @click.option("--discovery", default="train", show_default=True, help="Discovery split.")
    @click.option("--dev", default="dev", show_default=True, help="Development split.")
    @click.option("--heldout", default="heldout", show_default=True, help="Heldout split.")
    @click.option("--transfer", default=None, help="DOMAIN:SPLIT for the transfer check.")
    @click.option("--proposer", default="offline", show_default=True,
                  help="offline (stand-in) or openai:MODEL.")
    @click.option("--proposals", default=3, show_default=True, type=int,
                  help="Patches proposed per iteration.")
    @click.option("--iterations", default=3, show_default=True, type=int)
    @click.option("--trials", default=1, show_default=True, type=int)
    @click.option("--noise", default=0.0, show_default=True, type=float,
                  help="Scripted agent noise (stand-in only).")
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option("--concurrency", default=4, show_default=True, type=int)
    @click.option("--budget-episodes", type=int, default=None)
    @click.option("--budget-usd", type=float, default=None)
    @click.option("--auto-promote", is_flag=True,
                  help="Record a human promote when the gate says promote on clean heldout.")
    @click.option("--resume", "resume", default=None, is_flag=False, flag_value="",
                  metavar="[LOOP]",
                  help="Resume loop LOOP (an id prefix); alone, the only unfinished loop.")
    @click.option("--candidates", "candidates", type=click.Path(file_okay=False), default=None,
                  help="Where proposed versions are written.")
    @click.option("--json", "as_json", is_flag=True)
    def evolve_cmd(start, domain, discovery, dev, heldout, transfer, proposer, proposals,
                   iterations, trials, noise, seed, concurrency, budget_episodes, budget_usd,
                   auto_promote, resume, candidates, as_json) -> None:
        """Propose, test and gate candidate patches from trace evidence, K iterations.

        The loop stops at the first candidate the gate promotes on clean heldout evidence that
        the transfer gate (with --transfer) does not discard; one promoted on heldout but
        discarded on transfer has not generalised, and the loop goes on.

        \b
        Exit codes: 0 a candidate was promoted; 3 the loop ended without one (iterations,
        budget, pause); 2 bad input."""
        from ..evolve import EvolveConfig, evolve
        from ..evolve.loop import SeveralUnfinished
        from .workbench import _cands_dir

        if budget_episodes is not None and budget_usd is not None:
            raise T2EError("give --budget-episodes or --budget-usd, not both")
        if resume is None and not start:
            raise T2EError("--from CANDIDATE is required (or --resume [LOOP])")
        for name, v in (("--budget-episodes", budget_episodes), ("--budget-usd", budget_usd)):
            if v is not None and v <= 0:
                raise T2EError(f"{name} {v}: must be positive")
        from .common import store_path as checked_store_path

        store_path = checked_store_path(create=True)  # a new store's folder must exist
        cfg = None if resume is not None else EvolveConfig(
            start=start, domain=domain, discovery=discovery, dev=dev, heldout=heldout,
            transfer=transfer, proposer=proposer, proposals=proposals, iterations=iterations,
            trials=trials, noise=noise, seed=seed, concurrency=concurrency,
            budget_episodes=budget_episodes, budget_usd=budget_usd, auto_promote=auto_promote,
            candidates_dir=str(_cands_dir(candidates)))
        progress = None if as_json else (lambda msg: click.echo(one_line(msg), err=True))

        def started(loop_id: str, resumed: bool) -> None:
            # on stderr, --json or not: after a kill the id is what --resume needs
            click.echo(f"evolve loop {loop_id[:8]} " + (
                "resumed" if resumed else
                f"started (after Ctrl-C or a kill: t2e evolve --resume {loop_id[:8]})"), err=True)

        try:
            out = evolve(store_path, cfg, resume=resume, progress=progress, on_start=started)
        except SeveralUnfinished as exc:
            if not as_json:
                for line in exc.lines:
                    click.echo(line, err=True)
            raise
        if as_json:
            echo_json(out)
        else:
            click.echo(_human(out))
        if out["status"] != "promoted":
            raise SystemExit(EXIT_NO_PROMOTION)
