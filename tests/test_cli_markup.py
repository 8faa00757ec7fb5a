"""Names and ids from trace files reach the CLI's rich tables as titles, headers and cells;
on a terminal none of them may be read as Rich markup (a run named `[bold red]x[/]` shows
those brackets, it does not turn red). The CLI's console takes no markup at all, so no call
site can forget."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tui_fixture import build_store

T2E = [sys.executable, "-m", "t2e_tui.cli"]
NAME = "cand [bold red]x[/] [link=https://e.example]y[/link]"


def t2e(store, *args):
    # FORCE_COLOR: rich styles as on a terminal (markup would be interpreted here)
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    r = subprocess.run(T2E + ["--store", str(store), *args], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    path = tmp_path_factory.mktemp("markup") / "fx.sqlite"
    ids = build_store(path)
    subprocess.run(T2E + ["--store", str(path), "runs", "rename", "runcand", NAME],
                   check=True, capture_output=True, timeout=120)
    return path, ids


def test_show_vs_headers_keep_markup_literal(fx):
    path, ids = fx
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    out = t2e(path, "show", str(b), "--vs", str(a))
    # the title line, and the column header (a plain str given to rich's Table)
    assert out.count("[bold red]x[/]") >= 2, out
    assert "[link=https://e.example]" in out
    assert "\x1b]8;" not in out  # no hyperlink escape made of the name


def test_tables_keep_markup_literal(fx):
    path, _ = fx
    out = t2e(path, "runs", "--table")
    assert "[bold red]x[/]" in out, out
