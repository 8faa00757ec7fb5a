"""A run t2e cannot re-score (an imported domain other than retail/airline, a foreign trace)
says "not re-scorable here" wherever runs are listed, at 80 columns too (issue #17: such
domains "import and display with 'not re-scorable here'")."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tui_fixture import build_store, line_text, settle

from store.db import open_db
from t2e_tui.cli.main import cli
from t2e_tui.ui.app import make_app


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "fx.sqlite"
    build_store(path)
    db = open_db(path)
    # the imported baseline becomes a telecom run, with the caveats the figures carry, a
    # long file name and a long role: everything that competes for the 80-column line
    db.conn.execute("UPDATE runs SET domain = 'telecom', role = 'development' "
                    "WHERE run_id = 'runbase'")
    db.conn.execute("UPDATE sources SET path = 'results/2026-03-01-telecom-gpt-4.1-"
                    "full-duplex-seed-7-trials-4.json'")
    db.conn.execute("UPDATE episodes SET reward = NULL WHERE run_id = 'runbase' AND "
                    "episode_id = (SELECT min(episode_id) FROM episodes WHERE run_id = "
                    "'runbase')")
    # the candidate: a foreign trace (OpenTelemetry), imported from the same file
    db.conn.execute("UPDATE runs SET grading = 'foreign', domain = 'support-bot', "
                    "source_id = (SELECT source_id FROM runs WHERE run_id = 'runbase') "
                    "WHERE run_id = 'runcand'")
    db.conn.execute("UPDATE episodes SET reward = NULL, success = NULL WHERE run_id = "
                    "'runcand'")
    db.conn.close()
    return path


async def _info_at(path, row: int, size=(80, 24)) -> str:
    app = make_app(path, poll_interval=0, load_config=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for _ in range(row):
            await pilot.press("down")
        await settle(pilot)
        info = app.screen.query_one("#runs-info")
        assert info.size.width >= size[0] - 2
        return line_text(info, 0).rstrip()


async def test_runs_screen_at_80_says_a_run_is_not_rescorable(store):
    info = await _info_at(store, 0)
    assert len(info) <= 80
    # the caveat on the figures stays, as the unscored count does; the file name is cut
    assert "· not re-scorable here" in info and "3/4 scored" in info
    assert info.startswith("runbase · development · 4 tasks")
    wide = await _info_at(store, 0, (200, 40))
    assert "· not re-scorable here (recorded rewards as given)" in wide
    assert "domain telecom" in wide


async def test_a_foreign_run_says_why_it_is_not_rescorable(store):
    info = await _info_at(store, 1)
    # at 80 columns beside its unscored count and file: why, in two words
    assert "· no gold · 0/4 scored · from " in info and "…" not in info.split("from")[0]
    wide = await _info_at(store, 1, (200, 40))
    # a foreign trace has no recorded reward to take "as given": it has no gold
    assert "recorded rewards" not in wide and "no gold" in wide


async def test_a_rescorable_or_engine_run_says_nothing_of_it(store):
    for row in (2, 3):  # the scripted run and the live run: retail, t2e's own
        assert "re-scorable" not in await _info_at(store, row, (200, 40))


def test_t2e_runs_says_which_runs_are_not_rescorable(store):
    res = CliRunner().invoke(cli, ["--store", str(store), "runs", "--table"],
                             env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # (the note wraps at 80 columns)
    assert ("not re-scorable here (recorded rewards as given): runbase (telecom)" in said)
    assert "not re-scorable here (no gold" in said and "runcand" in said.split("no gold")[1]
    res = CliRunner().invoke(cli, ["--store", str(store), "runs", "--json"])
    got = {r["run_id"]: r["rescorable"] for r in json.loads(res.output)}
    assert got == {"runbase": False, "runcand": False, "runscript": True, "runlive": True}


def test_a_cut_part_gets_back_the_room_a_more_telling_part_later_gave():
    """The runs screen showed `from …om.json · cand –` at 80 columns: the file name (give 2)
    was cut before the caveat (give 1) took its short form, and the room that freed went to
    the less telling candidate (give 4) while the cut stayed."""
    from t2e_tui.ui.widgets.fittitle import Part, fit_parts

    parts = [Part("07a893f4 · discovery · 2 tasks"),
             Part((" · not re-scorable here (recorded rewards as given)",
                   " · not re-scorable here"), give=1),
             Part(" · from telecom.json", give=2, cut="middle", least=16),
             Part((" · candidate –", " · cand –", ""), give=4)]
    assert "".join(fit_parts(parts, 80)) == \
        "07a893f4 · discovery · 2 tasks · not re-scorable here · from telecom.json"
    # less room: the file name is cut to what is left, no shorter
    got = fit_parts(parts, 70)
    assert got[2] == " · from …com.json" and sum(len(t) for t in got) == 70
