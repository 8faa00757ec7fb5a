"""`t2e gate`, `t2e decide`, `t2e scoreboard`: JSON shapes, exit codes, scoreboard rows."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from test_gate_builders import make_run, new_store

from t2e_tui.cli import cli
from t2e_tui.gate import SCOREBOARD_COLUMNS


@pytest.fixture
def store_path(tmp_path):
    from store.heldout import register_set

    path = tmp_path / "s.sqlite"
    conn = new_store(tmp_path, "s.sqlite")
    base = {str(i): [1.0 if i <= 4 else 0.0] for i in range(1, 11)}
    # a pre-registered heldout set and a clean heldout pair on it (the only promotable one)
    register_set(conn, "ho", "mini-retail", list(base), spec="1-10")
    make_run(conn, "hbase", base, role="heldout", candidate_hash="a" * 64)
    make_run(conn, "hgood", {str(i): [1.0] for i in range(1, 11)}, role="heldout",
             candidate_hash="c" * 64)
    make_run(conn, "base", base)
    make_run(conn, "good", {str(i): [1.0] for i in range(1, 11)},
             manifest={"world_hash": "w", "candidate_hash": "c", "seed": 1})
    few = dict(base)
    few["5"] = [1.0]
    make_run(conn, "meh", few)
    bad = dict(base)
    bad["1"] = [0.0]
    make_run(conn, "bad", bad)
    make_run(conn, "other-world", base, world_id="x" * 64)
    make_run(conn, "fewer", {k: v for k, v in base.items() if k != "10"})
    conn.close()
    return str(path)


def new_store_conn(path):
    import store

    return store.connect(path)


def t2e(store_path, *args):
    res = CliRunner().invoke(cli, ["--store", store_path, *args])
    return res.exit_code, res.output


def test_gate_json_shape_and_exit_codes(store_path):
    code, out = t2e(store_path, "gate", "hbase", "hgood", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["decision"] == "promote" and doc["evidence_role"] == "heldout"
    assert doc["heldout_set"]["name"] == "ho" and doc["heldout_set"]["candidate_index"] == 1
    # the same checks on development evidence: supported, its own exit code
    code, out = t2e(store_path, "gate", "base", "good", "--json")
    assert code == 4, out
    doc = json.loads(out)
    assert doc["decision"] == "supported" and doc["verdict"] == "supported (development)"
    assert {c["name"] for c in doc["checks"]} == {
        "reward_improved", "pass_rate_not_worse", "action_match_not_worse",
        "read_action_match_not_worse", "write_action_match_not_worse", "no_task_regressions",
        "no_max_steps"}
    for c in doc["checks"]:
        assert set(c) >= {"name", "passed", "baseline", "candidate", "tasks"}
    assert set(doc["stats"]) >= {"test", "p_value", "alpha", "ci_low", "ci_high", "fixes",
                                 "regressions", "flaky"}
    assert doc["evidence_role"] == "development" and doc["leaked_tasks"] == []
    assert t2e(store_path, "gate", "base", "meh", "--json")[0] == 3
    code, out = t2e(store_path, "gate", "base", "bad", "--json")
    assert code == 1
    reg = next(c for c in json.loads(out)["checks"] if c["name"] == "no_task_regressions")
    assert reg["passed"] is False and reg["tasks"] == ["1"]


def test_gate_bad_input_exits_2_with_a_message(store_path):
    code, out = t2e(store_path, "gate", "base", "other-world", "--json")
    assert code == 2 and "different worlds" in json.loads(out)["error"]
    code, out = t2e(store_path, "gate", "base", "fewer", "--json")
    assert code == 2 and "--intersect" in json.loads(out)["error"]
    code, out = t2e(store_path, "gate", "base", "fewer", "--intersect", "--json")
    assert code in (1, 3) and len(json.loads(out)["tasks"]) == 9
    code, out = t2e(store_path, "gate", "base", "nope", "--json")
    assert code == 2 and "no run matches 'nope'" in json.loads(out)["error"]
    code, out = t2e(store_path, "gate", "base", "good", "--alpha", "2", "--json")
    assert code == 2


def test_policy_file_and_alpha_option(store_path, tmp_path):
    pol = tmp_path / "p.toml"
    pol.write_text("[stats]\nalpha = 0.5\n")
    code, out = t2e(store_path, "gate", "base", "meh", "--policy", str(pol), "--json")
    assert code == 4 and json.loads(out)["stats"]["alpha"] == 0.5
    code, out = t2e(store_path, "gate", "base", "meh", "--alpha", "0.6", "--json")
    assert code == 4
    pol.write_text("[checks.nope]\n")
    code, out = t2e(store_path, "gate", "base", "meh", "--policy", str(pol), "--json")
    assert code == 2 and "p.toml" in json.loads(out)["error"]


def test_every_gate_call_appends_a_scoreboard_row(store_path):
    for cand in ("good", "meh", "bad"):
        t2e(store_path, "gate", "base", cand, "--json")
    code, out = t2e(store_path, "scoreboard", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["decision"] for r in rows] == ["supported", "inconclusive", "discard"]
    assert [r["candidate_name"] for r in rows] == ["good", "meh", "bad"]
    assert rows[0]["reward_before"] == pytest.approx(0.4)
    assert rows[0]["reward_after"] == pytest.approx(1.0)
    assert rows[0]["reward_delta"] == pytest.approx(0.6)
    # the row cites the manifest by run id and hash; --manifests ROW gives it whole
    cited = rows[0]["manifests"]["candidate"]
    assert set(cited) == {"run_id", "sha256"} and len(cited["sha256"]) == 64
    full = json.loads(t2e(store_path, "scoreboard", "--manifests", "1")[1])
    assert full["candidate"]["manifest"]["seed"] == 1
    assert full["candidate"]["sha256"] == cited["sha256"]
    assert full["candidate"]["run_id"] == cited["run_id"] == rows[0]["candidate_run"]
    assert "baseline" not in rows[0]["manifests"]  # an import-like run without a manifest
    assert rows[2]["regressions"] == ["1"]
    assert all(set(r) == set(SCOREBOARD_COLUMNS) for r in rows)
    code, tsv = t2e(store_path, "scoreboard", "--tsv")
    table = list(csv.reader(io.StringIO(tsv), delimiter="\t"))
    assert tuple(table[0]) == SCOREBOARD_COLUMNS
    assert len(table) == 4 and all(len(r) == len(SCOREBOARD_COLUMNS) for r in table)
    assert [r[SCOREBOARD_COLUMNS.index("decision")] for r in table[1:]] == [
        "supported", "inconclusive", "discard"]
    # TSV cells carry the JSON fields: the manifest as a citation, never its full text
    assert table[1][SCOREBOARD_COLUMNS.index("manifests")] == (
        f"candidate {cited['run_id']} sha256:{cited['sha256']}")
    code, human = t2e(store_path, "scoreboard", "--table")
    assert code == 0 and "scoreboard" in human and "inconclusive" in human


def test_gate_refused_for_bad_input_writes_no_row(store_path):
    t2e(store_path, "gate", "base", "other-world", "--json")
    assert json.loads(t2e(store_path, "scoreboard", "--json")[1]) == []


def test_decide_needs_override_and_reason_against_the_verdict(store_path):
    t2e(store_path, "gate", "hbase", "hgood", "--json")   # row 1: promote (clean heldout)
    t2e(store_path, "gate", "base", "meh", "--json")    # row 2: inconclusive
    t2e(store_path, "gate", "base", "good", "--json")   # row 3: supported (development)
    assert t2e(store_path, "decide", "1", "promote")[0] == 0
    code, out = t2e(store_path, "decide", "3", "promote", "--json")
    assert code == 2 and "supported (development)" in json.loads(out)["error"]
    assert "--override --reason" in json.loads(out)["error"]
    code, out = t2e(store_path, "decide", "3", "promote", "--override", "--reason",
                    "dev evidence is all we have", "--json")
    assert code == 0 and json.loads(out)["override"] is True
    code, out = t2e(store_path, "decide", "2", "promote", "--json")
    assert code == 2 and "--override --reason" in json.loads(out)["error"]
    code, out = t2e(store_path, "decide", "2", "promote", "--override", "--json")
    assert code == 2
    code, out = t2e(store_path, "decide", "2", "promote", "--override", "--reason",
                    "seen it work on 3 more tasks", "--json")
    assert code == 0 and json.loads(out)["override"] is True
    code, out = t2e(store_path, "decide", "1", "discard", "--override", "--reason", "x", "--json")
    assert code == 2 and "--override only applies" in json.loads(out)["error"]
    assert t2e(store_path, "decide", "2", "discard")[0] == 0
    code, out = t2e(store_path, "decide", "9", "discard", "--json")
    assert code == 2 and "no scoreboard row 9" in json.loads(out)["error"]
    rows = json.loads(t2e(store_path, "scoreboard", "--json")[1])
    assert rows[0]["human_decision"] == "promote" and rows[0]["override"] is False
    # the latest human decision on row 2 is the discard that followed the override
    assert rows[1]["human_decision"] == "discard"


def test_scoreboard_shows_overrides(store_path):
    t2e(store_path, "gate", "base", "bad", "--json")
    t2e(store_path, "decide", "1", "promote", "--override", "--reason", "[b]markup[/b] kept")
    rows = json.loads(t2e(store_path, "scoreboard", "--json")[1])
    assert rows[0]["override"] is True and rows[0]["override_reason"] == "[b]markup[/b] kept"
    code, human = t2e(store_path, "scoreboard", "--table")
    assert "OVERRIDE" in human and "[b]markup[/b]" in human


def test_discard_after_an_override_keeps_the_override_visible(store_path):
    """Review item 15: `decide ROW discard` after an override used to drop it from the
    scoreboard. The discard is in force, the override stays in the row's history."""
    t2e(store_path, "gate", "base", "bad", "--json")
    t2e(store_path, "decide", "1", "promote", "--override", "--reason", "looked fine",
        "--author", "ann")
    code, out = t2e(store_path, "decide", "1", "discard", "--author", "bob")
    assert code == 0
    assert "replaces the earlier promote OVERRIDE (looked fine)" in out
    code, out = t2e(store_path, "decide", "1", "discard", "--json")
    assert json.loads(out)["replaces"] == {"decision": "discard", "override": False,
                                           "reason": None}
    row = json.loads(t2e(store_path, "scoreboard", "--json")[1])[0]
    assert row["human_decision"] == "discard" and row["override"] is False
    assert row["overridden"] is True and row["override_reason"] == "looked fine"
    assert [(h["decision"], h["override"], h["author"]) for h in row["human_history"]] == [
        ("promote", True, "ann"), ("discard", False, "bob"), ("discard", False, None)]
    code, tsv = t2e(store_path, "scoreboard", "--tsv")
    head, line = tsv.splitlines()[:2]
    cells = dict(zip(head.split("\t"), line.split("\t")))
    assert cells["overridden"] == "1" and cells["override"] == "0"
    assert cells["human_history"].startswith("promote OVERRIDE (looked fine) by ann ")
    assert " -> discard by bob " in cells["human_history"]
    code, human = t2e(store_path, "scoreboard", "--table")
    assert "discard*" in human  # the decision in force, * = an override on the row
    assert "OVERRIDE promote against discard by ann, since replaced by discard" in human


