"""Imports read only inside the import, and never hang (issue 11, security 2 and 4)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_store_data import make_results, write_json

import store
from store.importers import ImportFailure, import_path


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def _runs(db) -> int:
    return db.conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def _results_dir(tmp_path, index_ids: list[str]):
    src = make_results(1)
    d = tmp_path / "run"
    (d / "simulations").mkdir(parents=True)
    head = {k: v for k, v in src.items() if k != "simulations"}
    head["simulation_index"] = [{"id": i} for i in index_ids]
    write_json(d / "results.json", head)
    return d, src["simulations"][0]


@pytest.mark.parametrize("sid", ["ABS", "../outside", "sub/../../outside", "a\0b", "", ".x"])
def test_simulation_index_cannot_name_a_file_outside(db, tmp_path, sid):
    secret = write_json(tmp_path / "outside.json", make_results(1)["simulations"][0])
    sid = str(secret.with_suffix("")) if sid == "ABS" else sid
    d, _ = _results_dir(tmp_path, [sid])
    with pytest.raises(ImportFailure, match="outside simulations/; only files inside"):
        import_path(db, d)
    assert _runs(db) == 0


def test_simulation_symlinked_out_of_the_directory_is_refused(db, tmp_path):
    secret = write_json(tmp_path / "outside.json", make_results(1)["simulations"][0])
    d, _ = _results_dir(tmp_path, ["s1"])
    (d / "simulations" / "s1.json").symlink_to(secret)
    # said as what it is: a link out (it was "names a file outside simulations/", as an id
    # holding a path is)
    with pytest.raises(ImportFailure, match=r"simulations/s1\.json \(simulation_index\[0\]\) "
                                            "links outside the directory"):
        import_path(db, d)
    assert _runs(db) == 0


def test_a_good_directory_still_imports(db, tmp_path):
    d, sim = _results_dir(tmp_path, ["s1"])
    write_json(d / "simulations" / "s1.json", sim)
    assert import_path(db, d)["episodes"] == 1


def _import_in_child(store_path, *paths, timeout=20):
    """`t2e import` in a child with a hard timeout: a hang FAILS the test (TimeoutExpired)."""
    return subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(store_path),
                           "import", *map(str, paths)], capture_output=True, text=True,
                          timeout=timeout)


def test_fifo_and_device_are_refused_at_once(tmp_path):
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    good = write_json(tmp_path / "good.json", make_results(2))
    r = _import_in_child(tmp_path / "s.sqlite", fifo, "/dev/zero", good)
    assert r.returncode == 2, r.stderr
    assert f"{fifo}: not a regular file (a FIFO)" in r.stderr
    assert "/dev/zero: not a regular file (a character device)" in r.stderr
    assert "good.json: imported as run" in r.stdout  # the good file still lands


def test_fifo_inside_a_results_directory_is_refused(db, tmp_path):
    d, _ = _results_dir(tmp_path, ["s1"])
    os.mkfifo(d / "simulations" / "s1.json")
    r = _import_in_child(tmp_path / "s2.sqlite", d)
    assert r.returncode == 2 and "s1.json" in r.stderr, r.stderr


@pytest.mark.parametrize("kind, said", [
    ("loop", "is a symbolic link that cannot be resolved (it loops)"),
    ("dangling", "is a symbolic link to a file that does not exist"),
    ("missing", "no such file or directory")])
def test_a_path_given_that_is_no_file_is_named_for_what_it_is(tmp_path, kind, said):
    """`t2e import loop1` with loop1 and loop2 links to each other said "no such file or
    directory": the import names the loop (and a link to nothing) in common.not_a_file's
    words, as it does for the files inside a folder."""
    p = tmp_path / "loop1"
    if kind == "loop":
        p.symlink_to(tmp_path / "loop2")
        (tmp_path / "loop2").symlink_to(p)
    elif kind == "dangling":
        p.symlink_to(tmp_path / "nothing")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value) == f"{p}: {said}"
