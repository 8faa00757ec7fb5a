"""`t2e gate`, `t2e decide`, `t2e scoreboard`: the gate's headless commands."""

from __future__ import annotations

import json

import click

from .errors import T2EError


def _store():
    import store

    return store.connect(click.get_current_context().obj.store)


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _human_gate(doc: dict) -> str:
    from .textsafe import one_line

    # run names come from files and people: shown, never interpreted by the terminal
    b = {**doc["baseline"], "name": one_line(doc["baseline"]["name"], 80)}
    c = {**doc["candidate"], "name": one_line(doc["candidate"]["name"], 80)}
    st = doc["stats"]
    lines = [
        f"gate row {doc['row_id']}: {doc['decision'].upper()}",
        f"  baseline  {b['name']} ({b['run_id']})   candidate  {c['name']} ({c['run_id']})",
        f"  tasks {len(doc['tasks'])}{' (intersected)' if doc['intersected'] else ''}   "
        f"evidence role {doc['evidence_role']}"
        + (f" (claimed {doc['claimed_role']})" if doc['claimed_role'] != doc['evidence_role']
           else ""),
    ]
    if doc["leaked_tasks"]:
        lines.append(f"  leaked tasks (viewed while drafting): {', '.join(doc['leaked_tasks'])}")
    lines.append("  checks:")
    for ch in doc["checks"]:
        mark = "n/a " if ch.get("na") else ("pass" if ch["passed"] else "FAIL")
        lines.append(f"    [{mark}] {ch['name']}: {ch['detail']}")
    for name in doc["disabled_checks"]:
        lines.append(f"    [off ] {name}")
    lines.append(
        f"  stats: {st['test']} p={st['p_value']:.4g} (alpha {st['alpha']}), reward delta "
        f"{_fmt(doc['metrics']['deltas']['reward'])} CI{int(st['ci_level'] * 100)} "
        f"[{st['ci_low']:.4f}, {st['ci_high']:.4f}]; fixes {len(st['fixes'])}, "
        f"regressions {len(st['regressions'])}, flaky {len(st['flaky'])}")
    for r in doc["reasons"]:
        lines.append(f"  reason: {r}")
    for w in doc["warnings"]:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Add the gate commands to the root group."""

    @cli.command("gate")
    @click.argument("baseline_run")
    @click.argument("candidate_run")
    @click.option("--policy", "policy_path", type=click.Path(dir_okay=False), default=None,
                  help="TOML gate policy (default: the packaged seed-protocol policy).")
    @click.option("--intersect", is_flag=True,
                  help="Compare only the tasks both runs share.")
    @click.option("--alpha", type=float, default=None,
                  help="One-sided significance level (overrides the policy's).")
    @click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
    def gate_cmd(baseline_run, candidate_run, policy_path, intersect, alpha, as_json):
        """Decide whether CANDIDATE_RUN beats BASELINE_RUN: promote (exit 0), discard (1) or
        inconclusive (3). Appends a row to the scoreboard."""
        from .gate import gate, load_policy

        policy = load_policy(policy_path)
        conn = _store()
        try:
            result = gate(conn, baseline_run, candidate_run, policy=policy,
                          intersect=intersect, alpha=alpha)
        finally:
            conn.close()
        doc = result.to_dict()
        if as_json:
            click.echo(json.dumps(doc, indent=2, default=str))
        else:
            click.echo(_human_gate(doc))
        return result.exit_code

    @cli.command("decide")
    @click.argument("row", type=int)
    @click.argument("decision", type=click.Choice(["promote", "discard"]))
    @click.option("--override", is_flag=True,
                  help="Promote against a discard/inconclusive verdict (needs --reason).")
    @click.option("--reason", default=None, help="Why (required with --override).")
    @click.option("--author", default=None, help="Who decided (default: $USER).")
    @click.option("--json", "as_json", is_flag=True)
    def decide_cmd(row, decision, override, reason, author, as_json):
        """Record a human decision on scoreboard ROW."""
        import os

        from .gate import record_human_decision

        conn = _store()
        try:
            out = record_human_decision(conn, row, decision, override=override, reason=reason,
                                        author=author or os.environ.get("USER"))
        finally:
            conn.close()
        if as_json:
            click.echo(json.dumps(out, indent=2))
        else:
            tag = " (OVERRIDE)" if out["override"] else ""
            msg = f"row {row}: {decision}{tag} recorded (gate said {out['gate_decision']})"
            prev = out["replaces"]
            if prev:
                from .textsafe import one_line

                was = prev["decision"] + (" OVERRIDE" if prev["override"] else "")
                why = f" ({one_line(prev['reason'], 200)})" if prev["reason"] else ""
                msg += (f"; it replaces the earlier {was}{why}, which stays in the row's "
                        "history (t2e scoreboard)")
            click.echo(msg)
        return 0

    @cli.command("scoreboard")
    @click.option("--tsv", "as_tsv", is_flag=True, help="Tab-separated, one row per decision.")
    @click.option("--json", "as_json", is_flag=True, help="JSON list, same fields as the TSV.")
    def scoreboard_cmd(as_tsv, as_json):
        """One row per gate decision, with human decisions and overrides."""
        from .gate import scoreboard_rows
        from .gate.scoreboard import to_tsv

        if as_tsv and as_json:
            raise T2EError("choose one of --tsv and --json")
        conn = _store()
        try:
            rows = scoreboard_rows(conn)
        finally:
            conn.close()
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
        elif as_tsv:
            click.echo(to_tsv(rows))
        else:
            _rich_scoreboard(rows)
        return 0


def _rich_scoreboard(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .textsafe import one_line

    console = Console()
    if not rows:
        console.print("no gate decisions yet (run `t2e gate BASELINE CANDIDATE`)")
        return
    # Below ~110 columns the time and the CI go (they are in --tsv/--json); the verdict columns
    # come first so they are never the ones cut off.
    wide = console.width >= 110
    table = Table(title="scoreboard (* = human override, see notes)", pad_edge=False, box=None,
                  header_style="bold")
    cols = [("row", {"justify": "right", "no_wrap": True})]
    if wide:
        cols.append(("time", {"no_wrap": True}))
    cols += [("gate", {"no_wrap": True}), ("human", {"no_wrap": True}),
             ("baseline → candidate", {"overflow": "fold", "ratio": 2, "min_width": 10}),
             ("role", {"no_wrap": True}), ("reward", {"no_wrap": True}),
             ("Δ [CI]" if wide else "Δ", {"no_wrap": True}), ("p", {"no_wrap": True}),
             ("regr", {"overflow": "fold", "ratio": 1, "min_width": 4})]
    for col, kw in cols:
        table.add_column(col, **kw)
    notes: list[str] = []
    for r in rows:
        if r["reward_delta"] is None:
            delta = "n/a"
        else:
            delta = f"{r['reward_delta']:+.2f}"
            if wide:
                delta += f" [{r['ci_low']:.2f},{r['ci_high']:.2f}]"
        human = human_cell(r["human_history"])
        notes += override_notes(r)
        runs = (f"{one_line(r['baseline_name'] or r['baseline_run'], 60)} → "
                f"{one_line(r['candidate_name'] or r['candidate_run'], 60)}")
        if r["candidate_hash"]:
            runs += f" #{r['candidate_hash'][:8]}"
        if r["cites_deleted_run"]:
            runs += " (deleted run)"
        role = {"development": "dev"}.get(r["evidence_role"], r["evidence_role"])
        role += f" leaked:{len(r['leaked_tasks'])}" if r["leaked_tasks"] else ""
        cells = [r["row"]]
        if wide:
            cells.append((r["time"] or "")[5:16].replace("T", " "))
        cells += [r["decision"], human, runs, role,
                  f"{_fmt(r['reward_before'], 2)}→{_fmt(r['reward_after'], 2)}", delta,
                  _fmt(r["p_value"], 3), ",".join(r["regressions"]) or "-"]
        # Text() keeps names and reasons literal: no Rich markup is interpreted.
        table.add_row(*(Text(str(x)) for x in cells))
    console.print(table)
    for note in notes:
        console.print(Text(note))


def human_cell(hist: list[dict]) -> str:
    """The human decisions of a row, oldest first, `*` marking overrides: `promote*→discard`
    (an override later replaced stays visible). `-` when nobody decided."""
    return "→".join(h["decision"] + ("*" if h["override"] else "") for h in hist) or "-"


def override_notes(r: dict) -> list[str]:
    """One note per override on a row, saying whether it is still in force."""
    from .textsafe import one_line

    out = []
    hist = r["human_history"]
    for i, h in enumerate(hist):
        if not h["override"]:
            continue
        later = hist[i + 1:]
        state = ("in force" if not later else
                 f"since replaced by {later[-1]['decision']}"
                 + (f" ({later[-1]['author']})" if later[-1].get("author") else ""))
        who = f" by {h['author']}" if h.get("author") else ""
        out.append(f"* row {r['row']}: OVERRIDE {h['decision']} against {r['decision']}{who}, "
                   f"{state}; reason: {one_line(h['reason'], 300)}")
    return out
