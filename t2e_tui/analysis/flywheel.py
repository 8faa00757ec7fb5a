"""Flywheel figures: per candidate version of the lineage (each cycle), the failures found by
class, the tasks fixed and newly regressed against its parent, the regression-set pass rate,
and the improvement rate (share of the parent's failing tasks it fixed).

A version's run is the candidate run of its latest gate row, else its latest complete run;
its parent's run is that gate row's baseline, else the parent's latest complete run.
Synthetic runs (never evidence) and transfer runs (another domain's check, not this cycle's)
are left out. `flywheel_chart` is what the CLI (`t2e flywheel`) and the app (the failures
screen's view 4) both show, and why it is empty."""

from __future__ import annotations

from store import INFRA

from ..standin import agent_models, is_stand_in
from .cache import class_counts
from .regression import latest, list_sets

SPARK = "▁▂▃▄▅▆▇█"


def _conn(db):
    return getattr(db, "conn", db)


def _latest_run(conn, chash: str | None) -> str | None:
    if chash is None:
        return None
    row = conn.execute("SELECT run_id FROM runs WHERE candidate_hash = ? AND status = 'complete'"
                       " AND role NOT IN ('synthetic', 'transfer') ORDER BY created_at DESC LIMIT 1", (chash,)).fetchone()
    return row[0] if row else None


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


# (what, what to do): both fit the app's two note lines at 80 columns
NO_VERSIONS = ("no candidate versions yet",
               "imported runs carry none; save one (t2e candidate save FILE), then run it "
               "(t2e run --candidate NAME)")
ONLY_ABLATIONS = ("only ablation variants saved",
                  "experiments, not cycles; save a version (t2e candidate save FILE), then "
                  "run it (t2e run --candidate NAME)")


def flywheel(db) -> list[dict]:
    """One row per lineage version (ablation variants left out), in lineage order."""
    return flywheel_chart(db)["rows"]


def flywheel_chart(db) -> dict:
    """What the flywheel shows (`t2e flywheel` and the app alike): {"rows": one per lineage
    version (ablation variants left out), in lineage order; "basis": None; "empty": (what,
    what to do) when there are no rows, else None}."""
    from ..candidate_versions import lineage

    conn = _conn(db)
    versions = lineage(conn)
    kept = [v for v in versions if not v["ablation"]]
    if not kept:
        return {"rows": [], "basis": None, "empty": ONLY_ABLATIONS if versions else NO_VERSIONS}
    out = []
    for v in kept:
        gate = v.get("gate") or {}
        run = gate.get("candidate_run") or _latest_run(conn, v["hash"])
        parent_run = gate.get("baseline_run") or _latest_run(conn, v["parent_hash"])
        row = {"version": v["name"], "hash": v["short"], "parent": v["parent"], "run_id": run,
               "parent_run_id": parent_run, "found": {}, "failed_tasks": None, "fixed": [],
               "regressed": [], "regression_set_pass_rate": None, "improvement_rate": None}
        if run is not None and conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run,)).fetchone():
            row["found"] = class_counts(conn, run)
            now = _task_pass(conn, run)
            row["failed_tasks"] = sum(1 for ok in now.values() if not ok)
            row["regression_set_pass_rate"] = _regression_rate(conn, run)
            if parent_run is not None and conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                                       (parent_run,)).fetchone():
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
    return {"rows": out, "basis": None, "empty": None}


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
