"""The transfer check: transfer evidence on the scoreboard, `t2e transfer`, the gate screen's
line and one-key rerun, the lineage's two verdicts, and the `domains:` front matter. Built on
the demo store (scripted STAND-IN agent: its results prove nothing about models)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tui_fixture import settle, wait_for

from store import connect
from t2e_tui.candidates import CandidateError, parse
from t2e_tui.cli import cli
from t2e_tui.gate.transfer import (
    TRANSFER_FLAG,
    UNCHECKED,
    declared_domains,
    other_domain,
    transfer_statuses,
)


def run(store, *args):
    res = CliRunner().invoke(cli, ["--store", store, *args])
    return res.exit_code, res.output


def test_statuses_flag_the_promoted_candidate_rejected_on_transfer(demo):
    by = {c["name"]: c for c in demo["candidates"]}
    conn = connect(demo["store"])
    st = transfer_statuses(conn)
    fix = st[by["cross-order-v1"]["hash"]]
    assert fix.home.role == "heldout" and fix.home.promoted and fix.home.domain == "mini-retail"
    assert fix.transfer.role == "transfer" and fix.transfer.domain == "mini-airline"
    assert fix.flagged and fix.note.startswith(TRANSFER_FLAG)
    assert all(t in fix.note for t in demo["transfer"]["regressions"])
    harm = st[by["skip-confirm-v1"]["hash"]]
    assert harm.note is None  # discarded at home: nothing to say about transfer


def test_an_unchecked_promotion_says_so(demo, tmp_path):
    """Without the transfer row, the same promotion reads 'never checked outside'."""
    import shutil

    copy = tmp_path / "copy.sqlite"
    shutil.copy(demo["store"], copy)
    conn = connect(copy)
    conn.execute("DELETE FROM gate_decisions WHERE evidence_role = 'transfer'")
    conn.commit()
    by = {c["name"]: c for c in demo["candidates"]}
    assert transfer_statuses(conn)[by["cross-order-v1"]["hash"]].note == UNCHECKED


def test_cli_transfer_reruns_gates_and_reuses(own_demo):
    store = own_demo["store"]
    harm = own_demo["by"]["skip-confirm-v1"]
    code, out = run(store, "transfer", own_demo["runs"]["baseline"], harm["run_id"], "--json")
    doc = json.loads(out)
    assert code == 1 and doc["domain"] == "mini-airline" and doc["tasks"] == "heldout"
    assert doc["gate"]["evidence_role"] == "transfer" and doc["gate"]["decision"] == "discard"
    # the demo's baseline transfer run is reused; the candidate's is new, with the role set
    assert doc["reused"] == [own_demo["runs"]["baseline-transfer"]]
    conn = connect(store)
    role, domain = conn.execute("SELECT role, domain FROM runs WHERE run_id = ?",
                                (doc["candidate_run"],)).fetchone()
    assert (role, domain) == ("transfer", "mini-airline")
    rows = conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0]
    # asked again: both runs reused, the verdict already on record (no new row)
    code2, out2 = run(store, "transfer", own_demo["runs"]["baseline"], harm["run_id"], "--json")
    assert code2 == 1 and sorted(json.loads(out2)["reused"]) == sorted(
        [doc["baseline_run"], doc["candidate_run"]])
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == rows


def test_cli_transfer_refuses_imported_runs_and_unknown_pairs(own_demo, tmp_path):
    store = own_demo["store"]
    code, out = run(store, "transfer", own_demo["runs"]["baseline"],
                    own_demo["by"]["cross-order-v1"]["run_id"], "--domain", "mini-retail")
    assert code == 2 and "must differ" in out
    assert other_domain("mini-retail") == "mini-airline"
    assert other_domain("tau2-airline") == "tau2-retail" and other_domain("x") is None


def test_gate_human_output_shows_the_flag(own_demo):
    code, out = run(own_demo["store"], "gate", own_demo["runs"]["baseline-transfer"],
                    own_demo["transfer"]["run_id"])
    # the transfer verdict says what it is and cites the heldout row (never itself)
    assert code == 1 and ("transfer: rejected on transfer (mini-airline); promoted on heldout "
                          "(row 1, mini-retail)") in out, out


def test_domains_front_matter():
    c = parse("---\nname: x\ndomains: [retail]\n---\nbody")
    assert declared_domains(c.meta) == ["retail"]
    assert declared_domains({"domains": "retail, mini-airline"}) == ["retail", "mini-airline"]
    assert declared_domains({}) == []
    with pytest.raises(CandidateError, match="front matter 'domains' must list known domains"):
        parse("---\nname: x\ndomains: [telecom]\n---\nbody", )
    with pytest.raises(CandidateError, match="domains"):
        parse("---\nname: x\ndomains: []\n---\nbody")


def test_lineage_shows_both_verdicts(demo):
    from t2e_tui.candidate_versions import lineage

    rows = {r["name"]: r for r in lineage(connect(demo["store"]))}
    fix = rows["cross-order-v1"]
    assert fix["gate"]["evidence_role"] == "heldout" and fix["gate"]["decision"] == "promote"
    assert fix["transfer"]["transfer"]["decision"] == "discard"
    assert fix["transfer"]["flagged"] is True
    code, out = run(demo["store"], "candidate", "log")
    line = next(ln for ln in out.splitlines() if "cross-order-v1" in ln)
    assert "gate #1 promote (heldout)" in line and "transfer #" in line and "mini-airline" in line


def _app(demo, candidate: str):
    from t2e_tui.ui.app import make_app

    by = {c["name"]: c for c in demo["candidates"]}
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    app.baseline_run = demo["runs"]["baseline"]
    app.candidate_run = by[candidate]["run_id"]
    return app


async def test_gate_screen_says_rejected_on_transfer(demo):
    from textual.widgets import Static

    async with _app(demo, "cross-order-v1").run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        text = str(pilot.app.screen.query_one("#gate-verdict", Static).render())
        assert TRANSFER_FLAG in text and "air-bags-" in text


async def test_gate_screen_t_runs_the_transfer_check(own_demo):
    from textual.widgets import Static

    async with _app(own_demo, "skip-confirm-v1").run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        home = pilot.app.screen
        text = str(home.query_one("#gate-verdict", Static).render())
        assert "never checked outside retail" in text and "T: transfer check on mini-airline" in text
        await pilot.press("T")
        await wait_for(pilot, lambda: pilot.app.screen is not home
                       and getattr(pilot.app.screen, "result", None) is not None)
        res = pilot.app.screen.result
        assert res.evidence_role == "transfer" and res.decision == "discard"
        assert res.comparison.candidate.domain == "mini-airline"
        await pilot.press("escape")
        await settle(pilot)
        assert pilot.app.screen is home


def test_never_checked_outside_follows_runs_and_declared_domains(own_demo):
    from t2e_tui.gate.transfer import unchecked_outside

    conn = connect(own_demo["store"])
    by = own_demo["by"]
    harm, fix = by["skip-confirm-v1"]["hash"], by["cross-order-v1"]["hash"]
    assert unchecked_outside(conn, harm, [], "mini-retail") == "never checked outside retail"
    assert unchecked_outside(conn, harm, ["retail"], "mini-retail") == (
        "never checked outside retail (declared: retail)")
    assert unchecked_outside(conn, harm, ["retail", "airline"], "mini-retail") is None
    assert unchecked_outside(conn, fix, [], "mini-retail") is None  # it ran on mini-airline
    assert unchecked_outside(conn, None, [], "mini-retail") is None


async def test_compare_of_an_airline_task_counts_airline_writes(demo):
    """The tasks and compare screens on the transfer pair: an airline episode's header counts
    its gold write (update_reservation_baggages) as a write, found on the baseline's side and
    missing on the candidate's, where the retail rule copied the wrong bag count."""
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.compare import CompareScreen

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_tasks(demo["runs"]["baseline-transfer"], demo["transfer"]["run_id"])
        await settle(pilot)
        app.screen.action_filter("regressed")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await settle(pilot)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "writes 1/1" in text and "writes 0/1" in text


