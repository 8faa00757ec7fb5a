"""The gate's side of pre-registered heldout sets: which set a comparison judges, whether the
registration came first, whether every task of the set was compared, the first-run rule (seed
shopping) and alpha spent across the agents tried on the set (candidate and baseline shopping).

The rule, as the README states it: a comparison is clean heldout only when its tasks are
exactly a set registered (`t2e heldout register`) before the candidate was saved and before
either run was made; every task of the set is compared (none left out for want of a scored
trial); each run is its agent's first run on any task of the set, whatever that run's role or
task list (an agent that ran a part of the set has seen outcomes there) and whether or not it
was removed since (the agent ledger, migration 11, keeps it); each agent can be identified (an
imported run cannot: a file's agent label is whatever the file says, so its first run cannot
be told from a re-roll); and the baseline's agent ran on the set before the candidate's.

Alpha (`spent_alpha`): agents are ordered by their first run on any task of the set (in its
world, whatever run or registered set that was made for, so a near-copy of the set shares its
agents). A candidate with k agents before it could have been gated against any of those k.
And a candidate may be tried on several registered sets (two disjoint halves of a split, say):
its sets are ordered by its agent's first run on any task of each (any world; ties, one run
touching several sets, by registration order), and the set gated is its j-th. It is tested at

    alpha * 6 / (pi^2 k^3) * 1 / (zeta(3) j^3)

with zeta(3) = sum_{n>=1} 1 / n^3 = 1.2020569... (Apery's constant), so that, like
sum_{n>=1} 6 / (pi^2 n^2) = 1 (Basel), sum_{j>=1} 1 / (zeta(3) j^3) = 1. The union bound:
- one set: each candidate (distinct k >= 1) has at most k baselines, so the levels of every
  (candidate, baseline) pair the set can see add up to at most
  sum_k k * alpha * 6 / (pi^2 k^3) = alpha * sum_k 6 / (pi^2 k^2) = alpha
  (the factor for j is <= 1): whichever pair is gated, a no-op is promoted on the set with
  probability at most alpha;
- one candidate: over every set it is tried on (distinct j >= 1, whatever its k_j there) and
  every baseline there, sum_j k_j * alpha * 6 / (pi^2 k_j^3) / (zeta(3) j^3)
  <= alpha * 6 / pi^2 * sum_j 1 / (zeta(3) j^3) = alpha * 6 / pi^2: trying it on N sets
  gives it no more, in all, than the share of the first candidate on one set (before, each
  set gave it that share again).
Each registered set is its own family (a fresh set is a fresh question, as a fresh test set
is); the sets a candidate is tried on are one family of its own. The j factor costs the first
set 1 / zeta(3) = 0.832 (no sound factor can be 1 at j = 1 and leave anything for a second
set); j^3 rather than j^2 keeps that price low (6 / pi^2 = 0.608 for j^2): most candidates
meet one heldout set, the second is usually a transfer set (0.104), a third costs 0.031.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.heldout import list_sets, runs_on_tasks
from store.set_content import content_differences
from world.domains import world_key

from .runs import RunInfo
from .times import parse_time


@dataclass
class SetVerdict:
    """What the registered set says about a comparison."""
    set: dict | None                               # the registered set judged, if any
    reasons: list[str] = field(default_factory=list)  # reasons to downgrade
    runs: dict[str, dict] = field(default_factory=dict)  # side -> {count, first, position}
    candidate_index: int | None = None             # k: agents on the set before the candidate's
    agents_on_set: int = 0                         # distinct agents that ran on its tasks so far
    set_index: int | None = None                   # j: this set's place among the candidate's
    sets_of_candidate: list[str] = field(default_factory=list)  # its sets, in that order
    alpha: float | None = None                     # the corrected level
    left_out: list[str] = field(default_factory=list)  # tasks of the set not compared

    def to_dict(self) -> dict:
        s = self.set
        return {"name": s["name"] if s else None, "sha256": s["sha256"] if s else None,
                "registered_at": s["registered_at"] if s else None,
                "tasks": len(s["task_ids"]) if s else None, "reasons": self.reasons,
                "runs": self.runs, "candidate_index": self.candidate_index,
                "agents_on_set": self.agents_on_set, "set_index": self.set_index,
                "sets_of_candidate": self.sets_of_candidate, "left_out": self.left_out,
                "corrected_alpha": self.alpha,
                "content_sha256": (s.get("content") or {}).get("sha256") if s else None}

    def alpha_reason(self) -> str:
        """Why the level is what it is, for the verdict's reasons."""
        k = max(self.candidate_index or 1, 1)
        j = self.set_index or 1
        name = self.set["name"]
        before = [repr(n) for n in self.sets_of_candidate[:j - 1]]
        sets = (f"set {name!r} is the first registered set the candidate's agent ran on"
                if j == 1 else
                f"set {name!r} is the {j}th registered set the candidate's agent ran on "
                f"(after {', '.join(before)})")
        return (f"candidate {k} on set {name!r}: {k} agent(s) ran on its tasks before the "
                f"candidate's (k = {k}), each a baseline it could have been gated against; "
                f"{sets} (j = {j}); alpha * 6 / (pi^2 k^3) / (zeta(3) j^3)")


