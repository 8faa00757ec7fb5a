"""A scoreboard row says where its rewards came from when they are not the runs' own: the
outcome attribute `t2e gate --reward-attr NAME` mapped onto foreign runs (recorded in the row,
gate_decisions.reward_from_json, migration 15), so a later reader of the scoreboard can tell
the figures came from NAME."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner
from test_import_otel import _scored_run

import store
from store import migrations
from t2e_tui.cli import cli


def _run(store_path, *args, env=None):
    return CliRunner().invoke(cli, ["--store", str(store_path), *args], env=env)


def _foreign_pair(tmp_path):
    st = tmp_path / "s.sqlite"
    for name, n in (("base", 4), ("cand", 9)):
        p = _scored_run(tmp_path / f"{name}.jsonl", {f"t{i}": float(i < n) for i in range(12)},
                        more=lambda score: {"app.rating": 1.0 - score})
        assert _run(st, "import", str(p), "--name", name).exit_code == 0
    return st


def test_the_row_records_and_the_scoreboard_says_the_mapped_attribute(tmp_path):
    st = _foreign_pair(tmp_path)
    res = _run(st, "gate", "base", "cand", "--reward-attr", "app.outcome")
    assert res.exit_code in (0, 3, 4), res.output
    conn = sqlite3.connect(st)
    (col,) = conn.execute("SELECT reward_from_json FROM gate_decisions").fetchone()
    conn.close()
    assert json.loads(col) == {"baseline": ["app.outcome"], "candidate": ["app.outcome"]}
    (row,) = json.loads(_run(st, "scoreboard", "--json").output)
    assert row["reward_from"] == {"baseline": ["app.outcome"], "candidate": ["app.outcome"]}
    tsv = _run(st, "scoreboard", "--tsv").output.splitlines()
    cells = dict(zip(tsv[0].split("\t"), tsv[1].split("\t")))
    assert json.loads(cells["reward_from"]) == row["reward_from"]
    table = _run(st, "scoreboard", "--table", env={"COLUMNS": "80"}).output
    said = " ".join(table.split())
    assert ("row 1: rewards mapped from outcome attribute app.outcome (--reward-attr)"
            in said), table
    # another attribute: another row, which says so
    assert _run(st, "gate", "base", "cand", "--reward-attr", "app.rating").exit_code in (1, 3)
    said = " ".join(_run(st, "scoreboard", "--table", env={"COLUMNS": "80"}).output.split())
    assert "row 2: rewards mapped from outcome attribute app.rating (--reward-attr)" in said


def test_a_row_of_graded_runs_says_nothing_of_it(tmp_path, demo):
    st = demo["store"]
    rows = json.loads(_run(st, "scoreboard", "--json").output)
    assert rows and all(r["reward_from"] is None for r in rows)
    assert "mapped from" not in _run(st, "scoreboard", "--table").output


def test_migration_15_fills_the_rows_recorded_before_it(tmp_path, monkeypatch):
    """A row recorded before the column existed said the mapping only inside its re-score
    record (metrics_json's rescore.SIDE.mapped_from): the migration reads it from there."""
    path = tmp_path / "old.sqlite"
    conn = store.connect(path, migrate_schema=False)
    before = [m for m in migrations.MIGRATIONS if m[0] < 15]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    migrations.migrate(conn, squashed=False)
    metrics = {"rescore": {"baseline": {"status": "not_rescored", "mapped_from": ["judge"]},
                           "candidate": {"status": "not_rescored", "mapped_from": ["judge"]}}}
    for row_id, m in ((1, metrics), (2, {"rescore": {"baseline": {"mapped_from": []}}}),
                      (3, {})):
        conn.execute("INSERT INTO gate_decisions (row_id, created_at, baseline_run_id, "
                     "candidate_run_id, tasks_json, evidence_role, decision, metrics_json) "
                     "VALUES (?, '2026-01-01', 'a', 'b', '[]', 'discovery', 'discard', ?)",
                     (row_id, json.dumps(m)))
    conn.execute("INSERT INTO gate_decisions (row_id, created_at, baseline_run_id, "
                 "candidate_run_id, tasks_json, evidence_role, decision, metrics_json) "
                 "VALUES (4, '2026-01-01', 'a', 'b', '[]', 'discovery', 'discard', 'not json')")
    conn.commit()
    monkeypatch.undo()
    migrations.migrate(conn)
    got = dict(conn.execute("SELECT row_id, reward_from_json FROM gate_decisions"))
    assert json.loads(got[1]) == {"baseline": ["judge"], "candidate": ["judge"]}
    assert got[2] is None and got[3] is None and got[4] is None


async def test_the_gate_screen_names_its_rows_attribute_at_80(tmp_path):
    """The app shows a scoreboard row on the gate screen (`row #N`): at 80x24 it names the
    attribute the row's rewards were mapped from, as the row records it."""
    from test_tui_gate_fit import _gate
    from tui_fixture import screen_lines

    from t2e_tui.ui.app import make_app

    st = _foreign_pair(tmp_path)
    assert _run(st, "gate", "base", "cand", "--reward-attr", "app.outcome").exit_code in (0, 4)
    conn = sqlite3.connect(st)
    ids = dict(conn.execute("SELECT name, run_id FROM runs"))
    conn.close()
    app = make_app(st, load_config=False, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        gate = await _gate(app, pilot, ids["base"], ids["cand"])
        text = "\n".join(screen_lines(app))
        assert gate.result.reused and f"row #{gate.result.row_id}" in text
        assert " rewards: mapped from app.outcome" in text, text
