"""No command writes its output over the store it reads (or the store's -wal/-shm/lock files):
`t2e gate --report markdown STORE` replaced the store with the report. Every option that
names an output file goes through one check (cli/common.output_path)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from tui_fixture import build_store

from store.db import open_db
from t2e_tui.cli import cli


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    path = tmp_path_factory.mktemp("out") / "master.sqlite"
    build_store(path)
    return path


@pytest.fixture
def st(master, tmp_path):
    path = tmp_path / "s.sqlite"
    shutil.copy(master, path)
    return path


def _targets(st):
    yield st
    yield st.parent / "." / st.name  # the same file by another spelling
    yield st.with_name(st.name + "-wal")
    yield st.with_name(st.name + "-shm")


@pytest.mark.parametrize("args", [
    ("gate", "runbase", "runcand", "--report", "markdown", "{}"),
    ("gate", "runbase", "runcand", "--report", "junit", "{}"),
    ("export", "runbase", "-o", "{}"),
    ("export", "runbase", "--format", "otel", "-o", "{}"),
    ("journal", "1", "-o", "{}"),
    ("regression", "export", "x", "-o", "{}"),
])
def test_an_output_file_that_is_the_store_is_refused(st, args):
    before = st.read_bytes()
    for target in _targets(st):
        res = CliRunner().invoke(cli, ["--store", str(st),
                                       *(str(target) if a == "{}" else a for a in args)])
        assert res.exit_code == 2, (target, res.output)
        assert "the store" in res.output, res.output
    assert st.read_bytes()[:16] == b"SQLite format 3\x00"
    db = open_db(st)  # still a store, its runs there
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 4
    assert len(before) > 0


@pytest.mark.parametrize("companion", ["", "-wal", "-shm", ".lock"])
def test_a_hard_link_to_the_store_or_a_companion_is_refused(st, tmp_path, companion):
    """A hard link is the same file under another name: realpath does not see through it, so
    `-o LINK` was accepted (the atomic rename would replace the link, but the refusal must not
    depend on how a writer happens to write). Any output that is the same file is refused."""
    import os

    # the store open elsewhere (the app, say) while the command runs: its -wal and -shm are
    # live. (Closed, SQLite deletes them with the last connection, and the next one makes new
    # files: a link to the old -wal named a stale file, so the test depended on timing.)
    held = open_db(st)
    held.conn.execute("SELECT count(*) FROM runs").fetchone()
    target = st.with_name(st.name + companion)
    if not target.exists():
        target.write_bytes(b"")
    link = tmp_path / "elsewhere" / f"link{companion or '-store'}"
    link.parent.mkdir()
    os.link(target, link)
    before = target.read_bytes()
    res = CliRunner().invoke(cli, ["--store", str(st), "export", "runbase", "-o", str(link)])
    assert res.exit_code == 2, res.output
    assert "the store" in res.output and str(link) in res.output, res.output
    assert target.read_bytes() == before and os.path.samefile(link, target)
    held.conn.close()


def test_a_new_output_file_and_another_file_are_written(st, tmp_path):
    """The same-file check refuses only the store's files: a new path, and an existing file
    that is not the store (a copy of it), are written."""
    import json

    copy = tmp_path / "copy.sqlite"
    shutil.copy(st, copy)
    for target in (tmp_path / "new.json", copy):
        res = CliRunner().invoke(cli, ["--store", str(st), "export", "runbase", "-o",
                                       str(target)])
        assert res.exit_code == 0, res.output
        assert json.loads(target.read_text())  # the export, not the store
