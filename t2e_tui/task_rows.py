"""The tasks screen's rows: one per task of a run pair (or of one run), read in one indexed
query per run and grouped once. No textual here (the CLI twin and tests use it too).

Why this shape: at 25,000 tasks x 2 trials per run the screen must show its first rows within
half a second. So the episodes come back as plain tuples off `idx_episodes_run_task` (task,
trial order), a row keeps its trials as those tuples (`Trial` objects are made only when a
row's `base`/`cand` is read: opening, labelling, one row at a time), and everything the
filters and sorts read (transition, terminations, hints from episode columns, failed flags,
task order key) is computed in the same single pass, off the UI thread. The hints that need a
join over the steps (`fill_hints`) follow once the rows are on screen.
"""

from __future__ import annotations

import heapq
import sqlite3
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter, itemgetter

from store.db import INFRA
from store.termination import NOT_RECORDED

from .gc_pause import paused_gc

SUCCESS_TOL = 1e-6  # tau2's success, as the gate (`gate.stats.is_success`) and the writer

# One tuple per episode: (task_id, episode_id, trial, status, reward, success, termination,
# tool_errors). `ord` breaks ties of one trial number (the gate's order); without
# ties the index alone gives the order (no sort), as the gate reads it (gate/rundata.py).
_EPISODES = ("SELECT task_id, episode_id, trial, status, reward, success, termination_reason, "
             "n_tool_errors FROM episodes WHERE run_id = ? "
             "ORDER BY task_id, trial, ord, episode_id")
_EPISODES_BY_INDEX = _EPISODES.replace("ord, episode_id", "episode_id")
_STATUS, _REWARD, _SUCCESS, _TERM, _ERRORS = 3, 4, 5, 6, 7


@dataclass
class Trial:
    """One episode's outcome, as the tasks screen shows it."""

    episode_id: int
    trial: int | None
    status: str
    reward: float | None
    success: int | None
    termination: str | None
    tool_errors: int


def task_sort_key(task_id: str) -> tuple:
    """Numeric ids in number order, then the others by name."""
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)


class TaskRow:
    """One task of a pair of runs: trials on each side, transition, hints.

    `raw_base` / `raw_cand` are the episode tuples (see `_EPISODES`); `base` / `cand` give
    them as `Trial`s, made on first read."""

    __slots__ = ("task_id", "raw_base", "raw_cand", "transition", "hints", "terms",
                 "base_failed", "cand_failed", "key", "_base", "_cand")

    def __init__(self, task_id: str, raw_base: list[tuple] | None = None,
                 raw_cand: list[tuple] | None = None, transition: str = "") -> None:
        self.task_id = task_id
        self.raw_base, self.raw_cand = raw_base or [], raw_cand or []
        self.transition = transition
        self.hints: list[str] = []
        self.terms: frozenset[str] = frozenset()
        self.base_failed = self.cand_failed = False
        self.key = task_sort_key(task_id)
        self._base: list[Trial] | None = None
        self._cand: list[Trial] | None = None

    @property
    def base(self) -> list[Trial]:
        if self._base is None:
            self._base = [Trial(*r[1:]) for r in self.raw_base]
        return self._base

    @property
    def cand(self) -> list[Trial]:
        if self._cand is None:
            self._cand = [Trial(*r[1:]) for r in self.raw_cand]
        return self._cand

    def terminations(self) -> frozenset[str]:
        return self.terms

    def failed(self) -> bool:
        return self.base_failed or self.cand_failed

    def __repr__(self) -> str:
        return f"TaskRow({self.task_id!r}, {self.transition!r})"


def _side(raw: list[tuple]) -> tuple[int, int, bool, bool]:
    """(successes, scored trials, any running, any finished and failed) of one side, by the
    gate's rule: scored = finished, graded and not an infrastructure error."""
    ok = n = 0
    running = failed = False
    for r in raw:
        status = r[_STATUS]
        if status == "running":
            running = True
            continue
        if status != "done":
            continue
        if not r[_SUCCESS]:
            failed = True
        reward = r[_REWARD]
        if reward is None or r[_TERM] == INFRA:
            continue
        n += 1
        if abs(reward - 1.0) <= SUCCESS_TOL:
            ok += 1
    return ok, n, running, failed


def _label(b: tuple, c: tuple, any_trials: bool) -> str:
    """A pair's transition from both sides' `_side` figures: the gate's `transition` (the one
    definition) where both sides have a scored trial, else the explorer's own labels: only
    base | only cand | running | unscored."""
    if b[1] and c[1]:
        return _named(b[0], b[1], c[0], c[1])
    if not b[1] and not c[1]:
        if b[2] or c[2]:
            return "running"
        return "unscored" if any_trials else ""  # e.g. foreign traces: no gold
    if not c[1]:
        return "running" if c[2] else "only base"
    return "running" if b[2] else "only cand"


