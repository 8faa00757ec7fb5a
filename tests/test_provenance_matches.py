"""Re-import matching (store/provenance._matches) is a join, not two table scans per new
episode (#18: a 10k-simulation import spent ~20 CPU-s there): the statements it runs do not
grow with the number of episodes, and it finds the same matches."""

from __future__ import annotations

from test_store_data import make_results, write_json

import store
from store.importers import import_paths
from store.provenance import _matches


def test_matches_by_sim_id_and_by_trajectory_in_a_fixed_number_of_statements(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    first = make_results(60)
    again = make_results(60)
    again["timestamp"] = "another file"               # another sha: imported, not a duplicate
    for i, sim in enumerate(again["simulations"]):
        if i % 2:
            sim["id"] = f"renamed-{i}"                 # no sim id match: same trajectory
    for name, doc in (("a", first), ("b", again)):
        res = import_paths(db, [write_json(tmp_path / f"{name}.json", doc)])
        assert not res["rejected"], res
    conn = db.conn
    runs = [r for (r,) in conn.execute("SELECT run_id FROM runs ORDER BY rowid")]
    statements = []
    conn.set_trace_callback(statements.append)
    try:
        found = _matches(conn, runs[1])
    finally:
        conn.set_trace_callback(None)
    old = dict(conn.execute("SELECT ord, episode_id FROM episodes WHERE run_id = ?",
                            (runs[0],)).fetchall())
    new = dict(conn.execute("SELECT episode_id, ord FROM episodes WHERE run_id = ?",
                            (runs[1],)).fetchall())
    assert len(found) == 60
    by_sim = {e: o for e, o in found.items() if new[e] % 2 == 0}
    assert all(old[new[e]] == o for e, o in by_sim.items())  # the same simulation's episode
    # the renamed ones match an episode with the same trajectory (make_results repeats tasks)
    selects = [s for s in statements if "FROM episodes" in s]
    assert len(selects) <= 3, selects[:5]