@pytest.mark.parametrize("width", [200, 80, 60])
def test_scoreboard_table_is_one_line_per_row(store_path, width):
    """Review item 9: rows used to wrap to ~10 lines at 80 columns."""
    long_name = "a candidate with a rather long name that would wrap at eighty"
    conn = new_store_conn(store_path)
    make_run(conn, long_name, {str(i): [1.0] for i in range(1, 11)})
    conn.close()
    for cand in ("good", "meh", long_name):
        t2e(store_path, "gate", "base", cand, "--json")
    t2e(store_path, "decide", "2", "promote", "--override", "--reason", "r " * 80)
    res = CliRunner().invoke(cli, ["--store", store_path, "scoreboard", "--table"],
                             env={"COLUMNS": str(width)})
    assert res.exit_code == 0, res.output
    lines = res.output.rstrip("\n").split("\n")
    assert all(len(line) <= width for line in lines[:6])
    head, rows = lines[1], lines[3:6]  # title, header, rule, one line per row, then notes
    gate_col = head.index("gate")
    assert [(r.split()[0], r[gate_col:].split()[0]) for r in rows] == [
        ("1", "supported"), ("2", "inconclusive"), ("3", "supported")]
    assert "promote*" in rows[1]
    assert lines[6].startswith("* row 2: OVERRIDE promote against inconclusive")
    for col in ("row", "gate", "human", "candidate", "reward", "Δ", "p"):
        assert col in head.split()
    assert ("time" in head) == (width >= 200) and ("CI95" in head) == (width >= 200)
    assert ("a candidate with a" if width >= 80 else "a candidate…") in rows[2]


