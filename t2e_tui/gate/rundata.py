"""One run's gate inputs, read once per evaluation (issue 18): its finished episodes, per-task
outcomes, gold action kinds and action-check counts.

Before, `compare_runs`, `run_metrics` (twice) and the action-match check each re-read the
episodes, re-decoded every task's JSON and queried the checks 500 episode ids at a time; at
25,000 tasks x 2 trials that was seconds. Here the episodes are one query per run, a task text
is decoded once per comparison (the two runs mostly carry the same texts), and the action
checks are summed per episode in SQL. The figures are the same as the per-episode definitions
(tests/gate_oracle.py keeps those as the oracle for tests/test_gate_scale.py).
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable

from store import INFRA

from .outcomes import Episode, TaskOutcome, outcomes_from_episodes
from .runs import conn_of

# Action counts are 6-tuples: matched/total overall, matched/total read, matched/total write.
ZERO = (0, 0, 0, 0, 0, 0)

_EPISODES = (
    "SELECT episode_id, task_id, trial, reward, termination_reason, agent_cost, user_cost, "
    "duration, tokens_in, tokens_out FROM episodes "
    "WHERE run_id = ? AND status = 'done' ORDER BY task_id, trial, ord, episode_id")
# The same order straight off idx_episodes_run_task (no sort) when no task has two episodes of
# one trial: `ord` only breaks such ties. When one does, the query above is used instead.
_EPISODES_BY_INDEX = _EPISODES.replace("ord, episode_id", "episode_id").replace(
    "tokens_out FROM", "tokens_out, ord FROM")

# Per episode with any action-check row (even one whose `met` is NULL: such an episode is not
# "without checks"): the known rows, and those met, overall and by kind. `met != 0` is
# Python's bool(met) for the 1/0 the writer stores.
_ACTIONS = (
    "SELECT c.episode_id, total(c.met != 0), count(c.met), "
    "total(c.tool_kind = 'read' AND c.met != 0), total(c.tool_kind = 'read' AND c.met IS NOT NULL), "
    "total(c.tool_kind = 'write' AND c.met != 0), "
    "total(c.tool_kind = 'write' AND c.met IS NOT NULL) "
    "FROM episodes e JOIN checks c ON c.episode_id = e.episode_id "
    "WHERE e.run_id = ? AND e.status = 'done' AND c.kind = 'action' GROUP BY c.episode_id")

@dataclass
class RunData:
    """What the gate reads of one run. `task_actions[task]` sums the action counts of the
    task's scored episodes: episodes with action-check rows count their known rows; an episode
    without any counts its task's gold actions as unmatched (cutting an episode short can never
    raise the figure)."""
    run_id: str
    episodes: list[Episode]
    outcomes: dict[str, TaskOutcome]
    gold: dict[str, list[str]]
    episode_actions: dict[int, tuple] = field(default_factory=dict)
    task_actions: dict[str, tuple] = field(default_factory=dict)
    has_actions: bool = False
    gold_memo: dict = field(default_factory=dict, repr=False)

    def ensure_actions(self, db: Any, memo: dict | None = None) -> RunData:
        """Read the gold actions and action-check counts (once); `memo` as in gold_kinds
        (by default the one shared by the runs of a comparison)."""
        if self.has_actions:
            return self
        conn = conn_of(db)
        self.gold = gold_kinds(conn, self.run_id, self.gold_memo if memo is None else memo)
        per_ep = {r[0]: tuple(int(x) for x in r[1:])
                  for r in conn.execute(_ACTIONS, (self.run_id,))}
        gold_counts = {t: _kind_counts(k) for t, k in self.gold.items()}
        task_actions: dict[str, tuple] = {}
        for tid, out in self.outcomes.items():
            g = gold_counts.get(tid, ZERO)
            if not per_ep:  # no action-check rows at all: each scored episode counts the gold
                n = len(out.episode_ids)
                task_actions[tid] = (0, g[1] * n, 0, g[3] * n, 0, g[5] * n)
                continue
            sums = [0] * 6
            for eid in out.episode_ids:  # its scored episodes
                c = per_ep.get(eid, g)
                for i in range(6):
                    sums[i] += c[i]
            task_actions[tid] = tuple(sums)
        self.episode_actions, self.task_actions, self.has_actions = per_ep, task_actions, True
        return self

    def actions_of(self, task_ids: Iterable[str] | None = None) -> tuple:
        """Summed action counts of these tasks (all when None)."""
        ta = self.task_actions
        rows = ta.values() if task_ids is None else (ta[t] for t in task_ids if t in ta)
        sums = [0] * 6
        for r in rows:
            for i in range(6):
                sums[i] += r[i]
        return tuple(sums)


@contextmanager
def paused_gc():
    """Hold the cyclic garbage collector while 10^5 objects are built: each is kept, none is
    cyclic garbage, and every collection pass would walk all of them again (a third of the
    time of reading a 25,000-task pair). Nests; restores the collector's state."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_run(db: Any, run_id: str, actions: bool = True, gold_memo: dict | None = None
             ) -> RunData:
    """Read one run's episodes and outcomes (one query) and, unless `actions` is false, its
    gold actions and action-check counts (`ensure_actions` reads them later)."""
    conn = conn_of(db)
    with paused_gc():
        rows = conn.execute(_EPISODES_BY_INDEX, (run_id,)).fetchall()
        if _has_tied_trials(rows):
            rows = conn.execute(_EPISODES, (run_id,)).fetchall()
        episodes = [Episode(r[0], str(r[1]) if r[1] is not None else "", *r[2:10])
                    for r in rows]
        data = RunData(run_id, episodes, outcomes_from_episodes(episodes), {})
        if gold_memo is not None:
            data.gold_memo = gold_memo
        if actions:
            data.ensure_actions(conn)
    return data


