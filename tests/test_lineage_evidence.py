"""The lineage's reward figures say which evidence they come from (#lineage-domains).

On the demo store the baseline and cross-order-v1 were last run as transfer reruns on
mini-airline (0.250, 0.050), after their mini-retail heldout runs (0.018, 0.143). The lineage
once took each version's *latest* run, so it printed the airline figures as the versions'
rewards and drew a sparkline that made the promoted version look worse. Now a version's reward
is its home evidence (heldout first, never a transfer run), named by run, domain and role;
transfer reruns are listed as such; the sparkline plots one domain and role only. The CLI and
the app say it from the same function (`lineage_evidence.reward_line`). Scripted STAND-IN
agent: these figures prove nothing about models."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner
from textual.widgets import DataTable, Static
from tui_fixture import settle

from store import connect
from t2e_tui.candidate_versions import lineage, sparkline
from t2e_tui.cli import cli


def reward_line(rows):
    from t2e_tui.lineage_evidence import reward_line as line

    return line(rows)


def _mean(conn, run_id):
    return conn.execute("SELECT avg(reward) FROM episodes WHERE run_id = ?",
                        (run_id,)).fetchone()[0]


def _cli(store, *args):
    res = CliRunner().invoke(cli, ["--store", store, *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_reward_is_the_home_evidence_not_the_latest_transfer_run(demo):
    conn = connect(demo["store"])
    rows = {r["name"]: r for r in lineage(conn)}
    by = {c["name"]: c for c in demo["candidates"]}
    base, fix = rows["baseline"], rows["cross-order-v1"]
    # the figures the gate compared (0.018 -> 0.143), each with the run it comes from
    assert base["evidence"]["run_id"] == demo["runs"]["baseline"]
    assert fix["evidence"]["run_id"] == by["cross-order-v1"]["run_id"]
    assert base["reward"] == _mean(conn, demo["runs"]["baseline"])
    assert fix["reward"] == _mean(conn, by["cross-order-v1"]["run_id"])
    assert base["reward"] < fix["reward"]
    for r in (base, fix):
        assert (r["evidence"]["domain"], r["evidence"]["role"]) == ("mini-retail", "heldout")
    # the airline reruns are there, as transfer results
    assert [(t["run_id"], t["domain"]) for t in fix["transfers"]] == \
        [(demo["transfer"]["run_id"], "mini-airline")]
    assert fix["transfers"][0]["reward"] == _mean(conn, demo["transfer"]["run_id"])
    assert [t["run_id"] for t in base["transfers"]] == [demo["runs"]["baseline-transfer"]]


def test_sparkline_plots_one_domain_and_never_a_transfer_figure(demo):
    rows = lineage(connect(demo["store"]))
    line = reward_line(rows)
    assert (line["domain"], line["role"]) == ("mini-retail", "heldout")
    assert line["sparkline"] == sparkline([r["reward"] for r in rows if not r["ablation"]])
    # baseline 0.018 and cross-order-v1 0.143 are not the airline 0.250 > 0.050 drop
    assert line["sparkline"][0] < line["sparkline"][1]
    assert "mini-retail heldout" in line["caption"] and "transfer" in line["caption"]


def test_a_version_run_elsewhere_is_named_and_left_out_of_the_sparkline(demo, tmp_path):
    """A version whose only run is a mini-airline development run: its figure is shown with
    its domain, and the retail sparkline has a gap (·) there, not an airline figure."""
    store = str(tmp_path / "s.sqlite")
    shutil.copy(demo["store"], store)
    conn = connect(store)
    skip = next(c for c in demo["candidates"] if c["name"] == "skip-confirm-v1")
    conn.execute("UPDATE runs SET domain = 'mini-airline', role = 'development' "
                 "WHERE run_id = ?", (skip["run_id"],))
    conn.commit()
    rows = {r["name"]: r for r in lineage(conn)}
    assert rows["skip-confirm-v1"]["evidence"]["domain"] == "mini-airline"
    line = reward_line(list(rows.values()))
    assert line["domain"] == "mini-retail" and line["sparkline"][2] == "·"
    out = _cli(store, "candidate", "log")
    skip_line = next(ln for ln in out.splitlines() if "skip-confirm-v1" in ln)
    assert "mini-airline development" in skip_line and skip["run_id"] in skip_line


def test_candidate_log_names_each_figure_and_its_run(demo):
    by = {c["name"]: c for c in demo["candidates"]}
    out = _cli(demo["store"], "candidate", "log")
    lines = out.splitlines()
    conn = connect(demo["store"])
    assert lines[0] == reward_line(lineage(conn))["caption"]
    fix = next(ln for ln in lines if "cross-order-v1" in ln)
    assert f"reward 0.143 mini-retail heldout run {by['cross-order-v1']['run_id']}" in fix
    assert f"transfer #3 discard: mini-airline 0.050 run {demo['transfer']['run_id']}" in fix
    base = next(ln for ln in lines if " baseline " in ln)
    assert "reward 0.018 mini-retail heldout" in base and "0.250" in base.split("transfer")[1]
    d = json.loads(_cli(demo["store"], "candidate", "log", "--json"))
    assert d["reward_line"] == reward_line(lineage(conn))
    assert d["sparkline"] == d["reward_line"]["sparkline"]


async def test_lineage_screen_says_what_the_cli_says(demo):
    from t2e_tui.ui.app import make_app

    by = {c["name"]: c for c in demo["candidates"]}
    line = reward_line(lineage(connect(demo["store"])))
    app = make_app(demo["store"], load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        screen = app.screen
        assert str(screen.query_one("#lin-spark", Static).render()) == line["caption"]
        table = screen.query_one(DataTable)
        names = [r["name"] for r in screen.rows]
        row = table.get_row_at(names.index("cross-order-v1"))
        assert str(row[2]) == "0.143"
        table.move_cursor(row=names.index("cross-order-v1"))
        await pilot.pause()
        detail = str(screen.query_one("#lin-hyp", Static).render())
        assert f"mini-retail heldout run {by['cross-order-v1']['run_id']}" in detail
        assert f"transfer #3 discard: mini-airline 0.050 run {demo['transfer']['run_id']}" \
            in detail
