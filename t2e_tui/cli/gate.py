"""`t2e gate`, `t2e decide`, `t2e scoreboard`: the gate's headless commands."""

from __future__ import annotations

import json
import os
from contextlib import closing

import click

from .. import jsonout
from ..errors import T2EError
from ..standin import is_stand_in
from ..standin import note as stand_in_note
from ..textsafe import one_line, single_line
from .common import output_file
from .pipe import piped, table_option, write_lines

# the human scoreboard (its table, cells and notes) lives in scoreboard_view.py; its names
# stay importable from here
from .scoreboard_view import (  # noqa: F401
    _DROP_ORDER,
    _RUNS_MIN,
    _SB_COLUMNS,
    _fmt,
    _rich_scoreboard,
    _sb_cells,
    override_notes,
    p_cell,
    role_notes,
    scoreboard_table,
    transfer_notes,
)


def _store():
    """A connection to the store; callers close it (`with closing(_store()) as conn`)."""
    from .common import connect_store

    return connect_store()


def _human_gate(doc: dict) -> str:
    from ..gate.report import ci_text, significant

    # run names come from files and people: shown, never interpreted by the terminal
    b = {**doc["baseline"], "name": one_line(doc["baseline"]["name"], 80)}
    c = {**doc["candidate"], "name": one_line(doc["candidate"]["name"], 80)}
    st = doc["stats"]
    lines = [
        f"gate row {doc['row_id']}: {doc['verdict'].upper()}"
        + (" (same verdict as row "f"{doc['row_id']}, already on the scoreboard; --new-row "
           "records another)" if doc.get("reused_row") else ""),
        f"  baseline  {b['name']} ({b['run_id']})   candidate  {c['name']} ({c['run_id']})",
        f"  tasks {len(doc['tasks'])}{' (intersected)' if doc['intersected'] else ''}   "
        f"evidence role {doc['evidence_role']}"
        + (f" (claimed {doc['claimed_role']})" if doc['claimed_role'] != doc['evidence_role']
           else ""),
    ]
    for r in doc["role_reasons"]:
        lines.append(f"  role: {one_line(r, 300)}")
    hs = doc.get("heldout_set")
    if hs and hs.get("name"):
        runs = hs.get("runs") or {}
        counts = ", ".join(
            f"{side} {v['position'] or '-'} of {v['runs_of_this_agent']}"
            if v.get("agent_known", True) else f"{side} agent unknown (imported)"
            for side, v in runs.items())
        lines.append(f"  heldout set {one_line(hs['name'], 60)} ({hs['tasks']} tasks, "
                     f"sha256 {hs['sha256'][:12]}, registered {hs['registered_at'][:19]}): "
                     f"candidate {hs['candidate_index']} on it ({hs.get('agents_on_set')} "
                     f"agent(s) ran on its tasks), set {hs.get('set_index') or 1} of the "
                     f"candidate's agent; runs by each agent on its tasks: {counts}")
    if doc["leaked_tasks"]:
        lines.append("  leaked tasks (viewed before the candidate's first run on them): "
                     + ", ".join(doc["leaked_tasks"]))
    lines.append("  checks:")
    for ch in doc["checks"]:
        mark = "n/a " if ch.get("na") else ("pass" if ch["passed"] else "FAIL")
        lines.append(f"    [{mark}] {ch['name']}: {ch['detail']}")
    for name in doc["disabled_checks"]:
        lines.append(f"    [off ] {name}")
    lines.append(
        f"  stats: {st['test']} p={significant(st['p_value'])} (alpha "
        f"{significant(st['alpha'])}), reward delta "
        f"{_fmt(doc['metrics']['deltas']['reward'])} {ci_text(st)}; fixes {len(st['fixes'])}, "
        f"regressions {len(st['regressions'])}, flaky {len(st['flaky'])}")
    if doc.get("rescore"):
        from ..gate.rescore import rescore_line

        lines.append(f"  rewards: {rescore_line(doc['rescore'], 'cli')}")
    for r in doc["reasons"]:
        lines.append(f"  reason: {r}")
    lines += advice_lines(doc.get("trial_budget"))
    tr = doc.get("transfer")
    for i, line in enumerate(transfer_lines(tr, f"t2e transfer {b['run_id']} {c['run_id']}")):
        lines.append(f"  transfer: {line}" if i == 0 and tr.get("note") else f"  {line}")
    for w in doc["warnings"]:
        lines.append(f"  warning: {w}")
    note = stand_in_note([b.get("agent_model"), c.get("agent_model")])
    if note:
        lines.append(f"  {note}")
    # task ids, check details and reasons come from trace files: each line stays one line
    return "\n".join(single_line(line) for line in lines)


def transfer_lines(tr: dict | None, check: str) -> list[str]:
    """The transfer evidence of a verdict (gate/transfer.gate_transfer) in lines, for the CLI
    and the gate screen alike; `check` names how this face runs a transfer check (the CLI's
    command, the app's T key). Task ids and domains come from files: one line each."""
    if not tr:
        return []
    out = [one_line(tr["note"], 400)] if tr.get("note") else []
    if tr.get("unchecked"):
        where = f" on {tr['target']}" if tr.get("target") else ""
        out.append(one_line(f"{tr['unchecked']} · {check}: transfer check{where}", 400))
    return out


