"""Classifier results cached in the store, keyed by classifier version, with human labels
applied on read (a human label wins in every view).

`analyse_run(conn, run_id)` classifies the run's failed episodes that have no result for the
current version yet, stores them, and returns every failed episode's Analysis. Which episodes
are failed is the episode's outcome now (`outcome.FAILED_SQL`), read with every result: a
foreign run's rewards can be mapped after it was classified (`t2e gate --reward-attr`).
Unscored episodes (no reward) are never failed; what the classes that need no gold find in them
is kept apart, under `unscored_key(version)` (`unscored_findings`).
"""

from __future__ import annotations

import json

from store import now_iso

from .classify import CLASSIFIER_VERSION, UNCLASSIFIED, Analysis, classify
from .labels import apply_labels, labels_for
from .outcome import FAILED_SQL, UNSCORED, UNSCORED_SQL, is_failed, outcome
from .trace import load_episodes

__all__ = ["FAILED_SQL", "UNSCORED_SQL", "analyse_run", "analysis_of", "class_counts",
           "ensure_classified", "failed_episode_ids", "unscored_count", "unscored_findings",
           "unscored_key"]


def _conn(db):
    return getattr(db, "conn", db)


def unscored_key(version: str = CLASSIFIER_VERSION) -> str:
    """The cache key of the findings in unscored episodes (apart from the failures' key, so no
    reader of failures ever meets them)."""
    return f"{version}/unscored"


def failed_episode_ids(conn, run_id: str) -> list[int]:
    return [r[0] for r in _conn(conn).execute(
        f"SELECT e.episode_id FROM episodes e WHERE e.run_id = ? AND {FAILED_SQL} ORDER BY e.ord",
        (run_id,))]