def test_deleted_run_is_flagged(store_path):
    import store

    t2e(store_path, "gate", "base", "good", "--json")
    conn = store.connect(store_path)
    conn.execute("DELETE FROM runs WHERE name = 'good'")
    conn.close()
    rows = json.loads(t2e(store_path, "scoreboard", "--json")[1])
    assert rows[0]["cites_deleted_run"] is True


def test_imported_discovery_runs_get_no_window_note_and_clean_claims_get_it_plainly(tmp_path):
    """'warning: no candidate: views up to the candidate run's creation count' was printed on
    every gate of imported runs, though the drafting window only matters to a clean claim (or
    a leaked task listed), and in words nobody could read."""
    from test_gate_advisor import _imported_pair
    invoke, d = _imported_pair(tmp_path)
    res = invoke("gate", "base", "cand")
    assert "views up to" not in res.output and "was imported, not made from" not in res.output
    # the same files again (reformatted: another file) claimed as heldout evidence
    (d / "b2.json").write_text(json.dumps(json.loads((d / "base.json").read_text()), indent=1))
    assert invoke("import", str(d / "b2.json"), "--name", "b2", "--role", "heldout") \
        .exit_code == 0
    (d / "c2.json").write_text(json.dumps(json.loads((d / "cand.json").read_text()), indent=1))
    assert invoke("import", str(d / "c2.json"), "--name", "c2", "--role", "heldout") \
        .exit_code == 0
    res = invoke("gate", "b2", "c2")
    assert "candidate run c2 (" in res.output and "was imported, not made from a saved " \
        "candidate: task views count as before the candidate up to its import" in res.output


