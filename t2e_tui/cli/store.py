"""`t2e import`, `runs` (+ rename/role/rm), `show`, `search`, `export`: the evidence store's
headless commands. Thin: the work is in store/ (importers, exporters, queries)."""

from __future__ import annotations

import click

from world.errors import shown_path

from ..errors import EXIT_BAD_INPUT, T2EError
from ..standin import is_stand_in, model_label
from ..standin import note as stand_in_note
from ..textsafe import one_line
from .common import connect_store, one_line_table
from .common import console as _console
from .common import echo_json as _echo_json
from .common import fmt as _fmt
from .common import open_store as _db
from .pipe import echo_tsv, piped, table_option

ROLE_CHOICES = ("discovery", "development", "heldout", "transfer", "synthetic")


# Columns of `t2e runs` as shown: (key, header, natural width cap, justify). A run always
# stays one line: narrow terminals drop the low-value columns in _DROP_ORDER first (id, name,
# reward and pass rate survive down to ~40 columns).
_RUN_COLUMNS = (("run", "run", 8, "left"), ("name", "name", 40, "left"),
                ("agent", "agent", 24, "left"),
                ("role", "role", 11, "left"), ("eps", "eps", 7, "right"),
                ("reward", "reward", 6, "right"), ("pass", "pass", 4, "right"),
                ("termination", "termination", 24, "left"), ("source", "source", 24, "left"))
_DROP_ORDER = ("source", "termination", "agent", "role", "eps")  # (the stand-in note stays)
_NAME_MIN = 14


def _run_cells(r: dict) -> dict:
    terms = tuple(f"{k} {v}" for k, v in r["termination"].items())
    source = r["source"] if r["source"] == "rerun" else r["source"].rsplit("/", 1)[-1]
    rate = r["pass_rate"]
    return {"run": r["run_id"], "name": r["name"],
            "agent": model_label(r["agent_model"]) or "-", "role": r["role"] or "-",
            "eps": str(r["episodes"]), "reward": _fmt(r["reward"]),
            "pass": "-" if rate is None else f"{rate * 100:.0f}%", "termination": terms,
            "source": source}


def runs_table(rows: list[dict], width: int):
    """The human `t2e runs` table for a terminal `width` columns wide: one line per run, but
    for the termination cell, which breaks between reasons (`user_stop 3, max_steps 2,` /
    `agent_error 1`) rather than cut any away. Other cells never wrap (they end in …);
    low-value columns go first when space is short."""
    cells = [{k: tuple(one_line(t, 200) for t in v) if k == "termination" else one_line(v, 200)
              for k, v in _run_cells(r).items()} for r in rows]
    return one_line_table(_RUN_COLUMNS, cells, width, drop_order=_DROP_ORDER, flex="name",
                          flex_min=_NAME_MIN, whole_if_fits=True, wrap="termination",
                          apart=True)


def _rescore_caveats(rows: list[dict], foreign: frozenset[str]) -> dict[str, str]:
    """run id -> the long "not re-scorable here (...)" words, for the runs that have them
    (`store.grader.rescore_caveat`, as the app's runs screen says it)."""
    from store.grader import rescore_caveat

    out = {}
    for r in rows:
        words = rescore_caveat(r["domain"], imported=r["source"] != "rerun",
                               foreign=r["run_id"] in foreign,
                               rewarded=r["reward"] is not None)
        if words:
            out[r["run_id"]] = words[0]
    return out


def _rescore_notes(rows: list[dict], caveats: dict[str, str]) -> list[str]:
    """One line per caveat under the table: the runs it is true of, each with its domain
    (`runbase (telecom), ...`)."""
    said: dict[str, list[str]] = {}
    for r in rows:
        if r["run_id"] in caveats:
            said.setdefault(caveats[r["run_id"]], []).append(
                f"{r['run_id']} ({one_line(r['domain'] or '?', 60)})")
    return [f"{words}: {', '.join(runs)}" for words, runs in said.items()]


