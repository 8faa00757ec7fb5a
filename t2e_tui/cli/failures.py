"""`t2e failures RUN [--vs BASELINE]` (why each episode failed and where) and `t2e label`
(a human confirms, adds or rejects a failure class)."""

from __future__ import annotations

import click

from ..errors import T2EError
from ..standin import NOTE
from ..textsafe import one_line
from .common import console as _console
from .common import echo_json as _echo_json
from .common import open_store as _db
from .pipe import piped, write_lines

WHOLE = 1 << 30   # the width of a line that is never cut


def _episode(e: dict) -> str:
    """An episode's id, task and trial, the head of its line (a foreign episode has no
    trial: none is printed)."""
    trial = "" if e.get("trial") is None else f" t{e['trial']}"
    return f"{e['episode_id']:>7} {str(e['task_id']):<14}{trial}"


def _human(doc: dict, width: int) -> str:
    # the analysis package loads on use: every other command's start-up skips it (~20 ms)
    from ..analysis.outcome import unscored_words
    from ..analysis.report import finding_words

    lines = [f"run {doc['run_id']} · classifier {doc['classifier_version']} · "
             f"{len(doc['episodes'])} failed episode(s)"
             + (f" · {doc['infrastructure_excluded']} infrastructure (excluded)"
                if doc["infrastructure_excluded"] else "")
             + (f" · {doc['unscored']} unscored" if doc.get("unscored") else "")]
    if doc.get("stand_in"):
        lines.append(NOTE)
    if doc.get("unscored"):
        why, how = unscored_words(doc.get("foreign", True))
        lines.append(one_line(f"unscored: {why}" + (";" if how else ""), width))
        if how:
            lines.append(one_line(f"  {how}.", width))
    if doc.get("deltas") is not None:
        lines.append(f"class deltas vs {doc['vs']} (baseline → this run):")
        for r in doc["deltas"]:
            lines.append(f"  {r['class']:<20} {r['baseline']:>5} → {r['candidate']:<5} "
                         f"{r['delta']:+d}")
    else:
        lines.append("classes:")
        for name, n in sorted(doc["counts"].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {name:<20} {n:>5}")
        if not doc["counts"]:
            lines.append("  (no failed episode)")
    lines.append("")
    for e in doc["episodes"]:
        names = ", ".join(c["name"] + ("*" if c["source"] == "human" else "") for c in e["classes"])
        flags = " ".join(f"[{f['name']}]" for f in e.get("flags") or [])
        fd = (e.get("first_divergence") or {}).get("step")
        where = "" if fd is None else f" step {fd}"
        head = f"{_episode(e)}{where}: {names} {flags}"
        lines.append(one_line(head, width))
        if e["classes"]:
            lines.append("        " + one_line(e["classes"][0]["why"], max(20, width - 8)))
    if doc.get("unscored_findings"):
        lines.append("in unscored episodes (not failures), classes that need no gold:")
        for name, n in sorted(doc["unscored_counts"].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {name:<20} {n:>5}")
        for e in doc["unscored_findings"]:
            names = finding_words((c["name"], c["steps"], c.get("source"))
                                  for c in e["classes"])
            lines.append(one_line(f"{_episode(e)} unscored: {names}", width))
            lines.append("        " + one_line(e["classes"][0]["why"], max(20, width - 8)))
    for c in doc.get("clusters") or []:
        lines.append(one_line(f"cluster ×{c['size']} (e.g. episode {c['representative']}): "
                              f"{c['explanation']}", width))
    for f in doc.get("flips") or []:
        pd = f["pair_divergence"]
        part = "" if pd["step"] is None else f" part at step {pd['step']}"  # identical ones
        lines.append(one_line(f"flip {f['task_id']} ({f['direction']}): episodes "
                              f"{f['baseline_episode']}/{f['candidate_episode']}{part}: "
                              f"{pd['why']}", width))
    lines.append("(* = human label)")
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Add `failures`, `label` and `flywheel`."""
    register_flywheel(cli)

    @cli.command("failures")
    @click.argument("run", required=False)
    @click.option("--vs", "versus", help="Baseline run: show class deltas and the flipped tasks.")
    @click.option("--classes", "list_classes", is_flag=True, help="List the failure classes.")
    @click.option("--clusters", "with_clusters", is_flag=True,
                  help="Group the failures (class, tool, diff shape, agent words at the failing step).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def failures_cmd(run, versus, list_classes, with_clusters, as_json):
        """Why each failed episode of RUN failed (explained classes, multi-label, `unclassified`
        rather than a guess) and where (the first-divergence step). Results are cached in the
        store per classifier version; human labels (`t2e label`) win. Infrastructure errors are
        excluded. Episodes with no reward (foreign traces: no gold) are unscored, never
        failed: counted apart, with what the classes that need no gold find in them. Class
        definitions: docs/failure-classes.md. The explanations quote the traces: records an
        evidence view of each episode they show (the gate's leakage guard reads these)."""
        from store.queries import record_views, resolve_run

        from ..analysis import describe
        from ..analysis.report import failures_report, shown_episodes

        if list_classes:
            classes = describe()
            if as_json:
                _echo_json(classes)
            else:
                for c in classes:
                    click.echo(f"{c['name']:<20} {c['kind']:<6} {c['description']}")
            return
        if not run:
            raise T2EError("failures: give a RUN (or --classes)")
        db = _db()
        rid = resolve_run(db, run)
        vs = resolve_run(db, versus) if versus else None
        doc = failures_report(db, rid, vs, clusters=with_clusters)
        # the findings quote trace text: views for the gate's leakage guard, before printing
        record_views(db, shown_episodes(doc), "cli-failures")
        if as_json:
            _echo_json(doc)
        elif piped():
            # into a pipe every line whole, as the other commands write records (cli/pipe.py)
            write_lines(_human(doc, WHOLE).split("\n"))
        else:
            _console().print(_human(doc, _console().width), markup=False, highlight=False)

    @cli.command("label")
    @click.argument("target")
    @click.argument("cls", required=False)
    @click.option("--reject", "reject", metavar="CLASS", help="Reject a class the rules gave.")
    @click.option("--note", help="Why (kept with the label).")
    @click.option("--author", help="Who labels (default: $T2E_AUTHOR, else $USER).")
    @click.option("--json", "as_json", is_flag=True, help="Print the stored label as JSON.")
    def label_cmd(target, cls, reject, note, author, as_json):
        """Confirm or add a failure class on EPISODE[:STEP] (an episode id, optionally a step
        index), or reject one with --reject CLASS. A human label wins over the classifier in
        every view. `t2e failures --classes` lists the classes."""
        from ..analysis.labels import LabelError, add_label, parse_target

        if bool(cls) == bool(reject):
            raise T2EError("label: give exactly one of CLASS or --reject CLASS")
        try:
            eid, step = parse_target(target)
            db = _db()
            row = add_label(db, eid, step, reject or cls, reject=bool(reject), note=note,
                            author=author)
        except LabelError as exc:
            raise T2EError(f"label: {exc}") from exc
        if as_json:
            _echo_json(row)
        else:
            verb = "rejected" if reject else "labelled"
            click.echo(one_line(f"{verb} {row['label']} on {row['target_kind']} {row['target_id']} "
                                f"({row['author']}, {row['created_at']})", 200))


def register_flywheel(cli: click.Group) -> None:
    """Add `flywheel` (registered with `failures`)."""

    @cli.command("flywheel")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def flywheel_cmd(as_json):
        """Per candidate version (each cycle of the lineage): failures found by class, tasks
        fixed and newly regressed against its parent, the regression-set pass rate and the
        improvement rate (share of the parent's failing tasks fixed). Like with like: each
        point is the version's newest complete run on one task set (the set most versions
        ran, with its agent), never a partial rerun; a version with no run there is `-`."""
        from ..analysis.flywheel import basis_text, class_sparklines, flywheel_chart

        chart = flywheel_chart(_db())
        rows = chart["rows"]
        if as_json:
            _echo_json(rows)
            return
        if chart["empty"]:
            click.echo("{}: {}".format(*chart["empty"]))
            return
        for r in rows:
            rate = r["improvement_rate"]
            reg = r["regression_set_pass_rate"]
            click.echo(one_line(
                f"{r['version']:<22} run {r['run_id'] or '-':<9} failed {r['failed_tasks'] if r['failed_tasks'] is not None else '-':>4} "
                f"fixed {len(r['fixed']):>3} regressed {len(r['regressed']):>3} "
                f"improvement {'-' if rate is None else f'{rate:.0%}':>4} "
                f"regression set {'-' if reg is None else f'{reg:.0%}'}", 200))
        click.echo(one_line(basis_text(chart["basis"]), 300))
        click.echo("failures found by class across versions:")
        for name, line, counts in class_sparklines(rows):
            click.echo(f"  {name:<20} {line}  {' '.join('-' if c is None else str(c) for c in counts)}")
        if any(r["stand_in"] for r in rows):
            click.echo(NOTE)
