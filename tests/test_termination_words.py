"""One stored value, one wording: an episode that finished without a termination reason (a
foreign OTLP trace says nothing about how it ended) reads the same in `t2e runs`, `t2e
episodes`, `t2e show` and the app's tasks rows. They once said `unknown 1`, `done` and
`termination -` for the same NULL (store/termination.termination_text decides now)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from otel_fixture import new_convention_file

import store
from store.importers import import_path
from store.queries import list_runs
from t2e_tui.cli import cli
from t2e_tui.task_rows import task_rows

NOT_RECORDED = "not recorded"


@pytest.fixture
def foreign(tmp_path):
    """A hand-made OTLP/JSON file: an invoke_agent root, chat and execute_tool spans, no t2e.*
    attributes. conv-1 ends without a reason; the capture-off trace is an agent error."""
    path = str(tmp_path / "s.sqlite")
    db = store.open_db(path)
    run_id = import_path(db, new_convention_file(tmp_path / "traces.jsonl"))["run_id"]
    db.conn.close()
    return path, run_id


def cli_out(path, *args):
    res = CliRunner().invoke(cli, ["--store", path, *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_the_wording():
    from store.termination import NOT_RECORDED, termination_text

    assert termination_text(None, "done") == NOT_RECORDED == "not recorded"
    assert termination_text(None, "running") == "running"
    assert termination_text("user_stop", "done") == "user_stop"


def test_runs_episodes_and_show_say_the_same(foreign):
    path, run_id = foreign
    conn = store.connect(path)
    run = next(r for r in list_runs(conn) if r["run_id"] == run_id)
    assert run["termination"] == {"agent_error": 1, NOT_RECORDED: 1}
    runs = cli_out(path, "runs")  # piped: whole records (the table cuts at 80 columns)
    assert "agent_error 1, not recorded 1" in runs.splitlines()[1].split("\t")
    eps = cli_out(path, "episodes", run_id, "--table")
    conv = next(ln for ln in eps.splitlines() if ":conv-1" in ln)
    assert conv.rstrip().endswith(NOT_RECORDED)
    tsv = cli_out(path, "episodes", run_id)  # piped: one record per line
    assert NOT_RECORDED in next(ln for ln in tsv.splitlines() if ":conv-1" in ln).split("\t")
    show = cli_out(path, "show", f"{run_id}:conv-1")
    assert f"termination {NOT_RECORDED} " in show
    rows = json.loads(cli_out(path, "episodes", run_id, "--json"))
    conv = next(r for r in rows if r["task_id"] == "conv-1")
    # JSON keeps the stored value (null) and adds the words every other output uses
    assert conv["termination_reason"] is None and conv["termination"] == NOT_RECORDED
    assert json.loads(cli_out(path, "show", f"{run_id}:conv-1", "--json"))["termination"] \
        == NOT_RECORDED


def test_tasks_rows_name_it_too(foreign):
    path, run_id = foreign
    rows = {r.task_id: r for r in task_rows(store.connect(path), run_id, None)}
    assert rows["conv-1"].terms == frozenset({NOT_RECORDED})
    assert rows["c" * 32].terms == frozenset({"agent_error"})


def test_show_vs_says_the_same_for_each_side(foreign):
    """`t2e show A --vs B` printed `reward None` and no termination for foreign episodes."""
    path, run_id = foreign
    conn = store.connect(path)
    a, b = (eid for (eid,) in conn.execute(
        "SELECT episode_id FROM episodes WHERE run_id = ? ORDER BY ord", (run_id,)))
    conn.close()
    out = cli_out(path, "show", str(a), "--vs", str(b))
    assert "reward None" not in out
    side = next(ln for ln in out.splitlines() if ":conv-1" in ln and "reward" in ln)
    assert f"termination {NOT_RECORDED}  reward -" in side, side
