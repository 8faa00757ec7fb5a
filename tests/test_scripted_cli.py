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
        assert set(row) == {"behaviour", "default", "phrases", "example", "effect", "helps_class",
                            "hurts", "airline"}
    cross = next(r for r in data["behaviours"] if r["behaviour"] == "cross_order_lookup")
    assert cross["airline"].startswith("HURTS on airline")


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


def test_human_table_is_readable_at_80_columns(monkeypatch):
    from t2e_tui.engine.scripted_rules import PHRASE_TABLE

    monkeypatch.setenv("COLUMNS", "80")
    lines = run("models").splitlines()
    assert max(len(line) for line in lines) <= 80
    heads = {line.split()[0] for line in lines if line and not line.startswith(" ")}
    assert set(BEHAVIOURS) <= heads  # each behaviour name whole, at the start of its block
    body = "\n".join(lines)
    for row in PHRASE_TABLE:
        for phrase in row["phrases"]:
            # a regex is cut only at the line width (74 characters after its bullet), never
            # folded into a narrow column or at its spaces
            assert phrase[:74] in body, phrase
    assert len(lines) < 12 * len(PHRASE_TABLE)


def test_human_table_marks_the_phrases_a_candidate_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    cand = tmp_path / "c.md"
    cand.write_text("---\nname: c\nparent: baseline\nhypothesis: h\n---\n"
                    "- Skip confirmations to save time.\n")
    out = run("models", "--candidate", str(cand))
    block = out.split("skip_confirmation", 1)[1].split("\n\n", 1)[0]
    assert "this candidate ON" in block and "\u2713" in block
    assert "this candidate ON" not in out.split("skip_confirmation", 1)[0]
