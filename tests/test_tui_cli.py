"""`t2e open` (cli_app): argument errors are one line and exit 2; textual loads lazily."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


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


def _runs_store(tmp_path):
    from click.testing import CliRunner
    from test_store_data import make_results, write_json

    from t2e_tui.cli import cli

    runner = CliRunner()
    store = str(tmp_path / "s.sqlite")
    ids = []
    for i, name in enumerate(["a long run name that used to wrap letter by letter at 80",
                              "short"]):
        p = write_json(tmp_path / f"results-file-with-a-long-name-{i}.json", make_results(3 + i))
        r = runner.invoke(cli, ["--store", store, "import", str(p), "--name", name,
                                "--role", "development", "--json"])
        assert r.exit_code == 0, r.output
        ids.append(json.loads(r.output)["imported"][0]["run_id"])
    return runner, cli, store, ids


@pytest.mark.parametrize("width", [200, 80, 60, 40])
def test_runs_table_is_one_line_per_run_at_any_width(tmp_path, width):
    runner, cli, store, ids = _runs_store(tmp_path)
    r = runner.invoke(cli, ["--store", store, "runs", "--table"], env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    lines = r.output.rstrip("\n").split("\n")
    assert len(lines) == 2 + len(ids)  # header, rule, one line per run
    assert all(len(line) <= width for line in lines)
    for line, rid in zip(lines[2:], ids):
        assert line.startswith(rid)
    head = lines[0].split()
    assert head[:2] == ["run", "name"] and "reward" in head and "pass" in head
    if width == 200:  # room for every column and whole names
        assert head[-2:] == ["termination", "source"] and "used to wrap letter" in lines[2]
    if width == 80:  # the long name is cut with …, the file name (source) goes first
        assert "termination" in head and "development" in lines[2] and "…" in lines[2]
    if width <= 60:  # low-value columns go first
        assert "source" not in head and "termination" not in head


REASONS = ["user_stop", "agent_stop", "max_steps", "too_many_errors", "user_stop",
           "agent_error", "user_stop", "max_steps"]


@pytest.mark.parametrize("width", [80, 100])
def test_runs_table_keeps_every_termination_reason_at_80_columns(tmp_path, width):
    """A run that ended in several ways had its termination cell cut at 24 cells
    (`user_stop 3, max_steps …`) at 80 columns, hiding how most episodes ended. The cell
    now breaks between reasons (never inside one) onto further lines of the same run."""
    from click.testing import CliRunner
    from test_store_data import make_results, write_json

    from t2e_tui.cli import cli

    data = make_results(len(REASONS))
    for sim, reason in zip(data["simulations"], REASONS):
        sim["termination_reason"] = reason
    runner, store = CliRunner(), str(tmp_path / "s.sqlite")
    for name, d in (("mixed endings", data), ("plain", make_results(3))):
        p = write_json(tmp_path / f"{name}.json", d)
        r = runner.invoke(cli, ["--store", store, "import", str(p), "--name", name])
        assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["--store", store, "runs", "--table"], env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    lines = r.output.rstrip("\n").split("\n")
    assert all(len(line) <= width for line in lines), lines
    assert "termination" in lines[0].split() and "…" not in r.output, r.output
    text = " ".join(" ".join(lines[2:]).split())
    for reason in ("user_stop 3", "max_steps 2", "agent_error 1", "agent_stop 1",
                   "too_many_errors 1", "user_stop 3"):
        assert reason in text, r.output
    # each run's first line starts with its id; continuation lines start blank
    starts = [line for line in lines[2:] if line[:1] != " "]
    assert len(starts) == 2 and starts[0].split()[1:3] == ["mixed", "endings"], r.output
