"""The draft a task rerun or fork offers is the version the person saved last, until they mark
another candidate run: saving cross-order-v2 in the editor while cross-order-v1's run was the
marked candidate left "the draft" at v1 in the rerun and fork dialogs (a rerun of the edit
would have run the old text)."""

from __future__ import annotations

import pytest
from test_workbench_e2e import add_rule_and_save, mark, open_editor
from tui_fixture import wait_for

from t2e_tui.ui.app import make_app
from t2e_tui.ui.pairdebug import draft_and_baseline


@pytest.fixture
def demo(tmp_path, new_demo):
    return new_demo(tmp_path / "demo.sqlite")


async def test_the_draft_is_the_version_saved_after_the_marks(demo):

    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False)
    async with app.run_test(size=(120, 40)) as pilot:
        mark(app, demo, "cross-order-v1")
        assert draft_and_baseline(app)[0] == by["cross-order-v1"]["hash"]
        editor = await open_editor(pilot, "cross-order-v1")
        await add_rule_and_save(pilot, editor, "cancelled orders have tracking")
        saved = editor.saved
        assert saved.name == "cross-order-v2"
        await pilot.press("escape")
        assert draft_and_baseline(app)[0] == saved.hash
        # marking another candidate run afterwards is the newer choice: its version is the draft
        app.candidate_run = by["skip-confirm-v1"]["run_id"]
        assert draft_and_baseline(app)[0] == by["skip-confirm-v1"]["hash"]


async def test_the_save_dialog_suggests_a_name_the_save_will_use(demo):
    """Editing cross-order-v1 again once cross-order-v2 exists: the dialog suggested the taken
    cross-order-v2 and the save silently became cross-order-v3. It suggests cross-order-v3."""
    from textual.widgets import Input, TextArea

    from t2e_tui.ui.screens.workbench_editor import HypothesisModal

    for round_ in (1, 2):  # two sessions of the app, each editing v1
        app = make_app(demo["store"], load_config=False)
        async with app.run_test(size=(120, 40)) as pilot:
            mark(app, demo, "cross-order-v1")
            editor = await open_editor(pilot, "cross-order-v1")
            ta = editor.query_one(TextArea)
            ta.move_cursor(ta.document.end)
            ta.insert(f"\n- Rule of round {round_}.")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, HypothesisModal))
            suggested = app.screen.query_one("#hyp-name", Input).value
            assert suggested == f"cross-order-v{round_ + 1}"
            await pilot.press("tab", *"note", "enter")
            await wait_for(pilot, lambda: editor.saved is not None)
            assert editor.saved.name == suggested
