"""Attacks on the heldout-set rules (a review after issue 10): each got `promote` on clean
heldout before the fix, played here through the command line with the scripted stand-in agent
(its results prove nothing about models; here it only makes the evidence).

- runs on parts of the set (any role) did not count against the first-run rule;
- alpha was spent only over candidates that were gated, and a near-copy of the set started
  the count again;
- `t2e runs rm` gave a re-roll first-run status back;
- tasks left out (infrastructure errors) still made "exactly the registered set", and the
  no-regression check passed over a task the baseline passed and the candidate never scored.
"""

from __future__ import annotations

import json

import pytest
from test_gate_attacks import FIX_RULE, T2E

import store
from t2e_tui.gate.heldout import spent_alpha

NOOP = "\n- Be polite.\n"


@pytest.fixture
def t2e(tmp_path):
    t = T2E(tmp_path)
    t("heldout", "register", "H", "--domain", "mini-retail", "--tasks", "heldout")
    return t


def set_ids(t2e, name="H") -> list[str]:
    return json.loads(t2e("heldout", "show", name, "--json"))["task_ids"]


def test_runs_on_parts_of_the_set_count_against_the_first_run(t2e):
    """Seed shopping by halves: development runs of each agent on the set's first 28 tasks and
    its last 28, then the 'full' runs: these were `1 of 1` and promoted."""
    ids = set_ids(t2e)
    t2e.save("fix", "baseline", FIX_RULE)
    for part in (ids[:28], ids[28:]):
        t2e.run("b-part", tasks=",".join(part), role="development", seed=3, noise=0.08)
        t2e.run("c-part", tasks=",".join(part), role="development", seed=4, noise=0.08,
                candidate="fix")
    b, c = t2e.run("base"), t2e.run("cand", candidate="fix")
    doc = t2e.gate(b, c)
    assert doc["decision"] == "supported" and doc["evidence_role"] == "development"
    runs = doc["heldout_set"]["runs"]
    assert (runs["baseline"]["position"], runs["baseline"]["runs_of_this_agent"]) == (3, 3)
    assert (runs["candidate"]["position"], runs["candidate"]["runs_of_this_agent"]) == (3, 3)
    assert sum("first-run rule" in r for r in doc["role_reasons"]) == 2
    human = t2e("gate", b, c, ok=(4,))
    assert "candidate run cand" in human and "is run 3 of 3 by the same agent on tasks of " \
        "set 'H'" in human


