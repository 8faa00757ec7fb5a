"""Screens that list or show traces of tasks of a registered heldout set say so before and
while they show them (a view there counts against every candidate saved after it: the gate
downgrades its claim), and say nothing for tasks no set holds. At 80x24 the warning is a part
of the status line (or of the compare header's third line): nothing is pushed out of view."""

from __future__ import annotations

import pytest
from tui_fixture import build_store, screen_lines, settle, wait_for

from store import connect
from store.heldout import register_set, watched_tasks
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.failures import FailuresScreen
from t2e_tui.ui.screens.help import shortened_lines
from t2e_tui.ui.screens.search import SearchScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.linetable import LineTable
from t2e_tui.ui.widgets.textline import TextLine

WARN = "⚠ heldout"


def _store(tmp_path, domain: str | None, tasks=("2", "3")):
    """The fixture store, with a heldout set of `tasks` registered in `domain`'s world (None:
    no set at all)."""
    path = tmp_path / "fx.sqlite"
    ids = build_store(path)
    if domain is not None:
        conn = connect(path)
        try:
            register_set(conn, "ho", domain, list(tasks), spec=",".join(tasks))
            conn.commit()
        finally:
            conn.close()
    return path, ids


def app_for(path):
    return make_app(path, load_config=False, poll_interval=0, clock=lambda: 0.0)


def _views(path) -> int:
    conn = connect(path)
    try:
        return conn.execute("SELECT count(*) FROM evidence_views").fetchone()[0]
    finally:
        conn.close()


def _drawn(app, sel: str) -> str:
    w = app.screen.query_one(sel, TextLine)
    return w.drawn_at(w.content_region.width).plain


def test_watched_tasks_follow_the_views_the_gate_counts(tmp_path):
    path, ids = _store(tmp_path, "retail")
    conn = connect(path)
    try:
        assert set(watched_tasks(conn, runs=["runbase"])) == {"2", "3"}
        assert set(watched_tasks(conn, runs=["runcand", None])) == {"2", "3"}
        eps = ids["episodes"]
        assert watched_tasks(conn, episode_ids=[eps[("base", "1")]]) == {}
        found = watched_tasks(conn, episode_ids=[eps[("base", "1")], eps[("cand", "3")]])
        assert list(found) == ["3"] and found["3"]["name"] == "ho"
        assert found["3"]["role"] == "heldout"
    finally:
        conn.close()
    # a set of another world's tasks with the same ids: not these tasks
    other, _ = _store(tmp_path / "o", "airline")
    conn = connect(other)
    try:
        assert watched_tasks(conn, runs=["runbase", "runcand"]) == {}
    finally:
        conn.close()


@pytest.mark.parametrize("domain,warned", [("retail", True), ("airline", False), (None, False)])
async def test_failures_screen_warns_before_a_trace_is_shown(tmp_path, domain, warned):
    path, _ = _store(tmp_path, domain)
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_failures("runcand", "runbase")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen) and screen.loaded
        # the classes view: no trace text shown yet, none recorded, and it says so first
        assert _views(path) == 0
        assert _drawn(app, "#fail-status").startswith(WARN) is warned
        lines = screen_lines(app)
        assert any(line.lstrip().startswith(WARN) for line in lines) is warned
        # the class rows stay in view at 80x24 with the warning drawn
        table = screen.query_one(LineTable)
        assert table.region.height >= len(screen.table_rows) + 1
        await pilot.press("2")   # the episodes: each row's why quotes its trace
        await settle(pilot)
        assert screen.view == "episodes" and screen._shown
        assert _drawn(app, "#fail-status").startswith(WARN) is warned
        if warned:   # F1 lists the shortened line whole: what a view costs
            whole = " ".join(shortened_lines(screen))
            assert "a candidate saved after it is graded development" in whole


@pytest.mark.parametrize("domain,warned", [("retail", True), ("airline", False)])
async def test_tasks_screen_warns_on_a_heldout_pair(tmp_path, domain, warned):
    path, _ = _store(tmp_path, domain)
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_tasks("runbase", "runcand")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TasksScreen) and screen.loaded
        assert _drawn(app, "#tasks-status").startswith(WARN) is warned
        # every task row is drawn at 80x24 with the warning on the status line
        text = "\n".join(screen_lines(app))
        for row in screen.shown:
            assert any(line.lstrip().startswith(row.task_id) for line in text.splitlines())


@pytest.mark.parametrize("task,warned", [("2", True), ("1", False)])
async def test_compare_header_warns_on_a_heldout_task(tmp_path, task, warned):
    path, ids = _store(tmp_path, "retail")
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        eps = ids["episodes"]
        app.open_compare(eps[("base", task)], eps[("cand", task)])
        await settle(pilot)
        cmp = app.screen
        assert isinstance(cmp, CompareScreen) and cmp.alignment is not None
        lines = str(cmp.query_one("#cmp-title").render()).splitlines()
        assert len(lines) == 3 and lines[2].startswith(WARN) is warned
        assert not any(WARN in line for line in lines[:2])
        # the lanes keep their rows: the warning is a part of the header, not a line more
        assert cmp.query_one("#lanes").region.height >= 8


@pytest.mark.parametrize("domain,warned", [("retail", True), (None, False)])
async def test_search_says_hits_of_heldout_tasks_are_views(tmp_path, domain, warned):
    path, _ = _store(tmp_path, domain)
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(SearchScreen())
        await settle(pilot)
        # before any search: said once sets are registered (hits are recorded as views)
        assert _drawn(app, "#search-status").startswith("⚠ hits of heldout") is warned
        screen = app.screen
        for query, hit_warned in (("bo@x.com", warned), ("ana@x.com", False)):
            box = screen.query_one("Input")
            box.value = query
            box.focus()
            await pilot.press("enter")
            await settle(pilot)
            await wait_for(pilot, lambda q=query: screen.last == q)
            assert screen.hits
            assert _drawn(app, "#search-status").startswith(WARN) is hit_warned, query


def test_the_demo_triages_on_its_discovery_run_without_touching_the_heldout_set(demo):
    """What the README's tour says: the marked pair is the heldout set's (every view of its
    traces counts), the `baseline train` run holds none of the set's tasks."""
    conn = connect(demo["store"])
    try:
        train = watched_tasks(conn, runs=[demo["runs"]["baseline-train"]])
        held = watched_tasks(conn, runs=[demo["runs"]["baseline"]])
        n_held = conn.execute("SELECT count(DISTINCT task_id) FROM episodes WHERE run_id = ?",
                              (demo["runs"]["baseline"],)).fetchone()[0]
    finally:
        conn.close()
    assert train == {}
    assert len(held) == n_held > 0
    assert {s["name"] for s in held.values()} == {"mini-retail-heldout"}
