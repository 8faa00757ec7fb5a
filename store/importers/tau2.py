"""tau2-bench results: v0/v1 monolithic JSON, the directory format, and foreign shapes.

The file is streamed (see jsonstream.py): top-level keys other than `simulations` are small and
parsed whole; simulations are parsed and written one at a time. Unknown keys at every level are
kept (runs.info_json, episodes.extra_json, steps.extra_json) so that export is lossless.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

from .. import writer
from .common import ImportContext, ImportFailure, RunMeta
from .episodes import EpisodeWriter, RecordError, sim_label, validate_sim
from .jsonstream import JsonStream, JsonStreamError

_V1_INFO_KEYS = {"text_streaming_config", "speech_complexity", "audio_native_config",
                 "retrieval_config", "retrieval_config_kwargs"}
EXPECTED = ("expected a tau2 results file (an object with timestamp, info, tasks, simulations), "
            "a tau2 results directory (results.json + simulations/), a JSON list of "
            "simulations, or t2e JSONL (.jsonl)")


def import_file(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """Stream one tau2 JSON file into the store (the caller holds the transaction)."""
    with open(ctx.path, "rb") as fh:
        stream = JsonStream(fh)
        try:
            first = stream.peek()
            if first == "[":
                ctx.fmt = "foreign-list"
                ctx.warn("a bare JSON list of simulations, not the tau2 results schema: no "
                         "info block and no embedded tasks (imported best-effort)")
                meta = RunMeta(top_keys=[], top={})
                _write_sims(conn, ctx, meta, _counted(stream.iter_array()), stream)
                ctx.finish_run(conn, meta)
            elif first == "{":
                _import_object(conn, ctx, stream)
            elif first == "":
                raise ImportFailure("the file is empty; " + EXPECTED)
            else:
                raise ImportFailure(f"not JSON: starts with {first!r}; " + EXPECTED)
            if not stream.at_end():
                raise ImportFailure(f"unexpected data after the JSON value at {stream.where()} "
                                    "(several JSON values? name the file .jsonl)")
        except JsonStreamError as exc:
            raise ImportFailure(f"{exc}{ctx.reading()}") from None


def _counted(items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    return enumerate(items)


def _import_object(conn: sqlite3.Connection, ctx: ImportContext, stream: JsonStream) -> None:
    top: dict[str, Any] = {}
    keys: list[str] = []
    meta: RunMeta | None = None
    for key in stream.iter_object_keys():
        keys.append(key)
        if key == "simulations":
            if stream.peek() != "[":
                value = stream.read_value()
                raise ImportFailure(f"'simulations' should be a list, found "
                                    f"{type(value).__name__}")
            if "tasks" not in top or "info" not in top:
                # tasks after simulations (unusual): read them first, for the relabel check
                # and the world id, without keeping the simulations.
                top.update(_prescan(ctx.path, exclude=set(top)))
            meta = RunMeta(top_keys=keys, top=top)
            _check_shape(ctx, meta)
            _write_sims(conn, ctx, meta, _counted(stream.iter_array()), stream)
        else:
            ctx.reading_what = f" while reading top-level key {key!r}"
            top[key] = stream.read_value()
            ctx.reading_what = ""
    if meta is None:
        if "messages" in top:
            raise ImportFailure("found a single simulation object (it has 'messages' but no "
                                "'simulations'); " + EXPECTED)
        shown = ", ".join(keys[:12]) or "none"
        raise ImportFailure(f"found a JSON object with keys [{shown}] and no 'simulations' list; "
                            + EXPECTED)
    meta.top_keys = keys
    ctx.finish_run(conn, meta)


def _prescan(path: Path, exclude: set[str]) -> dict[str, Any]:
    """Top-level values other than simulations, parsed in a separate pass."""
    out: dict[str, Any] = {}
    with open(path, "rb") as fh:
        s = JsonStream(fh)
        for key in s.iter_object_keys():
            if key == "simulations":
                for _ in s.iter_array():
                    pass
            else:
                value = s.read_value()
                if key not in exclude:
                    out[key] = value
    return out


def _check_shape(ctx: ImportContext, meta: RunMeta) -> None:
    top = meta.top
    if "info" in top and not isinstance(top["info"], dict):
        raise ImportFailure(f"'info' should be an object, found {type(top['info']).__name__}")
    tasks = top.get("tasks")
    if tasks is not None and not (isinstance(tasks, list)
                                  and all(isinstance(t, dict) for t in tasks)):
        raise ImportFailure("'tasks' should be a list of task objects")
    if "info" not in top and "tasks" not in top:
        ctx.fmt = "foreign-wrapper"
        ctx.warn("a summary wrapper around simulations (keys: "
                 f"{', '.join(k for k in meta.top_keys if k != 'simulations')}), not the tau2 "
                 "results schema: no info block and no embedded tasks (imported best-effort)")
    else:
        info = top.get("info") or {}
        v1 = "simulation_index" in top or bool(_V1_INFO_KEYS & set(info))
        ctx.fmt = ctx.fmt or ("tau2-v1" if v1 else "tau2-v0")
        if "info" not in top:
            ctx.warn("no 'info' block: run metadata (models, domain, policy) unknown")
        if "tasks" not in top:
            ctx.warn("no embedded 'tasks': the world id covers the domain and policy only and "
                     "the task-label check is skipped")


def _write_sims(conn: sqlite3.Connection, ctx: ImportContext, meta: RunMeta,
                sims: Iterable[tuple[int, Any]], stream: JsonStream | None) -> None:
    run_id = ctx.start_run(conn, meta)
    ew = EpisodeWriter(conn, run_id)
    ctx.episode_writer = ew
    tasks = meta.tasks
    # parsing happens when the loop asks for the next item, so name that item beforehand
    ctx.reading_what = " while reading simulation #0"
    try:
        for ord_, sim in sims:
            label = sim_label(sim, ord_)
            validate_sim(sim, label)
            ew.add(sim, ord_, likely_task_id=ctx.check_label(sim, tasks, label))
            ctx.reading_what = f" while reading simulation #{ord_ + 1} (after {label})"
        ctx.reading_what = ""
    except RecordError as exc:
        raise ImportFailure(str(exc)) from None
    ew.close()


def import_directory(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """The directory format: results.json (everything but simulations) + simulations/*.json."""
    results = ctx.path / "results.json"
    sim_dir = ctx.path / "simulations"
    if not results.is_file():
        raise ImportFailure("a directory without results.json; " + EXPECTED)
    top = _read_json(results)
    if not isinstance(top, dict):
        raise ImportFailure(f"{results.name}: expected an object, found {type(top).__name__}")
    index = top.get("simulation_index")
    files: list[Path] = []
    if isinstance(index, list) and index and sim_dir.is_dir():
        for i, entry in enumerate(index):
            sid = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(sid, str):
                raise ImportFailure(f"{results.name}: simulation_index[{i}] has no string 'id'")
            f = sim_dir / f"{sid}.json"
            if not f.is_file():
                raise ImportFailure(f"simulations/{sid}.json listed in simulation_index "
                                    "is missing")
            files.append(f)
    elif sim_dir.is_dir():
        files = sorted(sim_dir.glob("*.json"))
    inline = top.pop("simulations", None)
    keys = list(top) + ["simulations"]
    meta = RunMeta(top_keys=keys, top=top)
    ctx.fmt = "tau2-dir"
    _check_shape(ctx, meta)
    ctx.fmt = "tau2-dir"
    if inline and files:
        ctx.warn("results.json has inline simulations and a simulations/ folder: "
                 "using the folder")

    def sims() -> Iterator[tuple[int, Any]]:
        if files:
            for i, f in enumerate(files):
                ctx.current_file = f"simulations/{f.name}"
                yield i, _read_json(f)
            ctx.current_file = None
        else:
            yield from enumerate(inline or [])

    if not files and not inline:
        ctx.warn("no simulations found (no simulations/ folder, none inline)")
    _write_sims(conn, ctx, meta, sims(), None)
    ctx.finish_run(conn, meta)


def _read_json(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            s = JsonStream(fh)
            value = s.read_value()
            if not s.at_end():
                raise JsonStreamError(f"unexpected data after the JSON value at {s.where()}")
            return value
    except JsonStreamError as exc:
        shown = f"{path.parent.name}/{path.name}" if path.parent.name == "simulations" \
            else path.name
        raise ImportFailure(f"{shown}: {exc}") from None


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


__all__ = ["import_file", "import_directory", "EXPECTED", "writer"]
