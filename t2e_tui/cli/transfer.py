"""CLI of the transfer check: `t2e transfer BASELINE_RUN CANDIDATE_RUN`."""

from __future__ import annotations

import json
from contextlib import closing

import click

from ..standin import note as stand_in_note
from ..textsafe import one_line
from .common import store_path


def register(cli: click.Group) -> None:
    """Add `transfer` to the root group."""

    @cli.command("transfer")
    @click.argument("baseline_run")
    @click.argument("candidate_run")
    @click.option("--domain", default=None,
                  help="Transfer domain (default: the pair of the runs' domain: mini-retail <-> "
                       "mini-airline, tau2-retail <-> tau2-airline).")
    @click.option("--tasks", default="heldout", show_default=True,
                  help="The transfer domain's split (or all, or ID,ID,...).")
    @click.option("--data", "data_dir", default=None, help="tau2 data directory (tau2-*).")
    @click.option("--concurrency", type=int, default=4, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def transfer_cmd(baseline_run, candidate_run, domain, tasks, data_dir, concurrency,
                     as_json):
        """Rerun the two candidates of a comparison on the other domain (role transfer) and
        gate them: the transfer evidence. Exit codes as `t2e gate`. Existing complete transfer
        runs of the same candidate, domain and split are reused."""
        from ..gate.transfer import transfer_status
        from ..transfer_rerun import run_transfer

        store = store_path()  # the runs it reruns are in the store: a missing one is refused
        tr = run_transfer(store, baseline_run, candidate_run, domain=domain, tasks=tasks,
                          data_dir=data_dir, concurrency=concurrency)
        from store import connect

        with closing(connect(store)) as conn:
            st = transfer_status(conn, tr.result.comparison.candidate.candidate_hash)
        doc = {**tr.to_dict(), "transfer": st.to_dict() if st else None}
        if as_json:
            click.echo(json.dumps(doc, indent=2, default=str))
        else:
            res = tr.result
            regs = res.stats.get("regressions") or []
            lines = [f"transfer check on {tr.domain} ({tr.tasks}): gate row {res.row_id} "
                     f"{res.decision.upper()} (evidence {res.evidence_role})",
                     f"  runs: baseline {tr.baseline_run}, candidate {tr.candidate_run}"
                     + (f" (reused: {', '.join(tr.reused)})" if tr.reused else ""),
                     f"  regressions {len(regs)}: {one_line(', '.join(regs), 400) or '-'}"]
            lines += [f"  reason: {one_line(r, 300)}" for r in res.reasons]
            if st and st.note:
                lines.append(f"  {one_line(st.note, 400)}")
            note = stand_in_note(r.agent_model for r in (res.comparison.baseline,
                                                         res.comparison.candidate))
            if note:
                lines.append(f"  {note}")
            click.echo("\n".join(lines))
        return tr.result.exit_code