def _has_tied_trials(rows: list[tuple]) -> bool:
    """Whether two neighbouring rows share task and trial (then `ord` must order them)."""
    return any(a[1] == b[1] and a[2] == b[2] for a, b in zip(rows, rows[1:]))


def _kind_counts(kinds: list[str]) -> tuple:
    """Gold actions as unmatched counts: (0, all, 0, read, 0, write)."""
    return (0, len(kinds), 0, kinds.count("read"), 0, kinds.count("write"))


def rates(counts: tuple) -> dict[str, float | None]:
    """Action match rates overall/read/write of a 6-tuple (None when nothing to match)."""
    return {k: (counts[2 * i] / counts[2 * i + 1] if counts[2 * i + 1] else None)
            for i, k in enumerate(("overall", "read", "write"))}


def gold_kinds(db: Any, run_id: str, memo: dict | None = None) -> dict[str, list[str]]:
    """Task id -> kinds of its gold actions, from the task definitions the run graded with
    (a task whose JSON does not decode is left out). `memo` maps task JSON texts already
    decoded to their kinds: the two runs of a pair mostly carry the same task texts, so a
    comparison decodes each once."""
    from store.writer import tool_kind

    memo = {} if memo is None else memo
    names: dict[str, str] = {}  # a few tool names, 10^5 actions
    loads = json.loads
    out: dict[str, list[str]] = {}
    for task_id, text in conn_of(db).execute(
            "SELECT task_id, task_json FROM tasks WHERE run_id = ?", (run_id,)):
        kinds = memo.get(text) if isinstance(text, str) else None
        if kinds is None:
            try:
                task = loads(text)
            except (TypeError, ValueError):
                continue
            crit = task.get("evaluation_criteria") or {} if isinstance(task, dict) else {}
            actions = crit.get("actions") or [] if isinstance(crit, dict) else []
            if not isinstance(actions, (list, dict, str)):
                actions = []  # a number: not a list of actions (it used to raise)
            kinds = []
            for a in actions:
                if isinstance(a, dict):
                    name = str(a.get("name") or "")
                    kind = names.get(name)
                    if kind is None:
                        kind = names[name] = tool_kind(name)
                    kinds.append(kind)
            if isinstance(text, str):
                memo[text] = kinds
        out[str(task_id)] = list(kinds)
    return out


def scored(ep: Episode) -> bool:
    """Counts in figures (Episode.scored without the property call, for hot loops)."""
    return ep.termination_reason != INFRA and ep.reward is not None