ZETA3 = 1.2020569031595942   # Apery's constant, sum_{n>=1} 1/n^3


def spent_alpha(alpha: float, k: int, j: int = 1) -> float:
    """The level of a candidate with k >= 1 agents before it on a set that is the j-th (>= 1)
    registered set it is tried on: alpha * 6 / (pi^2 k^3) / (zeta(3) j^3). Summed over every
    (baseline, candidate) pair a set can see this is at most alpha, and over every set and
    baseline one candidate is tried with at most alpha * 6 / pi^2 (the union bound: module
    docstring)."""
    return alpha * 6.0 / (math.pi ** 2 * k ** 3) / (ZETA3 * j ** 3)


def find_set(conn: Any, domain: str | None, task_ids: set[str],
             runs: tuple = ()) -> dict | None:
    """The earliest registered set of this world whose tasks are exactly `task_ids`; with
    `runs`, the earliest of those whose registered content the runs' tasks match, if any (a
    set registered again on new task definitions under the same ids)."""
    key = world_key(domain)
    found = [s for s in list_sets(conn)
             if (key is None or s["world_key"] == key) and set(s["task_ids"]) == task_ids]
    if len(found) > 1 and runs:
        same = [s for s in found if not any(content_reasons(conn, s, r) for r in runs)]
        found = same or found
    return found[0] if found else None


def content_reasons(conn: Any, s: dict, run: RunInfo) -> list[str]:
    """How `run`'s tasks differ from what set `s` was registered with (store/heldout)."""
    return content_differences(conn, s.get("content"), run.run_id, s["task_ids"])


def agent_key(run: Any) -> tuple | None:
    """The agent of a run: candidate text, agent and user model. None when it cannot be
    identified: a run without a candidate hash (an import) is whatever its file says."""
    if not run.candidate_hash:
        return None
    return (run.candidate_hash, run.agent_model, run.user_model)


def ledger_runs(conn: Any, s: dict) -> list[dict]:
    """Every run, removed ones included, that ran any task of set `s` in its world (a run of
    unknown domain counts: the rule errs towards counting), oldest first."""
    return [r for r in runs_on_tasks(conn, s["task_ids"])
            if r["domain"] is None or world_key(r["domain"]) == s["world_key"]]


def sets_tried(conn: Any, run: Any) -> list[dict]:
    """The registered sets (any world) on whose tasks `run`'s agent ran, removed runs
    included, in the order of its first run there (ties: registration order). An imported
    run's agent is unknown: the sets that run itself touched."""
    key = agent_key(run)
    found = []
    for s in list_sets(conn):
        mine = [r for r in ledger_runs(conn, s)
                if (r["run_id"] == run.run_id if key is None else _same_agent(r, key))]
        if mine:
            found.append((mine[0]["created_at"], s["set_id"], s))
    return [s for _at, _id, s in sorted(found, key=lambda f: (f[0], f[1]))]


