"""Full GC passes run after a key's frame, not inside the key (#18: the tasks screen at
160x48 took 40-130 ms on filter keys where a full pass fell; ui/gc_pacing.py)."""

from __future__ import annotations

import gc
from pathlib import Path

from textual.binding import Binding
from tui_fixture import build_store, settle, wait_for

from t2e_tui.ui import app as app_module
from t2e_tui.ui import gc_pacing
from t2e_tui.ui.app import T2EApp


class Churning(T2EApp):
    """The explorer with one more key: `x` leaves cyclic garbage, as a repaint of many lines
    does (Textual's strips refer to themselves)."""

    BINDINGS = [Binding("x", "churn", "Churn")]
    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # not relative to tests/

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.in_key = False
        self.passes: list[tuple[int, bool]] = []   # (generation, inside the key)

    def action_churn(self) -> None:
        self.in_key = True
        try:
            for _ in range(50_000):
                cycle: list = []
                cycle.append(cycle)
        finally:
            self.in_key = False

    def seen(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.passes.append((info["generation"], self.in_key))


async def test_a_due_full_pass_runs_after_the_keys_frame_not_inside_the_key(tmp_path):
    build_store(tmp_path / "s.sqlite")
    app = Churning(tmp_path / "s.sqlite", load_config=False, poll_interval=0)
    threshold = gc.get_threshold()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        gc.unfreeze()
        gc.collect()
        # a full pass is due, as after some keys on a big screen: ten young passes went by and
        # enough survivors reached the old generation (CPython's two conditions)
        survivors = [[] for _ in range(len(gc.get_objects()))]
        for _ in range(gc_pacing.DUE):
            gc.collect(1)
        gc.callbacks.append(app.seen)
        try:
            await pilot.press("x")
            await wait_for(pilot, lambda: any(g == 2 for g, _ in app.passes), timeout=10)
            await pilot.pause(0.1)
        finally:
            gc.callbacks.remove(app.seen)
        assert [inside for g, inside in app.passes if g == 2] == [False]
        assert app.gc_pacer.passes == 1
        # the young passes still run as they come, in the key too
        assert any(g < 2 and inside for g, inside in app.passes)
        del survivors
    assert gc.get_threshold() == threshold  # given back when the app ends


async def test_no_pass_when_none_is_due_and_more_input_goes_first(tmp_path):
    build_store(tmp_path / "s.sqlite")
    app = Churning(tmp_path / "s.sqlite", load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        gc.collect()  # nothing due
        await pilot.press("down")
        await pilot.pause((gc_pacing.SETTLE_S + gc_pacing.FLUSH_S) * 4)
        assert app.gc_pacer.passes == 0
        for _ in range(gc_pacing.DUE):
            gc.collect(1)
        # two keys in a row: the pass waits for the second one's frame, then runs once
        await pilot.press("down", "up")
        await wait_for(pilot, lambda: app.gc_pacer.passes == 1, timeout=10)
        await pilot.pause((gc_pacing.SETTLE_S + gc_pacing.FLUSH_S) * 4)
        assert app.gc_pacer.passes == 1 and gc.get_count()[2] < gc_pacing.DUE
