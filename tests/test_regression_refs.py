"""A regression's "inspect" reference opens the trials that show it (review s15-2 C1).

Before, for a task with several trials the gate's Markdown and JUnit reports (`t2e show
RUN:TASK --vs RUN:TASK`) and the gate screen's Enter opened trial 0 on each side: both could
be passing trials ("no difference") for a task the gate calls regressed, while the tasks
screen opened a failing candidate trial. Every face now takes the pair the tasks screen takes
(`trial_pair.pick_pair`), which follows the task's direction: a passing baseline trial and a
failing candidate trial for a regression."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_gate_builders import make_run, new_store
from tui_fixture import settle

from t2e_tui.cli import cli
from t2e_tui.task_rows import Trial
from t2e_tui.trial_pair import pick_pair

OK = {str(i): [1.0, 1.0, 1.0] for i in range(1, 9)}


def _store(tmp_path):
    conn = new_store(tmp_path, "s.sqlite")
    make_run(conn, "base", {**OK, "7": [1.0, 1.0, 1.0]})
    make_run(conn, "cand", {**OK, "7": [1.0, 0.0, 0.0]})  # trial 0 still passes
    ids = {(name, task, trial): eid for eid, name, task, trial in conn.execute(
        "SELECT e.episode_id, r.name, e.task_id, e.trial FROM episodes e JOIN runs r "
        "USING (run_id)")}
    conn.close()
    return str(tmp_path / "s.sqlite"), ids


def test_the_reports_open_a_passing_baseline_and_a_failing_candidate_trial(tmp_path):
    st, _ids = _store(tmp_path)
    md, xml = tmp_path / "g.md", tmp_path / "g.xml"
    res = CliRunner().invoke(cli, ["--store", st, "gate", "base", "cand", "--json",
                                   "--report", "markdown", str(md), "--report", "junit",
                                   str(xml)])
    doc = json.loads(res.stdout)
    assert doc["stats"]["regressions"] == ["7"], res.output
    b, c = doc["baseline"]["run_id"], doc["candidate"]["run_id"]
    command = f"t2e show {b}:7:0 --vs {c}:7:1"
    assert f"`{command}`" in md.read_text()
    assert command in xml.read_text()
    out = CliRunner().invoke(cli, ["--store", st, *command.split()[1:], "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert (got["a"]["reward"], got["b"]["reward"]) == (1.0, 0.0), got


def _trials(*ok):
    return [Trial(episode_id=i, trial=i, status="done", reward=float(v), success=int(v),
                  termination=None, tool_errors=0) for i, v in enumerate(ok)]


def test_the_pair_follows_the_tasks_direction():
    """A failing baseline trial comes first: the first differing pair was (fail, pass), a
    fix's picture of a task that regressed."""
    base, cand = _trials(0, 1, 1), _trials(1, 0, 0)
    assert pick_pair(base, cand) == (1, 1)      # 2/3 -> 1/3: baseline passes, candidate fails
    assert pick_pair(cand, base) == (1, 1)      # 1/3 -> 2/3: baseline fails, candidate passes
    assert pick_pair(_trials(1, 0), _trials(0, 1)) == (0, 0)  # no direction: the first
    assert pick_pair(_trials(1), _trials(1, 1)) == (0, 0)     # nothing parts: first of each


async def test_the_gate_screens_enter_opens_the_same_pair(tmp_path):
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.compare import CompareScreen

    st, ids = _store(tmp_path)
    app = make_app(st, poll_interval=0, load_config=False)
    import store
    conn = store.connect(st)
    runs = dict(conn.execute("SELECT name, run_id FROM runs"))
    conn.close()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_task_compare(runs["base"], runs["cand"], "7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert (screen.episode_a, screen.episode_b) == (ids["base", "7", 0],
                                                        ids["cand", "7", 1])
