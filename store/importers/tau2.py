"""tau2-bench results: v0/v1 monolithic JSON, the directory format, and foreign shapes.

The file is streamed (see jsonstream.py): top-level keys other than `simulations` are small and
parsed whole; simulations are parsed one at a time. Unknown keys at every level are kept
(runs.info_json, episodes.extra_json, steps.extra_json) so that export is lossless.

Reading is split into a producer and a consumer. The producer (`produce`) parses the file and
builds rows: it touches no database and yields events — ("head", ...) once the run-level keys
are known, ("batch", rows) as rows accumulate, ("done", ...) at the end. The consumer writes
them inside the caller's transaction. Big files run the producer in a worker process, so
parsing and SQLite inserts proceed on two cores (threads can't: sqlite3 retakes the GIL for
every row of executemany and the two threads convoy).

The directory format's files (results.json, the simulation files, what is not imported) are
found and checked in tau2_dir.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

from .. import writer
from . import fastsims
from .bulk import import_cache
from .common import (
    LOOPS,
    MISSING,
    ImportContext,
    ImportFailure,
    RunMeta,
    env_count,
    link_loops,
    not_a_file,
    open_regular,
    wants_worker,
)
from .episodes import RecordError, RowBuilder, next_ids, sim_label, validate_sim, write_batch
from .jsonstream import JsonStream, JsonStreamError
from .parse_worker import ParseWorker
from .tasks_embedded import EmbeddedTasks, duplicate_ids
from .tau2_dir import directory_files, layout_notes, read_json

_V1_INFO_KEYS = {"text_streaming_config", "speech_complexity", "audio_native_config",
                 "retrieval_config", "retrieval_config_kwargs"}
EXPECTED = ("expected a tau2 results file (an object with timestamp, info, tasks, simulations), "
            "a tau2 results directory (results.json + simulations/), a JSON list of "
            "simulations, t2e JSONL (.jsonl), an OpenTelemetry OTLP/JSON export "
            "(resourceSpans), a Harbor ATIF trajectory or a Harbor job or trial folder")
# Messages per batch of rows (~0.5 MB pickled): the worker queues a few batches ahead of the
# parent (worker.py), and smaller batches keep that queue's memory small.
BATCH_MESSAGES = env_count("T2E_IMPORT_BATCH", 500)
# Messages per FTS statement: FTS5 writes an index segment per statement and merges them later,
# so a batch fills the index for the steps of the last INDEX_EVERY messages rather than its own
# (RowBuilder's index_every; the rows are still in the page cache when they are read back):
# ~0.6 CPU-s less for the 10k bench file than indexing every batch.
INDEX_EVERY = env_count("T2E_IMPORT_INDEX_EVERY", 16000)

Event = tuple


def import_file(conn: sqlite3.Connection, ctx: ImportContext,
                worker: ParseWorker | None = None) -> None:
    """Import one tau2 JSON file (or a foreign JSON shape) inside the caller's transaction.
    `worker`: a parse worker already started for this file (import_path starts it before
    hashing); the caller closes it."""
    run_id = _free_run_id(conn)
    ids = next_ids(conn)
    if not wants_worker(ctx.size):
        with import_cache(conn, ctx.size):
            consume(conn, ctx, run_id, produce(str(ctx.path), ctx.display, run_id, ids))
        return
    own = worker is None
    worker = worker or ParseWorker(ctx.path, ctx.display)
    try:
        with import_cache(conn, ctx.size):
            consume(conn, ctx, run_id, worker.events(run_id, ids))
    finally:
        if own:
            worker.close()


def import_directory(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """The directory format: results.json (everything but simulations) + simulations/*.json."""
    run_id = _free_run_id(conn)
    with import_cache(conn):
        consume(conn, ctx, run_id, _produce_directory(ctx.path, ctx.display, run_id,
                                                      next_ids(conn)))


def _free_run_id(conn: sqlite3.Connection) -> str:
    """A run id no run has had: not a stored run's, nor a removed one's (agent_runs keeps
    those, and the gate's heldout rules read them by id)."""
    while True:
        rid = writer.new_run_id()
        if not conn.execute("SELECT 1 FROM runs WHERE run_id = ? UNION ALL "
                            "SELECT 1 FROM agent_runs WHERE run_id = ?", (rid, rid)).fetchone():
            return rid


# -- consumer ---------------------------------------------------------------------------------

def consume(conn: sqlite3.Connection, ctx: ImportContext, run_id: str,
            events: Iterator[Event]) -> None:
    """Write a producer's events: the run at "head", rows at "batch", the rest at "done"."""
    try:
        for ev in events:
            kind = ev[0]
            if kind == "batch":
                write_batch(conn, ev[1])
            elif kind == "head":
                _, top, keys, fmt, warnings = ev
                ctx.fmt = fmt
                ctx.warnings.extend(warnings)
                ctx.start_run(conn, RunMeta(top_keys=keys, top=top), run_id=run_id)
            elif kind == "done":
                _, top, keys, fmt, warnings, ctx.episodes, ctx.messages = ev
                ctx.fmt = fmt
                ctx.warnings.extend(warnings)
                ctx.finish_run(conn, RunMeta(top_keys=keys, top=top))
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # stops a worker process if we failed half-way


# -- producer ---------------------------------------------------------------------------------

def produce(path: str, display: str, run_id: str, ids: tuple[int, int]) -> Iterator[Event]:
    """Parse a tau2 JSON file into events (no database). Raises ImportFailure."""
    pctx = ImportContext(path=Path(path), display=display, sha256="", size=0, name="",
                         role="discovery")
    builder = RowBuilder(run_id, *ids, batch_messages=BATCH_MESSAGES,
                         index_every=INDEX_EVERY)
    with open_regular(path) as fh:
        stream = JsonStream(fh)
        try:
            first = stream.peek()
            if first == "[":
                pctx.fmt = "foreign-list"
                pctx.warn("a bare JSON list of simulations, not the tau2 results schema: no "
                          "info block and no embedded tasks (imported best-effort)")
                meta = RunMeta(top_keys=[], top={})
                yield ("head", meta.top, meta.top_keys, pctx.fmt, pctx.take_warnings())
                items = _items(stream, path, closing=b"")
                yield from _sims(pctx, builder, meta, enumerate(items))
                read_all = getattr(items, "file_done", False)
                if not builder.episodes:  # `[]`: a run of nothing is no evidence
                    raise ImportFailure("an empty list: no simulations to import")
            elif first == "{":
                meta, read_all = yield from _object(pctx, builder, stream)
            elif first == "":
                raise ImportFailure("the file is empty; " + EXPECTED)
            elif first in 'ntf"-0123456789':  # null, true, false, a string, a number
                raise ImportFailure("a single JSON value that is neither an object nor a list "
                                    f"(it starts with {first!r}); " + EXPECTED)
            else:
                raise ImportFailure(f"not JSON: starts with {first!r}; " + EXPECTED)
            if not read_all and not stream.at_end():
                raise ImportFailure(f"unexpected data after the JSON value at {stream.where()} "
                                    "(several JSON values? name the file .jsonl)")
        except JsonStreamError as exc:
            raise ImportFailure(f"{exc}{pctx.reading()}") from None
    warnings = pctx.take_warnings() + pctx.summary_warnings(builder)
    yield ("done", meta.top, meta.top_keys, pctx.fmt, warnings, builder.episodes,
           builder.messages)


def _items(stream: JsonStream, path: str, *, closing: bytes) -> Iterable[Any]:
    """The simulations array's items: decoded by orjson where it gives the strict reader's
    values (fastsims.py), else by the strict reader itself."""
    if fastsims.enabled():
        return fastsims.FastArray(stream, path, closing=closing)
    return stream.iter_array()


def _object(pctx: ImportContext, builder: RowBuilder,
            stream: JsonStream) -> Iterator[Event]:
    """The top-level object; returns (meta, whether the file was read to its end)."""
    top: dict[str, Any] = {}
    keys: list[str] = []
    meta: RunMeta | None = None
    for key in stream.iter_object_keys():
        if key in keys:  # json.load would keep the last; a streamed import can't, so refuse
            raise ImportFailure(f"the top-level key {key!r} appears twice (at {stream.where()})")
        keys.append(key)
        if key == "simulations":
            if stream.peek() != "[":
                value = stream.read_value()
                raise ImportFailure(f"'simulations' should be a list, found "
                                    f"{type(value).__name__}")
            if "tasks" not in top or "info" not in top:
                # tasks after simulations (unusual): read them first, for the relabel check
                # and the world id, without keeping the simulations.
                top.update(_prescan(pctx.path, exclude=set(top)))
            meta = RunMeta(top_keys=list(keys), top=top)
            _check_shape(pctx, meta)
            yield ("head", top, list(keys), pctx.fmt, pctx.take_warnings())
            items = _items(stream, pctx.path, closing=b"}")
            yield from _sims(pctx, builder, meta, enumerate(items))
            if getattr(items, "file_done", False):
                # the array ended the file (`]}` and blanks): no keys follow, nothing to check
                meta.top_keys = keys
                return meta, True
        else:
            pctx.reading_what = f" while reading top-level key {key!r}"
            top[key] = _read_top_value(stream, key)
            pctx.reading_what = ""
    if meta is None:
        if "messages" in top:
            raise ImportFailure("found a single simulation object (it has 'messages' but no "
                                "'simulations'); " + EXPECTED)
        shown = ", ".join(keys[:12]) or "none"
        raise ImportFailure(f"found a JSON object with keys [{shown}] and no 'simulations' list; "
                            + EXPECTED)
    meta.top_keys = keys
    return meta, False


def _prescan(path: Path, exclude: set[str]) -> dict[str, Any]:
    """Top-level values other than simulations, parsed in a separate pass."""
    out: dict[str, Any] = {}
    with open_regular(path) as fh:
        s = JsonStream(fh)
        for key in s.iter_object_keys():
            if key == "simulations":
                for _ in s.iter_array():
                    pass
            else:
                value = _read_top_value(s, key)
                if key not in exclude:
                    out[key] = value
    return out


def _read_top_value(stream: JsonStream, key: str) -> Any:
    """A top-level value; a `tasks` array is read task by task into EmbeddedTasks (compact
    text, not dicts: memory follows the file, not its task count)."""
    if key == "tasks" and stream.peek() == "[":
        return EmbeddedTasks.read(stream.iter_array())
    return stream.read_value()


def _check_shape(pctx: ImportContext, meta: RunMeta) -> None:
    top = meta.top
    if "info" in top and not isinstance(top["info"], dict):
        raise ImportFailure(f"'info' should be an object, found {type(top['info']).__name__}")
    tasks = top.get("tasks")
    if isinstance(tasks, list) and all(isinstance(t, dict) for t in tasks):
        tasks = top["tasks"] = EmbeddedTasks.from_list(tasks)  # the directory format
    if tasks is not None and (not isinstance(tasks, EmbeddedTasks) or tasks.bad):
        raise ImportFailure("'tasks' should be a list of task objects")
    dup = duplicate_ids(meta.tasks)
    if dup:
        raise ImportFailure(f"'tasks' holds the same task id twice ({dup[:5]})")
    if "info" not in top and "tasks" not in top:
        pctx.fmt = "foreign-wrapper"
        pctx.warn("a summary wrapper around simulations (keys: "
                  f"{', '.join(k for k in meta.top_keys if k != 'simulations')}), not the tau2 "
                  "results schema: no info block and no embedded tasks (imported best-effort)")
    else:
        info = top.get("info") or {}
        v1 = "simulation_index" in top or bool(_V1_INFO_KEYS & set(info))
        pctx.fmt = pctx.fmt or ("tau2-v1" if v1 else "tau2-v0")
        if "info" not in top:
            pctx.warn("no 'info' block: run metadata (models, domain, policy) unknown")
        if "tasks" not in top:
            pctx.warn("no embedded 'tasks': the world id covers the domain and policy only and "
                      "the task-label check is skipped")
        from world.rescore import rescorable_kinds

        from ..grader import rescorable
        if not rescorable(meta.domain):
            pctx.warn(f"domain {meta.domain!r} is not re-scorable here (t2e re-scores "
                      f"{rescorable_kinds()}): the recorded rewards are imported and shown as "
                      "given")


def _sims(pctx: ImportContext, builder: RowBuilder, meta: RunMeta,
          sims: Iterable[tuple[int, Any]], files: list[Path] | None = None) -> Iterator[Event]:
    """`files`: a results directory's simulation files, one a simulation (named in its
    errors: `simulations/ID.json: simulation #1 ...`)."""
    tasks = meta.tasks
    # parsing happens when the loop asks for the next item, so name that item beforehand
    pctx.reading_what = " while reading simulation #0"
    try:
        for ord_, sim in sims:
            label = sim_label(sim, ord_)
            if files:
                label = f"simulations/{files[ord_].name}: {label}"
            validate_sim(sim, label)
            batch = builder.add(sim, ord_, likely_task_id=pctx.check_label(sim, tasks, label))
            if batch is not None:
                yield ("batch", batch)
            pctx.reading_what = f" while reading simulation #{ord_ + 1} (after {label})"
        pctx.reading_what = ""
    except RecordError as exc:
        raise ImportFailure(str(exc)) from None
    batch = builder.take(final=True)
    if batch is not None:
        yield ("batch", batch)


def _produce_directory(path: Path, display: str, run_id: str,
                       ids: tuple[int, int]) -> Iterator[Event]:
    pctx = ImportContext(path=path, display=display, sha256="", size=0, name="",
                         role="discovery")
    builder = RowBuilder(run_id, *ids, batch_messages=BATCH_MESSAGES,
                         index_every=INDEX_EVERY)
    results = path / "results.json"
    sim_dir = path / "simulations"
    for part in (results, sim_dir):
        if link_loops(part):  # else "without results.json" or "no simulations/ folder"
            raise ImportFailure(f"{part.name} {LOOPS}")
    problem = not_a_file(results)
    if problem == MISSING:
        if sim_dir.is_dir():  # a tau2 1.x results directory missing its results file
            raise ImportFailure("a tau2 results directory without results.json (simulations/ "
                                "is there); " + EXPECTED)
        raise ImportFailure("a directory with no results.json, no trace files (.json, "
                            ".jsonl, .ndjson) and no tau2 results directories in it; "
                            + EXPECTED)
    if problem:
        raise ImportFailure(f"{results.name} {problem}")
    top, index, files = directory_files(path)
    pctx.warnings.extend(layout_notes(path, files if index else None))
    inline = top.pop("simulations", None)
    meta = RunMeta(top_keys=list(top) + ["simulations"], top=top)
    _check_shape(pctx, meta)
    pctx.fmt = "tau2-dir"
    if inline and files:
        pctx.warn("results.json has inline simulations and a simulations/ folder: "
                  "using the folder")
    if not files and not inline:
        pctx.warn("no simulations found (no simulations/ folder, none inline)")
    yield ("head", top, meta.top_keys, pctx.fmt, pctx.take_warnings())

    def sims() -> Iterator[tuple[int, Any]]:
        if files:
            for i, f in enumerate(files):
                yield i, read_json(f)
        else:
            yield from enumerate(inline or [])

    yield from _sims(pctx, builder, meta, sims(), files or None)
    warnings = pctx.take_warnings() + pctx.summary_warnings(builder)
    yield ("done", top, meta.top_keys, pctx.fmt, warnings, builder.episodes, builder.messages)

