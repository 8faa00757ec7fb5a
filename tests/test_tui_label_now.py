"""The label dialog's "now:" line says the episode's outcome (session 15 review, C3): it said
"now: passing / not classified" for an unscored foreign episode (no reward), which `t2e
failures` rightly calls neither passed nor failed."""

from __future__ import annotations

import pytest
from test_analysis_unscored import _conversation, _import
from tui_fixture import open_compare, screen_lines, settle, wait_for

from store import connect
from store.outcomes import map_reward_attr
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.label import LabelScreen


async def _now_line(st, eid) -> str:
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_compare(app, pilot, eid)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LabelScreen))
        await settle(pilot)
        lines = screen_lines(app)
    return next(ln for ln in lines if "now:" in ln).strip(" │")


def _episodes(st, rid) -> dict:
    conn = connect(st)
    out = dict(conn.execute("SELECT task_id, episode_id FROM episodes WHERE run_id = ?",
                            (rid,)).fetchall())
    conn.close()
    return out


@pytest.mark.parametrize("loop, said", [
    (False, "now: unscored (no reward) / not classified"),
    (True, "now: unscored · loop at step"),     # what the gold-free classes found
])
async def test_an_unscored_episode_is_not_called_passing(tmp_path, loop, said):
    st, rid = _import(tmp_path, [_conversation(1, loop=loop)])
    line = await _now_line(st, _episodes(st, rid)["conv1"])
    assert line.startswith(said), line
    assert "passing" not in line


async def test_a_passed_episode_is_still_called_passing(tmp_path):
    st, rid = _import(tmp_path, [_conversation(1, score=1)])
    conn = connect(st)
    map_reward_attr(conn, rid, "app.outcome")
    conn.close()
    line = await _now_line(st, _episodes(st, rid)["conv1"])
    assert line.startswith("now: passing / not classified"), line


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_a_foreign_runs_tasks_title_claims_no_gold(tmp_path, size):
    """The tasks screen of one foreign run was titled "Tasks RUN (id) vs gold actions": there is
    no gold in a foreign trace (session 15 review, M7)."""
    from t2e_tui.ui.screens.tasks import TasksScreen
    from t2e_tui.ui.widgets.fittitle import FitTitle

    st, rid = _import(tmp_path, [_conversation(1)])
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.open_tasks(rid, None)
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        await settle(pilot)
        title = app.screen.query_one("#tasks-title", FitTitle)
        (line,) = title.lines_at(title.content_region.width)
    assert "plain" in line and "vs gold" not in line, line
    assert "no gold" in line, line
