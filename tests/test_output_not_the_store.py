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
