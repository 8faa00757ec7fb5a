"""Every results output labels the scripted stand-in as the app does (`scripted (stand-in)`,
and the one sentence: its figures prove nothing about models), from one helper,
t2e_tui/standin.py. On the demo store (every run scripted) `gate`, its Markdown and JUnit
reports, `scoreboard`, `runs`, `show`, `failures`, `flywheel` and `episodes` said nothing of
it (only `gate --json` had "agent_model": "scripted"). Machine outputs carry a field
(`stand_in`, the agent), never words inside a figure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from tui_fixture import build_store

from t2e_tui.cli import cli
from t2e_tui.standin import NOTE, is_stand_in, model_label

LABEL = "scripted (stand-in)"
REPO = Path(__file__).resolve().parents[1]


def t2e(store, *args, width: int = 200):
    res = CliRunner().invoke(cli, ["--store", str(store), *map(str, args)],
                             env={"COLUMNS": str(width)})
    assert res.exit_code in (0, 1, 3, 4), res.output
    return res.output


@pytest.fixture(scope="module")
def pair(demo):
    by = {c["name"]: c for c in demo["candidates"]}
    return demo["store"], demo["runs"]["baseline"], by["cross-order-v1"]["run_id"]


def test_the_helper():
    assert is_stand_in("scripted") and is_stand_in("Scripted:noise=0.1")
    assert not is_stand_in("gpt-4.1") and not is_stand_in(None)
    assert model_label("scripted") == LABEL and model_label("gpt-4.1") == "gpt-4.1"
    assert model_label(None) == ""


def test_runs_table_tsv_and_json(pair):
    store = pair[0]
    for width in (200, 60):  # a narrow table drops the agent column: the note stays
        out = t2e(store, "runs", "--table", width=width)
        assert NOTE in out, out
    assert LABEL in t2e(store, "runs", "--table", width=200)
    lines = t2e(store, "runs").splitlines()  # piped: TSV
    head = lines[0].split("\t")
    assert "agent" in head
    assert {r.split("\t")[head.index("agent")] for r in lines[1:]} == {LABEL}
    rows = json.loads(t2e(store, "runs", "--json"))
    assert rows and all(r["agent_model"] == "scripted" and r["stand_in"] is True for r in rows)


def test_gate_text_and_reports(pair, tmp_path):
    store, base, cand = pair
    md, xml = tmp_path / "d.md", tmp_path / "j.xml"
    out = t2e(store, "gate", base, cand, "--report", "markdown", md, "--report", "junit", xml)
    assert NOTE in out
    assert NOTE in md.read_text() and LABEL in md.read_text()
    assert NOTE in xml.read_text() and LABEL in xml.read_text()
    doc = json.loads(t2e(store, "gate", base, cand, "--json"))
    assert doc["stand_in"] is True


def test_scoreboard_table_tsv_and_json(pair):
    store = pair[0]
    assert NOTE in t2e(store, "scoreboard", "--table")
    lines = t2e(store, "scoreboard", "--tsv").splitlines()
    head = lines[0].split("\t")
    for col in ("baseline_agent", "candidate_agent", "stand_in"):
        assert col in head
    assert {r.split("\t")[head.index("stand_in")] for r in lines[1:]} == {"1"}
    rows = json.loads(t2e(store, "scoreboard", "--json"))
    assert all(r["stand_in"] is True and r["candidate_agent"] == "scripted" for r in rows)


def test_show_episodes_failures_flywheel(pair):
    store, _base, cand = pair
    out = t2e(store, "show", f"{cand}:crossorder-01")
    assert LABEL in out and NOTE in out
    assert json.loads(t2e(store, "show", f"{cand}:crossorder-01", "--json"))["stand_in"] is True
    out = t2e(store, "episodes", cand, "--table")
    assert NOTE in out
    lines = t2e(store, "episodes", cand).splitlines()  # piped: TSV
    head = lines[0].split("\t")
    assert {r.split("\t")[head.index("agent")] for r in lines[1:]} == {LABEL}
    assert all(r["stand_in"] for r in json.loads(t2e(store, "episodes", cand, "--json")))
    assert NOTE in t2e(store, "failures", cand)
    doc = json.loads(t2e(store, "failures", cand, "--json"))
    assert doc["stand_in"] is True and doc["agent_model"] == "scripted"
    assert NOTE in t2e(store, "flywheel")
    assert all(r["stand_in"] for r in json.loads(t2e(store, "flywheel", "--json"))
               if r["run_id"])


@pytest.fixture
def models_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "s.sqlite"
    build_store(path, live=False)
    return path


def test_runs_of_models_carry_no_stand_in_note(models_store, tmp_path):
    """The label is the stand-in's: runs of models say their model, and no note."""
    out = t2e(models_store, "runs", "--table")
    assert "gpt-4.1-ft" in out and LABEL in out  # the fixture has one scripted run too
    md = tmp_path / "d.md"
    out = t2e(models_store, "gate", "runbase", "runcand", "--report", "markdown", md)
    assert NOTE not in out and NOTE not in md.read_text()
    rows = json.loads(t2e(models_store, "runs", "--json"))
    assert {r["run_id"]: r["stand_in"] for r in rows} == {
        "runbase": False, "runcand": False, "runscript": True}
    # a scoreboard of both: the stand-in's row is named, the models' row is not (the
    # stand-in agent talking to the models' user simulator: the gate compares only runs
    # made with the same settings)
    import sqlite3
    with sqlite3.connect(models_store) as conn:
        conn.execute("UPDATE runs SET user_model = 'gpt-4.1' WHERE run_id = 'runscript'")
    t2e(models_store, "gate", "runscript", "runcand", "--intersect")
    out = t2e(models_store, "scoreboard", "--table")
    assert out.rstrip().splitlines()[-1] == f"row 2: {NOTE}"
    assert [r["stand_in"] for r in json.loads(t2e(models_store, "scoreboard", "--json"))] == [
        False, True]


def test_the_sentence_and_the_rule_live_in_one_helper():
    """No module but t2e_tui/standin.py spells the note or decides who is the stand-in (a
    screen or command with its own copy drifted: the runs screen said it, the CLI did not)."""
    own = re.compile(r"""startswith\(\s*(["']scripted["']|SCRIPTED)\s*\)""")
    offenders = []
    for path in (REPO / "t2e_tui").rglob("*.py"):
        if path.name == "standin.py":
            continue
        text = path.read_text(encoding="utf-8")
        if own.search(text) or "these figures prove nothing about models" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []



def test_candidate_log_says_it_too(pair):
    store = pair[0]
    assert NOTE in t2e(store, "candidate", "log")