def _named(b_ok: int, b_n: int, c_ok: int, c_n: int, memo: dict = {}) -> str:  # noqa: B006
    """The gate's `transition` of two success rates, spaced for display; memoised: a pair has
    few distinct (successes, trials) combinations and 10^4 tasks."""
    key = (b_ok, b_n, c_ok, c_n)
    name = memo.get(key)
    if name is None:
        from .gate import transition

        name = memo[key] = transition(b_ok / b_n, c_ok / c_n).replace("_", " ")
    return name


def _single(b: tuple) -> str:
    """One run against the gold actions: pass | fail | flaky (or running | unscored)."""
    if not b[1]:
        return "running" if b[2] else "unscored"  # no reward: foreign traces carry no gold
    return "pass" if b[0] == b[1] else "fail" if b[0] == 0 else "flaky"


def transition_of(base: list[Trial], cand: list[Trial]) -> str:
    """A task's transition from its trials (the same rule as `task_rows`)."""
    def raw(trials: list[Trial]) -> list[tuple]:
        return [(None, t.episode_id, t.trial, t.status, t.reward, t.success, t.termination,
                 t.tool_errors) for t in trials]

    return _label(_side(raw(base)), _side(raw(cand)), bool(base or cand))


def _episodes(conn: sqlite3.Connection, run_id: str) -> tuple[dict[str, list[tuple]], tuple]:
    """A run's episode tuples grouped by task (str ids), trials in order, and (episodes,
    newest id, finished) of what was read. The walks over 10^5 tuples run in C (map,
    operator), not in a Python loop."""
    rows = conn.execute(_EPISODES_BY_INDEX, (run_id,)).fetchall()
    if any(a[0] == b[0] and a[2] == b[2] for a, b in zip(rows, rows[1:])):
        rows = conn.execute(_EPISODES, (run_id,)).fetchall()  # two episodes of one trial
    sig = (len(rows), max(map(_id_of, rows), default=None),
           list(map(_status_of, rows)).count("done"))
    return {str(k): list(g) for k, g in groupby(rows, key=_task_of)}, sig


_task_of, _id_of, _status_of = itemgetter(0), itemgetter(1), itemgetter(3)


def _hint(side: str, text: str) -> str:
    """A hint with its side (`B:`, `C:`), or none for one run against gold: its `B:` read as
    lane B of the compare screen, where that run is lane A."""
    return f"{side}:{text}" if side else text


def _scan(side: str, raw: list[tuple], terms: set, hints: list[str]) -> tuple:
    """`_side` of one side, collecting its terminations and the hints the episode columns
    give (tool errors, max steps, too many errors) on the way: one pass per side. `side`:
    "" for one run (see _hint)."""
    ok = n = 0
    running = failed = False
    for r in raw:
        status, term = r[_STATUS], r[_TERM]
        if r[_ERRORS]:
            hints.append(_hint(side, f"{r[_ERRORS]} tool err"))
        if not term:
            if status == "done":  # finished without a reason: termination_text's words
                terms.add(NOT_RECORDED)
        else:
            terms.add(term)
            if term == "max_steps":
                hints.append(_hint(side, "max steps"))
            elif term == "too_many_errors":
                hints.append(_hint(side, "too many errors"))
        if status != "done":
            running = running or status == "running"
            continue
        if not r[_SUCCESS]:
            failed = True
        reward = r[_REWARD]
        if reward is None or term == INFRA:
            continue
        n += 1
        if abs(reward - 1.0) <= SUCCESS_TOL:
            ok += 1
    return ok, n, running, failed


def task_rows(conn: sqlite3.Connection, base_run: str, cand_run: str | None) -> list[TaskRow]:
    """One row per task across the pair (or one run), in task order (`task_sort_key`), with
    transition, terminations, failed flags and the hints the episode columns give. The hints
    that need the steps are added by `fill_hints`."""
    return read_task_rows(conn, base_run, cand_run)[0]


def read_task_rows(conn: sqlite3.Connection, base_run: str, cand_run: str | None
                   ) -> tuple[list[TaskRow], tuple]:
    """`task_rows` and the runs' `data_access.run_signature` as of that read (episodes,
    newest id, finished): the same snapshot, no second query."""
    with paused_gc():
        base, sig = _episodes(conn, base_run)
        cand: dict[str, list[tuple]] = {}
        if cand_run:
            cand, more = _episodes(conn, cand_run)
            newest = [x for x in (sig[1], more[1]) if x is not None]
            sig = (sig[0] + more[0], max(newest, default=None), sig[2] + more[2])
        rows = _rows(base, cand, cand_run is not None)
    return rows, (sig[0], sig[1], sig[2] if sig[0] else None)


