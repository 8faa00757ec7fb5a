"""CLI of the locked world: `score`, `world verify`, `world hash`, `tasks`.

Exit codes follow t2e_tui/cli/main.py: `world verify` exits 0 unchanged, 1 changed, 2 bad input.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import EXIT_BAD_INPUT, EXIT_DISCARD, T2EError
from .common import emit as _emit

# No click envvar: the world picks the env var per domain (TAU2_AIRLINE_DATA_DIR, then
# TAU2_DATA_DIR for airline; TAU2_DATA_DIR for retail), see world/tau2_data.py.
_data_opt = click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
                         help="tau2 data directory: a folder holding retail/ and airline/ "
                              "(e.g. ../shared/tau2), or one domain's folder itself. Default: "
                              "env TAU2_AIRLINE_DATA_DIR (airline), then TAU2_DATA_DIR.")
_DOMAIN_CHOICE = click.Choice(["mini-retail", "tau2-retail", "mini-airline", "tau2-airline"])


def _score_human(path: str, rep: dict) -> str:
    amb = rep.get("ambiguous") or []
    lines = [f"{path}: {rep['agree']}/{rep['simulations']} simulations agree with the recorded "
             f"reward; {rep['judge_dependent']} judge-dependent (NL verdicts taken from the file)"
             + (f"; {len(amb)} ambiguous label(s), not scored" if amb else "")]
    for d in rep["disagree"]:
        lines.append(f"  disagree  sim {d['sim_id']} task {d['task_id']}: recorded "
                     f"{d['recorded']} recomputed {d['recomputed']} ({d['reason']})")
    for r in rep["relabelled"]:
        lines.append(f"  relabel   sim {r['sim_id']}: labelled {r['label']}, likely {r['likely']}"
                     f" ({r.get('reason', '')})")
    for r in amb:
        lines.append(f"  ambiguous sim {r['sim_id']}: labelled {r['label']} ({r['reason']})")
    return "\n".join(lines)


def _size(path: str) -> int:
    """Bytes of a results file, or of a results directory's files (0 when unreadable: the
    reader reports that)."""
    import os

    try:
        if os.path.isdir(path):
            return sum(e.stat().st_size for d in (path, os.path.join(path, "simulations"))
                       if os.path.isdir(d) for e in os.scandir(d) if e.is_file())
        return os.path.getsize(path)
    except OSError:
        return 0


def _score_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The results `t2e score` reads: a folder stands for what `t2e import FOLDER` takes of
    it (store.importers.folder_files: one level down, by name, hidden entries passed over,
    its tau2 results directories) that score can read: its .json files and results
    directories (it said "FOLDER/results.json: no such file" where `t2e import` took it)."""
    from pathlib import Path

    from store.importers import folder_files, run_directory
    from world.errors import shown_path

    out: list[str] = []
    for p in paths:
        entries = folder_files(p)
        folder = Path(p).is_dir() and not run_directory(Path(p))
        if entries == [p] and not folder:
            out.append(p)
            continue
        found = [str(e) for e in entries if isinstance(e, Path) and (
            run_directory(e) if e.is_dir() else e.suffix.lower() == ".json")]
        if not found:
            raise T2EError(f"{shown_path(p)}: a folder with no results.json, no .json file and no tau2 "
                           "1.x results directory", EXIT_BAD_INPUT)
        out += found
    return tuple(out)


