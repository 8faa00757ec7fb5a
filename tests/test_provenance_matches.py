"""Re-import matching (store/provenance.py) reads the store once, whatever the file's size."""

from __future__ import annotations

from test_store_data import make_results, write_json

import store
from store import provenance
from store.importers import import_path


def _statements(conn, fn):
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        return fn(), seen
    finally:
        conn.set_trace_callback(None)


def test_matches_reads_the_other_runs_once_not_per_episode(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    base = make_results(6)
    import_path(db, write_json(tmp_path / "a.json", base))
    again = make_results(40)
    for s in again["simulations"]:
        s["id"] = f"other-{s['id']}"  # no simulation id in common
    again["simulations"][0]["id"] = base["simulations"][1]["id"]  # one shared id
    rid = import_path(db, write_json(tmp_path / "b.json", again))["run_id"]
    conn = db.conn
    matches, stmts = _statements(conn, lambda: provenance._matches(conn, rid))
    eid = {k: e for e, k in conn.execute("SELECT episode_id, sim_id FROM episodes")}
    old = dict(conn.execute("SELECT sim_id, episode_id FROM episodes WHERE run_id != ?",
                            (rid,)))
    # by simulation id: the shared one; by trajectory hash: the rest of the same content
    assert matches[eid[base["simulations"][1]["id"]]] == old[base["simulations"][1]["id"]]
    for i in range(1, 6):  # the same trajectories (tool call ids differ from #6 on)
        assert matches[eid[f"other-sim-{i:04d}"]] == old[f"sim-{i:04d}"]
    assert len(matches) == 6
    # reads: the new run, one pass over the others, then trajectory hashes (one per episode
    # hashed, bounded by the distinct episodes involved) - never a table scan per episode
    # (and the runs whose ids are no evidence: one read of the runs table)
    scans = [s for s in stmts if "FROM steps" not in s and "FROM runs" not in s]
    assert len(scans) == 2, scans
    assert len([s for s in stmts if "FROM runs" in s]) == 1
