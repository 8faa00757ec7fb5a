"""The app needs a terminal. Run from a script, cron or CI (stdin at end of file, stdout a
pipe), `t2e demo` and `t2e open` started Textual anyway: its input thread spun at 100% CPU, the
command never ended, and the screen went into the output as escape codes (seen running the
README's first command without a terminal: 10 CPU-minutes, still running). Now `open` says so
in one line (exit 2) and `demo` builds its store, says how to open it, and ends (exit 0); a
driver named in TEXTUAL_DRIVER (`t2e serve`'s) runs without a terminal, as before."""

from __future__ import annotations

import os
import subprocess
import sys

from tui_fixture import build_store

from t2e_tui.cli.app import not_a_terminal


def _t2e(*args, env=None, timeout=120):
    environ = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "t2e_tui.cli", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout, env=environ)


def test_open_without_a_terminal_is_one_line_exit_2(tmp_path):
    path = tmp_path / "fx.sqlite"
    build_store(path)
    r = _t2e("--store", str(path), "open", timeout=30)  # before: never ended
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    assert "the app needs a terminal and stdin is not one" in r.stderr
    assert "\x1b" not in r.stdout + r.stderr     # no screen drawn into the pipe
    r = _t2e("--store", str(path), timeout=60)    # the bare command opens the app too
    assert r.returncode == 2 and "needs a terminal" in r.stderr


def test_demo_without_a_terminal_builds_the_store_and_ends(tmp_path):
    store = tmp_path / "demo.sqlite"
    r = _t2e("--store", str(store), "demo", env={"XDG_STATE_HOME": str(tmp_path / "state")},
             timeout=120)  # it takes seconds; before, it never ended
    assert r.returncode == 0, r.stderr[-500:]
    assert store.exists() and "\x1b" not in r.stdout
    assert f"the app was not opened (stdin is not a terminal): open it with  t2e --store " \
           f"{store} open" in r.stderr


def test_which_stream_is_not_a_terminal(monkeypatch):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            if self.tty is None:
                raise ValueError("I/O operation on closed file")
            return self.tty

    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    for stdin, stdout, want in ((True, True, None), (False, True, "stdin"),
                                (True, False, "stdout"), (None, True, "stdin")):
        monkeypatch.setattr(sys, "stdin", Stream(stdin))
        monkeypatch.setattr(sys, "stdout", Stream(stdout))
        assert not_a_terminal() == want
    monkeypatch.setattr(sys, "stdin", None)
    assert not_a_terminal() == "stdin"
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert not_a_terminal() is None  # t2e serve's driver needs no terminal