def test_one_task_of_the_set_is_enough_to_have_seen_it(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b = t2e.run("base")
    t2e.run("peek", tasks="crossorder-02", role="discovery", candidate="fix")
    doc = t2e.gate(b, t2e.run("cand", candidate="fix"))
    assert doc["decision"] == "supported"
    assert doc["heldout_set"]["runs"]["candidate"]["position"] == 2


def test_agents_that_ran_on_the_set_count_for_alpha_gated_or_not(t2e):
    """Three no-op variants run on the set and never gated: the fix is the 5th agent there (4
    before it), not 'candidate 1'."""
    b = t2e.run("base")
    for i in range(3):
        t2e.save(f"noop{i}", "baseline", NOOP * (i + 1))
        t2e.run(f"noop{i}", candidate=f"noop{i}", seed=10 + i, noise=0.08)
    t2e.save("fix", "baseline", FIX_RULE)
    doc = t2e.gate(b, t2e.run("cand", candidate="fix"))
    h = doc["heldout_set"]
    assert h["candidate_index"] == 4 and h["agents_on_set"] == 5
    assert doc["stats"]["alpha"] == pytest.approx(spent_alpha(0.05, 4))
    assert any("candidate 4 on set 'H': 4 agent(s) ran on its tasks before" in r
               for r in doc["reasons"])
    shown = json.loads(t2e("heldout", "show", "H", "--json"))
    assert len(shown["agents"]) == 5 and shown["agents"][0]["first_run"] == b
    assert shown["next_alpha_at_0.05"] == pytest.approx(spent_alpha(0.05, 5))
    assert "5 agent(s) ran on its tasks" in t2e("heldout", "list")


def test_a_near_copy_of_the_set_shares_its_agents(t2e):
    """H2 = H minus one task: the agents that ran on H ran on H2's tasks too."""
    ids = set_ids(t2e)
    b = t2e.run("base")
    t2e.save("noop", "baseline", NOOP)
    t2e.run("noop", candidate="noop", seed=5, noise=0.08)
    t2e("heldout", "register", "H2", "--domain", "mini-retail", "--tasks", ",".join(ids[1:]))
    t2e.save("fix", "baseline", FIX_RULE)
    tasks = ",".join(ids[1:])
    doc = t2e.gate(t2e.run("base2", tasks=tasks), t2e.run("cand2", tasks=tasks,
                                                              candidate="fix"))
    assert doc["heldout_set"]["name"] == "H2" and doc["evidence_role"] == "development"
    assert doc["heldout_set"]["runs"]["baseline"]["first"] == b   # its run on H counts
    assert doc["heldout_set"]["candidate_index"] == 2   # base and noop before the fix
    assert len(json.loads(t2e("heldout", "show", "H2", "--json"))["agents"]) == 3


def test_shopping_for_the_baseline_among_ungated_noops(t2e):
    """No-op variants in noisy mode, never gated: the worst as baseline, the best as the
    candidate (seeds picked from 40 so: 1 task passed against 9). Before: `PROMOTE ...
    candidate 1 judged on it ... p = 0.003906 <= alpha = 0.0304`. The candidate had 3 agents
    before it, each a baseline it could have been gated against."""
    runs = []
    for i, seed in enumerate((9, 25, 35, 31)):
        t2e.save(f"v{i}", "baseline", NOOP * (i + 1))
        runs.append(t2e.run(f"v{i}", candidate=f"v{i}", seed=seed, noise=0.08))
    doc = t2e.gate(runs[0], runs[3])
    assert doc["stats"]["p_value"] <= spent_alpha(0.05, 1)   # 'candidate 1' would promote
    assert doc["heldout_set"]["candidate_index"] == 3
    assert doc["stats"]["alpha"] == pytest.approx(spent_alpha(0.05, 3))
    assert doc["decision"] != "promote"
    # and the other way round: a baseline whose agent came to the set after the candidate's
    back = t2e.gate(runs[3], runs[0])
    assert any("first ran on set 'H' after the candidate's did" in r
               for r in back["role_reasons"])


def test_removed_runs_still_count(t2e):
    """`t2e runs rm` of the earlier runs made `run 3 of 3` a `1 of 1` again, and an agent
    removed from the set no longer counted for alpha."""
    t2e.save("fix", "baseline", FIX_RULE)
    t2e.save("noop", "baseline", NOOP)
    b = t2e.run("base")
    noop = t2e.run("noop", candidate="noop", seed=2, noise=0.08)
    c1 = t2e.run("c1", candidate="fix", seed=1)
    c2 = t2e.run("c2", candidate="fix", seed=2)
    c3 = t2e.run("c3", candidate="fix", seed=3)
    for rid in (c1, c2, noop):
        t2e("runs", "rm", rid)
    doc = t2e.gate(b, c3)
    assert doc["decision"] != "promote" and doc["evidence_role"] == "development"
    cand = doc["heldout_set"]["runs"]["candidate"]
    assert (cand["position"], cand["runs_of_this_agent"], cand["removed"]) == (3, 3, 2)
    assert cand["first"] == c1
    assert any("is run 3 of 3 by the same agent" in r and "2 of them since removed" in r
               and f"only the first ({c1}, removed) counts" in r for r in doc["role_reasons"])
    assert doc["heldout_set"]["candidate_index"] == 2   # the removed no-op still counts
    # a new run never takes a removed run's id (the ledger keeps them by id)
    conn = store.connect(t2e.store)
    kept = {r for (r,) in conn.execute("SELECT run_id FROM agent_runs WHERE removed_at IS NOT "
                                       "NULL")}
    conn.close()
    assert kept == {c1, c2, noop}


def test_tasks_left_out_are_not_the_registered_set(t2e):
    """The candidate regresses confirm-01 (discard); its one episode there made an
    infrastructure error (an endpoint failure, written into the store here): it was PROMOTE
    on 55 tasks, a warning only."""
    from t2e_tui.demo import HARM_RULE

    t2e.save("fixharm", "baseline", FIX_RULE + HARM_RULE + "\n")
    b = t2e.run("base")
    c = t2e.run("cand", candidate="fixharm")
    first = t2e.gate(b, c)
    assert first["decision"] == "discard" and first["stats"]["regressions"] == ["confirm-01"]
    conn = store.connect(t2e.store)
    with conn:
        n = conn.execute("UPDATE episodes SET termination_reason = 'infrastructure_error', "
                         "reward = NULL, success = NULL WHERE run_id = ? AND task_id = "
                         "'confirm-01'", (c,)).rowcount
    conn.close()
    assert n == 1
    doc = t2e.gate(b, c)
    assert len(doc["tasks"]) == 55
    assert doc["decision"] == "discard" and doc["evidence_role"] == "development"
    assert any("1 task(s) of set 'H' left out of the comparison" in r and "confirm-01" in r
               for r in doc["role_reasons"])
    assert doc["heldout_set"]["left_out"] == ["confirm-01"]
    check = next(ch for ch in doc["checks"] if ch["name"] == "no_task_regressions")
    assert not check["passed"] and check["tasks"] == ["confirm-01"]
    assert "has no scored candidate trial" in check["detail"]
    # resumed, the episode is played again: every task compared, the same discard as before
    out = json.loads(t2e("run", "--resume", c, "--json"))
    assert out["infrastructure_errors"] == 0
    again = t2e.gate(b, c)
    assert len(again["tasks"]) == 56 and again["heldout_set"]["left_out"] == []
    assert again["decision"] == "discard" and again["stats"]["regressions"] == ["confirm-01"]


# -- the agent ledger (migration 11) ----------------------------------------------------------

def test_the_ledger_follows_imports_and_outlives_the_run(tmp_path):
    """An import sets the run's domain at its end: the ledger row follows; `delete_run` keeps
    the row (dated) and the tasks."""
    from test_store_data import make_results, write_json

    from store.importers import import_path
    from store.queries import delete_run

    conn = store.connect(tmp_path / "s.sqlite")
    rid = import_path(conn, write_json(tmp_path / "r.json", make_results(4)))["run_id"]
    ident = "domain, candidate_hash, agent_model, user_model, created_at"
    run_row = conn.execute(f"SELECT {ident} FROM runs WHERE run_id = ?", (rid,)).fetchone()
    assert run_row[0] and run_row[2]  # the file's domain and agent llm
    assert conn.execute(f"SELECT {ident} FROM agent_runs WHERE run_id = ?",
                        (rid,)).fetchone() == run_row
    tasks = conn.execute("SELECT DISTINCT task_id FROM episodes WHERE run_id = ? ORDER BY 1",
                         (rid,)).fetchall()
    delete_run(conn, rid)
    assert conn.execute("SELECT removed_at IS NOT NULL FROM agent_runs WHERE run_id = ?",
                        (rid,)).fetchone() == (1,)
    assert conn.execute("SELECT task_id FROM agent_run_tasks WHERE run_id = ? ORDER BY 1",
                        (rid,)).fetchall() == tasks
    conn.close()


def test_migration_11_records_what_the_store_already_holds(tmp_path):
    """Runs stored before the ledger, with their tasks; a run removed before it that a gate row
    cites, with the row's candidate hash and tasks (its models unknown: any models match)."""
    import sqlite3

    from test_gate_builders import make_run

    import store.migrations as m
    from t2e_tui.gate.heldout import agents_on_set, runs_on_set

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    saved = m.MIGRATIONS
    m.MIGRATIONS = [x for x in saved if x[0] < 11]
    try:
        m.migrate(raw)
        raw.execute("PRAGMA foreign_keys = ON")
        # (raw rows: today's writers expect today's schema)
        kept = "k1"
        raw.execute("INSERT INTO runs (run_id, name, domain, candidate_hash, agent_model, "
                    "created_at) VALUES (?, 'kept', 'mini-retail', ?, 'scripted', ?)",
                    (kept, "a" * 64, "2026-01-01T00:00:00.000000+00:00"))
        for task in ("1", "2"):
            raw.execute("INSERT INTO episodes (run_id, episode_key, ord, task_id, status) "
                        "VALUES (?, ?, 0, ?, 'done')", (kept, f"{task}:0", task))
        raw.execute("INSERT INTO gate_decisions (created_at, baseline_run_id, candidate_run_id, "
                    "candidate_hash, tasks_json, evidence_role, decision) VALUES "
                    "('2026-01-02T00:00:00+00:00', ?, 'gone1', ?, '[\"1\", \"2\"]', "
                    "'heldout', 'promote')", (kept, "c" * 64))
    finally:
        m.MIGRATIONS = saved
    raw.close()
    conn = store.connect(path)   # migrates
    assert set(conn.execute("SELECT run_id, removed_at IS NULL FROM agent_runs")) == {
        ("gone1", 0), (kept, 1)}
    assert set(conn.execute("SELECT task_id, run_id FROM agent_run_tasks")) == {
        ("1", "gone1"), ("1", kept), ("2", "gone1"), ("2", kept)}
    s = {"task_ids": ["1", "2"], "world_key": "mini-retail"}
    later = make_run(conn, "later", {"1": [1.0], "2": [1.0]}, candidate_hash="c" * 64,
                     agent_model="model-x")
    from types import SimpleNamespace
    agent = SimpleNamespace(candidate_hash="c" * 64, agent_model="model-x", user_model=None)
    assert runs_on_set(conn, s, agent) == ["gone1", later]   # dated by its gate row
    assert len(agents_on_set(conn, s)) == 2   # 'kept' and the candidate text, once
    conn.close()
