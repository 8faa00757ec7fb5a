"""`t2e open` (cli_app): argument errors are one line and exit 2; textual loads lazily."""

from __future__ import annotations

import subprocess
import sys


def run(*args, env_store):
    return subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(env_store),
                           *args], capture_output=True, text=True, timeout=60)


def test_open_rejects_a_bad_compare_argument(tmp_path):
    r = run("open", "--compare", "abc,def,1", env_store=tmp_path / "s.sqlite")
    assert r.returncode == 2
    assert "--compare 'abc,def,1'" in r.stderr and "Traceback" not in r.stderr


def test_open_rejects_a_directory_store(tmp_path):
    r = run("open", env_store=tmp_path)
    assert r.returncode == 2 and "is a directory" in r.stderr


def test_cli_help_does_not_import_textual():
    code = ("import sys; from t2e_tui.cli import cli; "
            "assert 'open' in cli.commands; "
            "assert not any(m == 'textual' or m.startswith('textual.') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
