"""The gate's grader check: recorded rewards from incompatible tau2 graders are not compared.

Two imported runs graded by different tau2 versions (or commits, when no version is recorded),
or one graded ignoring the tasks' reward_basis, differ for reasons that have nothing to do with
the agent. The gate refuses them unless the user passes `--allow-grader-mismatch`. Graders
that cannot be checked equal (one file records its version or commit, the other does not) cap
the verdict at inconclusive, as a setting recorded by one run only does.
"""

from __future__ import annotations

from typing import Any

from store import grader as store_grader
from store.queries import resolve_run
from store.writer import conn_of

from ..errors import T2EError
from .runs import RunInfo


def check_graders(db: Any, baseline: str, candidate: str, *, allow: bool = False) -> str | None:
    """Raise T2EError (exit 2) naming both graders when they are incompatible; with `allow`,
    return the reason instead (None when they are compatible)."""
    conn = conn_of(db)
    try:
        a, b = resolve_run(conn, baseline), resolve_run(conn, candidate)
    except Exception:  # noqa: BLE001 - unknown runs: the gate itself says so
        return None
    why = store_grader.mismatch(store_grader.of_run(conn, a), store_grader.of_run(conn, b))
    if why and not allow:
        raise T2EError(f"refusing to compare: the recorded rewards were {why}; their "
                       "difference may come from the grader, not the agent "
                       "(--allow-grader-mismatch compares them anyway)", 2)
    return why


def unverified_grader(conn: Any, b: RunInfo, c: RunInfo) -> str | None:
    """Why the verdict is inconclusive at most because the two runs' graders cannot be
    checked equal (one file records its tau2 version or commit, the other does not: the
    settings rule, gate/settings.py, applied to the grader), naming each run's; None when
    they can be, or neither records one. `--allow-grader-mismatch` does not lift it: it lets
    through graders known to differ, and nothing is known here."""
    gb, gc = store_grader.of_run(conn, b.run_id), store_grader.of_run(conn, c.run_id)
    if store_grader.unverified(gb, gc) is None:
        return None
    return (f"grader not recorded alike, so not checked equal (baseline {b.label()}: "
            f"{store_grader.describe(gb)}; candidate {c.label()}: "
            f"{store_grader.describe(gc)}): the rewards may come from different graders; "
            f"inconclusive at most (make both files record info.tau2_version or "
            f"info.git_commit)")


def apply_reward_attr(db: Any, baseline: str, candidate: str, name: str) -> list[str]:
    """Map attribute `name` to the reward of both runs' episodes (foreign traces have no
    gold); returns warnings. T2EError (exit 2) when a run has no such outcome at all, and then
    neither run is changed (both are mapped in one transaction, once both can be)."""
    from store.outcomes import reward_mapping, write_reward_mappings

    conn = conn_of(db)
    warnings, mappings = [], []
    for ref in (baseline, candidate):
        res = reward_mapping(conn, resolve_run(conn, ref), name)
        if not res["mapped"]:
            seen = ", ".join(res["seen"][:12]) or "none"
            bad = (f"; {res['unusable']} carry values that are no outcome (not a finite "
                   "number or a pass/fail word)") if res["unusable"] else ""
            raise T2EError(f"no episode of run {ref!r} carries an outcome in attribute "
                           f"{name!r} (attributes seen: {seen}){bad}", 2)
        if res["missing"]:
            warnings.append(f"{ref}: {res['missing']} episode(s) lack {name!r} and stay "
                            "unscored")
        if res["unusable"]:
            warnings.append(f"{ref}: {res['unusable']} episode(s) carry {name!r} values that "
                            "are no outcome (not a finite number or a pass/fail word) and stay "
                            "unscored")
        mappings.append(res)
    write_reward_mappings(conn, mappings)
    return warnings
