"""tau2-bench 1.x results directories (results.json + simulations/): what is read, in which
order (simulation_index, else the folder's names), what is noted as not imported, and every
part that is not what it should be (no folder, links out, an index of another shape, a
directory, FIFO or looping link where a file should be), refused naming the file. The
directory's other contents (ticks, reviews, graders): test_import_tau2_1x.py."""

from __future__ import annotations

import json
import shutil

import pytest
from test_import_tau2_1x import FIX, _voice_copy

import store
from store.importers import ImportFailure, import_path


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def test_directory_layout_notes_artifacts_and_unindexed_files(db, tmp_path):
    d = tmp_path / "run"
    shutil.copytree(FIX / "voice_run", d)
    (d / "simulations" / "stray.json").write_text("{}")
    entry = import_path(db, d)
    assert entry["episodes"] == 2  # the stray file is not in the index: not imported
    w = " | ".join(entry["warnings"])
    assert "artifacts/" in w and "not imported" in w
    assert "stray.json" in w and "simulation_index" in w
    # index order is run order
    got = db.conn.execute("SELECT sim_id FROM episodes ORDER BY ord").fetchall()
    assert got == [("sim-voice-1",), ("sim-text-2",)]


_GONE = object()


def _set_index(d, index):
    """The copy's results.json with `simulation_index` set to `index` (_GONE: no key)."""
    top = json.loads((d / "results.json").read_text())
    if index is _GONE:
        del top["simulation_index"]
    else:
        top["simulation_index"] = index
    (d / "results.json").write_text(json.dumps(top))


def test_an_index_without_its_simulations_folder_is_refused(tmp_path, db):
    """simulation_index lists simulations but there is no simulations/ folder (or it is a
    file): refused, as a missing listed file is. It imported an empty run, exit 0."""
    import shutil
    d = _voice_copy(tmp_path)
    shutil.rmtree(d / "simulations")
    with pytest.raises(ImportFailure, match=r"lists \d+ simulation\(s\) in simulation_index, "
                                            r"but there is no simulations/ folder"):
        import_path(db, d)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize("indexed", [True, False])
@pytest.mark.parametrize("kind,said", [("file", "is a file, not a folder"),
                                       ("fifo", r"is not a folder \(a FIFO\)")])
def test_simulations_that_is_no_folder_is_named(tmp_path, db, indexed, kind, said):
    """A file or a FIFO where simulations/ should be: with an index it was "no simulations/
    folder"; without one the run imported empty (exit 0) with the warning "no simulations
    found (no simulations/ folder...)"."""
    import os
    d = _voice_copy(tmp_path)
    shutil.rmtree(d / "simulations")
    if kind == "file":
        (d / "simulations").write_text("{}")
    else:
        os.mkfifo(d / "simulations")
    if not indexed:
        _set_index(d, _GONE)
    with pytest.raises(ImportFailure, match=rf": simulations {said}$"):
        import_path(db, d)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize("part", ["simulations", "results.json"])
def test_a_folder_or_results_linked_from_outside_is_refused(tmp_path, db, part):
    """A simulation's own link out of the directory was refused, but simulations/ or
    results.json themselves linked from elsewhere were read."""
    d = _voice_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (d / part).rename(elsewhere / part)
    (d / part).symlink_to(elsewhere / part)
    with pytest.raises(ImportFailure, match=rf"{part} links outside the directory"):
        import_path(db, d)


@pytest.mark.parametrize("index", [{"sim-voice-1": {}}, "sim-voice-1", 2, True],
                         ids=["object", "string", "number", "bool"])
