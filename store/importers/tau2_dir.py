"""A tau2 results directory's files (results.json + simulations/): results.json read and
checked, the simulation files it lists in `simulation_index` (or the folder holds), every one
inside the directory, and what the directory holds that is not imported.

The producer of its events is tau2.py's `_produce_directory`, which asks here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..messages import short_json
from .common import LOOPS, ImportFailure, inside, not_a_file, not_a_folder, open_regular
from .jsonstream import JsonStream, JsonStreamError


def directory_files(path: Path) -> tuple[dict, list | None, list[Path]]:
    """results.json's object, its `simulation_index` (None: none) and the simulation files to
    read, in order (empty: none, or inline simulations). `path`'s results.json is a file."""
    results = path / "results.json"
    sim_dir = path / "simulations"
    # results.json and simulations/ themselves links out of the directory: refused as the
    # simulations' own links are (the checks below compare with the resolved folder)
    for part in (results, sim_dir):
        if part.is_symlink() and not inside(path, part):
            raise ImportFailure(f"{part.name} links outside the directory; only files inside "
                                "it are read")
    problem = not_a_folder(sim_dir)  # (a file or a FIFO where the folder should be)
    if problem:
        raise ImportFailure(f"simulations {problem}")
    top = read_json(results)
    if not isinstance(top, dict):
        raise ImportFailure(f"{results.name}: expected an object, found {type(top).__name__}")
    index = top.get("simulation_index")
    if index is not None and not isinstance(index, list):  # null is no index, as a missing key
        raise ImportFailure(f"{results.name}: 'simulation_index' should be a list of simulation "
                            f"entries, found {type(index).__name__} {short_json(index)}")
    files: list[Path] = []
    if isinstance(index, list) and index and not sim_dir.is_dir():
        # an index says there are simulations: without their folder there is nothing to import
        raise ImportFailure(f"{results.name} lists {len(index)} simulation(s) in "
                            "simulation_index, but there is no simulations/ folder")
    if isinstance(index, list) and index:  # (its folder is there: refused above otherwise)
        for i, entry in enumerate(index):
            sid = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(sid, str):
                raise ImportFailure(f"{results.name}: simulation_index[{i}] has no string 'id'")
            f = sim_dir / f"{sid}.json"
            # an id is a file name in simulations/: never a path that leads elsewhere (a link
            # that loops leads nowhere: said as such below)
            bad = not sid or "/" in sid or "\\" in sid or "\0" in sid or sid.startswith(".")
            problem = None if bad else not_a_file(f)
            if bad:
                raise ImportFailure(f"{results.name}: simulation_index[{i}] id {sid!r} names a "
                                    "file outside simulations/; only files inside the "
                                    "directory are read")
            if problem != LOOPS and not inside(sim_dir, f):  # (a link that leads out)
                raise ImportFailure(f"simulations/{sid}.json (simulation_index[{i}]) links "
                                    "outside the directory; only files inside it are read")
            if problem:
                raise ImportFailure(f"simulations/{sid}.json listed in simulation_index "
                                    f"{problem}")
            files.append(f)
    elif sim_dir.is_dir():
        files = sorted(sim_dir.glob("*.json"))
        for f in files:  # named as an index's entries are (a loop, a directory, a FIFO)
            problem = not_a_file(f)
            if problem == LOOPS or (problem and inside(sim_dir, f)):
                raise ImportFailure(f"simulations/{f.name} {problem}")
        outside = [f.name for f in files if not inside(sim_dir, f)]
        if outside:
            raise ImportFailure(f"simulations/{outside[0]} links outside the directory; only "
                                "files inside it are read")
    return top, index, files


def layout_notes(path: Path, indexed: list[Path] | None) -> list[str]:
    """What a tau2 1.x results directory holds beside the simulations and is not imported."""
    notes = []
    if (path / "artifacts").is_dir():
        notes.append("artifacts/ (audio, per-task logs) is not imported; the simulations refer "
                     "to it by path only")
    if indexed is not None and (path / "simulations").is_dir():
        listed = {f.name for f in indexed}
        extra = sorted(f.name for f in (path / "simulations").glob("*.json")
                       if f.name not in listed)
        if extra:
            notes.append(f"{len(extra)} file(s) in simulations/ are not in simulation_index and "
                         f"were not imported: {', '.join(extra[:5])}")
    return notes


def read_json(path: Path) -> Any:
    shown = f"{path.parent.name}/{path.name}" if path.parent.name == "simulations" \
        else path.name
    try:
        with open_regular(path, shown) as fh:
            s = JsonStream(fh)
            value = s.read_value()
            if not s.at_end():
                raise JsonStreamError(f"unexpected data after the JSON value at {s.where()}")
            return value
    except JsonStreamError as exc:
        raise ImportFailure(f"{shown}: {exc}") from None
