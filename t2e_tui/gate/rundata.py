"""One run's gate inputs, read once per evaluation (issue 18): its finished episodes, per-task
outcomes, per-task action-check counts and, where they are needed, its gold action kinds.

Before, `compare_runs`, `run_metrics` (twice) and the action-match check each re-read the
episodes, re-decoded every task's JSON and queried the checks 500 episode ids at a time; at
25,000 tasks x 2 trials that was seconds. Here the episodes are one query per run, kept as the
row tuples (no object per episode: `episodes` builds them only if asked), the action checks are
summed per task in SQL, and a task's JSON is decoded only when one of its scored episodes has
no action-check row (its gold actions then count as unmatched), once per comparison. The
figures are the same as the per-episode definitions (tests/gate_oracle.py keeps those as the
oracle for tests/test_gate_scale.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from store import INFRA
from store.termination import NOT_RECORDED

from ..gc_pause import paused_gc
from .outcomes import Episode, TaskOutcome
from .runs import conn_of
from .stats import SUCCESS_TOL

# Action counts are 6-tuples: matched/total overall, matched/total read, matched/total write.
ZERO = (0, 0, 0, 0, 0, 0)
ZERO7 = (0,) + ZERO

_EPISODES = (
    "SELECT episode_id, task_id, trial, reward, termination_reason, agent_cost, user_cost, "
    "duration, tokens_in, tokens_out FROM episodes "
    "WHERE run_id = ? AND status = 'done' ORDER BY task_id, trial, ord, episode_id")
# The same order straight off idx_episodes_run_task (no sort) when no task has two episodes of
# one trial: `ord` only breaks such ties. When one does, the query above is used instead.
_EPISODES_BY_INDEX = _EPISODES.replace("ord, episode_id", "episode_id")

# Per task, over its scored episodes that have action-check rows (even rows whose `met` is NULL:
# such an episode is not "without checks"): how many such episodes, the known rows and those
# met, overall and by kind. `met != 0` is Python's bool(met) for the 1/0 the writer stores. The
# checks are read by episode id range first (a run's episodes are mostly one range, and a run
# without action checks costs nothing), then each episode with checks is looked up once.
_TASK_ACTIONS = (
    "SELECT e.task_id, count(*), sum(a.m), sum(a.k), sum(a.rm), sum(a.rk), sum(a.wm), "
    "sum(a.wk) FROM (SELECT episode_id, total(met != 0) AS m, count(met) AS k, "
    "total(tool_kind = 'read' AND met != 0) AS rm, "
    "total(tool_kind = 'read' AND met IS NOT NULL) AS rk, "
    "total(tool_kind = 'write' AND met != 0) AS wm, "
    "total(tool_kind = 'write' AND met IS NOT NULL) AS wk "
    "FROM checks WHERE kind = 'action' AND episode_id BETWEEN ? AND ? GROUP BY episode_id) a "
    "JOIN episodes e ON e.episode_id = a.episode_id "
    "WHERE e.run_id = ? AND e.status = 'done' AND e.reward IS NOT NULL "
    f"AND (e.termination_reason IS NULL OR e.termination_reason != '{INFRA}') "
    "GROUP BY e.task_id")


@dataclass
class RunData:
    """What the gate reads of one run: its per-task outcomes and `figures`, run_metrics' sums
    over every task (`read_rows`); the episode rows themselves are not kept (`rows` reads
    them again, for a subset of the tasks or as Episode objects). `task_actions[task]` sums
    the action counts of the task's scored episodes: episodes with action-check rows count
    their known rows; an episode without any counts its task's gold actions as unmatched
    (cutting an episode short can never raise the figure)."""
    run_id: str
    outcomes: dict[str, TaskOutcome]
    figures: dict | None = None
    task_actions: dict[str, tuple] = field(default_factory=dict)
    has_actions: bool = False
    gold_memo: dict = field(default_factory=dict, repr=False)
    query: str = field(default="", repr=False)  # the SQL that read the rows, in their order
    _id_range: tuple | None = field(default=None, repr=False)

    def id_range(self) -> tuple[int, int] | None:
        """(lowest, highest) id of the run's finished episodes (None without any): a run's
        episodes are mostly one range, so per-episode tables are read by it first."""
        return self._id_range

    def rows(self, db: Any) -> list[tuple]:
        """The run's finished episode rows again (episode_id, task_id, trial, reward,
        termination_reason, agent_cost, user_cost, duration, tokens_in, tokens_out; in task,
        trial, file order; task ids as given)."""
        return conn_of(db).execute(self.query or _EPISODES, (self.run_id,)).fetchall()

    def episodes(self, db: Any) -> list[Episode]:
        """The rows as Episode objects."""
        return [Episode(r[0], _tid(r[1]), *r[2:10]) for r in self.rows(db)]

    def ensure_actions(self, db: Any, memo: dict | None = None) -> RunData:
        """Read the action-check counts and, for tasks with a scored episode without checks,
        the gold actions (once); `memo` as in gold_counts (by default the one shared by the
        runs of a comparison)."""
        if self.has_actions:
            return self
        conn = conn_of(db)
        checked: dict[str, tuple] = {}  # task -> (episodes with checks, 6 counts)
        if self._id_range is not None:
            for r in conn.execute(_TASK_ACTIONS, (*self._id_range, self.run_id)):
                _add(checked, _tid(r[0]), tuple(int(x) for x in r[1:]))
        without: dict[str, int] = {}  # task -> its scored episodes without action checks
        for tid, out in self.outcomes.items():
            n = len(out.episode_ids) - checked.get(tid, ZERO7)[0]
            if n:
                without[tid] = n
        gold: dict[str, tuple] = {}
        if without:
            gold = gold_counts(conn, self.run_id, self.gold_memo if memo is None else memo,
                               only=without)
        task_actions: dict[str, tuple] = {}
        scaled: dict = {}  # (gold counts, episodes) -> the gold as unmatched counts
        for tid in self.outcomes:
            sums = checked.get(tid)
            n = without.get(tid)
            if n:
                g = gold.get(tid, ZERO)
                add = scaled.get((g, n))
                if add is None:
                    add = scaled[(g, n)] = tuple(n * x for x in g)
                sums = add if sums is None else tuple(a + b for a, b in zip(sums[1:], add))
            else:
                sums = ZERO if sums is None else sums[1:]
            task_actions[tid] = sums
        self.task_actions, self.has_actions = task_actions, True
        return self

    def actions_of(self, task_ids: Iterable[str] | None = None) -> tuple:
        """Summed action counts of these tasks (all when None)."""
        ta = self.task_actions
        rows = list(ta.values()) if task_ids is None else [ta[t] for t in task_ids if t in ta]
        return tuple(sum(col) for col in zip(*rows)) if rows else ZERO


def _tid(task_id: Any) -> str:
    return task_id if type(task_id) is str else ("" if task_id is None else str(task_id))


def _add(sums: dict[str, tuple], tid: str, counts: tuple) -> None:
    # two stored ids can name one task (NULL and '' both read as ''): their counts add up
    old = sums.get(tid)
    sums[tid] = counts if old is None else tuple(a + b for a, b in zip(old, counts))


def load_run(db: Any, run_id: str, actions: bool = True, gold_memo: dict | None = None
             ) -> RunData:
    """Read one run's episodes, outcomes and figures (one query, its rows taken as they come:
    none is kept) and, unless `actions` is false, its action-check counts (`ensure_actions`
    reads them later)."""
    conn = conn_of(db)
    with paused_gc():
        query = _EPISODES_BY_INDEX
        try:
            outcomes, figures, span = read_rows(conn.execute(query, (run_id,)), ties=True)
        except _TiedTrials:  # `ord` must order them: the sorted query
            query = _EPISODES
            outcomes, figures, span = read_rows(conn.execute(query, (run_id,)))
        data = RunData(run_id, outcomes, figures, query=query, _id_range=span)
        if gold_memo is not None:
            data.gold_memo = gold_memo
        if actions:
            data.ensure_actions(conn)
    return data


class _TiedTrials(Exception):
    """Two rows of one task and trial (read_rows with ties=True)."""


def outcomes_from_rows(rows: Iterable[tuple]) -> dict[str, TaskOutcome]:
    """outcomes.outcomes_from_episodes over the episode rows themselves (no Episode object
    per row)."""
    return read_rows(rows)[0]


def episode_figures(rows: Iterable[tuple], keep: set[str] | None = None) -> dict:
    """run_metrics' per-episode sums over the rows of the `keep` tasks (all when None)."""
    if keep is not None:
        rows = [r for r in rows if _tid(r[1]) in keep]
    return read_rows(rows)[1]