def test_a_simulation_index_that_is_not_a_list_is_refused(tmp_path, db, index):
    """It fell back to reading simulations/ in name order (imported, exit 0): refused now, as
    other malformed index shapes are, naming the file and what was found."""
    d = _voice_copy(tmp_path)
    _set_index(d, index)
    with pytest.raises(ImportFailure, match=rf"results\.json: 'simulation_index' should be a "
                                            rf"list of simulation entries, found "
                                            rf"{type(index).__name__} "):
        import_path(db, d)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_null_simulation_index_reads_the_folder_in_name_order(tmp_path, db):
    """null is no index (as a missing key is): the folder is read in name order."""
    d = _voice_copy(tmp_path)
    _set_index(d, None)
    import_path(db, d)
    got = db.conn.execute("SELECT sim_id FROM episodes ORDER BY ord").fetchall()
    assert got == [("sim-text-2",), ("sim-voice-1",)]


def _make(kind, f):
    """Put something that is not a readable simulation file at `f` (its regular file gone)."""
    import os
    f.unlink(missing_ok=True)
    if kind == "directory":
        f.mkdir()
    elif kind == "fifo":
        os.mkfifo(f)
    elif kind == "self-loop":
        f.symlink_to(f.name)
    elif kind == "two-link loop":
        f.symlink_to("other.json")
        (f.parent / "other.json").symlink_to(f.name)
    elif kind == "dangling link":
        f.symlink_to("gone.json")


_SAID = {"directory": "is a directory, not a file",
         "fifo": r"is not a regular file \(a FIFO\)",
         "self-loop": r"is a symbolic link that cannot be resolved \(it loops\)",
         "two-link loop": r"is a symbolic link that cannot be resolved \(it loops\)",
         "dangling link": "is a symbolic link to a file that does not exist"}


@pytest.mark.parametrize("kind", list(_SAID))
def test_a_listed_simulation_that_is_not_a_file_is_named_for_what_it_is(tmp_path, db, kind):
    """A directory or a FIFO listed in simulation_index was reported as "is missing", a
    symlink loop as naming "a file outside simulations/": each is now said as it is."""
    d = _voice_copy(tmp_path)
    _make(kind, d / "simulations" / "sim-text-2.json")
    with pytest.raises(ImportFailure, match=r": simulations/sim-text-2\.json listed in "
                                            rf"simulation_index {_SAID[kind]}$"):
        import_path(db, d)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize("kind", list(_SAID))
def test_an_unindexed_simulation_that_is_not_a_file_is_named(tmp_path, db, kind):
    """Without an index the folder is read in name order: the same words (a loop was
    "links outside the directory", a directory "not a regular file (a directory); only
    regular files and results directories are imported")."""
    d = _voice_copy(tmp_path)
    _set_index(d, _GONE)
    _make(kind, d / "simulations" / "sim-text-2.json")
    # (the two-link loop's other link, other.json, comes first in name order)
    with pytest.raises(ImportFailure, match=rf": simulations/(sim-text-2|other)\.json "
                                            rf"{_SAID[kind]}$"):
        import_path(db, d)


@pytest.mark.parametrize("kind", ["directory", "fifo", "self-loop", "dangling link"])
def test_results_json_that_is_not_a_file_is_named(tmp_path, db, kind):
    """results.json a directory, a FIFO, a looping or dangling link was "a directory without
    results.json"; a looping simulations/ link was "no simulations/ folder"."""
    d = _voice_copy(tmp_path)
    _make(kind, d / "results.json")
    with pytest.raises(ImportFailure, match=rf": results\.json {_SAID[kind]}$"):
        import_path(db, d)
    if kind == "self-loop":
        d2 = _voice_copy(tmp_path / "b")
        shutil.rmtree(d2 / "simulations")
        (d2 / "simulations").symlink_to("simulations")
        with pytest.raises(ImportFailure, match=rf": simulations {_SAID[kind]}$"):
            import_path(db, d2)


def test_a_bad_simulation_file_is_named_by_its_file(tmp_path, db):
    """A results directory's simulation file holding a list was refused as "simulation #1:
    expected an object, found list", which named no file of the directory."""
    d = _voice_copy(tmp_path)
    (d / "simulations" / "sim-voice-1.json").write_text("[1, 2]")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, d)
    assert "simulations/sim-voice-1.json: simulation #" in str(exc.value), str(exc.value)
    assert "expected an object" in str(exc.value)
