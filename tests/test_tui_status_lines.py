"""Status lines at 80 columns: what a screen's one-line status says is never cut off unseen.

The failures screen's status line was cut after "4 unscored (no reward: not" at 80 columns
(a word-wrapped line one row high: the rest fell below it, with no mark), while `t2e failures`
says it whole; the runs screen's info line, the tasks screen's hint legend and the failures
screen's key hints were cut the same way. A status line now gives way by priority (the counts
and keys stay, detail shortens first), a line still too wide ends with …, and F1 shows every
line the screen drew shortened, whole."""

from __future__ import annotations

from test_analysis_unscored import _conversation, _import
from tui_fixture import build_store, line_text, settle, wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.failures import FailuresScreen
from t2e_tui.ui.screens.help import HelpScreen
from t2e_tui.ui.widgets.textline import TextLine


def _app(path):
    return make_app(path, load_config=False, poll_interval=0, remember=False,
                    clock=lambda: 0.0)


def _drawn(widget) -> str:
    """The line as the terminal shows it (padding stripped)."""
    return line_text(widget, 0).strip()


async def _help_said(pilot) -> list[str]:
    """F1 on the current screen: the lines it lists whole (then back)."""
    below = pilot.app.screen
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
    said = list(pilot.app.screen.said)
    await pilot.press("escape")
    await wait_for(pilot, lambda: pilot.app.screen is below)
    return said


async def _check_lines(pilot) -> list[str]:
    """Every status line of the screen: drawn whole, or listed whole by F1. Returns the
    drawn lines."""
    await settle(pilot)
    lines = [w for w in pilot.app.screen.query(TextLine) if w.display and w.text.plain]
    drawn = [_drawn(w) for w in lines]
    cut = [w.text.plain for w, d in zip(lines, drawn) if d != w.text.plain.strip()]
    if cut:
        said = await _help_said(pilot)
        for whole in cut:
            assert whole in said, (whole, said)
    return drawn


async def test_the_failures_status_line_says_its_counts_whole_at_80_columns(tmp_path):
    st, rid = _import(tmp_path, [_conversation(i, loop=(i == 1)) for i in (1, 2, 3, 4)])
    async with _app(st).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pilot.app.push_screen(FailuresScreen(rid))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FailuresScreen)
                       and pilot.app.screen.loaded)
        await _check_lines(pilot)
        # the counts, and what they mean, readable as they are drawn (the title says the
        # run's counts, the status line what is listed and its keys)
        title = _drawn(pilot.app.screen.query_one("#fail-title"))
        assert title == f"Failures plain.otlp ({rid}) · 0 failed · 4 unscored (not failures)"
        status = _drawn(pilot.app.screen.query_one("#fail-status", TextLine))
        assert status.startswith("1 class(es) · Enter: its episodes"), status
        # the rest of what the CLI says (findings listed apart, infrastructure excluded,
        # where the classes are defined) is one key away
        said = " ".join(await _help_said(pilot))
        for part in ("1 with findings of the classes needing no gold, listed apart",
                     "infrastructure excluded", "docs/failure-classes.md"):
            assert part in said, said
        for key in "234":                             # each view: what and its keys whole
            await pilot.press(key)
            drawn = await _check_lines(pilot)
            assert all("…" not in d for d in drawn), drawn
            if key == "2":
                assert any("episode(s) of every class · Enter: compare · a: every class" in d
                           for d in drawn), drawn


async def test_every_status_line_of_the_explorer_is_whole_or_in_help_at_80(tmp_path):
    path = tmp_path / "fx.sqlite"
    build_store(path)
    async with _app(path).run_test(size=(80, 24)) as pilot:
        for _ in range(4):      # the runs screen's info line, a run per row
            await _check_lines(pilot)
            await pilot.press("down")
        await pilot.press("home", "b", "down", "c", "o")   # the tasks of the pair
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "TasksScreen"
                       and pilot.app.screen.loaded)
        drawn = await _check_lines(pilot)
        # the hint legend whole, or not at all (it read "hints B=base", the rest cut off)
        assert all("B=base" not in d or "C=cand" in d for d in drawn), drawn
        await pilot.press("f")                        # the pair's failures, each view
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FailuresScreen)
                       and pilot.app.screen.loaded)
        for key in "1234":
            await pilot.press(key)
            await _check_lines(pilot)


async def test_a_line_too_wide_is_cut_with_a_mark_never_wrapped_out_of_sight(tmp_path):
    """A status line that is one `Text` (no parts to give way) and does not fit ends with …,
    where it was cut at a word's end with nothing to say so."""
    from rich.text import Text
    from textual.app import App

    class One(App):
        def compose(self):
            yield TextLine(id="line")

    app = One()
    async with app.run_test(size=(40, 3)) as pilot:
        line = app.query_one(TextLine)
        line.set(Text("the counts then a long explanation of what they mean here"))
        await pilot.pause()
        drawn = _drawn(line)
        assert drawn.endswith("…") and len(drawn) == 40, drawn
        assert line.shortened and line.text.plain.endswith("they mean here")
        line.set(Text("short"))
        await pilot.pause()
        assert _drawn(line) == "short" and not line.shortened


async def test_every_key_bar_fits_80_columns_and_keeps_f1(tmp_path):
    """The launcher's key bar ended "esc Close  f1" and the evolve screen's lost "/ Search"
    and half of "f1 Help" at 80 columns: when the screen's own compact form is still too
    wide, keys give way from the right (each stays in F1), never the help key."""
    from t2e_tui.ui.widgets.keybar import KeyBar

    path = tmp_path / "fx.sqlite"
    build_store(path)
    async with _app(path).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = pilot.app.screen
        for key in ("R", "V"):                        # the rerun launcher, the evolve screen
            await pilot.press(key)
            await wait_for(pilot, lambda: pilot.app.screen is not home)
            await settle(pilot)
            (bar,) = pilot.app.screen.query(KeyBar)
            drawn = line_text(bar, 0)
            assert bar.bar_text(80).cell_len <= 80, drawn
            assert "f1 help" in drawn.lower(), drawn
            await pilot.press("escape")
            await wait_for(pilot, lambda: pilot.app.screen is home)