PREVIEW_MIN = 2_000  # from this many tasks the screen shows a first page before the rest


def first_task_rows(conn: sqlite3.Connection, base_run: str, cand_run: str | None, n: int
                    ) -> tuple[list[TaskRow], int, int] | None:
    """The first `n` rows in task order, whole (every trial of those tasks), the number of
    tasks and the longest task id (read off the index alone); None below PREVIEW_MIN tasks
    (the whole read is quick).

    Why: at 25,000 tasks the whole read takes ~0.3 s of CPU; the ids (a covering-index scan)
    and one page of tasks take ~30 ms, so the screen shows its first page at once."""
    ids: set[str] = set()
    for run in (base_run, cand_run):
        if run:
            ids.update(str(r[0]) for r in conn.execute(
                "SELECT DISTINCT task_id FROM episodes WHERE run_id = ? AND task_id IS NOT "
                "NULL", (run,)))
    if len(ids) < PREVIEW_MIN:
        return None
    first = heapq.nsmallest(n, ids, key=task_sort_key)
    marks = ",".join("?" * len(first))
    sides = []
    for run in (base_run, cand_run):
        rows = conn.execute(_EPISODES.replace("WHERE run_id = ?", f"WHERE run_id = ? AND "
                                              f"task_id IN ({marks})"), [run, *first]
                            ).fetchall() if run else []
        sides.append({str(k): list(g) for k, g in groupby(rows, key=_task_of)})
    return _rows(sides[0], sides[1], cand_run is not None), len(ids), max(map(len, ids))


def _rows(base: dict[str, list[tuple]], cand: dict[str, list[tuple]], pair: bool
          ) -> list[TaskRow]:
    """Rows of tasks from their episode tuples per side, in task order."""
    with paused_gc():
        ids = list(base) + [t for t in cand if t not in base] if cand else list(base)
        rows = []
        frozen: dict[frozenset, frozenset] = {}  # one set object per distinct set of reasons
        none: list[tuple] = []
        for tid in ids:
            rb, rc = base.get(tid, none), cand.get(tid, none)
            row = TaskRow(tid, rb, rc)
            terms: set[str] = set()
            hints: list[str] = []
            sb = _scan("B" if pair else "", rb, terms, hints)
            if pair:
                sc = _scan("C", rc, terms, hints)
                row.transition = _label(sb, sc, bool(rb or rc))
                row.cand_failed = sc[3]
            else:
                row.transition = _single(sb)
            row.base_failed = sb[3]
            key = frozenset(terms)
            row.terms = frozen.setdefault(key, key)
            if hints:
                row.hints = list(dict.fromkeys(hints)) if len(hints) > 1 else hints
            rows.append(row)
        rows.sort(key=_row_key)
    return rows


_row_key = attrgetter("key")


def write_confirm_flags(conn: sqlite3.Connection, episode_ids: list[int]) -> set[int]:
    """Episodes with a write call whose nearest user message before it is no 'yes'."""
    if not episode_ids:
        return set()
    from .engine.scripted_text import classify_confirmation  # lazy: the engine is heavy

    flagged: set[int] = set()
    # chunks keep the IN list under SQLite's variable limit
    for i in range(0, len(episode_ids), 900):
        chunk = episode_ids[i:i + 900]
        marks = ",".join("?" * len(chunk))
        q = (f"SELECT tc.episode_id, (SELECT u.content FROM steps u WHERE u.episode_id = "
             f"s.episode_id AND u.idx < s.idx AND u.role = 'user' ORDER BY u.idx DESC LIMIT 1) "
             f"FROM tool_calls tc JOIN steps s ON s.step_id = tc.step_id "
             f"WHERE tc.kind = 'write' AND tc.episode_id IN ({marks})")
        for eid, prev in conn.execute(q, chunk):
            # the one yes detector (the stand-in agent's): words, not substrings, so
            # "incorrect" and "look" are no yes; a "no" or a hedge is none either
            if eid not in flagged and classify_confirmation(prev or "") != "yes":
                flagged.add(eid)
    return flagged


def fill_hints(conn: sqlite3.Connection, rows: list[TaskRow], pair: bool = True) -> None:
    """Add the hint that needs the steps: a write with no 'yes' just before it (B: / C:; no
    side for one run, see _hint)."""
    side_of: dict[int, tuple[TaskRow, str]] = {}
    for row in rows:
        for r in row.raw_base:
            side_of[r[1]] = (row, "B" if pair else "")
        for r in row.raw_cand:
            side_of[r[1]] = (row, "C")
    for eid in sorted(write_confirm_flags(conn, list(side_of))):
        row, side = side_of[eid]
        h = _hint(side, "no confirm before write")
        if h not in row.hints:
            row.hints.append(h)