def advice_lines(tb: dict | None) -> list[str]:
    """The trial-budget advisor in a few lines (the gate screen shows the same text)."""
    if not tb:
        return []
    if tb.get("slip_per_trial") is None:
        return [f"  trial budget: {tb.get('note', 'noise unknown')}"]
    need = tb.get("trials_needed")
    out = [f"  trial budget: noise {tb['slip_per_trial']:.3f} per trial (from "
           f"{one_line(tb['noise_source'], 80)}); a fix of {tb['fix_size']} task(s) is promoted "
           f"with power {tb['power_now']:.2f} at {tb['trials_per_side']} trial(s); 80% power "
           + (f"needs {need} trial(s) per side" if need else "is out of reach (see --json)")]
    for t, r in (tb.get("regressions") or {}).items():
        out.append(f"    1->0 on task {t}: {'within' if r['within_noise'] else 'beyond'} its "
                   f"noise (chance by noise {r['chance_by_noise']:.2f}); the veto still holds")
    return out


def _rows_json(result) -> list:
    """The `transitions` of `t2e gate --json`, each row already encoded: the same text as
    encoding each TaskRow.to_dict(), but everything after the task id is encoded once per
    (rewards, terminations) shape, which is all the rest of a row derives from (10^4 rows,
    a handful of shapes, numbered by compare_runs; -0.0 never comes out of SQLite, so equal
    keys encode alike)."""
    compact = jsonout.compact_encoder()
    shapes: dict = {}
    out = []
    for r in result.comparison.rows:
        key = r.__dict__.get("_shape")
        if key is None:  # a row not made by compare_runs
            key = (tuple(r.baseline), tuple(r.candidate), tuple(r.baseline_terminations),
                   tuple(r.candidate_terminations))
        tail = shapes.get(key)
        if tail is None:
            d = r.to_dict()
            del d["task_id"]
            tail = shapes[key] = ", " + compact(d)[1:]
        out.append(jsonout.Encoded('{"task_id": ' + compact(r.task_id) + tail))
    return out


def _transfer_doc(conn, result) -> dict | None:
    """The candidate's transfer evidence told from the verdict's row (gate/transfer.py's
    gate_transfer: the gate screen reads the same)."""
    from ..gate.transfer import gate_transfer

    cand = result.comparison.candidate
    return gate_transfer(conn, cand.candidate_hash, result.row_id, cand.domain)


