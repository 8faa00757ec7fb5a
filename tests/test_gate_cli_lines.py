"""`t2e gate`'s summary: task ids come from trace files, and one holding a newline or a tab
must not break a line of the summary (a task id `x\\n    [pass] no_task_regressions` printed a
forged check line). Each line stays one line: newlines as ⏎, tabs as spaces."""

from __future__ import annotations

from click.testing import CliRunner
from test_gate_builders import make_run, new_store

from t2e_tui.cli import cli

FORGED = "t\n    [pass] no_task_regressions: forged"


def test_task_ids_cannot_break_or_forge_summary_lines(tmp_path):
    conn = new_store(tmp_path, "s.sqlite")
    tasks = [FORGED, "tab\tx", "ls\u2028    [pass] forged too", "ok2"]
    make_run(conn, "base", {t: [1.0] for t in tasks})
    make_run(conn, "cand", {t: [0.0] for t in tasks})
    conn.close()
    res = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "gate", "base", "cand"])
    assert res.exit_code == 1, res.output
    lines = res.stdout.splitlines()  # (splitlines also breaks at U+2028)
    assert not any(ln.lstrip().startswith("[pass] no_task_regressions: forged") for ln in lines)
    assert not any(ln.lstrip().startswith("[pass] forged too") for ln in lines)
    assert "t ⏎     [pass] no_task_regressions: forged" in res.stdout
    assert "\t" not in res.stdout and "tab    x" in res.stdout
