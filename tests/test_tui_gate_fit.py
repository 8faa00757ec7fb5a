"""The gate screen at 80×24: however long the verdict's reasons, its first line (verdict and
grade) stays in view and the task table keeps rows to choose from; the reasons scroll in a
capped region of their own."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tui_fixture import settle, wait_for

from t2e_tui.cli import cli
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.workbench_gate import GateScreen

TASK_ROWS = 4  # rows of tasks the table shows at 80×24, below its header
AIR = ["air-bags-02", "air-bags-04", "air-bags-07", "air-bags-09"]


async def _gate(app, pilot, baseline: str, candidate: str) -> GateScreen:
    await settle(pilot)
    app.push_screen(GateScreen(baseline, candidate))
    await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                   and app.screen.result is not None)
    await settle(pilot)
    return app.screen


def screen_lines(app) -> list[str]:
    return ["".join(seg.text for seg in strip)
            for strip in app.screen._compositor.render_strips()]


def _assert_fits(app, gate: GateScreen, task_ids: list[str]) -> None:
    """What the person sees: the verdict's first line under the title, then (below the
    checks) the task table's header and TASK_ROWS rows, each naming its task."""
    lines = screen_lines(app)
    text = "\n".join(lines)
    assert lines[1].startswith(f"  {gate.result.verdict_label.upper()} "), text
    head = next((i for i, ln in enumerate(lines) if ln.split()[:2] == ["why", "task"]), None)
    assert head is not None, text
    rows = lines[head + 1:head + 1 + TASK_ROWS]
    assert all(len(r.split()) >= 2 and r.split()[1] == t
               for r, t in zip(rows, task_ids[:TASK_ROWS], strict=True)), text
    assert gate.scroll_y == 0, text  # nothing of the screen itself scrolled away


async def test_transfer_verdict_keeps_its_head_and_task_rows_at_80(demo):
    """The demo's transfer verdict (DISCARD, eight tasks named in each of several reasons)."""
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        gate = await _gate(app, pilot, demo["runs"]["baseline-transfer"],
                           demo["transfer"]["run_id"])
        assert gate.result.decision == "discard"
        _assert_fits(app, gate, AIR)
        await pilot.press("home")
        await settle(pilot)
        _assert_fits(app, gate, AIR)
        # the reasons are all there, in a region that scrolls
        box = gate.query_one("#gate-verdict-box")
        assert box.max_scroll_y > 0
        assert "transfer: " in str(gate.query_one("#gate-verdict").render())


@pytest.fixture
def real_pair(tmp_path, shared_results):
    store = str(tmp_path / "real.sqlite")
    ids = []
    for path in shared_results:
        res = CliRunner().invoke(cli, ["--store", store, "import", str(path), "--json"])
        assert res.exit_code == 0, res.output
        ids.append(json.loads(res.output)["imported"][0]["run_id"])
    return store, ids


@pytest.mark.shared
async def test_real_pair_gate_keeps_task_rows_at_80(real_pair):
    store, (base, sft) = real_pair
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        gate = await _gate(app, pilot, base, sft)
        _assert_fits(app, gate, ["18", "27", "33", "64"])
        # Enter opens the row the person sees under the cursor
        assert gate.query_one("#gate-tasks").cursor_row == 0


async def test_wide_screen_shows_every_reason(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        gate = await _gate(app, pilot, demo["runs"]["baseline-transfer"],
                           demo["transfer"]["run_id"])
        box = gate.query_one("#gate-verdict-box")
        assert box.max_scroll_y == 0  # room for all of it: nothing hidden
        tasks = gate.query_one("#gate-tasks")
        assert tasks.region.height >= 1 + 8  # all eight regressions in view


async def test_the_fit_follows_a_resize(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        gate = await _gate(app, pilot, demo["runs"]["baseline-transfer"],
                           demo["transfer"]["run_id"])
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        _assert_fits(app, gate, AIR)
