"""The `regression_set_clean` check (#13): a candidate that fails any item of a regression set
is not promoted. Kept apart from checks.py; rules.py appends it to the checks list.

Which sets: every regression set (latest version) with items in the candidate run's domain.
The check's texts name each set with its version, so the scoreboard row (checks_json) records
which versions the verdict was made against."""

from __future__ import annotations

from store import INFRA

from .checks import Check

NAME = "regression_set_clean"


def regression_checks(conn, cmp, policy) -> list[Check]:
    """[the regression_set_clean Check], or [] when no set covers the candidate's domain (so a
    store without regression sets gates exactly as before)."""
    if conn.execute("SELECT 1 FROM regression_sets LIMIT 1").fetchone() is None:
        return []  # no set at all: the analysis package is not even imported
    from ..analysis.regression import latest, list_sets

    run = cmp.candidate
    domain = run.domain
    sets = [latest(conn, s["name"]) for s in list_sets(conn)]
    sets = [s for s in sets if s and any(i["domain"] == domain for i in s["items"])]
    if not sets:
        return []
    outcomes: dict = {}
    for tid, reward in conn.execute(
            "SELECT coalesce(likely_task_id, task_id), reward FROM episodes WHERE run_id = ? AND"
            " status = 'done' AND coalesce(termination_reason, '') != ?",
            (run.run_id, INFRA)):
        outcomes.setdefault(tid, []).append(reward is not None and abs(reward - 1.0) <= 1e-6)
    failing, run_items, not_run, names = [], 0, [], []
    for s in sets:
        names.append(f"{s['name']} v{s['version']}")
        for i in s["items"]:
            if i["domain"] != domain:
                continue
            if i["task_id"] not in outcomes:
                not_run.append(i["task_id"])
                continue
            run_items += 1
            if not all(outcomes[i["task_id"]]):
                failing.append(i["task_id"])
    failing = sorted(set(failing))
    detail = (f"{', '.join(names)}: {run_items} item(s) run, {len(failing)} failing"
              + (f": {', '.join(failing)}" if failing else "")
              + (f"; {len(set(not_run))} not run by the candidate" if not_run else ""))
    return [Check(NAME, not failing, run_items, len(failing), failing, detail,
                  unit="regression-set items (baseline: run; candidate: failing)",
                  baseline_text=f"{', '.join(names)}: {run_items} run",
                  candidate_text=f"{len(failing)} failing")]
