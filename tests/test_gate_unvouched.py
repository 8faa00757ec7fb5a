"""Attacks on the gate's re-score and settings defences (session 12, review 4): each got
`supported` (exit 4, a pass in the README's CI recipe) before the fix.

1. The domain renamed ("Retail"): the re-score tested the raw spelling, said "t2e has no
   records of domain 'Retail'" and took the forged rewards as the file's word, even with --data.
2. No --data: a domain t2e can re-score, but its records were not given: the forged rewards
   were the file's word (two warnings), supported.
3. Settings deleted from the candidate file's info: only a warning, "not checked equal".
4. A dropped `store_clock` table: `clock.stamp` fell back to the wall clock silently.

The forged files are built at run time in tmp: from the real tau2 results in ../shared (skipped
when absent) and from an export of a scripted mini-retail run (always available; the scripted
stand-in's results prove nothing about models).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from test_gate_attacks import FIX_RULE, T2E
from test_gate_forged_rewards import Store, forge

from store import StoreError, clock


def edit(src, dst, change) -> None:
    """Copy results file `src` to `dst` with `change(data)` applied."""
    data = json.loads(src.read_text())
    change(data)
    dst.write_text(json.dumps(data))


def rename_domain(data: dict, name: str = "Retail") -> None:
    data["info"]["environment_info"]["domain_name"] = name


def mini_export(s: Store, tmp_path, seed: int = 1) -> str:
    """A scripted mini-retail heldout run exported as a tau2 file; its path."""
    run = json.loads(s("run", "--tasks", "heldout", "--seed", str(seed), "--noise", "0.3",
                       "--role", "heldout", "--name", f"made{seed}", "--json").output)["run_id"]
    out = tmp_path / f"made{seed}.json"
    s("export", run, "--format", "tau2", "-o", str(out))
    return out


# -- 1. a renamed domain is re-scored as the world names it -----------------------------------

def test_renamed_domain_is_still_re_scored_with_data(tmp_path, shared_results, tau2_dir):
    base_file, cand_file = shared_results
    s = Store(tmp_path)
    s("heldout", "register", "ci", "--domain", "retail", "--tasks", "test",
      "--data", str(tau2_dir))
    edit(base_file, tmp_path / "base.json", rename_domain)
    forge(cand_file, tmp_path / "forged.json")
    edit(tmp_path / "forged.json", tmp_path / "forged.json", rename_domain)
    base = s.imp(tmp_path / "base.json", "B", "--role", "heldout")["run_id"]
    cand = s.imp(tmp_path / "forged.json", "C", "--role", "heldout")["run_id"]
    doc, rc = s.gate(base, cand, "--data", str(tau2_dir))
    assert (doc["decision"], rc) == ("inconclusive", 3), (doc["reasons"], doc["warnings"])
    assert doc["rescore"]["candidate"]["status"] == "differs"
    assert doc["rescore"]["baseline"]["status"] == "reproduced"
    assert not [w for w in doc["warnings"] if "no records of domain" in w]


def test_renamed_mini_retail_export_is_still_re_scored(tmp_path):
    s = Store(tmp_path)
    made = mini_export(s, tmp_path)
    for name in ("Mini-Retail", " mini-retail"):
        edit(made, tmp_path / "base.json", lambda d, n=name: rename_domain(d, n))
        forge(tmp_path / "base.json", tmp_path / "forged.json")
        base = s.imp(tmp_path / "base.json", f"b{name.strip()}")["run_id"]
        cand = s.imp(tmp_path / "forged.json", f"f{name.strip()}")["run_id"]
        doc, rc = s.gate(base, cand)
        assert (doc["decision"], rc) == ("inconclusive", 3), (name, doc["warnings"])
        assert doc["rescore"]["candidate"]["status"] == "differs"


def test_score_command_reads_a_renamed_domain_too(tmp_path):
    s = Store(tmp_path)
    made = mini_export(s, tmp_path)
    edit(made, tmp_path / "renamed.json", lambda d: rename_domain(d, "MINI-RETAIL"))
    forge(tmp_path / "renamed.json", tmp_path / "forged.json")
    res = s("score", str(tmp_path / "forged.json"), "--json", ok=(0, 1))
    rep = json.loads(res.output)["files"][0]
    assert "error" not in rep and rep["disagree"], rep


# -- 2. a re-scorable domain without its records: not vouched for ------------------------------

def test_without_data_a_retail_pair_is_inconclusive(tmp_path, shared_results, tau2_dir,
                                                    monkeypatch):
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    monkeypatch.delenv("TAU2_AIRLINE_DATA_DIR", raising=False)
    s = Store(tmp_path)
    s("heldout", "register", "ci", "--domain", "retail", "--tasks", "test",
      "--data", str(tau2_dir))
    forge(shared_results[1], tmp_path / "forged.json")
    base = s.imp(shared_results[0], "B", "--role", "heldout")["run_id"]
    cand = s.imp(tmp_path / "forged.json", "C", "--role", "heldout")["run_id"]
    doc, rc = s.gate(base, cand)
    assert (doc["decision"], rc) == ("inconclusive", 3), doc["reasons"]
    assert any("pass --data DIR to re-score" in r for r in doc["reasons"]), doc["reasons"]
    assert doc["rescore"]["candidate"]["status"] == "not_rescored"


def test_a_mini_pair_without_its_tasks_is_inconclusive(tmp_path):
    """mini-retail needs no data directory; a forger who strips the embedded tasks from both
    files left nothing to re-score on, and the forged rewards were the file's word."""
    s = Store(tmp_path)
    made = mini_export(s, tmp_path)
    edit(made, tmp_path / "base.json", lambda d: d.pop("tasks"))
    forge(tmp_path / "base.json", tmp_path / "forged.json")
    base = s.imp(tmp_path / "base.json", "B")["run_id"]
    cand = s.imp(tmp_path / "forged.json", "C")["run_id"]
    doc, rc = s.gate(base, cand)
    assert (doc["decision"], rc) == ("inconclusive", 3), doc["reasons"]
    said = [r for r in doc["reasons"] if "cannot be vouched for" in r]
    assert len(said) == 1 and "embeds no task definitions" in said[0], doc["reasons"]
    assert doc["rescore"]["candidate"]["cap"]


