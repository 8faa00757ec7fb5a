"""The injected cause of a scripted mini-retail failure and the class the classifier should
give it (the accuracy test and bench/failures.py). The scripted agent is a deterministic
stand-in: this measures the classifier, not any model."""

from __future__ import annotations

EXPECTED = {
    "auth_skipped": {"auth_skipped"},
    "write_without_confirmation": {"unconfirmed_write"},
    "cross_order_reference": {"missing_write"},
    "address_from_account": {"missing_write"},
    "cancelled_order_tracking": {"reasoning_error"},
    "multi_intent": {"missing_write", "communicate_miss"},
    "policy_refusal": {"extra_write"},
    "transfer_to_human": {"wrong_claim"},
    "transfer_upset": {"ended_early"},
    "skip_confirmation": {"unconfirmed_write"},
}


def injected_cause(task: dict, behaviours) -> str:
    """Why the scripted agent with `behaviours` fails `task` (a tau2 task dict with `t2e`)."""
    t2e = task.get("t2e") or {}
    cls = t2e.get("failure_class")
    mood = (t2e.get("scenario") or {}).get("mood")
    if behaviours.transfer_upset and mood == "frustrated":
        return "transfer_upset"
    if behaviours.skip_confirmation and cls == "write_without_confirmation":
        return "skip_confirmation"
    return cls


def confusion(conn, run_id: str, behaviours) -> dict:
    """{(cause, top class): count} over the run's failed episodes (infrastructure excluded)."""
    import json

    from .cache import analyse_run

    tasks = {tid: json.loads(tj) for tid, tj in conn.execute(
        "SELECT task_id, task_json FROM tasks WHERE run_id = ?", (run_id,))}
    out: dict = {}
    for a in analyse_run(conn, run_id, with_labels=False):
        if a.infra:
            continue
        key = (injected_cause(tasks[a.task_id], behaviours), a.top)
        out[key] = out.get(key, 0) + 1
    return out


def accuracy(table: dict) -> float:
    total = sum(table.values())
    hit = sum(n for (cause, top), n in table.items() if top in EXPECTED.get(cause, ()))
    return hit / total if total else 1.0