def _same_agent(row: dict, key: tuple) -> bool:
    if row["candidate_hash"] != key[0]:
        return False
    if _models_unknown(row):
        return True
    return (row["agent_model"], row["user_model"]) == key[1:]


def runs_on_set(conn: Any, s: dict, run: Any) -> list[str]:
    """Run ids by `run`'s agent that ran any task of set `s`, removed runs included, oldest
    first (any role, status or task list; before or after the registration)."""
    key = agent_key(run)
    if key is None:
        return []
    return [r["run_id"] for r in ledger_runs(conn, s) if _same_agent(r, key)]


def stored_runs_of_agent(conn: Any, run: Any) -> list[str]:
    """Run ids of the stored runs (not removed) by `run`'s agent, as the first-run rule tells
    agents apart (`agent_key`, over the agent ledger), oldest first, `run` itself left out.
    None is known of an imported run's agent (its label is whatever its file says): []."""
    key = agent_key(run)
    if key is None:
        return []
    cols = ("run_id", "candidate_hash", "agent_model", "user_model", "removed_at")
    rows = [dict(zip(cols, r)) for r in conn.execute(
        f"SELECT {', '.join(cols)} FROM agent_runs WHERE candidate_hash = ? AND run_id != ? "
        "AND removed_at IS NULL ORDER BY created_at, run_id", (key[0], run.run_id))]
    return [r["run_id"] for r in rows if _same_agent(r, key)]


def agents_on_set(conn: Any, s: dict, rows: list[dict] | None = None) -> list[dict]:
    """Distinct agents that ran any task of set `s`, in the order of their first run there:
    [{key, first_run, first_at, runs}]. An unidentifiable run (an import) is an agent of its
    own. `rows`: `ledger_runs(conn, s)` when the caller has them."""
    rows = ledger_runs(conn, s) if rows is None else rows
    known: dict[str, tuple] = {}   # text hash -> the first identified agent with that text
    for r in rows:
        if r["candidate_hash"] and not _models_unknown(r):
            known.setdefault(r["candidate_hash"], (r["candidate_hash"], r["agent_model"],
                                                   r["user_model"]))
    out: dict[tuple, dict] = {}
    for r in rows:
        h = r["candidate_hash"]
        if not h:
            key: tuple = ("run", r["run_id"])
        elif _models_unknown(r):
            key = known.get(h, (h, None, None))
        else:
            key = (h, r["agent_model"], r["user_model"])
        a = out.setdefault(key, {"key": key, "first_run": r["run_id"],
                                 "first_at": r["created_at"], "runs": 0})
        a["runs"] += 1
    return sorted(out.values(), key=lambda a: (a["first_at"], a["first_run"]))


def _models_unknown(row: dict) -> bool:
    """A run removed before the ledger existed, known from a gate row: its models unknown."""
    return row["agent_model"] is None and row["user_model"] is None and bool(row["removed_at"])


def _position(agents: list[dict], run: RunInfo) -> int | None:
    """The index of `run`'s agent among `agents` (None: not among them)."""
    key = agent_key(run) or ("run", run.run_id)
    for i, a in enumerate(agents):
        if a["key"] == key:
            return i
    return None