def _rewards_can_change(conn, run_id: str) -> bool:
    """A foreign run's rewards are mapped after import (`--reward-attr`), which the episode
    count and highest id do not show."""
    row = conn.execute("SELECT grading FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return row is not None and row[0] == "foreign"


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
    if (complete and done is not None and tuple(done) == (n, top) and classes is None
            and not _rewards_can_change(conn, run_id)):
        return 0
    todo = []
    for where, key in ((FAILED_SQL, version), (UNSCORED_SQL, unscored_key(version))):
        todo += [(r[0], key) for r in conn.execute(
            f"SELECT e.episode_id FROM episodes e WHERE e.run_id = ? AND {where} AND NOT EXISTS"
            " (SELECT 1 FROM failure_analyses f WHERE f.episode_id = e.episode_id AND"
            " f.classifier_version = ?) ORDER BY e.ord", (run_id, key))]
    if not todo:
        if complete:
            _mark_done(conn, run_id, version, n, top)
        return 0
    keys = dict(todo)
    results = [classify(ep, classes) for ep in load_episodes(conn, [e for e, _ in todo])]
    now = now_iso()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for a in results:
            key = keys[a.episode_id]
            conn.execute(
                "INSERT OR REPLACE INTO failure_analyses (episode_id, classifier_version, run_id,"
                " top_class, first_step, result_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (a.episode_id, key, run_id, a.top,
                 (a.first_divergence or {}).get("step"), a.dumps(), now))
            conn.execute("DELETE FROM failure_analysis_classes WHERE episode_id = ? AND "
                         "classifier_version = ?", (a.episode_id, key))
            conn.executemany(
                "INSERT INTO failure_analysis_classes (episode_id, classifier_version, run_id, name,"
                " kind, rank) VALUES (?, ?, ?, ?, ?, ?)",
                [(a.episode_id, key, run_id, v.name, v.kind, i)
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
           " f JOIN episodes e ON e.episode_id = f.episode_id WHERE f.run_id = ? AND"
           f" f.classifier_version = ? AND f.top_class != 'infrastructure' AND {FAILED_SQL}))")
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
    out = _read(conn, run_id, version, FAILED_SQL)
    if with_labels:
        apply_labels(out, labels_for(conn, [a.episode_id for a in out]))
    return out


def _read(conn, run_id: str, key: str, where: str) -> list[Analysis]:
    out = []
    for text, reward in conn.execute(
            "SELECT f.result_json, e.reward FROM failure_analyses f JOIN episodes e ON"
            " e.episode_id = f.episode_id WHERE f.run_id = ? AND f.classifier_version = ? AND"
            f" {where} ORDER BY e.ord", (run_id, key)):
        a = Analysis.from_dict(json.loads(text))
        a.reward = reward       # the reward now (a mapped one may have changed)
        out.append(a)
    return out


def unscored_findings(db, run_id: str, version: str = CLASSIFIER_VERSION) -> list[Analysis]:
    """The run's unscored episodes in which a class holds (classified now if not cached):
    what the classes that need no gold found, human labels applied (a rejected class goes, an
    added one counts): findings, not failures."""
    conn = _conn(db)
    ensure_classified(conn, run_id, version)
    found = _read(conn, run_id, unscored_key(version), UNSCORED_SQL)
    return [a for a in _labelled_findings(conn, found) if a.classes]


def _labelled_findings(conn, found: list[Analysis]) -> list[Analysis]:
    """Unscored episodes' findings with their human labels applied; an episode whose every
    finding a human rejected has none left (never `unclassified`: nothing failed)."""
    apply_labels(found, labels_for(conn, [a.episode_id for a in found]))
    for a in found:
        a.classes = [v for v in a.classes if v.name != UNCLASSIFIED]
    return found


def unscored_count(db, run_id: str) -> int:
    """Finished episodes of the run with no reward (infrastructure errors aside)."""
    return _conn(db).execute(f"SELECT count(*) FROM episodes e WHERE e.run_id = ? AND "
                             f"{UNSCORED_SQL}", (run_id,)).fetchone()[0]


def _outcome_row(conn, episode_id: int):
    return conn.execute("SELECT reward, termination_reason, status FROM episodes WHERE "
                        "episode_id = ?", (episode_id,)).fetchone()


def analysis_of(db, episode_id: int, version: str = CLASSIFIER_VERSION, *,
                unscored: bool = False) -> Analysis | None:
    """One failed episode's Analysis (cached or computed now); None for an episode that did
    not fail: passed, running, or unscored (no reward). With `unscored`, the findings of an
    unscored episode instead (None when it is scored or nothing was found)."""
    conn = _conn(db)
    row = _outcome_row(conn, episode_id)
    if row is None:
        return None
    if (outcome(*row) != UNSCORED) if unscored else not is_failed(*row):
        return None
    key = unscored_key(version) if unscored else version
    cached = conn.execute("SELECT result_json FROM failure_analyses WHERE episode_id = ? AND "
                          "classifier_version = ?", (episode_id, key)).fetchone()
    if cached:
        a = Analysis.from_dict(json.loads(cached[0]))
        a.reward = row[0]
    else:
        eps = load_episodes(conn, [episode_id])
        if not eps:
            return None
        a = classify(eps[0])
    if unscored:
        _labelled_findings(conn, [a])
    elif a.classes:
        apply_labels([a], labels_for(conn, [episode_id]))
    return a if a.classes else None


def class_counts(db, run_id: str, version: str = CLASSIFIER_VERSION, *,
                 ensure: bool = True) -> dict:
    """class -> failed episodes carrying it, from the index table (fast on big runs). Human
    labels are applied per labelled episode."""
    conn = _conn(db)
    if ensure:
        ensure_classified(conn, run_id, version)
    counts: dict = {}
    for name, n in conn.execute(
            "SELECT c.name, count(*) FROM failure_analysis_classes c JOIN episodes e ON"
            " e.episode_id = c.episode_id WHERE c.run_id = ? AND c.classifier_version = ? AND"
            f" c.kind != 'infra' AND {FAILED_SQL} GROUP BY c.name", (run_id, version)):
        counts[name] = n
    labelled = [int(r[0].split(":")[0]) for r in conn.execute(
        "SELECT DISTINCT l.target_id FROM labels l JOIN episodes e ON e.episode_id ="
        " CAST(substr(l.target_id, 1, instr(l.target_id || ':', ':') - 1) AS INTEGER)"
        " WHERE e.run_id = ? AND l.kind IN ('failure_class', 'failure_class_reject') AND"
        f" {FAILED_SQL}", (run_id,))]
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
