"""Flywheel figures: per candidate version of the lineage (each cycle), the failures found by
class, the tasks fixed and newly regressed against its parent, the regression-set pass rate,
and the improvement rate (share of the parent's failing tasks it fixed).

A point compares like with like. The chart's *basis* is one task set (domain, the run's
tasks, agent model): the one most versions have a complete run on (ties: the larger set,
then the newest run). A version's point is its newest complete run on the basis, and its
parent's run is the parent's point; a version with no run there is a gap (`·`), never a
partial rerun (a task rerun of 3 trials) plotted against whole heldout runs. Synthetic runs
(never evidence) and transfer runs (another domain's check, not this cycle's) are left out.
`flywheel_chart` is what the CLI (`t2e flywheel`) and the app (the failures screen's view 4)
both show, and why it is empty."""

from __future__ import annotations

from store import INFRA

from ..standin import agent_models, is_stand_in
from .cache import class_counts
from .regression import latest, list_sets

SPARK = "▁▂▃▄▅▆▇█"


def _conn(db):
    return getattr(db, "conn", db)


def _runs(conn) -> list[tuple]:
    """Complete, non-synthetic, non-transfer runs of saved versions, newest first:
    (run id, candidate hash, basis key (domain, agent model, task ids))."""
    rows = conn.execute(
        "SELECT r.run_id, r.candidate_hash, r.domain, r.agent_model FROM runs r JOIN candidates c"
        " ON c.candidate_hash = r.candidate_hash WHERE r.status = 'complete' AND r.role NOT IN"
        " ('synthetic', 'transfer') ORDER BY r.created_at DESC, r.rowid DESC").fetchall()
    tasks: dict[str, set] = {}
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 900):  # under SQLite's variable limit
        chunk = ids[i:i + 900]
        marks = ",".join("?" * len(chunk))
        # the run's task list; a run without one (none of ours): the tasks it played
        for rid, tid in conn.execute(
                f"SELECT run_id, task_id FROM tasks WHERE run_id IN ({marks}) UNION SELECT"
                f" run_id, coalesce(likely_task_id, task_id) FROM episodes WHERE run_id IN"
                f" ({marks}) AND run_id NOT IN (SELECT run_id FROM tasks WHERE run_id IN"
                f" ({marks}))", chunk * 3):
            tasks.setdefault(rid, set()).add(tid)
    return [(rid, chash, (domain, agent, frozenset(tasks.get(rid, ()))))
            for rid, chash, domain, agent in rows]


def _basis(runs: list[tuple], hashes: set) -> tuple | None:
    """The task set most versions ran (ties: the larger set, then the newest run)."""
    seen: dict[tuple, set] = {}
    order: dict[tuple, int] = {}
    for i, (_, chash, key) in enumerate(runs):
        if chash in hashes and key[2]:
            seen.setdefault(key, set()).add(chash)
            order.setdefault(key, -i)   # newest first: a smaller index is newer
    if not seen:
        return None
    return max(seen, key=lambda k: (len(seen[k]), len(k[2]), order[k]))


# (what, what to do): both fit the app's two note lines at 80 columns
NO_VERSIONS = ("no candidate versions yet",
               "imported runs carry none; save one (t2e candidate save FILE), then run it "
               "(t2e run --candidate NAME)")
ONLY_ABLATIONS = ("only ablation variants saved",
                  "experiments, not cycles; save a version (t2e candidate save FILE), then "
                  "run it (t2e run --candidate NAME)")


def basis_text(basis: dict | None) -> str:
    """Which run each point is, in words (CLI and app)."""
    if basis is None:
        return ("no version has a complete run yet: run one (t2e run --candidate NAME); "
                "each point will be its newest complete run on one task set")
    return (f"points: each version's newest complete run on the same {basis['tasks']} "
            f"{basis['domain'] or 'no domain'} tasks, agent {basis['agent_model'] or '-'} (the "
            f"set most versions ran; {basis['left_out']} run(s) on other sets left out)")


