"""Reading tau2 results files for `t2e score`: whole (`load_results`) or streamed one
simulation at a time (`stream_results`), monolithic JSON or the directory format. Refuses
non-tau2 shapes with a message naming the file (WorldError)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import WorldError, describe_json_error, shown_path


def load_results(path: str | os.PathLike) -> dict:
    """Read a tau2 results file (monolithic JSON, or the directory format with a
    `simulations/` folder) whole. Refuses non-tau2 shapes with a message naming the file."""
    data = stream_results(path)
    data["simulations"] = list(data["simulations"])
    return data


def stream_results(path: str | os.PathLike) -> dict:
    """A tau2 results file with its simulations as an iterator read one at a time: `info`,
    `tasks` and the other small top-level keys are parsed on a first pass that skips the
    simulations item by item; `simulations` is a generator over a second pass, so memory
    follows one simulation, not the file (`t2e score` on a 1 GB file)."""
    p = Path(path)
    if p.is_dir():
        main = p / "results.json"
        data = _read(main)
        _check_shape(data, main)
        if not data.get("simulations"):
            ids = []
            for entry in data.get("simulation_index") or []:
                sid = entry.get("id") if isinstance(entry, dict) else None
                if not sid:
                    raise WorldError(f"{main}: simulation_index entry without an id")
                # an id is a file name in simulations/, never a path leading elsewhere
                if (not isinstance(sid, str) or not sid or "/" in sid or "\\" in sid
                        or "\0" in sid or sid.startswith(".")):
                    raise WorldError(f"{main}: simulation_index id {sid!r} names a file outside "
                                     "simulations/; only files inside the directory are read")
                ids.append(sid)
            data["simulations"] = _primed(_read(p / "simulations" / f"{sid}.json")
                                          for sid in ids)
        else:
            data["simulations"] = iter(data["simulations"])
        return data
    data = _head(p)
    data["simulations"] = _primed(data["simulations"], getattr(data["simulations"], "at", None))
    return data


class SimStream:
    """The simulations of a results file, read one at a time. `path` and `at` (the byte
    offset of the array's first item, when known) let world/score_split.py read parts of
    the array in other processes."""

    def __init__(self, gen, path: Path | None = None, at: int | None = None):
        self._gen, self.path, self.at = gen, path, at

    def __iter__(self):
        return self._gen

    def __next__(self):
        return next(self._gen)

    def close(self) -> None:
        """Stop reading (closes the file)."""
        self._gen.close()


def _primed(sims, at=None) -> SimStream:
    """The simulations with the first one read now: a file malformed from its first
    simulation is refused before anything else is asked for (the data directory, say)."""
    path = getattr(sims, "path", None)
    first = next(sims, _END)

    def gen():
        if first is not _END:
            yield first
            yield from sims
    return SimStream(gen(), path, at)


_END = object()


def _open_stream(p: Path):
    from .jsonstream import JsonStream

    if p.exists() and not p.is_file():  # a FIFO or /dev/zero would hang
        raise WorldError(f"{shown_path(p)}: not a regular file")
    try:
        fh = open(p, "rb")
    except FileNotFoundError:
        raise WorldError(f"{shown_path(p)}: no such file") from None
    except OSError as exc:
        raise WorldError(f"{shown_path(p)}: cannot read ({exc.strerror})") from None
    return fh, JsonStream(fh)


def _head(p: Path) -> dict:
    """Every top-level key but `simulations`, and `simulations` as a generator.

    The usual file (tau2 writes info and tasks first) is read in one pass: reading stops at the
    simulations array and the generator carries on from there, so each simulation is parsed
    once. When info or tasks come after the simulations, the array is skipped item by item
    (never held) to reach them, and the generator reads it on a second pass. A malformed
    simulation is found when the generator reaches it (a WorldError naming the file either
    way)."""
    from .jsonstream import JsonStreamError

    fh, js = _open_stream(p)
    head: dict = {}
    seen_sims = False
    try:
        if js.at_end():
            raise WorldError(f"{shown_path(p)}: the file is empty; {EXPECTED}")
        if js.peek() != "{":
            value = js.read_value()
            _check_shape(value, p)
        keys = js.iter_object_keys()
        for key in keys:
            if key == "simulations":
                seen_sims = True
                if js.peek() != "[":
                    raise WorldError(f"{shown_path(p)}: 'simulations' must be a list")
                if "tasks" in head and "info" in head:
                    _check_shape({**head, "simulations": []}, p)
                    at = js.byte_offset()
                    head["simulations"] = SimStream(_rest(p, fh, js, keys), p, at)
                    fh = None  # the generator owns it now
                    return head
                for _ in js.iter_array():
                    pass
            else:
                head[key] = js.read_value()
    except JsonStreamError as exc:
        raise WorldError(f"{shown_path(p)}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{shown_path(p)}: not UTF-8 text ({exc.reason})") from None
    finally:
        if fh is not None:
            fh.close()
    _check_shape({**head, **({"simulations": []} if seen_sims else {})}, p)
    head["simulations"] = _sims(p)  # a second pass
    return head


def _rest(p: Path, fh, js, keys):
    """The simulations from the array at the cursor, then the rest of the object read (and
    checked) to its end."""
    from .jsonstream import JsonStreamError

    try:
        yield from js.iter_array()
        for _ in keys:
            js.read_value()
    except JsonStreamError as exc:
        raise WorldError(f"{shown_path(p)}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{shown_path(p)}: not UTF-8 text ({exc.reason})") from None
    finally:
        fh.close()


def _sims(p: Path):
    """The simulations array of a results file, one parsed item at a time."""
    from .jsonstream import JsonStreamError

    fh, js = _open_stream(p)
    try:
        for key in js.iter_object_keys():
            if key == "simulations":
                yield from js.iter_array()
                return
            js.read_value()
    except JsonStreamError as exc:
        raise WorldError(f"{shown_path(p)}: {exc}") from None
    finally:
        fh.close()


EXPECTED = ("expected a tau2 results file (an object with info, tasks and simulations) or a "
            "tau2 results directory (results.json + simulations/)")


def _read(p: Path) -> Any:
    if p.exists() and not p.is_file() and not p.is_dir():  # a FIFO or /dev/zero would hang
        raise WorldError(f"{shown_path(p)}: not a regular file")
    try:
        with open(p, encoding="utf-8-sig") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise WorldError(f"{shown_path(p)}: no such file") from None
    except IsADirectoryError:
        raise WorldError(f"{shown_path(p)}: is a directory without results.json") from None
    except OSError as exc:
        raise WorldError(f"{shown_path(p)}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{shown_path(p)}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise WorldError(f"{shown_path(p)}: the file is empty; {EXPECTED}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldError(f"{shown_path(p)}: {_json_error(exc, text)}") from None
    except RecursionError:
        raise WorldError(f"{shown_path(p)}: nesting too deep (more levels of [ and {{ than can be "
                         "read)") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise WorldError(f"{shown_path(p)}: a value that can't be read ({str(exc)[:120]})") from None


def _json_error(exc: json.JSONDecodeError, text: str) -> str:
    return describe_json_error(exc.msg, f"character {exc.pos} (line {exc.lineno})",
                               exc.pos >= len(text.rstrip()))


def _check_shape(data: Any, p: Path) -> None:
    if isinstance(data, list):
        raise WorldError(f"{shown_path(p)}: a bare list, not a tau2 results file (it has no embedded tasks "
                         "to grade against)")
    if not isinstance(data, dict):
        raise WorldError(f"{shown_path(p)}: not a tau2 results file (top level is {type(data).__name__})")
    missing = [k for k in ("tasks", "simulations") if k not in data]
    if "simulations" in missing and data.get("simulation_index"):
        missing.remove("simulations")
    if missing:
        raise WorldError(f"{shown_path(p)}: not a tau2 results file: missing {', '.join(missing)} "
                         "(t2e score needs the task definitions embedded by tau2)")
    if not isinstance(data["tasks"], list):
        raise WorldError(f"{shown_path(p)}: 'tasks' must be a list")
    if "simulations" in data and not isinstance(data["simulations"], list):
        raise WorldError(f"{shown_path(p)}: 'simulations' must be a list")
