"""The gate's side of pre-registered heldout sets: which set a comparison judges, whether the
registration came first, the first-run rule (seed shopping) and alpha spending across the
candidates a set has judged (candidate shopping).

The rule, as the README states it: a comparison is clean heldout only when its tasks are
exactly a set registered (`t2e heldout register`) before the candidate was saved and before
either run was made, neither run is a re-roll (each is the first run of its agent on the set),
and no task of the set was viewed before the candidate was saved. The k-th candidate judged on
a set is tested at alpha * 6 / (pi^2 k^2): the levels sum to alpha, so however many candidates
are tried on one set, the chance that any no-op is promoted stays at most alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.heldout import list_sets
from world.domains import world_key

from .runs import RunInfo
from .times import parse_time


@dataclass
class SetVerdict:
    """What the registered set says about a comparison."""
    set: dict | None                               # the registered set judged, if any
    reasons: list[str] = field(default_factory=list)  # reasons to downgrade
    runs: dict[str, dict] = field(default_factory=dict)  # side -> {count, first, position}
    candidate_index: int | None = None             # k: this candidate is the k-th judged
    candidates_judged: int = 0                     # distinct candidates judged on it so far
    alpha: float | None = None                     # the corrected level

    def to_dict(self) -> dict:
        s = self.set
        return {"name": s["name"] if s else None, "sha256": s["sha256"] if s else None,
                "registered_at": s["registered_at"] if s else None,
                "tasks": len(s["task_ids"]) if s else None, "reasons": self.reasons,
                "runs": self.runs, "candidate_index": self.candidate_index,
                "candidates_judged": self.candidates_judged, "corrected_alpha": self.alpha}


def spent_alpha(alpha: float, k: int) -> float:
    """The level of the k-th candidate judged on a set (k >= 1): alpha * 6 / (pi^2 k^2).
    Sum over k of these is alpha (the Basel series), so the family-wise error stays <= alpha."""
    return alpha * 6.0 / (math.pi ** 2 * k * k)


def find_set(conn: Any, domain: str | None, task_ids: set[str]) -> dict | None:
    """The earliest registered set of this world whose tasks are exactly `task_ids`."""
    key = world_key(domain)
    for s in list_sets(conn):
        if (key is None or s["world_key"] == key) and set(s["task_ids"]) == task_ids:
            return s
    return None


def agent_key(run: RunInfo) -> tuple:
    """Runs by the same agent: same candidate text, agent and user model."""
    return (run.candidate_hash, run.agent_model, run.user_model)


def runs_on_set(conn: Any, s: dict, run: RunInfo) -> list[str]:
    """Run ids by `run`'s agent, in the set's world, that ran every task of the set and were
    made after the set was registered, oldest first (any status: an abandoned run counts)."""
    want = set(s["task_ids"])
    out = []
    for rid, chash, agent, user, domain, created in conn.execute(
            "SELECT run_id, candidate_hash, agent_model, user_model, domain, created_at "
            "FROM runs ORDER BY created_at, rowid"):
        if (chash, agent, user) != agent_key(run) or world_key(domain) != s["world_key"]:
            continue
        if (created or "") < s["registered_at"]:
            continue
        ran = {str(t) for (t,) in conn.execute(
            "SELECT DISTINCT task_id FROM episodes WHERE run_id = ?", (rid,))}
        if want <= ran:
            out.append(rid)
    return out


def _candidate_identity(hash_: str | None, run_id: str) -> str:
    return hash_ or f"run:{run_id}"


def judged_candidates(conn: Any, set_name: str) -> list[str]:
    """Distinct candidates gated on the set so far, in the order first judged."""
    seen: list[str] = []
    for chash, rid in conn.execute(
            "SELECT candidate_hash, candidate_run_id FROM gate_decisions "
            "WHERE heldout_set = ? ORDER BY row_id", (set_name,)):
        ident = _candidate_identity(chash, rid)
        if ident not in seen:
            seen.append(ident)
    return seen


def judge_set(conn: Any, baseline: RunInfo, candidate: RunInfo, task_ids: set[str], *,
              intersected: bool, candidate_saved: datetime | None,
              alpha: float) -> SetVerdict:
    """Which registered set the comparison judges, and every reason it is not clean on it."""
    s = find_set(conn, candidate.domain or baseline.domain, task_ids)
    if s is None:
        near = [x["name"] for x in list_sets(conn, candidate.domain or baseline.domain)]
        hint = (f" (registered sets of this world: {', '.join(near)})" if near else
                " (register one with `t2e heldout register` before saving the candidate)")
        why = "intersected tasks" if intersected else f"the {len(task_ids)} task(s) compared"
        out = SetVerdict(None, [f"no registered heldout set is exactly {why}{hint}"])
        if intersected:
            out.reasons.append("--intersect: only the shared tasks were compared")
        return out
    v = SetVerdict(s)
    if intersected:
        v.reasons.append("--intersect: only the shared tasks were compared")
    reg = parse_time(s["registered_at"])
    if candidate_saved is not None and reg is not None and reg > candidate_saved:
        v.reasons.append(f"set {s['name']!r} was registered at {s['registered_at']}, after "
                         f"the candidate was saved")
    for side, run in (("baseline", baseline), ("candidate", candidate)):
        made = parse_time(run.created_at)
        if reg is not None and made is not None and made < reg:
            v.reasons.append(f"{side} run {run.label()} was made before set {s['name']!r} "
                             f"was registered")
        ids = runs_on_set(conn, s, run)
        pos = ids.index(run.run_id) + 1 if run.run_id in ids else None
        v.runs[side] = {"run_id": run.run_id, "runs_of_this_agent": len(ids),
                        "first": ids[0] if ids else None, "position": pos}
        if pos is not None and pos > 1:
            v.reasons.append(f"{side} run {run.label()} is run {pos} of {len(ids)} by the same "
                             f"agent on set {s['name']!r}; only the first ({ids[0]}) counts "
                             f"(first-run rule: re-rolling seeds must not help)")
    judged = judged_candidates(conn, s["name"])
    ident = _candidate_identity(candidate.candidate_hash, candidate.run_id)
    v.candidates_judged = len(judged) + (ident not in judged)
    v.candidate_index = judged.index(ident) + 1 if ident in judged else len(judged) + 1
    v.alpha = spent_alpha(alpha, v.candidate_index)
    return v