def test_a_foreign_trace_keeps_the_files_word_rule(tmp_path):
    """A domain t2e cannot re-score at all (here a foreign-trace export of a mini run, read as
    a foreign run) is not capped by the no-records rule: the rewards are the file's word."""
    from t2e_tui.gate.rescore import SideRescore, unvouched_reason

    sides = {"baseline": SideRescore("b", "not_rescored", "a foreign trace carries no gold "
                                                         "actions or records to grade it on"),
             "candidate": SideRescore("c", "scored_here")}
    assert unvouched_reason(sides) is None
    sides["baseline"] = SideRescore("b", "not_rescored", "no records",
                                    cap="pass --data DIR to re-score")
    assert "pass --data DIR to re-score" in unvouched_reason(sides)


# -- 3. a setting one side records and the other does not --------------------------------------

def strip_settings(data: dict) -> None:
    info = data["info"]
    for key in ("max_steps", "max_errors", "num_trials"):
        info.pop(key, None)
    info.get("agent_info", {}).pop("llm_args", None)


@pytest.fixture
def exported_pair(tmp_path):
    """A scripted baseline and the FIX_RULE candidate on the mini-retail heldout set, both
    exported as tau2 files: (T2E, baseline file, candidate file)."""
    t = T2E(tmp_path)
    t("heldout", "register", "ho", "--domain", "mini-retail", "--tasks", "heldout")
    t.save("fix", "baseline", FIX_RULE)
    files = []
    for name, cand in (("base", None), ("cand", "fix")):
        run = t.run(name, candidate=cand)
        files.append(tmp_path / f"{name}.json")
        t("export", run, "--format", "tau2", "-o", str(files[-1]))
    return t, files[0], files[1]


def imported(t, path, name) -> str:
    # development evidence: the alpha is not spent across the set's agents, so the pair
    # whole is `supported`
    return json.loads(t("import", str(path), "--name", name, "--json"))["imported"][0]["run_id"]


def test_settings_deleted_from_the_candidate_file_cap_the_verdict(exported_pair, tmp_path):
    t, base_file, cand_file = exported_pair
    base = imported(t, base_file, "B")
    whole = t.gate(base, imported(t, cand_file, "C"))
    assert (whole["decision"], whole["exit_code"]) == ("supported", 4), whole["reasons"]
    edit(cand_file, tmp_path / "stripped.json", strip_settings)
    cand = imported(t, tmp_path / "stripped.json", "S")
    doc = t.gate(base, cand)
    assert (doc["decision"], doc["exit_code"]) == ("inconclusive", 3), doc["reasons"]
    said = [r for r in doc["reasons"] if "recorded by one run only" in r]
    assert len(said) == 1, doc["reasons"]
    # (the export records no llm_args; the trials are counted from the episodes on both sides)
    assert "not by S (" + cand[:8] in said[0] and "not by B" not in said[0], said[0]
    for name in ("max_steps", "max_errors"):
        assert name in said[0], said[0]
    # the comparison is still shown
    assert doc["stats"]["p_value"] == whole["stats"]["p_value"] and doc["transitions"]


def test_real_files_with_settings_deleted_name_every_one(tmp_path, shared_results):
    """The reviewer's edit of a real tau2 file: max_steps, max_errors, num_trials and the
    agent's llm_args deleted from the candidate's info."""
    from store import connect
    from t2e_tui.gate.compare import compare_runs

    s = Store(tmp_path)
    edit(shared_results[1], tmp_path / "stripped.json", strip_settings)
    base = s.imp(shared_results[0], "B")["run_id"]
    cand = s.imp(tmp_path / "stripped.json", "C")["run_id"]
    conn = connect(s.path)
    said = compare_runs(conn, base, cand).unverified_settings
    conn.close()
    assert said and "not by C (" in said and "not by B" not in said, said
    for name in ("max_steps", "max_errors", "agent request params"):
        assert name in said, said
    # the real pair, untouched: every setting recorded by both
    whole = s.imp(shared_results[1], "W")["run_id"]
    conn = connect(s.path)
    assert compare_runs(conn, base, whole).unverified_settings is None
    conn.close()


# -- 4. the store clock table dropped ----------------------------------------------------------

def test_a_dropped_clock_table_is_an_error_naming_the_store(tmp_path):
    s = Store(tmp_path)
    s("heldout", "register", "a", "--domain", "mini-retail", "--tasks", "heldout")
    conn = sqlite3.connect(s.path)
    conn.execute("DROP TABLE store_clock")
    conn.commit()
    with pytest.raises(StoreError, match="store_clock"):
        clock.stamp(conn)
    with pytest.raises(StoreError, match="s.sqlite"):
        clock.read(conn)
    conn.close()
    res = s("heldout", "register", "b", "--domain", "mini-retail", "--tasks", "heldout",
            ok=(2,))
    assert "store_clock" in res.output and "s.sqlite" in res.output


def test_a_file_below_migration_14_still_reads_the_wall_clock(tmp_path):
    """Code handed a raw connection to a file not yet migrated to the clock: the wall clock."""
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                 "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
    conn.execute("INSERT INTO schema_migrations VALUES (13, 'x', '2026-01-01')")
    first = clock.stamp(conn)
    assert first.startswith("20") and clock.read(conn) >= first[:19]
