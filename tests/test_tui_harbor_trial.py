"""The compare screen's detail for a Harbor trial with no trajectory (review s15-rev2 C5).

The episode has no steps, so the detail pane said only "no step selected": the trial's
exception, its agent's usage and why it has no steps (stored from its result.json) were shown
nowhere in the app. The pane now gives the episode's lines under it, at 80x24.
"""

from __future__ import annotations

from pathlib import Path

from tui_fixture import open_compare, settle

import store
from store.importers import import_path

JOB = Path(__file__).parent / "fixtures" / "harbor" / "job_a"


async def test_an_empty_trial_shows_its_exception_and_usage(tmp_path):
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.widgets.detail import StepDetail

    st = tmp_path / "s.sqlite"
    db = store.open_db(st)
    import_path(db, JOB)
    (eid,) = db.conn.execute("SELECT episode_id FROM episodes WHERE task_id = "
                             "'track-parcel'").fetchone()
    db.conn.close()
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_compare(app, pilot, eid)
        await pilot.pause(0.3)
        body = str(app.screen.query_one(StepDetail).query_one("#detail-body").render())
    said = " ".join(body.split())
    assert "Harbor exception: AgentTimeoutError: Agent timed out after 600s" in said, said
    assert "input tokens 100, output tokens 10, cost $0.001" in said, said
    assert "no agent/trajectory.json" in said, said
