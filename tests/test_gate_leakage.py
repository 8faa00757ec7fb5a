"""Evidence roles and the leakage guard: drafting windows, downgrades, parents by name or hash."""

from __future__ import annotations

from test_gate_builders import make_run, new_store

from store.clock import stamp
from t2e_tui.gate import evaluate, leaked_tasks
from t2e_tui.gate.leakage import drafting_window, views_in_window

P_HASH = "a" * 64
C_HASH = "c" * 64


def saved_leaks(conn, chash, task_ids):
    """Tasks viewed up to the candidate's save: its drafting window alone (the gate's window
    runs on to the candidate's first run on the tasks; `leaked_tasks`, the launcher's, to now)."""
    return sorted(views_in_window(conn, drafting_window(conn, chash), "mini-retail", task_ids))


def add_candidate(conn, chash, name, parent, saved_at):
    conn.execute("INSERT INTO candidates (candidate_hash, name, parent_hash, body, saved_at) "
                 "VALUES (?,?,?,?,?)", (chash, name, parent, f"body {name}", saved_at))


def view(conn, task_id, at, domain="mini-retail"):
    conn.execute("INSERT INTO evidence_views (domain, task_id, viewed_at, via) VALUES (?,?,?,?)",
                 (domain, task_id, at, "tui"))


def register(conn, name="ho", tasks=range(1, 11), at="2026-01-01T09:00:00+00:00",
             domain="mini-retail"):
    """A heldout set registered at `at` (written directly: the CLI stamps the time now)."""
    import json

    from store.heldout import set_hash
    ids = [str(t) for t in tasks]
    conn.execute("INSERT INTO heldout_sets (name, world_key, spec, task_ids_json, sha256, "
                 "registered_at) VALUES (?,?,?,?,?,?)",
                 (name, domain, ",".join(ids), json.dumps(ids), set_hash(domain, ids), at))


def lineage(conn, parent_ref=P_HASH):
    register(conn)
    add_candidate(conn, P_HASH, "baseline", None, "2026-01-01T10:00:00+00:00")
    add_candidate(conn, C_HASH, "fix-v1", parent_ref, "2026-01-01T12:00:00+00:00")


def pair(conn, role="heldout", base_role="heldout"):
    make_run(conn, "base", {str(i): [1.0 if i <= 4 else 0.0] for i in range(1, 11)},
             role=base_role, candidate_hash=P_HASH)
    make_run(conn, "cand", {str(i): [1.0] for i in range(1, 11)}, role=role,
             candidate_hash=C_HASH)


