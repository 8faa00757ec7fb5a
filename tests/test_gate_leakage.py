"""Evidence roles and the leakage guard: drafting windows, downgrades, parents by name or hash."""

from __future__ import annotations

from t2e_tui.gate import evaluate, leaked_tasks
from t2e_tui.gate.leakage import drafting_window
from test_gate_builders import make_run, new_store

P_HASH = "a" * 64
C_HASH = "c" * 64


def add_candidate(conn, chash, name, parent, saved_at):
    conn.execute("INSERT INTO candidates (candidate_hash, name, parent_hash, body, saved_at) "
                 "VALUES (?,?,?,?,?)", (chash, name, parent, f"body {name}", saved_at))


def view(conn, task_id, at, domain="mini-retail"):
    conn.execute("INSERT INTO evidence_views (domain, task_id, viewed_at, via) VALUES (?,?,?,?)",
                 (domain, task_id, at, "tui"))


def lineage(conn, parent_ref=P_HASH):
    add_candidate(conn, P_HASH, "baseline", None, "2026-01-01T10:00:00+00:00")
    add_candidate(conn, C_HASH, "fix-v1", parent_ref, "2026-01-01T12:00:00+00:00")


def pair(conn, role="heldout", base_role="heldout"):
    make_run(conn, "base", {str(i): [1.0 if i <= 4 else 0.0] for i in range(1, 11)},
             role=base_role, candidate_hash=P_HASH)
    make_run(conn, "cand", {str(i): [1.0] for i in range(1, 11)}, role=role,
             candidate_hash=C_HASH)


def test_views_inside_the_window_downgrade_heldout(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    view(conn, "3", "2026-01-01T09:59:59+00:00")   # before the parent was saved: fine
    view(conn, "7", "2026-01-01T11:00:00+00:00")   # while drafting: leak
    view(conn, "5", "2026-01-01T11:30:00Z")        # while drafting, other time format: leak
    view(conn, "9", "2026-01-01T12:00:01+00:00")   # after the candidate was saved: fine
    view(conn, "2", "2026-01-01T11:00:00+00:00", domain="airline")  # another domain
    pair(conn)
    r = evaluate(conn, "base", "cand")
    assert r.role.claimed == "heldout"
    assert r.evidence_role == "development"
    assert r.role.leaked_tasks == ["5", "7"]
    assert any("downgraded from heldout to development" in x for x in r.role.reasons)
    assert r.to_dict()["leaked_tasks"] == ["5", "7"]


def test_clean_heldout_stays_heldout(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn)
    view(conn, "3", "2026-01-01T09:00:00+00:00")
    pair(conn)
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "heldout" and r.role.leaked_tasks == []


def test_parent_given_by_name(tmp_path):
    conn = new_store(tmp_path)
    lineage(conn, parent_ref="baseline")
    w = drafting_window(conn, C_HASH)
    assert w.start.isoformat() == "2026-01-01T10:00:00+00:00"
    assert w.end.isoformat() == "2026-01-01T12:00:00+00:00"
    view(conn, "4", "2026-01-01T10:30:00+00:00")
    assert leaked_tasks(conn, C_HASH, "mini-retail", ["1", "4", "8"]) == ["4"]


def test_unknown_parent_means_every_earlier_view_counts(tmp_path):
    conn = new_store(tmp_path)
    add_candidate(conn, C_HASH, "fix-v1", "no-such-parent", "2026-01-01T12:00:00+00:00")
    view(conn, "4", "2020-01-01T00:00:00+00:00")
    w = drafting_window(conn, C_HASH)
    assert w.start is None and any("not saved" in n for n in w.notes)
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


def test_run_without_candidate_has_no_window(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", {"1": [0.0]}, role="transfer")
    make_run(conn, "cand", {"1": [1.0]}, role="transfer")
    view(conn, "1", "2026-01-01T11:00:00+00:00")
    r = evaluate(conn, "base", "cand")
    assert r.evidence_role == "transfer" and r.role.leaked_tasks == []


def test_parent_only_in_front_matter(tmp_path):
    # the engine records a run's candidate with parent_hash NULL when the front matter names
    # the parent; the guard reads the front matter then
    conn = new_store(tmp_path)
    add_candidate(conn, P_HASH, "baseline", None, "2026-01-01T10:00:00+00:00")
    conn.execute("INSERT INTO candidates (candidate_hash, name, parent_hash, body, "
                 "front_matter_json, saved_at) VALUES (?,?,?,?,?,?)",
                 (C_HASH, "fix-v1", None, "b", '{"name": "fix-v1", "parent": "baseline"}',
                  "2026-01-01T12:00:00+00:00"))
    w = drafting_window(conn, C_HASH)
    assert w.start is not None and w.start.hour == 10
    view(conn, "1", "2026-01-01T09:00:00+00:00")
    view(conn, "2", "2026-01-01T11:00:00+00:00")
    assert leaked_tasks(conn, C_HASH, "mini-retail", ["1", "2"]) == ["2"]
    pair(conn)
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
    assert leaked_tasks(conn, C_HASH, "mini-retail", ["6", "8", "9"]) == ["6", "8"]