def judge_set(conn: Any, baseline: RunInfo, candidate: RunInfo, task_ids: set[str], *,
              intersected: bool, candidate_saved: datetime | None,
              alpha: float, left_out: set[str] | None = None) -> SetVerdict:
    """Which registered set the comparison judges, and every reason it is not clean on it.
    `task_ids`: the tasks compared; `left_out`: tasks both runs attempted that were not
    compared (no scored trial on a side)."""
    from .compare import sort_task_ids

    left = sort_task_ids(set(left_out or ()) - set(task_ids))
    attempted = set(task_ids) | set(left)
    s = find_set(conn, candidate.domain or baseline.domain, attempted, (baseline, candidate))
    if s is None:
        near = [x["name"] for x in list_sets(conn, candidate.domain or baseline.domain)]
        hint = (f" (registered sets of this world: {', '.join(near)})" if near else
                " (register one with `t2e heldout register` before saving the candidate)")
        why = "intersected tasks" if intersected else f"the {len(attempted)} task(s) compared"
        out = SetVerdict(None, [f"no registered heldout set is exactly {why}{hint}"])
        if intersected:
            out.reasons.append("--intersect: only the shared tasks were compared")
        return out
    v = SetVerdict(s, left_out=left)
    if intersected:
        v.reasons.append("--intersect: only the shared tasks were compared")
    if left:
        shown = ", ".join(left[:8]) + (f" (+{len(left) - 8} more)" if len(left) > 8 else "")
        v.reasons.append(f"{len(left)} task(s) of set {s['name']!r} left out of the "
                         f"comparison, no scored trial on one side (infrastructure errors or "
                         f"no reward): {shown}; a clean claim covers every task of the set "
                         f"(`t2e run --resume RUN` replays an engine run's infrastructure "
                         f"errors)")
    for side, run in (("baseline", baseline), ("candidate", candidate)):
        diff = content_reasons(conn, s, run)
        if diff:
            v.reasons.append(f"{side} run {run.label()} graded other tasks than set "
                             f"{s['name']!r} was registered with: {'; '.join(diff)} (the "
                             f"same ids with other definitions, from edited data or another "
                             f"data version, are not the registered set)")
    reg = parse_time(s["registered_at"])
    if candidate_saved is not None and reg is not None and reg > candidate_saved:
        v.reasons.append(f"set {s['name']!r} was registered at {s['registered_at']}, after "
                         f"the candidate was saved")
    ledger = ledger_runs(conn, s)
    for side, run in (("baseline", baseline), ("candidate", candidate)):
        made = parse_time(run.created_at)
        if reg is not None and made is not None and made < reg:
            v.reasons.append(f"{side} run {run.label()} was made before set {s['name']!r} "
                             f"was registered")
        key = agent_key(run)
        if key is None:
            v.runs[side] = {"run_id": run.run_id, "runs_of_this_agent": None, "first": None,
                            "position": None, "removed": None, "agent_known": False}
            v.reasons.append(f"{side} run {run.label()} was imported: its agent cannot be "
                             f"identified (a file's agent label is whatever the file says), "
                             f"so whether it is that agent's first run on set {s['name']!r} "
                             f"cannot be known (first-run rule)")
            continue
        mine = [r for r in ledger if _same_agent(r, key)]
        ids = [r["run_id"] for r in mine]
        pos = ids.index(run.run_id) + 1 if run.run_id in ids else None
        removed = sum(1 for r in mine if r["removed_at"])
        v.runs[side] = {"run_id": run.run_id, "runs_of_this_agent": len(ids),
                        "first": ids[0] if ids else None, "position": pos,
                        "removed": removed, "agent_known": True}
        if pos is not None and pos > 1:
            gone = f", {removed} of them since removed" if removed else ""
            first = ids[0] + (", removed" if mine[0]["removed_at"] else "")
            v.reasons.append(f"{side} run {run.label()} is run {pos} of {len(ids)} by the same "
                             f"agent on tasks of set {s['name']!r}{gone}; only the first "
                             f"({first}) counts (first-run rule: an agent that ran any task "
                             f"of the set, in any role, has seen outcomes there; re-rolling "
                             f"seeds must not help)")
    agents = agents_on_set(conn, s, ledger)
    v.agents_on_set = len(agents)
    ci, bi = _position(agents, candidate), _position(agents, baseline)
    if ci is None:  # not in the ledger (cannot happen for a stored run): as a newcomer
        ci = len(agents)
    v.candidate_index = ci
    if bi is not None and bi > ci:
        v.reasons.append(f"baseline run {baseline.label()}: its agent first ran on set "
                         f"{s['name']!r} after the candidate's did; a baseline chosen once "
                         f"the candidate's outcomes there could be seen is not clean")
    tried = [x["name"] for x in sets_tried(conn, candidate)]
    if s["name"] not in tried:  # (the candidate run is on the set: cannot happen)
        tried.append(s["name"])
    v.sets_of_candidate = tried
    v.set_index = tried.index(s["name"]) + 1
    v.alpha = spent_alpha(alpha, max(ci, 1), v.set_index)
    return v
