"""What must stay visible at 80 columns on the demo store: the compare header's reward by
component, the runs screen's workbench keys, whole run and task names in search results; and the
editor's header after a save (it edits the saved version from then on)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.widgets import Input, Static, TextArea
from tui_fixture import line_text, settle

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.search import SearchScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.keybar import KeyBar
from t2e_tui.ui.widgets.linetable import LineTable


def visible_lines(static: Static, width: int) -> list[str]:
    """The lines a one-line-per-row Static shows, cut at the screen width."""
    return [line[:width] for line in str(static.render()).split("\n")]


async def open_fixed_compare(app, pilot, demo):
    await settle(pilot)
    by = {c["name"]: c for c in demo["candidates"]}
    app.open_tasks(demo["runs"]["baseline"], by["cross-order-v1"]["run_id"])
    await settle(pilot)
    assert isinstance(app.screen, TasksScreen)
    app.screen.action_filter("fixed")
    await pilot.press("enter")
    await settle(pilot)


async def test_compare_header_shows_the_reward_breakdown_at_80(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_fixed_compare(app, pilot, demo)
        title = app.screen.query_one("#cmp-title", Static)
        width = title.content_region.width
        a, b = visible_lines(title, width)[:2]
        for side, line in (("A", a), ("B", b)):
            assert line.startswith(side)
            # every component of the demo tasks, with its value, inside the 80 columns
            assert "r=" in line and "DB" in line and "COMM" in line and "ACT" in line, line
            assert "1/2" in line or "2/2" in line, line  # gold actions found
        assert "DB✗" in a and "DB✓" in b


async def test_compare_header_keeps_the_long_form_when_wide(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(200, 40)) as pilot:
        await open_fixed_compare(app, pilot, demo)
        title = str(app.screen.query_one("#cmp-title", Static).render())
        assert "reward 0 (user_stop) · DB 0 · COMM 1 · ACTION(diag)" in title


async def test_compare_header_follows_a_resize(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(200, 40)) as pilot:
        await open_fixed_compare(app, pilot, demo)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        title = str(app.screen.query_one("#cmp-title", Static).render())
        assert "r=0" in title and "reward 0" not in title


async def test_runs_key_bar_shows_the_workbench_keys_at_80(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(KeyBar)
        text = "".join(seg.text for seg in bar.render_line(0))[:80]
        for key, word in (("b", "Base"), ("c", "Cand"), ("o", "Open"), ("e", "Edit"),
                          ("R", "Rerun"), ("G", "Gate"), ("L", "Lineage"), ("f1", "help")):
            assert f" {key} " in text and word in text, (key, text)


async def test_runs_key_bar_keeps_long_labels_when_wide(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        text = "".join(seg.text for seg in app.screen.query_one(KeyBar).render_line(0))
        assert "Baseline" in text and "Candidate" in text and "Lineage" in text


@pytest.mark.parametrize("width", [80, 160])
async def test_search_results_show_whole_run_and_task_names(demo, width):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        app.screen.query_one(Input).value = "PayPal"
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert screen.hits
        table = screen.query_one(LineTable)
        for i, hit in enumerate(screen.hits[:table.size.height - 1]):
            line = line_text(table, i + 1)
            assert len(line) <= table.scrollable_content_region.width
            assert line.startswith(hit.run_name + " ") and f" {hit.task_id} " in line, line
            assert "…" not in line[:len(hit.run_name) + len(hit.task_id) + 2]


async def test_editor_header_after_save_names_the_saved_version(demo):
    from t2e_tui.ui.screens.workbench_editor import EditorScreen, HypothesisModal

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    by = {c["name"]: c for c in demo["candidates"]}
    app.baseline_run, app.candidate_run = demo["runs"]["baseline"], by["cross-order-v1"]["run_id"]
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        before = str(editor.query_one("#ed-title", Static).render())
        from t2e_tui.ui.screens.workbench_context import candidates_dir_for

        folder = candidates_dir_for(app).name
        assert "cross-order-v1" in before and folder in before
        ta = editor.query_one(TextArea)
        ta.move_cursor(ta.document.end)
        ta.insert("\n- Always read the order back before a change.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, HypothesisModal)
        app.screen.query_one("#hyp-name", Input).value = "cross-order-v9"
        app.screen.query_one("#hyp-text", Input).value = "read back first"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is editor and editor.saved is not None
        title = str(editor.query_one("#ed-title", Static).render())
        assert "cross-order-v9" in title and editor.saved.short in title
        assert "parent cross-order-v1" not in title
        # the next save's parent is the version just saved, and where it goes is named
        assert "next save's parent" in title or "parent of next save" in title
        assert folder in title
        status = str(editor.query_one("#ed-status", Static).render())
        assert "unchanged" in status  # the diff now runs against the saved version
        first = editor.saved
        ta.insert("\n- Say the total first.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#hyp-text", Input).value = "total first"
        await pilot.press("enter")
        await settle(pilot)
        assert editor.saved.parent_hash == first.hash  # what the header promised


DEMO_NAMES = ["baseline train", "baseline heldout", "cross-order-v1 heldout",
              "skip-confirm-v1 heldout", "baseline transfer (mini-airline)",
              "cross-order-v1 transfer (mini-airline)"]


async def test_runs_screen_cuts_the_transfer_runs_names_apart_at_80(demo):
    """At 80 columns the transfer check's runs read `baselin…r (mini-airline)` and
    `cross-o…r (mini-airline)`: a middle cut of each cell alone dropped the word that tells
    them from the heldout runs. The names are cut apart (fitting.cut_apart, the column's
    tell_apart): whole words where they tell the runs apart, the ids whole."""
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LineTable)
        lines = [line_text(table, y) for y in range(1, 1 + len(table.rows))]
        runs = list(app.screen.runs)
    by_name = {}
    for line, run in zip(lines, runs):
        assert line[2:].startswith(run.run_id + " "), line  # the id stays whole
        by_name[run.name] = line
    assert "baseline transfer…" in by_name["baseline transfer (mini-airline)"], lines
    assert "cross-order-v1 transfer…" in by_name["cross-order-v1 transfer (mini-airline)"], lines
    assert not any("r (mini-airline)" in line for line in lines), lines


@pytest.mark.parametrize("width", [40, 24, 20, 16, 12, 8])
def test_cut_apart_never_shows_a_name_as_another_could_be_shown(width):
    from t2e_tui.fitting import _could_be, cut_apart

    names = DEMO_NAMES + ["cross-order-v2 transfer (mini-airline)",
                          "ablate cross-order-v1 full", "ablate cross-order-v1 -rule1",
                          "retail_gpt-4.1_test-split_1trial",
                          "retail_ft-gpt-4.1-sft_test-split_1trial", "名前の長い実行 heldout",
                          "名前の長い実行 transfer"]
    shown = cut_apart(names, width)
    # from 16 cells every name here can be told apart (below, a best effort: at 12 cells
    # `cross-order-v1 transfer (mini-airline)` cannot show both its `1` and its `transfer`)
    strict = width >= 16
    assert len(set(shown)) == len(names) or not strict  # no two alike
    for name, s in zip(names, shown):
        assert cell_len(s) <= width and (s == name) == (cell_len(name) <= width), (name, s)
        assert _could_be(s, name), (name, s)                # a cut of its own name ...
        assert not strict or not any(_could_be(s, m) for m in names if m != name), (name, s)


def test_cut_apart_keeps_whole_words_where_they_tell_names_apart():
    from t2e_tui.fitting import cut_apart

    assert cut_apart(DEMO_NAMES, 24) == [
        "baseline train", "baseline heldout", "cross-order-v1 heldout",
        "skip-confirm-v1 heldout", "baseline transfer…", "cross-order-v1 transfer…"]
    # the start alone would not tell them apart: the differing end is kept
    assert cut_apart(["ablate cross-order-v1 full", "ablate cross-order-v1 -rule1"], 16) == [
        "ablate…full", "ablate…-rule1"]
    a, b = cut_apart(["same name here", "same name here"], 8)  # only the ids tell them apart
    assert a == b and cell_len(a) <= 8
