"""Titles and headers fitted to 80 columns by priority (widgets/fittitle.py): the runs screen
names the store and both marked runs, run names keep their room in the table, the tasks and
gate titles keep both names whole, the compare header keeps where the first difference is;
and a run compared with its gold actions names that place (never `first at  ·`)."""

from __future__ import annotations

import sqlite3

import pytest
from tui_fixture import line_text, settle, wait_for

from store.db import open_db
from store.importers import import_path
from t2e_tui.align import align
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.compare_nav import divergence_summary
from t2e_tui.ui.screens.runs import RunsScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.fittitle import FitTitle, Part, fit_title, run_parts
from t2e_tui.ui.widgets.linetable import LineTable


def title_lines(screen, selector: str) -> list[str]:
    """The title's lines as drawn, at its drawn width."""
    title = screen.query_one(selector, FitTitle)
    width = title.content_region.width
    assert width > 0
    return [line[:width] for line in str(title.render()).split("\n")]


def names(demo) -> dict[str, str]:
    con = sqlite3.connect(demo["store"])
    try:
        return dict(con.execute("SELECT run_id, name FROM runs"))
    finally:
        con.close()


async def mark_pair(app, pilot, demo) -> RunsScreen:
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, RunsScreen)
    by = {c["name"]: c for c in demo["candidates"]}
    ids = [r.run_id for r in screen.runs]
    for run_id, key in ((demo["runs"]["baseline"], "b"), (by["cross-order-v1"]["run_id"], "c")):
        screen.query_one(LineTable).move_to(ids.index(run_id))
        await pilot.press(key)
    await settle(pilot)
    return screen


