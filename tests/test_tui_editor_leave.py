"""Leaving the workbench editor: Escape and F10 work while the TextArea has focus; unsaved
changes are never dropped without a yes."""

from __future__ import annotations

import pytest
from textual.widgets import TextArea
from tui_fixture import settle, wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.workbench_editor import EditorScreen, HypothesisModal, LeaveModal


async def open_editor(app, pilot):
    await pilot.pause()
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen))
    editor = app.screen
    assert isinstance(editor, EditorScreen) and editor.query_one(TextArea).has_focus
    return editor


async def open_save_dialog(app, pilot):
    """The editor with a draft typed and ctrl+s pressed: (editor, its text area, the dialog)."""
    editor = await open_editor(app, pilot)
    ta = editor.query_one(TextArea)
    ta.move_cursor(ta.document.end)
    await pilot.press(*" draft", "ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, HypothesisModal))
    return editor, ta, app.screen


@pytest.mark.parametrize("key", ["escape", "f10"])
async def test_unchanged_editor_leaves_at_once(demo, key):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        editor = await open_editor(app, pilot)
        # indent mode is where TextArea itself takes Escape (to move focus): the priority
        # binding must still win
        editor.query_one(TextArea).tab_behavior = "indent"
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, EditorScreen)


async def test_unsaved_changes_ask_before_leaving(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        editor = await open_editor(app, pilot)
        ta = editor.query_one(TextArea)
        ta.move_cursor(ta.document.end)
        await pilot.press(*" draft")
        assert editor.unsaved
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LeaveModal)
        await pilot.press("escape")  # keep editing: the draft is intact
        await pilot.pause()
        assert app.screen is editor and ta.text.endswith(" draft")
        await pilot.press("f10")
        await pilot.pause()
        await pilot.press("s")  # save first: the hypothesis modal
        await pilot.pause()
        assert isinstance(app.screen, HypothesisModal)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard and leave
        await pilot.pause()
        assert not isinstance(app.screen, (EditorScreen, LeaveModal))


@pytest.mark.parametrize("keys", [["ctrl+q"], ["f3", "q"]], ids=["ctrl+q", "q in the diff"])
async def test_quitting_asks_when_a_draft_is_unsaved(demo, keys):
    """ctrl+q (anywhere) and q (where it is not typed into the text) used to exit and throw
    the draft away; now they ask like Escape does."""
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        editor = await open_editor(app, pilot)
        ta = editor.query_one(TextArea)
        ta.move_cursor(ta.document.end)
        await pilot.press(*" draft")
        await pilot.press(*keys)
        await pilot.pause()
        assert isinstance(app.screen, LeaveModal) and not app._exit
        await pilot.press("n")  # keep editing: nothing lost
        await pilot.pause()
        assert app.screen is editor and ta.text.endswith(" draft") and not app._exit
        await pilot.press(*keys[-1:])
        await pilot.pause()
        await pilot.press("y")  # discard and quit
        await pilot.pause()
        assert app._exit


async def test_quitting_without_a_draft_does_not_ask(demo):
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_editor(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app._exit


async def test_save_dialog_starts_in_the_name_and_tab_moves_forward(demo):
    """Focus starts in the name field; Tab goes on to the hypothesis; coming back to the name
    (Tab wraps) does not select it, so typing never replaces the name by accident."""
    from textual.widgets import Input

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        editor, _, modal = await open_save_dialog(app, pilot)
        name = modal.query_one("#hyp-name", Input)
        suggested = name.value
        assert app.focused is name
        await pilot.press("tab")
        assert app.focused is modal.query_one("#hyp-text", Input)
        await pilot.press(*"why", "tab", *"-b")
        assert app.focused is name and name.value == suggested + "-b"
        await pilot.press("enter")  # from the name field: saves (the hypothesis is there)
        await pilot.pause()
        assert app.screen is editor and editor.saved is not None
        assert editor.saved.name == suggested + "-b" and editor.saved.hypothesis == "why"


async def test_a_refused_name_keeps_the_save_dialog_open_with_what_was_typed(demo):
    """A bad name once closed the dialog and showed the refusal as a notice: both fields had
    to be typed again. The dialog stays, keeps them and says why (the name shown as typed,
    never read as markup); a good name then saves."""
    from textual.widgets import Input, Static

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(100, 30)) as pilot:
        editor, _, modal = await open_save_dialog(app, pilot)
        name = modal.query_one("#hyp-name", Input)
        name.value = "cross-order-v9[b]mk[/b]"
        await pilot.press("tab", *"fix it", "enter")
        await settle(pilot)
        assert app.screen is modal and editor.saved is None
        assert name.value == "cross-order-v9[b]mk[/b]"
        assert modal.query_one("#hyp-text", Input).value == "fix it"
        error = str(modal.query_one("#hyp-error", Static).render())
        assert "bad candidate name" in error and "cross-order-v9[b]mk[/b]" in error
        assert app.focused is name
        name.value = "cross-order-v9"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is editor)
        assert editor.saved is not None and editor.saved.name == "cross-order-v9"
        assert editor.saved.hypothesis == "fix it"


async def _save_failing(app, pilot):
    """Open the editor, type, ctrl+s, fill the dialog and press Enter; returns
    (editor, modal, the draft's text)."""
    from textual.widgets import Input

    editor, ta, modal = await open_save_dialog(app, pilot)
    modal.query_one("#hyp-name", Input).value = "cross-order-v9"
    await pilot.press("tab", *"fix it", "enter")
    await settle(pilot)
    return editor, modal, ta.text


def _broken_save(exc):
    def save_version(*args, **kwargs):
        raise exc
    return save_version


@pytest.mark.parametrize("kind", ["not-a-folder", "permission", "store", "sqlite"])
async def test_a_failed_save_is_shown_in_the_dialog_and_keeps_the_draft(demo, tmp_path, kind,
                                                                         monkeypatch):
    """Only a refused name (CandidateError) was caught: a candidates folder under a regular
    file (NotADirectoryError), a folder that can't be written, a store error crashed the app
    with a traceback and the draft was lost. Now each is said in the dialog, as a refused name
    is, with both fields as typed; the editor keeps the draft."""
    import sqlite3

    from textual.widgets import Input, Static

    from store import StoreError
    from t2e_tui.ui.screens import workbench_editor

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    if kind == "not-a-folder":
        (tmp_path / "file").write_text("x")
        app.candidates_dir = str(tmp_path / "file" / "cands")
        said = "Not a directory"
    else:
        exc, said = {"permission": (PermissionError(13, "Permission denied", "/ro/c.md"),
                                    "Permission denied"),
                     "store": (StoreError("the store is gone"), "the store is gone"),
                     "sqlite": (sqlite3.OperationalError("database is locked"),
                                "database is locked")}[kind]
        monkeypatch.setattr(workbench_editor, "save_version", _broken_save(exc))
    async with app.run_test(size=(100, 30)) as pilot:
        editor, modal, draft = await _save_failing(app, pilot)
        assert app.is_running and app.return_code is None
        assert app.screen is modal and editor.saved is None
        assert modal.query_one("#hyp-name", Input).value == "cross-order-v9"
        assert modal.query_one("#hyp-text", Input).value == "fix it"
        error = str(modal.query_one("#hyp-error", Static).render())
        assert "could not save" in error and said in error, error
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is editor)
        assert editor.query_one(TextArea).text == draft and editor.unsaved