def _task_pass(conn, run_id: str) -> dict:
    """task -> passes (every finished, non-infrastructure, scored trial succeeded; a task with
    no scored trial is left out: unscored is neither passed nor failed)."""
    out: dict = {}
    for tid, ok in conn.execute(
            "SELECT coalesce(likely_task_id, task_id), success FROM episodes WHERE run_id = ? AND"
            " status = 'done' AND coalesce(termination_reason, '') != ? AND reward IS NOT NULL",
            (run_id, INFRA)):
        out[tid] = out.get(tid, True) and bool(ok)
    return out


def _regression_rate(conn, run_id: str) -> float | None:
    passes = _task_pass(conn, run_id)
    domain = conn.execute("SELECT domain FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
    items = [i for s in list_sets(conn) for i in (latest(conn, s["name"]) or {}).get("items", [])
             if i["domain"] == domain and i["task_id"] in passes]
    if not items:
        return None
    return sum(1 for i in items if passes[i["task_id"]]) / len(items)


def flywheel(db) -> list[dict]:
    """One row per lineage version (ablation variants left out), in lineage order."""
    return flywheel_chart(db)["rows"]


def flywheel_chart(db) -> dict:
    """What the flywheel shows (`t2e flywheel` and the app alike): {"rows": one per lineage
    version (ablation variants left out), in lineage order; "basis": {domain, tasks,
    agent_model, left_out} the points' task set, or None; "empty": (what, what to do) when
    there are no rows, else None}."""
    from ..candidate_versions import lineage

    conn = _conn(db)
    versions = lineage(conn)
    kept = [v for v in versions if not v["ablation"]]
    if not kept:
        return {"rows": [], "basis": None, "empty": ONLY_ABLATIONS if versions else NO_VERSIONS}
    runs = _runs(conn)
    key = _basis(runs, {v["hash"] for v in kept})
    point: dict[str, str] = {}
    elsewhere: dict[str, int] = {}
    for rid, chash, k in runs:
        if k == key:
            point.setdefault(chash, rid)    # newest first
        else:
            elsewhere[chash] = elsewhere.get(chash, 0) + 1
    out = []
    for v in kept:
        run, parent_run = point.get(v["hash"]), point.get(v["parent_hash"])
        row = {"version": v["name"], "hash": v["short"], "parent": v["parent"], "run_id": run,
               "parent_run_id": parent_run, "runs_elsewhere": elsewhere.get(v["hash"], 0),
               "found": {}, "failed_tasks": None, "fixed": [], "regressed": [],
               "regression_set_pass_rate": None, "improvement_rate": None}
        if run is not None:
            row["found"] = class_counts(conn, run)
            now = _task_pass(conn, run)
            row["failed_tasks"] = sum(1 for ok in now.values() if not ok)
            row["regression_set_pass_rate"] = _regression_rate(conn, run)
            if parent_run is not None:
                before = _task_pass(conn, parent_run)
                shared = sorted(set(now) & set(before))
                row["fixed"] = [t for t in shared if now[t] and not before[t]]
                row["regressed"] = [t for t in shared if before[t] and not now[t]]
                failing_before = sum(1 for t in shared if not before[t])
                row["improvement_rate"] = (len(row["fixed"]) / failing_before
                                           if failing_before else None)
        out.append(row)
    # whose figures these are: the version's run's agent (the stand-in's prove nothing)
    models = agent_models(conn, [r["run_id"] for r in out])
    for row in out:
        row["agent_model"] = models.get(row["run_id"])
        row["stand_in"] = is_stand_in(row["agent_model"])
    basis = None if key is None else {
        "domain": key[0], "agent_model": key[1], "tasks": len(key[2]),
        "left_out": sum(r["runs_elsewhere"] for r in out)}
    return {"rows": out, "basis": basis, "empty": None}


def class_sparklines(rows: list[dict]) -> list[tuple[str, str, list]]:
    """[(class, sparkline across versions, counts)]: each class scaled to its own peak;
    `·` = the version has no run."""
    names = sorted({n for r in rows for n in r["found"]})
    out = []
    for n in names:
        counts = [r["found"].get(n, 0) if r["run_id"] else None for r in rows]
        peak = max([c for c in counts if c] or [1])
        line = "".join("·" if c is None else SPARK[min(7, round(7 * c / peak))] if c else " "
                       for c in counts)
        out.append((n, line, counts))
    return out
