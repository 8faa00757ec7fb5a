"""`t2e models`: the phrase table, labelled as a stand-in, with a candidate's switches."""

from __future__ import annotations

import json

from click.testing import CliRunner

from t2e_tui.cli import cli
from t2e_tui.engine.scripted_rules import BEHAVIOURS


def run(*args):
    res = CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=False)
    return res.output


def test_json_table_says_it_proves_nothing():
    data = json.loads(run("models", "--json"))
    assert "prove nothing about models" in data["note"]
    assert [b["behaviour"] for b in data["behaviours"]] == list(BEHAVIOURS)
    for row in data["behaviours"]:
        assert set(row) == {"behaviour", "default", "phrases", "example", "effect", "helps_class", "hurts"}


def test_human_table_lists_the_behaviours():
    out = run("models")
    assert "prove nothing about models" in " ".join(out.split())
    for name in ("strict_yes", "skip_confirm", "transfer_upse"):
        assert name in out


def test_candidate_column_shows_what_it_switches(tmp_path):
    cand = tmp_path / "c.md"
    cand.write_text("---\nname: c\nparent: baseline\nhypothesis: h\n---\nBe kind.\n"
                    "- Skip confirmations to save time.\n- Never skip confirmations.\n"
                    "- Look up their delivered orders when they say 'the same as the one I received'.\n")
    data = json.loads(run("models", "--candidate", str(cand), "--json"))
    on = {b["behaviour"] for b in data["behaviours"] if b["on"]}
    assert on == {"skip_confirmation", "cross_order_lookup"}
    matched = {b["behaviour"]: b["matched"] for b in data["behaviours"]}
    assert matched["skip_confirmation"] and not matched["strict_yes"]


def test_missing_candidate_is_a_clear_error(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "models", "--candidate",
                           str(tmp_path / "nope.md")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "nope.md" in proc.stderr