def read_rows(rows: Iterable[tuple], ties: bool = False
              ) -> tuple[dict[str, TaskOutcome], dict, tuple[int, int] | None]:
    """One pass over a run's episode rows: the per-task outcomes (outcomes_from_episodes,
    with Episode.scored and .success inlined), run_metrics' per-episode sums (scored
    episodes, their reward sum and successes, termination counts in first-seen order, the
    cost/token/duration totals (None when none is recorded), the infrastructure errors and
    unscored episodes listed apart) and the (lowest, highest) episode id. Every sum adds in
    episode order from 0, as `sum()` over the per-episode lists did, so the floats are the
    same. With `ties`, two neighbouring rows of one task and trial raise _TiedTrials (`ord`
    must then order them)."""
    out: dict[str, TaskOutcome] = {}
    get = out.get
    tol = SUCCESS_TOL
    infra, unscored, terms = [], [], {}
    n = ok = 0
    reward = ac = uc = dur = ti = to = 0      # each sum from 0, in episode order
    n_ac = n_uc = n_dur = n_ti = n_to = 0     # how many of each were recorded (not NULL)
    last, last_trial, t = object(), object(), None
    lo = hi = None
    for eid, tid, trial, rew, term, a, u, d, i, o in rows:
        if tid != last or t is None:  # rows come grouped by task: look it up once a task
            last = tid
            if type(tid) is not str:
                tid = _tid(tid)
            t = get(tid)
            if t is None:
                t = out[tid] = TaskOutcome(tid)
        elif ties and trial == last_trial:
            raise _TiedTrials
        last_trial = trial
        if lo is None:
            lo = hi = eid
        elif eid < lo:
            lo = eid
        elif eid > hi:
            hi = eid
        if term == INFRA or rew is None:
            why = INFRA if term == INFRA else "not scored"
            t.excluded.append({"episode_id": eid, "trial": trial, "why": why})
            (infra if term == INFRA else unscored).append(
                {"episode_id": eid, "task_id": t.task_id, "trial": trial})
            continue
        value = float(rew)
        success = abs(value - 1.0) <= tol
        t.rewards.append(value)
        t.successes.append(success)
        t.terminations.append(term)
        t.episode_ids.append(eid)
        n += 1
        reward += rew
        ok += success
        key = term or NOT_RECORDED  # (store/termination.py: the words every output uses)
        terms[key] = terms.get(key, 0) + 1
        if a is not None:
            ac += a
            n_ac += 1
        if u is not None:
            uc += u
            n_uc += 1
        if d is not None:
            dur += d
            n_dur += 1
        if i is not None:
            ti += i
            n_ti += 1
        if o is not None:
            to += o
            n_to += 1
    figures = {"scored": n, "reward": reward, "successes": ok, "terms": terms, "infra": infra,
               "unscored": unscored, "durations": n_dur, "duration": dur,
               "agent_cost": ac if n_ac else None, "user_cost": uc if n_uc else None,
               "tokens_in": ti if n_ti else None, "tokens_out": to if n_to else None}
    return out, figures, (None if lo is None else (lo, hi))


