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
    ["world", "verify", "x"], ["heldout", "list"], ["heldout", "show", "x"], ["serve"],
    ["transfer", "a", "b"],
]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a) or "(no command)")
def test_a_reading_command_does_not_create_a_missing_store(tmp_path, monkeypatch, args):
    import textual_serve.server

    class NoServer:  # (`serve` made the store, then served it until stopped)
        def __init__(self, *a, **k):
            pass

        def serve(self):
            raise RuntimeError("serving")

    monkeypatch.setattr(textual_serve.server, "Server", NoServer)
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


def test_after_the_demo_a_reading_command_names_the_demos_store(tmp_path, monkeypatch):
    """`t2e demo` (the README's first command) writes its own store, not the default one:
    `t2e search refund` afterwards said `t2e demo` would make a store, though it just had."""
    from t2e_tui import paths

    demo = tmp_path / "data" / "demo.sqlite"
    monkeypatch.setattr(paths, "demo_store", lambda: demo)
    default = tmp_path / "data" / "store.sqlite"
    default.parent.mkdir()  # (named here: a named store's missing folder is its own error)
    res = CliRunner().invoke(cli, ["--store", str(default), "search", "refund"])
    assert res.exit_code == 2
    assert f"`t2e demo` makes its own at {demo}" in res.output  # no demo run yet
    demo.write_bytes(b"")
    res = CliRunner().invoke(cli, ["--store", str(default), "search", "refund"])
    assert res.exit_code == 2 and not default.exists()
    assert f"the demo's store is {demo}: pass --store {demo}" in res.output


def test_an_import_that_lands_nothing_leaves_no_new_store(tmp_path):
    """Every file rejected: exit 2, and the store this command would have made is not left
    behind (empty), as a mistyped --store never leaves one. One file landing keeps it."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    bad = tmp_path / "empty.json"
    bad.write_text("")
    st = tmp_path / "new" / "s.sqlite"
    st.parent.mkdir()
    res = CliRunner().invoke(cli, ["--store", str(st), "import", str(bad)])
    assert res.exit_code == 2 and "rejected" in res.output
    assert list(st.parent.iterdir()) == []
    good = tmp_path / "good.jsonl"
    good.write_text('{"task_id": "t1", "messages": [{"role": "user", "content": "hi"}]}\n')
    res = CliRunner().invoke(cli, ["--store", str(st), "import", str(bad), str(good)])
    assert res.exit_code == 2 and st.exists()
    # an existing store is never removed, whatever the import does
    res = CliRunner().invoke(cli, ["--store", str(st), "import", str(bad)])
    assert res.exit_code == 2 and st.exists()


def test_a_store_in_a_missing_folder_is_not_told_to_import(tmp_path, monkeypatch):
    """`--store /nope/x.sqlite runs` suggested `t2e import FILE`, which refuses a folder the
    user named that does not exist: the message says what is wrong with the path instead."""
    from t2e_tui import paths

    demo = tmp_path / "data" / "demo.sqlite"
    monkeypatch.setattr(paths, "demo_store", lambda: demo)
    wrong = tmp_path / "nope" / "x.sqlite"
    res = CliRunner().invoke(cli, ["--store", str(wrong), "runs"])
    assert res.exit_code == 2
    assert f"its folder {wrong.parent} does not exist" in res.output
    assert "t2e import" not in res.output
    # what the message says is so: import refuses that path too
    src = write_json(tmp_path / "r.json", make_results(1))
    res = CliRunner().invoke(cli, ["--store", str(wrong), "import", str(src)])
    assert res.exit_code == 2 and not wrong.parent.exists()
    # a demo built: still the way to it
    demo.parent.mkdir()
    demo.write_bytes(b"")
    res = CliRunner().invoke(cli, ["--store", str(wrong), "runs"])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert f"the demo's store is {demo}: pass --store {demo}" in res.output
    assert "t2e import" not in res.output
