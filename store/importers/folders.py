"""What a path names for import: a folder stands for the trace files and tau2 results
directories it holds one level down (`folder_files`); its other entries are skipped, its
links out of it refused. Moved out of importers/__init__.py, which re-exports these names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from .common import inside
from .harbor_layout import harbor_kind

TRACE_SUFFIXES = (".json", ".jsonl", ".ndjson")


# (named tuples, not dataclasses: @dataclass writes its methods as source and compiles them when
# the class is made, in every process that imports store.importers: ~6 M instructions for two)
class _Outside(NamedTuple):
    """A folder's entry that links out of the folder (refused, named, not read)."""

    path: Path
    folder: Path


class _Skipped(NamedTuple):
    """A folder's entry that is not imported, and why (said, not read)."""

    path: Path
    reason: str


def run_directory(p: Path) -> bool:
    """Whether a directory is a run of its own: a tau2 results directory (results.json +
    simulations/: tau2 1.x's layout, one per run; either one will do, the import names what is
    missing) or a Harbor job or trial folder (harbor_layout.py)."""
    return (p / "results.json").exists() or (p / "results.json").is_symlink() \
        or (p / "simulations").exists() or harbor_kind(p) is not None


def stands_for(path: str | os.PathLike) -> str | os.PathLike:
    """The run directory a file of it names: a `results.json` with a `simulations/` folder
    beside it is its tau2 results directory (tau2's own loader reads the directory then), and
    a Harbor job's or trial's `result.json` or `config.json` its folder. Anything else is
    itself."""
    p = Path(path)
    parent = p.parent
    try:
        if p.name == "results.json" and p.is_file() and (parent / "simulations").is_dir():
            return parent
        if p.name in ("result.json", "config.json") and p.is_file() and harbor_kind(parent):
            return parent
    except OSError:
        pass  # (its import names what is wrong)
    return path


def folder_files(path: str | os.PathLike) -> list[Any]:
    """What `path` names for import: a folder that is no tau2 results directory (neither
    results.json nor simulations/ in it), as tau2's own results folder, stands for what it
    holds one level down, in name order, each its own run: its trace files
    (TRACE_SUFFIXES) and its tau2 results directories (tau2 1.x writes one per run). Its
    other entries are _Skipped (a subfolder of something else, a file of another kind);
    hidden ones are passed over without a word. An entry that is no regular file (a FIFO, a
    link that loops or leads nowhere) is imported as named and so refused with its reason;
    one that links out of the folder is an _Outside (refused, not followed). Anything else,
    and a folder with nothing to import (its import says what it should hold), is itself."""
    p = Path(path)
    try:
        if not p.is_dir() or run_directory(p):
            return [path]
        names = sorted(p.iterdir())
    except OSError:
        return [path]  # (the import of the path itself names what is wrong)
    out: list[Any] = []
    skipped: list[_Skipped] = []
    for f in names:
        if f.name.startswith("."):
            continue
        try:
            is_dir = f.is_dir()
            if is_dir and not run_directory(f):
                skipped.append(_Skipped(f, "a folder that is no tau2 results directory (no "
                                           "results.json, no simulations/ in it) and no "
                                           "Harbor job or trial folder; a folder is read "
                                           "one level deep"))
                continue
            if not is_dir and f.suffix.lower() not in TRACE_SUFFIXES:
                skipped.append(_Skipped(f, f"not a trace file name ({', '.join(TRACE_SUFFIXES)}"
                                           "); name the file itself to import it"))
                continue
            outside = f.is_symlink() and f.exists() and not inside(p, f)
        except OSError:
            outside = False  # (its import names what is wrong)
        out.append(_Outside(f, p) if outside else f)
    return out + skipped if out else [path]