def _kind_counts(kinds: list[str]) -> tuple:
    """Gold actions as unmatched counts: (0, all, 0, read, 0, write)."""
    return (0, len(kinds), 0, kinds.count("read"), 0, kinds.count("write"))


def rates(counts: tuple) -> dict[str, float | None]:
    """Action match rates overall/read/write of a 6-tuple (None when nothing to match)."""
    return {k: (counts[2 * i] / counts[2 * i + 1] if counts[2 * i + 1] else None)
            for i, k in enumerate(("overall", "read", "write"))}


def gold_kinds(db: Any, run_id: str, memo: dict | None = None,
               only: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Task id -> kinds of its gold actions, from the task definitions the run graded with
    (a task whose JSON does not decode is left out; with `only`, only those tasks). `memo`
    maps task JSON texts already decoded to their kinds: the two runs of a pair mostly carry
    the same task texts, so a comparison decodes each once."""
    return _gold(db, run_id, {} if memo is None else memo, only, list)


def gold_counts(db: Any, run_id: str, memo: dict | None = None,
                only: Iterable[str] | None = None) -> dict[str, tuple]:
    """gold_kinds as unmatched action counts (0, all, 0, read, 0, write) per task."""
    return _gold(db, run_id, {} if memo is None else memo, only, _kind_counts)


def _gold(db: Any, run_id: str, memo: dict, only: Iterable[str] | None, shape) -> dict:
    # memo: shape -> {task JSON text -> shape(kinds)}; the shaped values are shared, never
    # mutated
    from store.writer import tool_kind

    known = memo.setdefault(shape, {})
    names: dict[str, str] = {}  # a few tool names, 10^5 actions
    scan = json.decoder.JSONDecoder().scan_once
    out: dict = {}
    for task_id, text in conn_of(db).execute(
            "SELECT task_id, task_json FROM tasks WHERE run_id = ?", (run_id,)):
        task_id = str(task_id)
        if only is not None and task_id not in only:
            continue
        value = known.get(text) if isinstance(text, str) else None
        if value is None:
            try:
                task = _loads(scan, text)
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
            value = shape(kinds)
            if isinstance(text, str):
                known[text] = value
        out[task_id] = list(value) if shape is list else value
    return out


def _loads(scan, text: Any) -> Any:
    """json.loads(text), without its per-call wrapping (two regex matches, an index check)
    when the text is one JSON value with nothing around it, which task texts are; anything
    else goes to json.loads itself, so the result or the error is its own."""
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            value, end = scan(text, 0)
        except (StopIteration, ValueError):
            return json.loads(text)
        if end == len(text):
            return value
    return json.loads(text)
