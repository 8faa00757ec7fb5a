"""What the rerun launcher computes before launch, without textual: the form's values, the
expected steps per episode (for the cost estimate) and the baseline run's task set."""

from __future__ import annotations

from dataclasses import dataclass

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
