"""A wrong --store path is never created by a command that only reads: it says "no store at
PATH" (exit 2). Commands that write (import, run, candidate save, demo) create the store."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

from t2e_tui.cli import cli

READERS = [
    ["runs"], ["runs", "--json"], ["runs", "rename", "x", "y"], ["runs", "role", "x", "heldout"],
    ["runs", "rm", "x"], ["search", "refund"], ["export", "x"], ["show", "1"],
    ["episodes", "x"], ["gate", "a", "b"], ["decide", "1", "promote"], ["scoreboard"],
    ["candidate", "log"], ["candidate", "diff", "a", "b"],
    ["world", "verify", "x"],
]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a) or "(no command)")
def test_a_reading_command_does_not_create_a_missing_store(tmp_path, args):
    wrong = tmp_path / "real.db"
    res = CliRunner().invoke(cli, ["--store", str(wrong), *args])
    assert res.exit_code == 2, res.output
    assert f"no store at {wrong}" in res.output
    assert not wrong.exists()


@pytest.mark.parametrize("args", [["open"], []], ids=["open", "(no command)"])
def test_open_does_not_create_a_missing_store(tmp_path, monkeypatch, args):
    from t2e_tui.ui import app as app_mod

    started = []

    class Fake:
        def run(self):
            started.append(True)

    monkeypatch.setattr(app_mod, "make_app", lambda *a, **k: Fake())
    wrong = tmp_path / "real.db"
    res = CliRunner().invoke(cli, ["--store", str(wrong), *args])
    assert (res.exit_code, started) == (2, []), res.output
    assert f"no store at {wrong}" in res.output
    assert not wrong.exists()


def test_import_creates_the_store(tmp_path):
    new = tmp_path / "new.db"
    src = write_json(tmp_path / "r.json", make_results(1))
    res = CliRunner().invoke(cli, ["--store", str(new), "import", str(src)])
    assert res.exit_code == 0, res.output
    assert new.exists()
