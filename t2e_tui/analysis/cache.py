"""Classifier results cached in the store, keyed by classifier version, with human labels
applied on read (a human label wins in every view).

`analyse_run(conn, run_id)` classifies the run's failed episodes that have no result for the
current version yet, stores them, and returns every failed episode's Analysis.
"""

from __future__ import annotations

import json

from store import INFRA, now_iso

from .classify import CLASSIFIER_VERSION, Analysis, classify
from .labels import apply_labels, labels_for
from .trace import load_episodes

# failed = graded and not a success, or ended on infrastructure (shown apart, never counted)
FAILED_SQL = ("(e.reward IS NULL OR abs(e.reward - 1.0) > 1e-6 OR "
              f"e.termination_reason = '{INFRA}') AND e.status = 'done'")


def _conn(db):
    return getattr(db, "conn", db)


def failed_episode_ids(conn, run_id: str) -> list[int]:
    return [r[0] for r in _conn(conn).execute(
        f"SELECT e.episode_id FROM episodes e WHERE e.run_id = ? AND {FAILED_SQL} ORDER BY e.ord",
        (run_id,))]


def ensure_classified(db, run_id: str, version: str = CLASSIFIER_VERSION, classes=None) -> int:
    """Classify (and store) the failed episodes of `run_id` without a result for `version`.
    Returns how many were classified now. A run already done under `version` (same episode
    count and highest id) costs one indexed query."""
    conn = _conn(db)
    # index-only: the run's episode count and highest id; only a complete run is marked done
    n, top = conn.execute("SELECT count(*), max(episode_id) FROM episodes WHERE run_id = ?",
                          (run_id,)).fetchone()
    status = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    complete = status is not None and status[0] == "complete"
    done = conn.execute("SELECT n_episodes, max_episode_id FROM failure_analysis_runs WHERE"
                        " run_id = ? AND classifier_version = ?", (run_id, version)).fetchone()
    if complete and done is not None and tuple(done) == (n, top) and classes is None:
        return 0
    todo = [r[0] for r in conn.execute(
        f"SELECT e.episode_id FROM episodes e WHERE e.run_id = ? AND {FAILED_SQL} AND NOT EXISTS"
        " (SELECT 1 FROM failure_analyses f WHERE f.episode_id = e.episode_id AND"
        " f.classifier_version = ?) ORDER BY e.ord", (run_id, version))]
    if not todo:
        if complete:
            _mark_done(conn, run_id, version, n, top)
        return 0
    results = [classify(ep, classes) for ep in load_episodes(conn, todo)]
    now = now_iso()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for a in results:
            conn.execute(
                "INSERT OR REPLACE INTO failure_analyses (episode_id, classifier_version, run_id,"
                " top_class, first_step, result_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (a.episode_id, version, run_id, a.top,
                 (a.first_divergence or {}).get("step"), a.dumps(), now))
            conn.execute("DELETE FROM failure_analysis_classes WHERE episode_id = ? AND "
                         "classifier_version = ?", (a.episode_id, version))
            conn.executemany(
                "INSERT INTO failure_analysis_classes (episode_id, classifier_version, run_id, name,"
                " kind, rank) VALUES (?, ?, ?, ?, ?, ?)",
                [(a.episode_id, version, run_id, v.name, v.kind, i)
                 for i, v in enumerate(a.classes + a.flags)])
        if classes is None and complete:
            _mark_done(conn, run_id, version, n, top, in_tx=True)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(results)


def _mark_done(conn, run_id: str, version: str, n: int, top, in_tx: bool = False) -> None:
    sql = ("INSERT OR REPLACE INTO failure_analysis_runs (run_id, classifier_version, n_episodes,"
           " max_episode_id, n_failed) VALUES (?, ?, ?, ?, (SELECT count(*) FROM failure_analyses"
           " WHERE run_id = ? AND classifier_version = ? AND top_class != 'infrastructure'))")
    args = (run_id, version, n, top, run_id, version)
    if in_tx:
        conn.execute(sql, args)
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(sql, args)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def analyse_run(db, run_id: str, version: str = CLASSIFIER_VERSION, *,
                with_labels: bool = True) -> list[Analysis]:
    """Every failed episode's Analysis (classified now if not cached), labels applied."""
    conn = _conn(db)
    ensure_classified(conn, run_id, version)
    out = []
    for (text,) in conn.execute(
            "SELECT f.result_json FROM failure_analyses f JOIN episodes e ON e.episode_id ="
            " f.episode_id WHERE f.run_id = ? AND f.classifier_version = ? ORDER BY e.ord",
            (run_id, version)):
        out.append(Analysis.from_dict(json.loads(text)))
    if with_labels:
        apply_labels(out, labels_for(conn, [a.episode_id for a in out]))
    return out


def analysis_of(db, episode_id: int, version: str = CLASSIFIER_VERSION) -> Analysis | None:
    """One episode's Analysis (cached or computed now; None for a passing episode)."""
    conn = _conn(db)
    row = conn.execute("SELECT result_json FROM failure_analyses WHERE episode_id = ? AND "
                       "classifier_version = ?", (episode_id, version)).fetchone()
    if row:
        a = Analysis.from_dict(json.loads(row[0]))
    else:
        eps = load_episodes(conn, [episode_id])
        if not eps:
            return None
        a = classify(eps[0])
    if not a.classes:
        return None
    apply_labels([a], labels_for(conn, [episode_id]))
    return a


def class_counts(db, run_id: str, version: str = CLASSIFIER_VERSION, *,
                 ensure: bool = True) -> dict:
    """class -> failed episodes carrying it, from the index table (fast on big runs). Human
    labels are applied per labelled episode."""
    conn = _conn(db)
    if ensure:
        ensure_classified(conn, run_id, version)
    counts: dict = {}
    for name, n in conn.execute(
            "SELECT name, count(*) FROM failure_analysis_classes WHERE run_id = ? AND"
            " classifier_version = ? AND kind != 'infra' GROUP BY name", (run_id, version)):
        counts[name] = n
    labelled = [int(r[0].split(":")[0]) for r in conn.execute(
        "SELECT DISTINCT l.target_id FROM labels l JOIN episodes e ON e.episode_id ="
        " CAST(substr(l.target_id, 1, instr(l.target_id || ':', ':') - 1) AS INTEGER)"
        " WHERE e.run_id = ? AND l.kind IN ('failure_class', 'failure_class_reject')", (run_id,))]
    if labelled:
        for a in [analysis_of(conn, e, version) for e in sorted(set(labelled))]:
            if a is None:
                continue
            rule = [r[0] for r in conn.execute(
                "SELECT name FROM failure_analysis_classes WHERE episode_id = ? AND "
                "classifier_version = ?", (a.episode_id, version))]
            for n in rule:
                counts[n] = counts.get(n, 0) - 1
            for v in a.classes + a.flags:
                counts[v.name] = counts.get(v.name, 0) + 1
        counts = {k: v for k, v in counts.items() if v > 0}
    return counts
