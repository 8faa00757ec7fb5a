"""The gate screen after a refusal: `i` (gate the shared tasks) is offered only where that
answers the refusal (different task sets), never for different settings; P and D with no
verdict say why nothing is recorded. Demo store (scripted STAND-IN agent)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui_fixture import settle, wait_for

from store import connect


async def _rerun(store, tasks: str, trials: int, name: str) -> str:
    from t2e_tui.demo import demo_candidates_dir
    from t2e_tui.engine import execute_run
    from t2e_tui.engine.plan import plan_run

    conn = connect(store)
    try:
        plan = plan_run(domain="mini-retail", candidate="cross-order-v1",
                        candidates_dir=str(demo_candidates_dir(Path(store))), tasks=tasks,
                        trials=trials, concurrency=2, model="scripted", user="scripted",
                        name=name, role="heldout", store_conn=conn)
    finally:
        conn.close()
    return (await asyncio.to_thread(execute_run, plan, str(store))).run_id


def _bar(app) -> str:
    from t2e_tui.ui.widgets.keybar import KeyBar

    bar = app.screen.query_one(KeyBar)
    return bar.bar_text(10_000).plain


async def _refused_gate(app, pilot, baseline: str, candidate: str):
    """The gate screen pushed on a pair the gate refuses, once its refusal is drawn."""
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    await settle(pilot)
    app.push_screen(GateScreen(baseline, candidate))
    await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                   and app.screen.refusal is not None)
    await settle(pilot)
    return app.screen


async def test_settings_refusal_offers_no_intersect_and_p_says_why(own_demo):
    """Trials 1 vs 2: the screen said `i gates on the 3 task(s) both runs share`, though
    intersecting cannot answer a settings refusal (i did nothing visible), and P did nothing,
    silently."""
    from t2e_tui.ui.app import make_app

    store = own_demo["store"]
    two = await _rerun(store, "crossorder-01,crossorder-02,crossorder-05", 2, "two trials")
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        gate = await _refused_gate(app, pilot, own_demo["runs"]["baseline"], two)
        text = str(gate.query_one("#gate-verdict").render())
        assert "trials" in text, text
        assert "i gates on" not in text, text
        assert "Gate shared tasks" not in _bar(app)
        assert "Compare task" not in _bar(app)  # no verdict: no tasks to compare
        await pilot.press("P")
        await wait_for(pilot, lambda: any("no verdict to promote" in n.message
                                          for n in app._notifications))
        said = [n.message for n in app._notifications]
        assert any(m == "no verdict to promote: the gate refused this pair; nothing recorded"
                   for m in said), said
        assert app.screen is gate


async def test_task_set_refusal_offers_intersect_in_the_key_bar(own_demo):
    from t2e_tui.ui.app import make_app

    store = own_demo["store"]
    sub = await _rerun(store, "crossorder-01,crossorder-02,crossorder-05", 1, "subset")
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        gate = await _refused_gate(app, pilot, own_demo["runs"]["baseline"], sub)
        assert "i gates on the 3 task(s)" in str(gate.query_one("#gate-verdict").render())
        assert "Gate shared tasks" in _bar(app)
        await pilot.press("i")
        await wait_for(pilot, lambda: gate.result is not None)
        await settle(pilot)
        assert "Gate shared tasks" not in _bar(app)
        assert "restricted to the 3 shared tasks" in str(gate.query_one("#gate-verdict").render())