def register(cli: click.Group) -> None:
    """Add the world commands to the root group."""

    @cli.command("score")
    @click.argument("files", nargs=-1, required=True, type=click.Path())
    @_data_opt
    @click.option("--replay", type=click.Choice(["v1", "v0"]), default="v1", show_default=True,
                  help="tau2 replay/termination rules (v0 zeroes only max_steps and "
                       "too_many_errors).")
    @click.option("--no-relabel", is_flag=True, help="Score every simulation by its label.")
    @click.option("--jobs", type=click.IntRange(1, 64), default=None,
                  help="Processes reading and scoring parts of one file at once (default: 2 "
                       "for files of 128 MB or more on a machine with 2+ cores not already busy, else 1; env "
                       "T2E_SCORE_JOBS). The report is the same either way.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def score(files: tuple[str, ...], data_dir: str | None, replay: str, no_relabel: bool,
              jobs: int | None, as_json: bool) -> int:
        """Re-score tau2 results FILES against the tasks embedded in them.

        tau2 retail and airline files need the records of a tau2 data directory (--data, or
        TAU2_AIRLINE_DATA_DIR / TAU2_DATA_DIR); t2e's own mini-retail and mini-airline exports
        use the built-in world. NL assertion
        verdicts are taken from the file and counted as judge-dependent. A file of another
        domain is refused with a message; other files are still scored."""
        from world.errors import WorldError
        from world.rescore import file_domain, records_for, rescore, rescore_domain, stream_results
        from world.score_split import auto_jobs

        files = _score_paths(files)
        reports, failed = [], 0
        records: dict[str, Any] = {}  # loaded once per kind of records
        for path in files:
            try:
                data = stream_results(path)  # simulations read one at a time
                # the records of the domain as the world names it ("Retail" is retail)
                kind = rescore_domain(file_domain(data)) or "tau2-retail"
                if kind not in records:
                    records[kind] = records_for(kind, data_dir)  # no data dir: WorldError
                rep = rescore(data, records[kind], source=path, replay=replay,
                              relabel=not no_relabel, jobs=jobs or auto_jobs(_size(path)))
                reports.append({"file": path, **rep})
            except WorldError as exc:
                if len(files) == 1:
                    raise
                failed += 1
                reports.append({"file": path, "error": str(exc)})
        if len(files) == 1 and not as_json:
            click.echo(_score_human(files[0], reports[0]))
        else:
            # one JSON shape for one file or many: {"files": [{"file", ...report}]}
            _emit({"files": reports}, as_json, "\n".join(
                f"{r['file']}: refused: {r['error']}" if "error" in r
                else _score_human(r["file"], r) for r in reports))
        return EXIT_BAD_INPUT if failed else 0

    @cli.group("world")
    def world() -> None:
        """The locked world: its hash, and whether it changed since a run."""

    @world.command("hash")
    @click.option("--domain", default="mini-retail", show_default=True,
                  type=_DOMAIN_CHOICE)
    @_data_opt
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def world_hash(domain: str, data_dir: str | None, as_json: bool) -> None:
        """Print the current world hash of a domain (its data and the world code)."""
        from world.domains import load_domain

        dom = load_domain(domain, data_dir)
        _emit({"domain": dom.name, "world_hash": dom.world_hash, "detail": dom.world_detail},
              as_json, f"{dom.name} {dom.world_hash}")

    @world.command("verify")
    @click.argument("run")
    @_data_opt
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def world_verify(run: str, data_dir: str | None, as_json: bool) -> int:
        """Has the world changed since RUN? Exit 0 unchanged, 1 changed, 2 bad input."""
        from world.domains import load_domain
        from world.lock import changed_parts

        row = _run_row(run)
        manifest = _manifest(row)
        world_kind = row.get("world_kind")
        if world_kind == "import" or (not manifest.get("world_hash") and row.get("source_id")):
            raise T2EError(
                f"run {run} is an imported run: its world id {row.get('world_id') or '?'} "
                "identifies the domain, policy text and task definitions embedded in the file "
                "it came from, not a locked t2e world, so there is nothing to verify against "
                "our code; compare world ids between imported runs instead", EXIT_BAD_INPUT)
        recorded = manifest.get("world_hash") or row.get("world_id")
        domain = manifest.get("domain") or row.get("domain")
        if not recorded or not domain:
            raise T2EError(f"run {run} has no recorded world hash or domain in its manifest",
                           EXIT_BAD_INPUT)
        dom = load_domain(domain, data_dir or manifest.get("data_dir"))
        same = dom.world_hash == recorded
        out = {"run": row["run_id"], "domain": domain, "recorded": recorded,
               "current": dom.world_hash, "changed": not same}
        detail = manifest.get("world_detail")
        if detail is None and row.get("world_detail_json"):
            try:
                detail = json.loads(row["world_detail_json"])
            except json.JSONDecodeError:
                detail = None
        # Per-part reporting needs the lock detail (world.lock.world_hash's second value).
        if not same and isinstance(detail, dict) and "data" in detail and "code" in detail:
            out["changed_parts"] = changed_parts(detail, dom.world_detail)
        human = (f"unchanged: {domain} world {recorded}" if same else
                 f"CHANGED: {domain} world was {recorded}, now {dom.world_hash}")
        _emit(out, as_json, human)
        return 0 if same else EXIT_DISCARD

    @cli.command("tasks")
    @click.option("--domain", default="mini-retail", show_default=True,
                  type=_DOMAIN_CHOICE)
    @_data_opt
    @click.option("--split", default=None, help="Only this split (train, dev, heldout, ...).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def tasks_cmd(domain: str, data_dir: str | None, split: str | None, as_json: bool) -> None:
        """List a domain's tasks: id, split, failure class, summary."""
        from world.domains import load_domain

        dom = load_domain(domain, data_dir)
        if split is not None and split not in dom.splits:
            raise T2EError(f"--split {split!r}: unknown split of {dom.name} "
                           f"(known: {', '.join(dom.splits) or 'none'})")
        ids = dom.splits[split] if split is not None else list(dom.tasks)
        rows = []
        for tid in ids:
            task = dom.tasks[tid]
            rows.append({"id": tid, "split": split or task.split or dom.split_of(tid),
                         "failure_class": task.failure_class, "summary": task.summary})
        human = "\n".join(f"{r['id']:>8}  {r['split'] or '-':<8} {r['failure_class'] or '-':<24} "
                          f"{r['summary']}" for r in rows)
        _emit(rows, as_json, human or "(no tasks)")


def _run_row(run: str) -> dict:
    """The run (by id or unique name) with its world kind, from the store."""

    from store import connect

    from .common import store_path

    conn = connect(store_path())
    try:
        cols = ("run_id", "name", "domain", "world_id", "source_id", "manifest_json", "world_kind",
                "world_detail_json")
        sql = ("SELECT r.run_id, r.name, r.domain, r.world_id, r.source_id, r.manifest_json, "
               "w.kind, w.detail_json FROM runs r LEFT JOIN worlds w ON w.world_id = r.world_id ")
        rows = conn.execute(sql + "WHERE r.run_id = ?", (run,)).fetchall()
        if not rows:
            rows = conn.execute(sql + "WHERE r.name = ?", (run,)).fetchall()
        if not rows:
            raise T2EError(f"unknown run {run!r} (see `t2e runs`)")
        if len(rows) > 1:
            raise T2EError(f"run name {run!r} is ambiguous: use the run id "
                           f"({', '.join(r[0] for r in rows[:5])})")
        return dict(zip(cols, rows[0]))
    finally:
        conn.close()


def _manifest(row: dict) -> dict:
    text = row.get("manifest_json")
    if not text:
        return {}
    try:
        val = json.loads(text)
    except json.JSONDecodeError:
        raise T2EError(f"run {row['run_id']}: manifest_json is not valid JSON") from None
    return val if isinstance(val, dict) else {}