@pytest.fixture
def imported_pair(tmp_path):
    from test_gate_advisor import _imported_pair

    invoke, _ = _imported_pair(tmp_path)  # (runs the engine: not inside the app's loop)
    return {r["name"]: r["run_id"] for r in json.loads(invoke("runs", "--json").stdout)}


async def test_gate_screen_t_refuses_an_imported_pair_before_starting(tmp_path,
                                                                      imported_pair):
    """T on the gate screen of two imported runs said 'transfer check: rerunning both
    candidates on …' and only later 'has no candidate (an imported run)'; the CLI refuses up
    front. The screen now refuses before anything starts, in the CLI's words."""
    from t2e_tui.ui.app import make_app

    ids = imported_pair
    app = make_app(str(tmp_path / "s.sqlite"), load_config=False, poll_interval=0)
    app.baseline_run, app.candidate_run = ids["base"], ids["cand"]
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        home = pilot.app.screen
        await pilot.press("T")
        await wait_for(pilot, lambda: any("has no candidate" in n.message
                                          for n in app._notifications))
        said = [n.message for n in app._notifications]
        assert not any("rerunning" in m for m in said), said
        assert any(m.startswith("baseline run base (") and "(an imported run): a transfer "
                   "rerun needs the instruction it ran with" in m for m in said), said
        assert pilot.app.screen is home and not home.workers


def test_cli_transfer_refuses_a_run_against_itself_as_the_gate_does(own_demo):
    """`t2e transfer X X` reran nothing new and gated the transfer run against itself
    (DISCARD, exit 1, a scoreboard row), where `t2e gate X X` refuses: one check, asked
    before any rerun. Two runs of one candidate (the baseline's train and heldout runs) have
    one transfer run between them: refused alike."""
    store = own_demo["store"]
    conn = connect(store)
    counts = lambda: conn.execute(  # noqa: E731
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM gate_decisions)").fetchone()
    before = counts()
    x = own_demo["by"]["cross-order-v1"]["run_id"]
    code, out = run(store, "gate", x, x)
    assert code == 2 and "cannot be gated against itself" in out, out
    code, out = run(store, "transfer", x, x)
    assert code == 2, out
    assert "cannot be gated against itself" in out, out
    train, heldout = own_demo["runs"]["baseline-train"], own_demo["runs"]["baseline"]
    code, out = run(store, "transfer", train, heldout)
    assert code == 2, out
    assert "cannot be gated against itself" in out and "the same candidate" in out, out
    assert counts() == before
