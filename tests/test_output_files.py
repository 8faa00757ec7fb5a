"""Every output file a command writes (-o, --report) and a store it makes (--store) goes
through one mechanism, store/atomic.py: a path that cannot be written is an exit-2 error
naming it (a 300-character name was `internal error: OSError: [Errno 36]`, exit 70, after
the gate had recorded its row), a regular file is replaced whole, a symbolic link is written
through to its target, a FIFO or device (this process's stdout too) is written straight to,
never replaced, and a directory is refused. A folder a user names is never created."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json
from tui_fixture import build_store

from store.db import open_db
from t2e_tui.cli import cli

LONG = "x" * 300 + ".md"


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    path = tmp_path_factory.mktemp("outfiles") / "master.sqlite"
    build_store(path)
    return path


@pytest.fixture
def st(master, tmp_path):
    path = tmp_path / "s.sqlite"
    shutil.copy(master, path)
    return path


def t2e(st, *args):
    res = CliRunner().invoke(cli, ["--store", str(st), *map(str, args)])
    return res.exit_code, res.output


def gate_rows(st) -> int:
    db = open_db(st)
    try:
        return db.conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0]
    finally:
        db.conn.close()


@pytest.mark.parametrize("args", [
    ("export", "runbase", "-o", "{}"),
    ("export", "runbase", "--format", "otel", "-o", "{}"),
    ("journal", "1", "-o", "{}"),
    ("regression", "export", "x", "-o", "{}"),
    ("gate", "runbase", "runcand", "--report", "markdown", "{}"),
    ("gate", "runbase", "runcand", "--report", "junit", "{}"),
])
def test_a_name_too_long_is_an_error_naming_the_path(st, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    rows = gate_rows(st)
    code, out = t2e(st, *(LONG if a == "{}" else a for a in args))
    assert code == 2, out
    assert "internal error" not in out
    assert f"{LONG}: cannot write (File name too long)" in out, out
    assert gate_rows(st) == rows  # the gate checked its report's path before recording
    assert not any(n.startswith(".x") for n in os.listdir(tmp_path))  # no temporary file


def test_a_store_name_too_long_is_an_error_naming_it(tmp_path):
    src = write_json(tmp_path / "r.json", make_results(1))
    store = tmp_path / ("s" * 300 + ".sqlite")
    code, out = t2e(store, "import", src)
    assert code == 2, out
    assert "internal error" not in out
    assert f"--store {store}: cannot write (File name too long)" in out, out


def test_a_missing_store_folder_is_refused_as_an_output_folder_is(tmp_path):
    """One rule for every path a user names: a missing folder is an error, never made."""
    src = write_json(tmp_path / "r.json", make_results(1))
    code, out = t2e(tmp_path / "missing" / "dir" / "x.sqlite", "import", src)
    assert code == 2, out
    assert "directory" in out and "does not exist" in out and "missing/dir" in out, out
    assert not (tmp_path / "missing").exists()


def test_the_default_store_folder_is_made(tmp_path, monkeypatch):
    """t2e's own folder (the default store's, under the user data dir) is made as before."""
    monkeypatch.delenv("T2E_STORE")
    src = write_json(tmp_path / "r.json", make_results(1))
    res = CliRunner().invoke(cli, ["import", str(src)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "xdg-data" / "t2e" / "store.sqlite").exists()


def test_a_symlink_is_written_through(st, tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    code, out = t2e(st, "export", "runbase", "-o", link)
    assert code == 0, out
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert json.loads(target.read_text())["simulations"]


def test_a_dangling_symlink_makes_its_target(st, tmp_path):
    link = tmp_path / "link.md"
    link.symlink_to("made.md")
    code, out = t2e(st, "journal", "1", "-o", link)
    assert code == 0, out
    assert link.is_symlink() and (tmp_path / "made.md").read_text().startswith("# Journal")


def test_a_fifo_is_written_to_not_replaced(st, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read():
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code, out = t2e(st, "export", "runbase", "--format", "jsonl", "-o", fifo)
    reader.join(30)
    assert code == 0, out
    # (a FIFO replaced by a file leaves the reader waiting on the old one: a daemon thread)
    assert fifo.is_fifo()
    assert got and got[0].splitlines()[0].startswith(b'{"type": "run"')


def test_a_directory_is_refused(st, tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    for args in (("export", "runbase", "-o", folder),
                 ("gate", "runbase", "runcand", "--report", "markdown", folder),
                 ("regression", "export", "x", "-o", folder)):
        code, out = t2e(st, *args)
        assert code == 2, out
        assert "directory" in out, out
    assert list(folder.iterdir()) == []


def test_this_process_stdout_is_written_to_not_replaced(st, tmp_path):
    """`-o` naming the file the process's stdout already is (/dev/stdout under `>>`, or the
    file itself): appended through the stream, never replaced (the shell's text before it
    stays). A link to /proc/self/fd/1 is the process's stdout, a pipe here."""
    out = tmp_path / "out.log"
    out.write_text("HEADER\n")
    with open(out, "ab") as fh:
        subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(st), "export",
                        "runbase", "--format", "jsonl", "-o", str(out)],
                       stdout=fh, check=True, timeout=120)
    lines = out.read_text().splitlines()
    assert lines[0] == "HEADER" and lines[1].startswith('{"type": "run"')

    link = tmp_path / "stdout-link"
    link.symlink_to("/proc/self/fd/1")
    res = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(st), "export",
                          "runbase", "--format", "jsonl", "-o", str(link)],
                         capture_output=True, check=True, timeout=120)
    assert res.stdout.startswith(b'{"type": "run"')
    assert link.is_symlink()


def test_a_regular_file_is_replaced_whole(st, tmp_path):
    path = tmp_path / "r.md"
    path.write_text("old report")
    code, out = t2e(st, "gate", "runbase", "runcand", "--report", "markdown", path)
    assert code in (0, 1, 3, 4), out
    assert path.read_text().startswith("## t2e gate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md", "s.sqlite"]
