"""The CLI root: exit codes and one-line errors, whatever the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

T2E = [sys.executable, "-m", "t2e_tui.cli"]


def _run(args, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(T2E + args, capture_output=True, text=True, env=env, **kw)


def test_usage_error_is_exit_2_one_line(tmp_path):
    r = _run(["--store", str(tmp_path / "s.sqlite"), "runs", "--no-such-flag"])
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "no such option" in r.stderr.lower()


def test_usage_error_with_json_prints_error_object(tmp_path):
    r = _run(["--store", str(tmp_path / "s.sqlite"), "runs", "--json", "--bogus"])
    assert r.returncode == 2
    assert "error" in json.loads(r.stdout)


def test_store_that_is_not_sqlite_is_bad_input(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"not": "a database"}' * 100)
    r = _run(["--store", str(bad), "runs", "--json"])
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(bad) in json.loads(r.stdout)["error"]


def test_closed_pipe_exits_141_not_discard(tmp_path):
    """`t2e ... | head` must not look like a gate discard (exit 1) or a crash (70)."""
    store = tmp_path / "s.sqlite"
    # Search output many times the pipe buffer (64 KiB): with 400 episodes it was 65,720
    # bytes, so after the reader's first buffered block the rest fit in the pipe and t2e
    # could finish (exit 0) before the reader went away (a flaky failure)
    lines = []
    for i in range(3000):
        lines.append(json.dumps({"task_id": f"t{i}", "trial": 0, "reward": 1.0,
                                 "termination_reason": "user_stop",
                                 "messages": [{"role": "user", "content": "order " * 50}]}))
    src = tmp_path / "eps.jsonl"
    src.write_text("\n".join(lines) + "\n")
    r = _run(["--store", str(store), "import", str(src), "--json"])
    assert r.returncode == 0, r.stdout + r.stderr
    env = dict(os.environ)
    p1 = subprocess.Popen(T2E + ["--store", str(store), "search", "order", "--limit", "3000"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0)
    assert p1.stdout is not None
    assert os.read(p1.stdout.fileno(), 100)  # (unbuffered: a line's worth, not a block)
    p1.stdout.close()  # the reader goes away, like `head -1`
    p1.wait(timeout=60)
    err = p1.stderr.read().decode() if p1.stderr else ""
    assert p1.returncode == 141, err
    assert "Traceback" not in err


def test_open_refuses_a_file_that_is_not_a_store(tmp_path):
    bad = tmp_path / "notjson.json"
    bad.write_text("this is not a database\n" * 200)
    for args in (["--store", str(bad)], ["--store", str(bad), "open"]):
        r = _run(args, timeout=60)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert str(bad) in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_candidate_log_row_is_one_safe_line():
    from t2e_tui.cli.workbench import format_log_row

    row = {"depth": 1, "reward": 0.5, "gate": None, "short": "abc123",
           "name": "v2\x1b[31m", "saved_at": "2026-11-22T05:00:00.000000+00:00",
           "hypothesis": "first line\nsecond \x1b]0;title\x07line " + "x" * 80}
    line = format_log_row(row)
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert "first line ⏎ second" in line and line.endswith("…")  # newline shown, not obeyed


def _closed_reader(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run t2e with its stdout a pipe whose reader is already gone (`| head` that has quit)."""
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run(T2E + args, stdout=w, stderr=subprocess.PIPE, text=True, env=env,
                           timeout=120)
    finally:
        os.close(w)
    return p


@pytest.mark.slow
def test_every_command_exits_141_on_a_closed_pipe(demo):
    """Human and --json output, listings and errors alike: 141, never 1 (discard) or 70."""
    env = dict(os.environ, T2E_STORE=str(demo["store"]))
    run = json.loads(_run(["runs", "--json"], env_extra={"T2E_STORE": str(demo["store"])}
                          ).stdout)[0]["run_id"]
    for args in (["episodes", run], ["episodes", run, "--json"], ["runs"], ["runs", "--json"],
                 ["search", "order"], ["search", "order", "--json"], ["show", "1", "--json"],
                 ["scoreboard", "--json"], ["candidate", "log", "--json"], ["tasks"],
                 ["models", "--json"], ["--help"], ["show", "999999", "--json"]):
        p = _closed_reader(args, env)
        assert p.returncode == 141, (args, p.returncode, p.stderr)
        assert "Traceback" not in p.stderr, args


def test_store_after_the_command_says_where_it_goes():
    """`--store` is the root's option; typed after the command, click only said 'No such
    option' (and offered --json)."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    res = CliRunner().invoke(cli, ["runs", "--store", "x.sqlite"])
    assert res.exit_code == 2
    assert "--store goes before the command: t2e --store PATH COMMAND" in res.output
    res = CliRunner().invoke(cli, ["runs", "--nope"])
    assert res.exit_code == 2 and "goes before" not in res.output