def test_views_before_the_candidate_was_saved_downgrade_heldout(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    view(conn, "3", "2026-01-01T09:59:59+00:00")   # before the parent was saved: still seen
    view(conn, "7", "2026-01-01T11:00:00+00:00")   # while drafting: leak
    view(conn, "5", "2026-01-01T11:30:00Z")        # while drafting, other time format: leak
    view(conn, "2", "2026-01-01T11:00:00+00:00", domain="airline")  # another domain
    pair(conn)
    view(conn, "9", stamp(conn))   # after the candidate's first run on the set: fine
    r = evaluate(conn, "base", "cand")
    assert r.role.claimed == "heldout"
    assert r.evidence_role == "development"
    assert r.role.leaked_tasks == ["3", "5", "7"]
    assert any("downgraded from heldout to development" in x for x in r.role.reasons)
    assert r.to_dict()["leaked_tasks"] == ["3", "5", "7"]


def test_clean_heldout_stays_heldout(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    view(conn, "11", "2026-01-01T09:00:00+00:00")   # a task outside the set
    pair(conn)
    view(conn, "3", stamp(conn))    # after the candidate's first run on the set
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "heldout" and r.role.leaked_tasks == [], r.role.reasons
    assert r.role.heldout.set["name"] == "ho"


def test_parent_given_by_name(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn, parent_ref="baseline")
    w = drafting_window(conn, C_HASH)
    assert w.start is None   # lineage-wide: views before the parent count too
    assert w.end.isoformat() == "2026-01-01T12:00:00+00:00"
    view(conn, "4", "2026-01-01T10:30:00+00:00")
    view(conn, "1", "2025-01-01T10:30:00+00:00")
    view(conn, "8", "2026-01-01T12:30:00+00:00")
    assert saved_leaks(conn, C_HASH, ["1", "4", "8"]) == ["1", "4"]
    # launched now, its first run would come after every one of them
    assert leaked_tasks(conn, C_HASH, "mini-retail", ["1", "4", "8"]) == ["1", "4", "8"]


def test_unknown_parent_means_every_earlier_view_counts(tmp_path):
    conn = new_store(tmp_path)
    add_candidate(conn, C_HASH, "fix-v1", "no-such-parent", "2026-01-01T12:00:00+00:00")
    view(conn, "4", "2020-01-01T00:00:00+00:00")
    w = drafting_window(conn, C_HASH)
    assert w.start is None
    assert leaked_tasks(conn, C_HASH, "mini-retail", ["4"]) == ["4"]


def test_unsaved_candidate_window_ends_now(tmp_path):
    # the launcher's pre-launch warning for a candidate not yet in the store
    conn = new_store(tmp_path)
    view(conn, "2", "2026-01-01T00:00:00+00:00")
    assert leaked_tasks(conn, "f" * 64, "mini-retail", ["1", "2"]) == ["2"]


def test_development_claim_is_not_upgraded_and_leaks_are_still_listed(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    view(conn, "7", "2026-01-01T11:00:00+00:00")
    pair(conn, role="development", base_role="development")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development" and r.role.leaked_tasks == ["7"]


def test_discovery_baseline_demotes_a_heldout_claim(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn, role="heldout", base_role="discovery")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development"
    assert any("discovery" in x for x in r.role.reasons)


def test_synthetic_on_either_side_is_synthetic(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn, role="heldout", base_role="synthetic")
    assert evaluate(conn, "base", "cand").evidence_role == "synthetic"


def test_run_without_candidate_counts_views_up_to_its_creation(tmp_path):
    # imported runs have no candidate: their text was fixed when the run was made (and their
    # agent is unknown, so they are never clean: the views are listed all the same)
    conn = new_store(tmp_path)
    register(conn, tasks=["1"])
    make_run(conn, "base", {"1": [0.0]}, role="transfer", agent_model="model-a")
    make_run(conn, "cand", {"1": [1.0]}, role="transfer", agent_model="model-b")
    before = evaluate(conn, "base", "cand")
    assert before.role.leaked_tasks == [] and before.evidence_role == "development"
    view(conn, "1", "2026-01-01T11:00:00+00:00")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development" and r.role.leaked_tasks == ["1"]


def test_parent_only_in_front_matter(tmp_path):
    # the engine records a run's candidate with parent_hash NULL when the front matter names
    # the parent; the guard reads the front matter then
    conn = new_store(tmp_path)
    register(conn)
    add_candidate(conn, P_HASH, "baseline", None, "2026-01-01T10:00:00+00:00")
    conn.execute("INSERT INTO candidates (candidate_hash, name, parent_hash, body, "
                 "front_matter_json, saved_at) VALUES (?,?,?,?,?,?)",
                 (C_HASH, "fix-v1", None, "b", '{"name": "fix-v1", "parent": "baseline"}',
                  "2026-01-01T12:00:00+00:00"))
    w = drafting_window(conn, C_HASH)
    assert w.end is not None and w.end.hour == 12
    view(conn, "2", "2026-01-01T11:00:00+00:00")
    pair(conn)
    view(conn, "1", stamp(conn))
    assert saved_leaks(conn, C_HASH, ["1", "2"]) == ["2"]
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development" and r.role.leaked_tasks == ["2"]


def test_scoreboard_cites_the_parent_by_hash(tmp_path):
    from t2e_tui.gate import gate, scoreboard_rows

    conn = new_store(tmp_path)
    lineage(conn, parent_ref="baseline")
    pair(conn)
    gate(conn, "base", "cand")
    row = scoreboard_rows(conn)[0]
    assert row["candidate_hash"] == C_HASH and row["parent_hash"] == P_HASH
    assert row["evidence_role"] == "heldout"


def test_views_tagged_with_the_candidate_or_unreadable_count(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    conn.execute("INSERT INTO evidence_views (domain, task_id, viewed_at, via, "
                 "drafting_candidate) VALUES ('mini-retail', '6', "
                 "'2026-01-01T13:00:00+00:00', 'tui', 'fix-v1')")  # tagged, after saving
    view(conn, "8", "yesterday-ish")                                   # unreadable time
    view(conn, "9", "2026-01-01T13:00:00+00:00")                       # untagged, after
    assert saved_leaks(conn, C_HASH, ["6", "8", "9"]) == ["6", "8"]


# -- role history: a role raised to heldout after the fact is not clean heldout -------------

def test_candidate_role_raised_after_creation_downgrades(tmp_path):
    from store.queries import set_role

    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn, role="discovery")
    set_role(conn, "cand", "heldout")  # `t2e runs role cand heldout`, after its results exist
    r = evaluate(conn, "base", "cand")
    assert r.role.claimed == "heldout"
    assert r.evidence_role == "development"
    assert r.role.leaked_tasks == []
    (why,) = [x for x in r.role.reasons if "was created as" in x]
    assert why.startswith("candidate run cand") and "created as discovery and made heldout at" in why
    assert r.to_dict()["role_reasons"] == r.role.reasons


def test_baseline_role_raised_after_creation_downgrades(tmp_path):
    from store.queries import set_role

    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn, base_role="development")
    set_role(conn, "base", "transfer")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development"
    assert any(x.startswith("baseline run base") and "created as development and made "
               "transfer at" in x for x in r.role.reasons)


def test_role_lowered_then_raised_again_still_downgrades(tmp_path):
    from store.queries import set_role

    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn)
    set_role(conn, "cand", "discovery")
    set_role(conn, "cand", "heldout")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development"
    assert any("created as heldout and made heldout at" in x and "(from discovery)" in x
               for x in r.role.reasons)


def test_role_set_at_creation_stays_clean_and_other_roles_untouched(tmp_path):
    from store.queries import set_role

    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn)
    assert evaluate(conn, "base", "cand").evidence_role == "heldout"
    set_role(conn, "cand", "development")   # lowering is no claim of cleanliness
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development" and r.role.reasons == []


