"""One truth about a candidate's transfer evidence: `t2e gate`, its --json, the scoreboard, the
gate screen and the lineage read it from one function (gate/transfer.py), each row told from
itself (its own verdict first, other rows cited, never itself). Built on the demo store
(scripted STAND-IN agent: its results prove nothing about models)."""

from __future__ import annotations

import asyncio
import json
import re

from click.testing import CliRunner
from tui_fixture import settle, wait_for

from store import connect
from t2e_tui.cli import cli


def run(store, *args):
    res = CliRunner().invoke(cli, ["--store", store, *args])
    return res.exit_code, res.output


def _transfer_lines(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if "transfer" in ln and "check" in ln
            or ln.strip().startswith("transfer:")]


def test_cli_gate_tells_a_discarded_candidates_transfer_rejection(own_demo):
    """After the transfer check of a candidate discarded on heldout (row = discard), `t2e
    gate BASE CAND` printed no transfer line and --json had "transfer": null, while the app
    said `transfer: discard`."""
    store, harm = own_demo["store"], own_demo["by"]["skip-confirm-v1"]
    base = own_demo["runs"]["baseline"]
    code, out = run(store, "transfer", base, harm["run_id"], "--json")
    row = json.loads(out)["gate"]["row_id"]
    code, out = run(store, "gate", base, harm["run_id"])
    assert code == 1
    line = f"discarded on heldout, rejected on transfer (row {row}, mini-airline; regressions: "
    assert f"transfer: {line}" in out, out
    assert "never checked outside" not in out
    code, out = run(store, "gate", base, harm["run_id"], "--json")
    doc = json.loads(out)["transfer"]
    assert doc is not None and doc["note"].startswith(line) and doc["rejected"] is True
    assert doc["flagged"] is False  # not promoted on heldout: no disagreement to flag


def test_scoreboard_rows_never_cite_themselves(demo):
    """`row 3: promoted on heldout, rejected on transfer (row 3, …)`: row 3 is the transfer
    discard itself. Each row says what it is and cites other rows only."""
    from t2e_tui.gate.transfer import TRANSFER_FLAG

    code, out = run(demo["store"], "scoreboard", "--json")
    rows = {r["row"]: r for r in json.loads(out)}
    tr = demo["transfer"]["row"]
    assert rows[1]["transfer"].startswith(f"{TRANSFER_FLAG} (row {tr}, mini-airline;")
    assert rows[tr]["transfer"] == "rejected on transfer (mini-airline); promoted on heldout " \
                                   "(row 1, mini-retail)"
    for r in rows.values():
        assert f"row {r['row']}," not in (r["transfer"] or ""), r
    code, out = run(demo["store"], "scoreboard", "--table")
    notes = [ln for ln in out.splitlines() if re.match(r"row \d+: ", ln)]
    assert any(n.startswith(f"row {tr}: rejected on transfer (mini-airline)") for n in notes)
    for n in notes:
        own = re.match(r"row (\d+): ", n).group(1)
        assert f"(row {own}," not in n, n


def test_gate_of_the_transfer_pair_says_what_that_row_is(demo):
    code, out = run(demo["store"], "gate", demo["runs"]["baseline-transfer"],
                    demo["transfer"]["run_id"])
    assert code == 1
    assert "transfer: rejected on transfer (mini-airline); promoted on heldout (row 1, " \
           "mini-retail)" in out, out


def _app(demo, candidate: str):
    from t2e_tui.ui.app import make_app

    app = make_app(demo["store"], load_config=False, poll_interval=0)
    app.baseline_run = demo["runs"]["baseline"]
    app.candidate_run = demo["by"][candidate]["run_id"]
    return app


def _verdict(screen) -> str:
    from textual.widgets import Static

    return str(screen.query_one("#gate-verdict", Static).render())


async def test_gate_screen_refreshes_after_t_and_says_what_the_cli_says(own_demo):
    """After T and Escape the gate screen still said `never checked outside retail · T:
    transfer check on mini-airline`; a fresh G said `transfer: discard` where the CLI said
    nothing. Now the lines are read again on return, in the CLI's words."""
    app = _app(own_demo, "skip-confirm-v1")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        home = pilot.app.screen
        assert "never checked outside retail · T: transfer check on mini-airline" \
            in _verdict(home)
        await pilot.press("T")
        await wait_for(pilot, lambda: pilot.app.screen is not home
                       and getattr(pilot.app.screen, "result", None) is not None)
        await pilot.press("escape")
        await settle(pilot)
        assert pilot.app.screen is home
        text = _verdict(home)
        assert "never checked outside" not in text, text
    code, out = run(own_demo["store"], "gate", own_demo["runs"]["baseline"],
                    own_demo["by"]["skip-confirm-v1"]["run_id"])
    cli_line = next(ln.strip() for ln in out.splitlines() if ln.strip().startswith("transfer:"))
    assert cli_line in " ".join(text.split()), (cli_line, text)


def test_lineage_marks_every_candidate_rejected_on_transfer(own_demo):
    """The lineage marked v1 ✗T but not v2, though v2's detail line said `transfer #5
    discard`: the mark, the transfer column and the detail read TransferStatus.rejected."""
    from t2e_tui.candidate_versions import lineage

    store, harm = own_demo["store"], own_demo["by"]["skip-confirm-v1"]
    run(store, "transfer", own_demo["runs"]["baseline"], harm["run_id"])
    rows = {r["name"]: r for r in lineage(connect(store))}
    for name in ("cross-order-v1", "skip-confirm-v1"):
        assert rows[name]["transfer"]["rejected"] is True, name


async def test_lineage_screen_marks_both(own_demo):
    from textual.widgets import DataTable

    from t2e_tui.ui.app import make_app

    store, harm = own_demo["store"], own_demo["by"]["skip-confirm-v1"]
    # (the engine runs its own event loop: not inside this test's)
    code, out = await asyncio.to_thread(run, store, "transfer", own_demo["runs"]["baseline"],
                                        harm["run_id"])
    assert code == 1, out
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(DataTable)
        names = [r["name"] for r in screen.rows]
        for name in ("cross-order-v1", "skip-confirm-v1"):
            row = table.get_row_at(names.index(name))
            assert "✗T" in str(row[3]) and "rejected" in str(row[5]), (name, row)
