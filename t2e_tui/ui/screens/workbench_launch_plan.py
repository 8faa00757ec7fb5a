"""What the rerun launcher computes before launch, without textual: the form's values, the
expected steps per episode (for the cost estimate) and the baseline run's task set."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

ROLES = ["discovery", "development", "heldout", "transfer", "synthetic"]
DOMAINS = ["mini-retail", "tau2-retail", "mini-airline", "tau2-airline"]
DEFAULT_STEPS = 20  # expected steps per episode when no baseline run says better


@dataclass
class LaunchForm:
    candidate: str
    baseline_run: str | None
    domain: str
    tasks: str
    trials: int
    concurrency: int
    model: str
    user: str
    role: str


@dataclass
class Estimate:
    """What planning a form found: the plan (None when refused, with `error` saying why), the
    expected steps per episode, the tasks viewed before the candidate was saved, whether the
    tasks miss a registered heldout set, how they differ from the baseline run's (extra,
    missing) and the baseline's task spec when the empty tasks field was filled from it."""

    plan: Any = None
    error: Exception | None = None
    steps: float = 0.0
    leaked: list[str] = field(default_factory=list)
    no_set: bool = False
    mismatch: tuple[int, int] | None = None
    spec: str | None = None


def plan_estimate(store_path: Any, candidates_dir: Any, f: LaunchForm,
                  selection: dict | None, fill_tasks: bool) -> Estimate:
    """Plan the form's run against the store (nothing is written). Reads the store, so the
    launcher calls it from a thread worker, never on the UI thread. With `fill_tasks` the
    baseline run's task spec (else "heldout") stands for the empty tasks field."""
    from store import connect

    from ... import run_queries as rq
    from ...engine.plan import plan_run
    from ...gate import leaked_tasks
    from ...gate.heldout import find_set

    est = Estimate()
    conn = connect(store_path)
    try:
        if fill_tasks:
            est.spec = rq.baseline_tasks(conn, f.baseline_run) or "heldout"
            f = replace(f, tasks=est.spec)
        if not f.candidate:
            raise ValueError("no candidate given")
        plan = plan_run(domain=f.domain, candidate=f.candidate,
                        candidates_dir=str(candidates_dir), tasks=f.tasks, trials=f.trials,
                        concurrency=f.concurrency, model=f.model, user=f.user, role=f.role,
                        store_conn=conn, name=run_name(f), task_selection=selection)
        if f.baseline_run and not rq.run_exists(conn, f.baseline_run):
            raise ValueError(f"baseline run {f.baseline_run!r}: no such run in this store")
        est.steps = rq.expected_steps(conn, f.baseline_run)
        est.leaked = leaked_tasks(conn, plan.candidate.hash, f.domain, plan.task_ids)
        # a heldout claim is clean only on exactly a registered set (README: the rule)
        est.no_set = (f.role in ("heldout", "transfer")
                      and find_set(conn, f.domain, set(plan.task_ids)) is None)
        if f.baseline_run:
            base = rq.run_task_ids(conn, f.baseline_run)
            if base and base != set(plan.task_ids):
                est.mismatch = (len(set(plan.task_ids) - base), len(base - set(plan.task_ids)))
        est.plan = plan
    except Exception as exc:  # noqa: BLE001 - every refusal is shown, not raised
        est.error = exc
    finally:
        conn.close()
    return est


def run_name(f: LaunchForm) -> str:
    """`<candidate> <tasks>`, e.g. `cross-order-v2 heldout`, as the demo names its runs."""
    tasks = f.tasks if len(f.tasks) <= 24 else f"{len(f.tasks.split(','))} tasks"
    return f"{f.candidate} {tasks}"


def outcome_selection(filter_name: str | None, termination: str | None, task_ids: list[str],
                      runs: list[str] | None = None) -> dict | None:
    """The manifest's `task_selection` for tasks taken from a filtered tasks view, or None when
    the view is unfiltered. Every filter of that screen (regressed, fixed, failed, flaky, a
    termination reason) keeps tasks by how they came out, so a rerun on them is chosen
    evidence: the gate downgrades a heldout claim on it to development."""
    if (not filter_name or filter_name == "all") and not termination:
        return None
    return {"by": "outcome_filter", "filter": filter_name or "all", "termination": termination,
            "screen": "tasks", "runs": [r for r in (runs or []) if r],
            "tasks": len(task_ids)}