def test_run_predating_role_history_gets_a_note_not_a_downgrade(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn)
    # what migration 3 leaves on older runs: no role_set_at, no changes recorded
    conn.execute("UPDATE runs SET role_set_at = NULL WHERE name = 'cand'")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "heldout" and r.role.reasons == []
    assert r.role.notes == [f"candidate run cand ({r.comparison.candidate.run_id}) predates "
                            "role history: whether its heldout role was set when it was "
                            "created is unknown"]
    assert r.role.notes[0] in r.warnings and r.to_dict()["role_notes"] == r.role.notes


def test_cli_runs_role_then_gate_downgrades_and_scoreboard_says_why(tmp_path):
    import json

    from click.testing import CliRunner

    from t2e_tui.cli import cli

    conn = new_store(tmp_path)
    lineage(conn)
    pair(conn, role="discovery")
    conn.close()
    store = str(tmp_path / "gate.sqlite")
    runner = CliRunner()
    res = runner.invoke(cli, ["--store", store, "runs", "role", "cand", "heldout"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["--store", store, "gate", "base", "cand", "--json"])
    doc = json.loads(res.output)
    assert doc["claimed_role"] == "heldout" and doc["evidence_role"] == "development"
    assert any("created as discovery and made heldout at" in x for x in doc["role_reasons"])
    res = runner.invoke(cli, ["--store", store, "gate", "base", "cand"])
    assert "role: candidate run cand" in res.output
    assert "same verdict as row 1" in res.output   # nothing changed: no second row
    rows = json.loads(runner.invoke(cli, ["--store", store, "scoreboard", "--json"]).output)
    assert [r["evidence_role"] for r in rows] == ["development"]
    assert rows[0]["claimed_role"] == "heldout"
    assert any("made heldout at" in x for x in rows[0]["role_reasons"])
    human = runner.invoke(cli, ["--store", store, "scoreboard", "--table"],
                          env={"COLUMNS": "200"}).output
    assert "row 1: evidence development, claimed heldout: candidate run cand" in human


# -- tasks chosen by an outcome filter are not clean heldout ----------------------------------

def selected_pair(conn, selection):
    lineage(conn)
    make_run(conn, "base", {str(i): [1.0 if i <= 4 else 0.0] for i in range(1, 11)},
             role="heldout", candidate_hash=P_HASH)
    make_run(conn, "cand", {str(i): [1.0] for i in range(1, 11)}, role="heldout",
             candidate_hash=C_HASH,
             manifest={"tasks_spec": ",".join(map(str, range(1, 11))),
                       **({"task_selection": selection} if selection else {})})


def test_tasks_chosen_by_an_outcome_filter_downgrade_heldout(tmp_path):
    conn = new_store(tmp_path)
    selected_pair(conn, {"by": "outcome_filter", "filter": "fixed", "termination": None,
                         "screen": "tasks", "runs": ["r1", "r2"], "tasks": 10})
    r = evaluate(conn, "base", "cand")
    assert r.role.claimed == "heldout" and r.evidence_role == "development"
    (why,) = r.role.reasons
    assert why.startswith("tasks selected by an outcome filter (fixed) for the candidate run")
    assert r.role.leaked_tasks == []


def test_termination_filter_is_an_outcome_filter_too(tmp_path):
    conn = new_store(tmp_path)
    selected_pair(conn, {"by": "outcome_filter", "filter": "all",
                         "termination": "max_steps"})
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "development"
    assert "outcome filter (termination max_steps)" in r.role.reasons[0]


def test_tasks_chosen_by_name_stay_heldout(tmp_path):
    conn = new_store(tmp_path)
    selected_pair(conn, None)   # e.g. the heldout split, chosen by its name
    assert evaluate(conn, "base", "cand").evidence_role == "heldout"
    conn2 = new_store(tmp_path, "other.sqlite")
    selected_pair(conn2, {"by": "name", "spec": "heldout"})
    assert evaluate(conn2, "base", "cand").evidence_role == "heldout"
