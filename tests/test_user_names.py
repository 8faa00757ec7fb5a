"""Every name a user gives and later types back (a run's, a heldout set's, a regression set's,
a session's) passes one check, store.queries.name_problem: control characters are refused,
because listings strip them and the name could not be typed back (`heldout list` showed
`[red]N` of `ESC[31m[red]N<RLO><BEL>` and `heldout show '[red]N'` found no such set)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from tui_fixture import build_store

from store import StoreError
from store.db import open_db
from store.heldout import register_set
from t2e_tui.cli import cli

HOSTILE = ["\x1b[31m[red]N\u202e\x07", "\x1b[2Jx", "a\tb", "a\nb", "   "]


@pytest.fixture
def st(tmp_path):
    path = tmp_path / "s.sqlite"
    build_store(path)
    return path


def t2e(st, *args):
    res = CliRunner().invoke(cli, ["--store", str(st), *args])
    return res.exit_code, res.output


@pytest.mark.parametrize("name", HOSTILE)
def test_heldout_register_refuses_a_name_with_control_characters(st, name):
    code, out = t2e(st, "heldout", "register", name, "--domain", "retail", "--tasks", "1,2")
    assert code == 2, out
    assert "heldout set name" in out
    db = open_db(st)
    assert db.conn.execute("SELECT count(*) FROM heldout_sets").fetchone()[0] == 0


def test_the_store_refuses_it_whoever_registers(st):
    db = open_db(st)
    with pytest.raises(StoreError, match="control characters"):
        register_set(db, "\x1b[31mN", "retail", ["1"], spec="1")


@pytest.mark.parametrize("name", HOSTILE)
def test_regression_add_refuses_a_name_with_control_characters(st, name):
    code, out = t2e(st, "regression", "add", name, "1")
    assert code == 2, out
    assert "regression set name" in out
    db = open_db(st)
    assert db.conn.execute("SELECT count(*) FROM regression_sets").fetchone()[0] == 0


def test_a_plain_name_is_kept(st):
    code, out = t2e(st, "heldout", "register", "ho [v2]", "--domain", "retail",
                    "--tasks", "1,2")
    assert code == 0, out
    code, out = t2e(st, "heldout", "show", "ho [v2]")
    assert code == 0 and "ho [v2]" in out, out


def test_one_check_for_every_kind_of_name():
    from store.queries import name_problem

    for what in ("a run name", "a heldout set name", "a regression set name"):
        assert name_problem("ok name", what) is None
        assert what in name_problem("\x1b[31mx", what)
        assert what in name_problem("", what)


def test_open_refuses_a_session_name_with_control_characters(st):
    code, out = t2e(st, "open", "--name", "\x1b[31mme")
    assert code == 2, out
    assert "session name" in out