def _check_reports(reports: tuple, as_json: bool) -> list:
    """--report FORMAT FILE pairs, before anything runs (the gate records its row only once
    every report's file is known to be writable: nothing half-written): each file named once
    (two reports into one file: the second overwrote the first), each checked as an output
    file (cli/common.output_file: not the store, its folder there, its name one the file
    system holds), and `-` (stdout, as `export -o -`) at most once and not beside --json
    (both would be the output). Returns (format, Output or None for stdout) pairs."""
    seen: dict[str, str] = {}
    out = []
    for fmt, path in reports:
        target = output_file(path, "--report")
        if target is None:
            if "-" in seen:
                raise T2EError("--report: only one report can go to stdout (-)")
            if as_json:
                raise T2EError("--report FORMAT -: the report is the output; it cannot go to "
                               "stdout beside --json (write it to a file)")
            seen["-"] = fmt
            out.append((fmt, None))
            continue
        key = target.final
        if key in seen:
            raise T2EError(f"{target.label}: the same file is named twice ({seen[key]} and "
                           f"{fmt}); give each report its own file")
        seen[key] = fmt
        out.append((fmt, target))
    return out


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
    @click.option("--allow-grader-mismatch", is_flag=True,
                  help="Compare runs whose recorded rewards come from different tau2 graders.")
    @click.option("--reward-attr", default=None, metavar="NAME",
                  help="Foreign traces (OpenTelemetry, ATIF): use this outcome attribute as "
                       "the reward.")
    @click.option("--report", "reports", multiple=True, metavar="FORMAT FILE",
                  type=(click.Choice(["junit", "markdown"]), click.Path(dir_okay=False)),
                  help="Also write the verdict as a JUnit XML or Markdown report (repeatable; "
                       "FILE - writes it to stdout, the verdict summary then to stderr).")
    @click.option("--new-row", is_flag=True,
                  help="Record a new scoreboard row even if an identical verdict has one.")
    @click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
                  help="tau2 data directory whose records imported retail/airline runs are "
                       "re-scored on (a folder holding retail/ and airline/, or one domain's "
                       "folder). Default: env TAU2_AIRLINE_DATA_DIR (airline), then "
                       "TAU2_DATA_DIR; without one such runs are not re-scored.")
    @click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
    def gate_cmd(baseline_run, candidate_run, policy_path, intersect, alpha,
                 allow_grader_mismatch, reward_attr, reports, new_row, data_dir, as_json):
        """Decide whether CANDIDATE_RUN beats BASELINE_RUN: promote on clean heldout (exit 0),
        supported on development/intersected/synthetic/tainted evidence (4), discard (1) or
        inconclusive (3). Records a scoreboard row (the same verdict twice: the same row)."""
        from ..gate import gate, load_policy
        from ..gate.grader import apply_reward_attr, check_graders
        from ..gate.rescore import reward_from
        from ..gate.rundata import paused_gc

        targets = _check_reports(reports, as_json)  # before the gate records its row
        policy = load_policy(policy_path)
        with paused_gc():  # 10^5 objects are built and kept, none of them cyclic garbage
            with closing(_store()) as conn:
                for w in (apply_reward_attr(conn, baseline_run, candidate_run, reward_attr)
                          if reward_attr else []):
                    click.echo(f"warning: {w}", err=True)
                why = check_graders(conn, baseline_run, candidate_run,
                                    allow=allow_grader_mismatch)
                if why:
                    click.echo(f"warning: grader mismatch allowed: {why}", err=True)
                result = gate(conn, baseline_run, candidate_run, policy=policy,
                              intersect=intersect, alpha=alpha, new_row=new_row,
                              data_dir=data_dir)
                # the per-task rows only go to --json (reports and the summary never read them)
                doc = result.to_dict(transitions=_rows_json(result) if as_json else [])
                doc["transfer"] = _transfer_doc(conn, result)
                # a field for machines (the reports and the summary say it in words)
                doc["stand_in"] = any(is_stand_in(doc[side].get("agent_model"))
                                      for side in ("baseline", "candidate"))
                # what the reports must say too: where the rewards came from, and a grader
                # mismatch let through
                doc["reward_from"] = reward_from(result.rescore)  # (as its row records)
                if why:
                    doc["warnings"] = [*doc["warnings"], "grader mismatch allowed "
                                       f"(--allow-grader-mismatch): {why}"]
                if reports:
                    from ..gate.report import inspect_refs  # xml.etree only when asked for

                    refs = inspect_refs(conn, doc)
            to_stdout = None
            if reports:
                from ..gate.report import report_bytes, write_report

                for fmt, target in targets:
                    if target is None:
                        to_stdout = report_bytes(doc, fmt, refs)
                    else:
                        write_report(doc, fmt, target, refs)
            if as_json:  # in pieces: the 10 MB document is never one string
                jsonout.dump(doc, lambda text: click.echo(text, nl=False))
                click.echo()
            elif to_stdout is not None:  # the report is the output; the verdict to stderr
                click.echo(_human_gate(doc), err=True)
                click.echo(to_stdout.decode("utf-8"), nl=False)
            else:
                click.echo(_human_gate(doc))
            code = result.exit_code
            # freed now, by reference counting: were they alive when the collector resumes,
            # its first pass would walk all 10^6 of them (0.1 s at 25,000 tasks)
            del result, doc
        return code

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

        from ..gate import record_human_decision

        with closing(_store()) as conn:
            out = record_human_decision(conn, row, decision, override=override, reason=reason,
                                        author=author or os.environ.get("USER"))
        if as_json:
            click.echo(json.dumps(out, indent=2))
        else:
            tag = " (OVERRIDE)" if out["override"] else ""
            msg = f"row {row}: {decision}{tag} recorded (gate said {out['gate_decision']})"
            prev = out["replaces"]
            if prev:
                was = prev["decision"] + (" OVERRIDE" if prev["override"] else "")
                why = f" ({one_line(prev['reason'], 200)})" if prev["reason"] else ""
                msg += (f"; it replaces the earlier {was}{why}, which stays in the row's "
                        "history (t2e scoreboard)")
            click.echo(msg)
        return 0

    @cli.command("scoreboard")
    @click.option("--tsv", "as_tsv", is_flag=True, help="Tab-separated, one row per decision.")
    @click.option("--json", "as_json", is_flag=True, help="JSON list, same fields as the TSV.")
    @click.option("--manifests", "manifests_row", type=int, default=None, metavar="ROW",
                  help="Print the full run manifests of scoreboard ROW as JSON (what "
                       "reproduces it; the table cites them by sha256).")
    @table_option
    def scoreboard_cmd(as_tsv, as_json, manifests_row, force_table):
        """One row per gate decision, with human decisions and overrides. Into a pipe:
        the --tsv records (one line per decision, nothing cut)."""
        from ..gate import scoreboard_rows
        from ..gate.scoreboard import row_manifests, to_tsv

        if as_tsv and as_json:
            raise T2EError("choose one of --tsv and --json")
        if manifests_row is not None:
            if as_tsv:
                raise T2EError("--manifests prints JSON: drop --tsv")
            with closing(_store()) as conn:
                doc = row_manifests(conn, manifests_row)
            click.echo(json.dumps(doc, indent=2, default=str))
            return 0
        with closing(_store()) as conn:
            rows = scoreboard_rows(conn)
        if as_json:
            click.echo(jsonout.dumps(rows))
        elif as_tsv or piped(force_table):
            write_lines(to_tsv(rows).split("\n"))
        else:
            _rich_scoreboard(rows)
        return 0
