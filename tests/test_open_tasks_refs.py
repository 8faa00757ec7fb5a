"""`t2e open --tasks BASELINE CANDIDATE` took run ids only, though every other command takes a
run id, id prefix or name: given names, the app opened a tasks screen saying "no finished
episodes yet" (seen with an ATIF and a Harbor run). The two references are resolved as every
command resolves them, before the app starts; an unknown one is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

from click.testing import CliRunner
from tui_fixture import build_store

from t2e_tui.cli import cli


def test_run_names_and_prefixes_open_the_pair_they_name(tmp_path, monkeypatch):
    path = tmp_path / "fx.sqlite"
    ids = build_store(path)
    started = []

    class App:
        session_link = None

        def run(self):
            pass

    import t2e_tui.cli.app as cli_app
    import t2e_tui.ui.app as ui_app

    monkeypatch.setattr(cli_app, "not_a_terminal", lambda: None)
    monkeypatch.setattr(ui_app, "make_app", lambda p, start, session: started.append(start)
                        or App())
    r = CliRunner().invoke(cli, ["--store", str(path), "open", "--tasks", "baseline",
                                 ids["cand"][:5]])
    assert r.exit_code == 0, r.output
    assert started == [("tasks", ids["base"], ids["cand"])]


def test_an_unknown_run_is_one_line_exit_2(tmp_path):
    path = tmp_path / "fx.sqlite"
    build_store(path)
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    r = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(path), "open",
                        "--tasks", "baseline", "nosuchrun"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "nosuchrun" in r.stderr and "needs a terminal" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
