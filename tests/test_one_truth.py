"""One function per fact: the CLI and the app read run figures through the same query, and
"infrastructure_error" is spelled in one place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

import store
from store.importers import import_path
from t2e_tui import data_access as da
from t2e_tui.cli.main import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def mixed(tmp_path):
    """One imported run of five episodes: three scored, two infrastructure errors."""
    path = tmp_path / "s.sqlite"
    db = store.open_db(path)
    src = make_results(5)
    for i in (1, 3):
        src["simulations"][i]["termination_reason"] = "infrastructure_error"
        src["simulations"][i]["reward_info"] = None
    run = import_path(db, write_json(tmp_path / "mixed.json", src))["run_id"]
    db.conn.close()
    return path, run


def test_cli_and_app_show_the_same_run_figures(mixed):
    path, run = mixed
    out = CliRunner().invoke(cli, ["--store", str(path), "runs", "--json"])
    assert out.exit_code == 0, out.output
    (cli_row,) = json.loads(out.output)
    conn = da.open_conn(str(path))
    (app_row,) = da.list_runs(conn)
    conn.close()
    assert cli_row["episodes"] == app_row.episodes == 5
    assert cli_row["scored"] == app_row.scored == 3
    assert cli_row["reward"] == pytest.approx(app_row.reward)
    assert cli_row["pass_rate"] == pytest.approx(app_row.pass_rate)
    assert app_row.infrastructure_errors == 2


def test_infrastructure_error_is_spelled_once():
    """Code compares termination reasons against the one constant, store.INFRA."""
    spelled = []
    for py in list((REPO / "t2e_tui").rglob("*.py")) + list((REPO / "store").rglob("*.py")):
        for n, line in enumerate(py.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"""["']infrastructure_error["']""", code):
                spelled.append(f"{py.relative_to(REPO)}:{n}")
    assert len(spelled) == 1 and spelled[0].startswith("store/db.py:"), spelled


def test_a_run_records_its_candidate_when_t2e_first_holds_it_not_at_the_file_time(tmp_path):
    """The engine records the planned candidate through the candidate write API, even when
    the file is gone by the time the run starts, dated by t2e's clock when it records it: a
    file's modification time is the user's to set, and `saved_at` ends the window in which
    heldout views count (a backdated file hid views from the gate: tests/test_gate_views.py).
    """
    import os

    from store import now_iso
    from t2e_tui.engine.engine import execute_run
    from t2e_tui.engine.plan import plan_run

    cdir = tmp_path / "candidates"
    cdir.mkdir()
    f = cdir / "old-idea.md"
    f.write_text("---\nname: old-idea\nparent: null\nhypothesis: h\n---\n- check the order\n")
    os.utime(f, (1_600_000_000, 1_600_000_000))  # 2020-09-13
    plan = plan_run(domain="mini-retail", candidate="old-idea", candidates_dir=str(cdir),
                    tasks="dev", num_tasks=1, trials=1, name="r", role="development")
    f.unlink()  # the lookup by reference now fails
    before = now_iso()
    s = execute_run(plan, str(tmp_path / "s.sqlite"))
    after = now_iso()
    assert s.status == "complete"
    conn = store.connect(tmp_path / "s.sqlite")
    (name, saved_at), = conn.execute("SELECT name, saved_at FROM candidates").fetchall()
    assert name == "old-idea" and before <= saved_at <= after


@pytest.mark.parametrize("said,flagged", [
    ("yes please", False), ("Yes, go ahead.", False), ("ok", False),
    ("that is incorrect", True), ("look, I am not sure", True), ("I'd rather not", True),
    ("the total is correct? no, wait", True),
])
def test_no_confirmation_hint_matches_words_not_substrings(tmp_path, said, flagged):
    """One yes detector (the scripted agent's `classify_confirmation`): 'incorrect' and
    'look' are not a yes (the hint used to match substrings, so they were)."""
    from store import writer

    db = store.open_db(tmp_path / "s.sqlite")
    run = writer.create_run(db, name="r", status="complete")
    eid = writer.begin_episode(db, run, episode_key="1:0", task_id="1", trial=0)
    msgs = [{"role": "assistant", "content": "Shall I cancel order #W1?"},
            {"role": "user", "content": said},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "name": "cancel_pending_order", "requestor": "assistant",
                 "arguments": {"order_id": "#W1", "reason": "no longer needed"}}]},
            {"role": "tool", "id": "c1", "content": "{}", "requestor": "assistant",
             "error": False}]
    names: dict = {}
    for i, m in enumerate(msgs):
        writer.append_step(db, eid, i, m, tool_names=names)
    writer.finish_episode(db, eid, termination_reason="user_stop", reward_info={"reward": 1.0})
    conn = da.open_conn(str(tmp_path / "s.sqlite"))
    rows = da.task_rows(conn, run, None)
    da.fill_hints(conn, rows)
    conn.close()
    assert ("B:no confirm before write" in rows[0].hints) is flagged