def _absent_store_files() -> list[str]:
    """The store's file and its companions (-wal, -shm, -journal, .lock) when the store does
    not exist yet: what this command would make; [] when it exists."""
    import os

    from .common import STORE_COMPANIONS, store_path
    path = store_path(True)
    if os.path.exists(path):
        return []
    return [path + s for s in STORE_COMPANIONS if not os.path.exists(path + s)]


def _remove(files: list[str]) -> None:
    import os

    for f in files:
        try:
            os.remove(f)
        except OSError:
            pass


def register(cli: click.Group) -> None:
    """Add the store commands to the root group (`show` and `episodes` live in
    episodes.py)."""
    from . import episodes as cli_episodes

    cli_episodes.register(cli)

    @cli.command("import")
    @click.argument("paths", nargs=-1, required=True, type=click.Path())
    @click.option("--name", help="Run name (default: the file name; with several files, "
                                 "NAME-1, NAME-2, ...).")
    @click.option("--role", type=click.Choice(ROLE_CHOICES), default=None,
                  help="Evidence role of the imported run(s) (default: discovery). A file "
                       "already imported keeps its run's role: naming another is refused "
                       "(`t2e runs role RUN ROLE` changes it, on the record).")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def import_cmd(paths: tuple[str, ...], name: str | None, role: str | None,
                   as_json: bool) -> int:
        """Import trace files: tau2 results (v0/v1 JSON, a 1.x results directory), t2e JSONL,
        OpenTelemetry GenAI spans (OTLP/JSON), ATIF trajectories, or Harbor job and trial
        folders (a job is one run, each trial an episode with its verifier reward). A folder
        that is none of these stands for its trace files, results directories and Harbor jobs
        (one level deep); what else it holds is named as skipped.

        Each file is one transaction; re-importing the same content is a no-op (with another
        --role than its run's, a rejection: the role is not changed). Exits 2 when any file
        was rejected (the others still land)."""
        from store.importers import import_paths
        from store.queries import run_name_problem

        problem = run_name_problem(name) if name else None  # ("": the file's name)
        if problem:
            raise T2EError(f"--name: {problem}")
        # a plain connection: the import needs no sqlite-utils Database, whose import loads
        # numpy (0.1 s of every `t2e import`)
        new_files = _absent_store_files()
        conn = connect_store(create=True)
        result = None
        try:
            result = import_paths(conn, list(paths), name=name, role=role)
        finally:
            conn.close()
            if new_files and not (result and result["imported"]):
                # nothing landed in a store this command made: leave none behind (as a
                # mistyped --store leaves none: store_path)
                _remove(new_files)
        if as_json:
            _echo_json(result)
        else:
            for e in result["imported"]:
                what = "already imported as" if e["duplicate"] else "imported as"
                click.echo(f"{e['path']}: {what} run {e['run_id']} ({e['episodes']} episodes, "
                           f"{e['messages']} messages)")
                for w in e["warnings"]:
                    click.echo(f"  warning: {one_line(w, 400)}")
            for r in result["rejected"]:
                click.echo(f"rejected: {one_line(r['error'], 600)}", err=True)
            for sk in result["skipped"]:  # (a folder's entries: said, not an error)
                click.echo(f"skipped: {one_line(sk['path'] + ': ' + sk['reason'], 600)}",
                           err=True)
        return EXIT_BAD_INPUT if result["rejected"] else 0

    @cli.group("runs", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
    @table_option
    @click.pass_context
    def runs(ctx: click.Context, as_json: bool, force_table: bool) -> None:
        """List runs, oldest first (reward and pass rate exclude infrastructure errors).
        Into a pipe: one tab-separated line per run, nothing cut."""
        if ctx.invoked_subcommand is not None:
            return
        from store.grader import foreign_runs
        from store.queries import list_runs

        db = _db()
        rows = list_runs(db)
        caveats = _rescore_caveats(rows, foreign_runs(db.conn))
        if as_json:
            # the agent as a field (the stand-in's too), never words inside a figure;
            # `rescorable`: false when t2e cannot re-score the run's rewards (its domain, or
            # no gold): the figures are the file's own
            keys = ("run_id", "name", "role", "source", "world_id", "episodes", "scored",
                    "running", "infrastructure_errors", "reward", "pass_rate", "termination",
                    "agent_model")
            _echo_json([{**{k: r[k] for k in keys}, "stand_in": is_stand_in(r["agent_model"]),
                         "rescorable": r["run_id"] not in caveats} for r in rows])
            return
        if piped(force_table):
            # `agent`: the model as the app's runs screen shows it (`scripted (stand-in)`)
            cols = ("run_id", "name", "role", "episodes", "reward", "pass_rate", "termination",
                    "source", "agent")
            cells = {"termination": lambda r: ", ".join(f"{t} {n}" for t, n in
                                                         r["termination"].items()),
                     "agent": lambda r: model_label(r["agent_model"])}
            echo_tsv(cols, ([cells[k](r) if k in cells else r[k] for k in cols]
                            for r in rows))
            return
        if not rows:
            click.echo("no runs yet: `t2e import FILE` or `t2e run`")
            return
        console = _console()
        console.print(runs_table(rows, console.width))
        note = stand_in_note(r["agent_model"] for r in rows)
        if note:
            console.print(note, soft_wrap=True)
        for note in _rescore_notes(rows, caveats):
            console.print(note, soft_wrap=True)

    @runs.command("rename")
    @click.argument("run")
    @click.argument("name")
    @click.option("--json", "as_json", is_flag=True)
    def runs_rename(run: str, name: str, as_json: bool) -> None:
        """Rename RUN (id, id prefix or name)."""
        from store.queries import rename_run

        rid = rename_run(_db(), run, name)
        _echo_json({"run_id": rid, "name": name.strip()}) if as_json else \
            click.echo(f"run {rid} renamed to {name.strip()!r}")

    @runs.command("role")
    @click.argument("run")
    @click.argument("role", type=click.Choice(ROLE_CHOICES))
    @click.option("--json", "as_json", is_flag=True)
    def runs_role(run: str, role: str, as_json: bool) -> None:
        """Set the evidence role of RUN. Every change is recorded: a run made heldout or
        transfer after it was created does not count as clean evidence in the gate."""
        from store.queries import role_history, set_role

        db = _db()
        rid = set_role(db, run, role)
        hist = role_history(db, rid)
        note = None
        if hist["raised_to_clean_at"]:
            note = (f"the run was created as {hist['created_role']} evidence; the change "
                    "is recorded, and a role raised after the run was created does not make "
                    "clean heldout evidence")
        if as_json:
            _echo_json({"run_id": rid, "role": role, "role_set_at": hist["role_set_at"],
                        "created_role": hist["created_role"], "note": note})
        else:
            click.echo(f"run {rid} is now {role} evidence")
            if note:
                click.echo(f"note: {note}", err=True)

    @runs.command("rm")
    @click.argument("run")
    @click.option("--json", "as_json", is_flag=True)
    def runs_rm(run: str, as_json: bool) -> None:
        """Delete RUN with its episodes and steps. Gate decisions citing it are kept and
        marked as citing a deleted run."""
        from store.queries import delete_run

        res = delete_run(_db(), run)
        if as_json:
            _echo_json(res)
        else:
            click.echo(f"deleted run {res['run_id']} ({res['episodes']} episodes, "
                       f"{res['messages']} messages); {res['gate_decisions_marked']} gate "
                       "decision(s) now marked as citing a deleted run")

    @cli.command("search")
    @click.argument("query")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
    @click.option("--offset", default=0, type=click.IntRange(0))
    @click.option("--rank", is_flag=True, help="Order by relevance (bm25, every match ranked) "
                  "instead of storage.")
    # --rank-all ranked every match when --rank ranked only the newest 100,000; both are
    # exact now: kept so scripts that pass it keep working
    @click.option("--rank-all", is_flag=True, hidden=True)
    @click.option("--run", "run_ref", help="Only this run (id, prefix or name).")
    @click.option("--json", "as_json", is_flag=True)
    @table_option
    def search_cmd(query: str, limit: int, offset: int, rank: bool, rank_all: bool,
                   run_ref: str | None, as_json: bool, force_table: bool) -> None:
        """Full-text search over messages, tool arguments and tool results. Each hit names
        the episode as `t2e show` takes it (REF) and its step. Into a pipe: one
        tab-separated line per hit (ref, step, episode id, run, task, role, snippet)."""
        from store.queries import episode_refs, fts_query, record_views, resolve_run, search
        from store.search import ranked_search

        if not fts_query(query):  # "" or only punctuation: nothing to look for is bad input
            raise T2EError(f"search text {query!r} has no words to look for "
                           "(letters or digits; a trailing * searches by prefix)")
        db = _db()
        rid = resolve_run(db, run_ref) if run_ref else None
        if rank or rank_all:
            hits = ranked_search(db, query, limit=limit, offset=offset, run_id=rid)
        else:
            hits = search(db, query, limit=limit, offset=offset, run_id=rid)
        # hits show trace text: they are views for the gate's leakage guard
        record_views(db, [h["episode_id"] for h in hits], "cli-search")
        if as_json:
            _echo_json(hits)
            return
        refs: dict[str, dict[int, str]] = {}
        for h in hits:
            if h["run_id"] not in refs:
                refs[h["run_id"]] = episode_refs(db, h["run_id"])
        ref = {h["episode_id"]: refs[h["run_id"]].get(h["episode_id"], str(h["episode_id"]))
               for h in hits}
        # past the last page "no matches" would be wrong: there were, just not this far
        none = (f"no matches for {query!r}" if not offset else
                f"no matches for {query!r} past the first {offset:,}")
        if piped(force_table):
            echo_tsv(("ref", "step", "episode_id", "run_id", "task_id", "role", "snippet"),
                     ([ref[h["episode_id"]], h["idx"], h["episode_id"], h["run_id"],
                       h["task_id"], h["role"], h["snippet"]] for h in hits))
            if not hits:
                click.echo(none, err=True)
            return
        if not hits:
            click.echo(none)
            return
        from rich.text import Text

        con = _console()
        for h in hits:
            line = Text(f"{ref[h['episode_id']]} step {h['idx']} ", style="bold")
            line.append(f"(ep {h['episode_id']}) {h['role']}: ", style="dim")
            line.append(one_line(h["snippet"], 300))
            con.print(line)

    @cli.command("export")
    @click.argument("run")
    @click.option("--format", "fmt", type=click.Choice(("jsonl", "tau2", "otel")), default="tau2",
                  show_default=True)
    @click.option("-o", "--output", "output", default="-", show_default=True,
                  help="Output file ('-' = stdout). Replaced whole; a symbolic link is "
                       "written through, a FIFO or device written to.")
    @click.option("--json", "as_json", is_flag=True, help="Report as JSON (needs -o FILE).")
    def export_cmd(run: str, fmt: str, output: str, as_json: bool) -> None:
        """Export RUN as a tau2 results file, native JSONL (one episode per line) or
        OpenTelemetry GenAI spans (OTLP/JSON lines: --format otel)."""
        from store.exporters import export_run
        from store.queries import record_views, resolve_run
        from store.writer import conn_of as _conn

        from .common import output_file

        target = output_file(output, "-o")  # checked before any work
        db = _db()
        rid = resolve_run(db, run)
        if as_json and output == "-":
            raise T2EError("--json reports on the export: give -o FILE")
        n = export_run(db, rid, fmt, target)
        # an export hands out every trajectory of the run: a view of each of its tasks
        record_views(db, [e for (e,) in _conn(db).execute(
            "SELECT episode_id FROM episodes WHERE run_id = ?", (rid,))], "export")
        if as_json:
            _echo_json({"run_id": rid, "format": fmt, "path": output, "episodes": n})
        elif output != "-":
            click.echo(f"exported run {rid} ({n} episodes) to {shown_path(output)} as {fmt}",
                       err=True)
