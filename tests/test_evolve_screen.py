"""The evolve screen (issue 19): V opens it, s starts a loop from the current candidate, the
proposal tree fills in live, p pauses after the current run, e edits a proposal (the edit joins
the paused iteration), c continues to a verdict."""

from __future__ import annotations

import pytest
from tui_fixture import settle, wait_for

import store
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.evolve import EvolveScreen


@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # saved versions land in ./candidates
    path = tmp_path / "s.sqlite"
    store.open_db(path).conn.close()
    return path


async def test_start_a_loop_and_watch_it_reach_a_verdict(empty_store):
    app = make_app(empty_store, load_config=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("V")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EvolveScreen)
        assert "no evolve loop" in str(screen.query_one("#evo-status").render())
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.get("status") == "promoted"
                       and not screen.running, timeout=120)
        await settle(pilot)
        rows = screen.state["rows"]
        frozen = [r for r in rows if r["frozen"]]
        assert len(frozen) == 1 and frozen[0]["gate"]["decision"] == "promote"
        assert frozen[0]["gate"]["evidence_role"] == "heldout"
        assert any(r["kind"] == "parent" for r in rows)
        assert "stand-in" in str(screen.query_one("#evo-title").render())


async def test_pause_edit_a_proposal_and_continue(empty_store, monkeypatch):
    from t2e_tui.evolve import loop
    from t2e_tui.evolve.proposer import OfflineProposer

    class PauseAfterProposing(OfflineProposer):
        """The user presses p the moment the proposals appear (deterministic timing)."""

        def propose(self, *a, **kw):
            out = super().propose(*a, **kw)
            app.screen.action_pause()
            return out

    monkeypatch.setattr(loop, "make_proposer", lambda spec: PauseAfterProposing())
    app = make_app(empty_store, load_config=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("V")
        screen = app.screen
        await pilot.press("s")
        await wait_for(pilot, lambda: not screen.running, timeout=120)
        await settle(pilot)
        assert screen.state["status"] == "paused"
        assert all(r["dev"] is None for r in screen.state["rows"] if r["kind"] == "proposal")
        conn = store.connect(empty_store)
        before = conn.execute("SELECT count(*) FROM candidates").fetchone()[0]
        # a hand edit of the first proposal, saved as its child (as the editor does)
        from t2e_tui.candidate_versions import get_version, save_version
        from t2e_tui.candidates import Candidate
        first = next(r for r in screen.state["rows"] if r["kind"] == "proposal")
        v = get_version(conn, first["hash"])
        save_version(conn, Candidate(name="hand-edit", body=v.body + "\n- Thank the customer."),
                     hypothesis="a person's edit of the proposal", parent_ref=v.hash,
                     candidates_dir=empty_store.parent / "candidates")
        assert conn.execute("SELECT count(*) FROM candidates").fetchone()[0] == before + 1
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.state.get("status") not in ("paused", "running")
                       and not screen.running, timeout=120)
        await settle(pilot)
        names = [r["name"] for r in screen.state["rows"] if r["kind"] == "proposal"]
        edit = next(r for r in screen.state["rows"] if r["name"] == "hand-edit")
        assert edit["author"] == "human" and edit["dev"] is not None, names
