"""Snapshots of the explorer at 80×24 and 160×48 on the fixture store (review the SVGs:
rsvg-convert -o x.png tests/__snapshots__/test_tui_snapshots/<name>.svg)."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from tui_fixture import build_store, settle

from t2e_tui.ui.app import make_app

SIZES = [(80, 24), (160, 48)]


@pytest.fixture
def fx(tmp_path):
    path = tmp_path / "fx.sqlite"
    return path, build_store(path)


def app_for(path):
    # no config, no polling, a fixed clock: nothing moves between two runs of a snapshot
    return make_app(path, load_config=False, poll_interval=0, clock=lambda: 0.0)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_runs_snapshot(snap_compare, fx, size):
    path, _ = fx

    async def before(pilot):
        await settle(pilot)
        await pilot.press("b", "down", "c")

    assert snap_compare(app_for(path), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_tasks_snapshot(snap_compare, fx, size):
    path, _ = fx

    async def before(pilot):
        await settle(pilot)
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        await pilot.press("down")

    assert snap_compare(app_for(path), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_compare_snapshot(snap_compare, fx, size):
    path, ids = fx

    async def before(pilot):
        await settle(pilot)
        pilot.app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)

    assert snap_compare(app_for(path), terminal_size=size, run_before=before)


def test_compare_gold_view_snapshot_80(snap_compare, fx):
    path, ids = fx

    async def before(pilot):
        await settle(pilot)
        pilot.app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        await pilot.press("t", "t")

    assert snap_compare(app_for(path), terminal_size=(80, 24), run_before=before)


def test_search_snapshot_160(snap_compare, fx):
    path, _ = fx

    async def before(pilot):
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        pilot.app.screen.query_one(Input).cursor_blink = False
        await pilot.press(*"exchange", "enter")
        await settle(pilot)

    assert snap_compare(app_for(path), terminal_size=(160, 48), run_before=before)


def test_help_snapshot_80(snap_compare, fx):
    path, _ = fx

    async def before(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app_for(path), terminal_size=(80, 24), run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_compare_last_turns_snapshot(snap_compare, fx, size):
    """End: the last turns, both sides in the detail pane (stacked at 80 columns)."""
    path, ids = fx

    async def before(pilot):
        await settle(pilot)
        pilot.app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        await pilot.press("end")
        await pilot.pause(0.2)
        await settle(pilot)

    assert snap_compare(app_for(path), terminal_size=size, run_before=before)


def test_help_snapshot_160(snap_compare, fx):
    path, ids = fx

    async def before(pilot):
        await settle(pilot)
        pilot.app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_for(path), terminal_size=(160, 48), run_before=before)


def test_tasks_empty_filter_snapshot_80(snap_compare, fx):
    path, _ = fx

    async def before(pilot):
        await settle(pilot)
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        await pilot.press("5")
        await pilot.pause()

    assert snap_compare(app_for(path), terminal_size=(80, 24), run_before=before)


def test_search_no_hits_snapshot_80(snap_compare, fx):
    path, _ = fx

    async def before(pilot):
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        pilot.app.screen.query_one(Input).cursor_blink = False
        await pilot.press(*"zebra", "enter")
        await settle(pilot)

    assert snap_compare(app_for(path), terminal_size=(80, 24), run_before=before)