def test_a_looser_policy_supports_at_most_never_promotes(store_path, tmp_path):
    """A policy file that switched the vetoes off (and alpha to 0.99, significance not
    required) promoted, on clean heldout, a candidate with a 1 -> 0 and reward down, saying
    'p = 1 <= alpha = 0.6'. A policy may be stricter at will; a looser one supports at most,
    and says which of its settings loosen the rule."""
    # (first on the set: the alpha correction counts candidates)
    # a stricter policy promotes what deserves it
    strict = tmp_path / "strict.toml"
    strict.write_text("[stats]\nalpha = 0.04\n[checks.reward_improved]\nmin_delta = 0.1\n")
    code, out = t2e(store_path, "gate", "hbase", "hgood", "--policy", str(strict), "--json")
    assert code == 0 and json.loads(out)["decision"] == "promote", out
    conn = new_store_conn(store_path)
    worse = {str(i): [0.0] for i in range(1, 11)}
    worse["5"] = [1.0]   # 1 -> 0 on tasks 1-4, one fix
    make_run(conn, "hworse", worse, role="heldout", candidate_hash="d" * 64)
    conn.close()
    pol = tmp_path / "loose.toml"
    pol.write_text("[stats]\nalpha = 0.99\nrequire_significance = false\n"
                   "[checks.no_task_regressions]\nenabled = false\n"
                   "[checks.reward_improved]\nenabled = false\n"
                   "[checks.pass_rate_not_worse]\nenabled = false\n"
                   "[checks.action_match_not_worse]\ntolerance = 1\n"
                   "[checks.write_action_match_not_worse]\nenabled = false\n"
                   "[checks.read_action_match_not_worse]\nenabled = false\n")
    code, out = t2e(store_path, "gate", "hbase", "hworse", "--policy", str(pol), "--json")
    doc = json.loads(out)
    assert code == 4 and doc["decision"] == "supported", doc["reasons"]
    assert doc["evidence_role"] == "heldout"   # clean evidence: the policy is what stops it
    (why,) = [r for r in doc["reasons"] if "loosens the promotion rule" in r]
    for part in ("no_task_regressions off", "reward_improved off",
                 "action_match_not_worse tolerance 1", "alpha 0.99",
                 "significance not required"):
        assert part in why, why
    assert not any("<= alpha" in r for r in doc["reasons"]), doc["reasons"]


def test_scoreboard_p_cell_keeps_a_small_p_readable():
    """The table's p column printed p = 6.1e-05 as `0.000`: read as zero (newcomer review). A
    p below 0.001 is shown in the column's 6 cells as a power of ten."""
    from t2e_tui.cli.gate import p_cell

    assert p_cell(6.1e-05) == "6e-5"
    assert p_cell(0.0078125) == "0.008"
    assert p_cell(1.0) == "1.000"
    assert p_cell(0.0) == "0.000"
    assert p_cell(None) == "n/a"
    assert all(len(p_cell(v)) <= 6 for v in (1e-300, 9.9e-4, 0.05, 0.5))
