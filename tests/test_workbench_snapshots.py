"""Snapshots of the workbench screens (editor, diff, launcher, gate) at 80×24 and 160×48 on a
demo store. Review the SVGs: rsvg-convert -o x.png
tests/__snapshots__/test_workbench_snapshots/<name>.svg"""

from __future__ import annotations

import itertools

import pytest
from tui_fixture import settle, wait_for

from t2e_tui.ui.app import make_app

SIZES = [(80, 24), (160, 48)]
RULE = "- For cancelled orders, check the fulfillments for tracking numbers."


def _fixed_run_ids(counter):
    # run ids are random in real use; fixed here so the screens are byte-identical per run
    return lambda: f"run{next(counter):05d}"


@pytest.fixture(scope="module")
def demo_fixed_ids(tmp_path_factory):
    """The demo built once with run ids run00001, run00002, ... and the counter's next value
    (a build's copy continues from there, as the build's own counter would)."""
    from demo_store import seal_template

    from store import writer
    from t2e_tui.demo import build_demo

    counter = itertools.count(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer, "new_run_id", _fixed_run_ids(counter))
        built = seal_template(build_demo(tmp_path_factory.mktemp("snapdemo") / "demo.sqlite"))
    return built, next(counter)


@pytest.fixture
def demo(tmp_path, monkeypatch, demo_fixed_ids):
    from demo_store import copy_demo

    from store import writer

    template, next_id = demo_fixed_ids
    # the editor names the candidates folder relative to the working directory: keep it
    # the same on every run
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(writer, "new_run_id", _fixed_run_ids(itertools.count(next_id)))
    s = copy_demo(template, tmp_path / "demo.sqlite")
    s["by"] = {c["name"]: c for c in s["candidates"]}
    return s


def app_on(demo, candidate="cross-order-v1"):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    app.baseline_run = demo["runs"]["baseline"]
    app.candidate_run = demo["by"][candidate]["run_id"]
    return app


async def open_editor(pilot, edit: bool):
    from textual.widgets import TextArea

    await settle(pilot)
    await pilot.press("e")
    await settle(pilot)
    ta = pilot.app.screen.query_one(TextArea)
    ta.cursor_blink = False
    if edit:
        ta.replace("careful", (0, 10), (0, 17))  # "helpful" -> "careful"
        ta.move_cursor(ta.document.end)
        ta.insert("\n" + RULE)
        await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_editor_snapshot(snap_compare, demo, size):
    async def before(pilot):
        await open_editor(pilot, edit=True)

    assert snap_compare(app_on(demo), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
@pytest.mark.parametrize("mode", ["side", "unified"])
def test_diff_snapshot(snap_compare, demo, size, mode):
    async def before(pilot):
        await open_editor(pilot, edit=True)
        await pilot.press("f3")
        if mode == "unified":
            await pilot.press("m")
        await settle(pilot)

    assert snap_compare(app_on(demo), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_launcher_snapshot(snap_compare, demo, size):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        from textual.widgets import Input

        for field in pilot.app.screen.query(Input):  # a blinking cursor made it flaky
            field.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app_on(demo), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_gate_snapshot(snap_compare, demo, size):
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    async def before(pilot):
        await settle(pilot)
        await pilot.press("G")
        # the verdict drawn, then its region fitted after a refresh (_fit): under load one
        # settle caught the screen between the two
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, GateScreen)
                       and pilot.app.screen.result is not None)
        await settle(pilot)
        await settle(pilot)

    assert snap_compare(app_on(demo, "skip-confirm-v1"), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_lineage_snapshot(snap_compare, demo, size):
    """Each version's reward on its home evidence, the run named below the table, transfer
    reruns apart from the retail sparkline."""
    from store import connect

    conn = connect(demo["store"])  # save times are the build's clock: fixed for the picture
    conn.execute("UPDATE candidates SET saved_at = '2026-01-02T03:04:05+00:00'")
    conn.commit()
    conn.close()

    async def before(pilot):
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)

    assert snap_compare(app_on(demo), terminal_size=size, run_before=before)