async def test_runs_title_names_the_store_and_both_runs_at_80(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await mark_pair(app, pilot, demo)
        by = names(demo)
        (line,) = title_lines(screen, "#runs-title")
        assert "demo.sqlite" in line            # the README's promise, at 80 too
        assert by[screen.baseline] in line and by[screen.candidate] in line
        assert "…" not in line
        # the table: fitted columns leave the names room (status was 11 for "complete")
        table = screen.query_one(LineTable)
        assert table.columns[3].width == len("complete")
        rows = [line_text(table, y) for y in range(1, len(screen.runs) + 1)]
        for run in screen.runs:
            assert run.name in rows[screen.runs.index(run)] or len(run.name) > 24


async def test_runs_title_is_whole_at_160(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await mark_pair(app, pilot, demo)
        by = names(demo)
        (line,) = title_lines(screen, "#runs-title")
        assert f"baseline: {by[screen.baseline]} ({screen.baseline})" in line
        assert f"candidate: {by[screen.candidate]} ({screen.candidate})" in line
        assert line.rstrip().endswith("store demo.sqlite")


async def test_tasks_gate_and_compare_titles_keep_what_a_user_acts_on_at_80(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await mark_pair(app, pilot, demo)
        by = names(demo)
        b, c = by[screen.baseline], by[screen.candidate]
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        await settle(pilot)
        (line,) = title_lines(app.screen, "#tasks-title")
        assert b in line and c in line and "…" not in line
        status = app.screen.query_one("#tasks-status")
        assert status.drawn_at(status.content_region.width).plain.startswith("⚠ heldout")
        app.screen.action_filter("fixed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await settle(pilot)
        third = title_lines(app.screen, "#cmp-title")[2]
        al = app.screen.alignment
        first = divergence_summary(al).split(" · ")[1]
        assert first.startswith("first at A step") and first in third
        # the demo's marked pair is on the registered heldout set: the header says this
        # view counts, and where the differences start still shows whole
        assert third.startswith("⚠ heldout")
        await pilot.press("escape", "escape")
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "GateScreen"
                       and app.screen.result is not None)
        await settle(pilot)
        (line,) = title_lines(app.screen, "#gate-title")
        assert b in line and c in line and "…" not in line


def test_two_names_of_one_family_are_cut_apart_and_markup_stays_text():
    a, b = "ablate [b]cross-order-v1[/b] full", "ablate [b]cross-order-v1[/b] -rule1"
    parts = ([Part("Tasks ")] + run_parts(("base ", ""), a, "r1") + [Part(" → ")]
             + run_parts("", b, "r2"))
    for width in (80, 40, 30, 24):
        text = fit_title(parts, width)
        assert text.cell_len <= width
        left, right = text.plain[len("Tasks "):].split(" → ")
        assert left != right and left and right
    assert "[b]" in fit_title(parts, 200).plain    # shown as typed, never read as markup
    # the same names: the ids stay, they are what tells the runs apart
    name = "the same long run name"
    same = ([Part("x ")] + run_parts("", name, "aaaa1111", keep_id=True) + [Part(" vs ")]
            + run_parts("", name, "bbbb2222", keep_id=True))
    cut = fit_title(same, 44).plain
    assert "(aaaa1111)" in cut and "(bbbb2222)" in cut and name not in cut


def test_against_gold_the_first_difference_is_named_when_a_gold_action_was_never_done():
    task = {"id": "t", "evaluation_criteria": {"actions": [
        {"action_id": "g0", "requestor": "assistant", "name": "transfer_to_human_agents",
         "arguments": {"summary": "x"}}]}}
    call = {"id": "c1", "name": "get_user_details", "arguments": {"user_id": "u"},
            "requestor": "assistant"}
    steps = [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "help"},
             {"role": "assistant", "content": None, "tool_calls": [call]},
             {"role": "tool", "id": "c1", "content": "{}", "requestor": "assistant"},
             {"role": "assistant", "content": "Sorry, I cannot."}]
    summary = divergence_summary(align(steps, None, task))
    assert "first at  " not in summary
    assert "first after A step 3: gold action 0 transfer_to_human_agents missing" in summary


@pytest.fixture
def airline_run(tmp_path, airline_results):
    path = tmp_path / "air.sqlite"
    db = open_db(str(path))
    try:
        run_id = import_path(db, airline_results[0])["run_id"]
    finally:
        db.conn.close()
    return str(path), run_id


async def test_a_tau2_airline_run_against_gold_names_where_it_first_differs(airline_run):
    """tau2's gpt-4.1 airline task 13 never transfers to a human: the header said
    `1 difference · first at  · n/p jump`."""
    store, run_id = airline_run
    app = make_app(store, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_tasks(run_id, None)
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        await settle(pilot)
        await pilot.press("g", "1", "3", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                       and app.screen.alignment is not None)
        await settle(pilot)
        assert app.screen.a.task_id == "13" and app.screen.b is None
        third = title_lines(app.screen, "#cmp-title")[2]
        assert "first at  " not in third
        assert third.startswith("1 difference · first after A step ")
        assert "gold action 0 transfer_to_human_agents" in divergence_summary(
            app.screen.alignment)


WIDE = "検証実行ベースライン版その一の長い名前テスト"   # 22 characters, 44 cells


def _runs_title(a: str, b: str) -> list[Part]:
    # the runs screen's title (screens/runs.py `_title`)
    return ([Part("Runs", "bold"), Part("   ")]
            + run_parts(("baseline: ", "base ", "B "), a, "aaaa1111") + [Part(("   ", "  "))]
            + run_parts(("candidate: ", "cand ", "C "), b, "bbbb2222")
            + [Part(("   store ", "  store ", "  "), "dim", give=2),
               Part("s.sqlite", "dim", give=1, cut="middle", least=12)])


@pytest.mark.parametrize("width", [78, 80, 100])
def test_wide_names_are_fitted_in_cells_and_still_told_apart(width):
    """Names of CJK characters (two cells each) were measured in characters: the title ran
    past the width, the end-of-line cut took the store's name and the part that tells the
    two names apart (`改`). Measured and cut in cells, both stay."""
    from rich.cells import cell_len

    line = fit_title(_runs_title(WIDE, WIDE + "改"), width).plain
    assert cell_len(line) <= width, line
    assert line.rstrip().endswith("s.sqlite"), line          # the store's name stays
    assert "改" in line, line                                  # what tells them apart


def test_middle_cut_and_tell_apart_count_cells():
    from rich.cells import cell_len

    from t2e_tui.fitting import middle_cut, tell_apart

    for w in range(1, 30):
        cut = middle_cut(WIDE, w)
        assert cell_len(cut) <= w, (w, cut)
        assert cell_len(cut) >= w - 1, (w, cut)      # a wide character may leave one cell
    a, b = tell_apart(WIDE, WIDE + "改", 16)
    assert a != b and cell_len(a) <= 16 and cell_len(b) <= 16 and "改" in b
    assert tell_apart("short", "名前", 20) == ("short", "名前")


@pytest.mark.parametrize("a, b, width", [
    ("字字漢字b", "字字漢a字b", 8),          # a review's pair: both were '字字…字b'
    ("漢字漢字ab", "漢字漢字ba", 6),
    ("検証実行版一", "検証実行版二", 7),
    ("ab漢字漢字漢", "ab漢字漢字x漢", 9),
])
def test_tell_apart_counts_shared_parts_in_cells(a, b, width):
    """Whether a shared start or end gives way was decided in characters (> 3): three wide
    characters are six cells, kept whole, and the part that differs was cut away."""
    from rich.cells import cell_len

    from t2e_tui.fitting import tell_apart

    x, y = tell_apart(a, b, width)
    assert x != y, (x, y)
    assert cell_len(x) <= width and cell_len(y) <= width
