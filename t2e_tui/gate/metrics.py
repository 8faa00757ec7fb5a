"""Per-run figures read from the store: task outcomes, reward, pass rate, pass^k, action match,
termination counts, cost, tokens and latency.

Definitions (issue 5): an episode succeeds when |reward - 1| <= 1e-6; a task's outcome is its
success rate over its trials; episodes that ended in `infrastructure_error` are left out of
every figure and listed apart; so are episodes that were never scored (reward NULL).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from store import INFRA

from .outcomes import Episode, TaskOutcome, outcomes_from_episodes  # noqa: F401 (re-exported)
from .runs import conn_of
from .stats import run_pass_hat_k

KINDS = ("overall", "read", "write")


def load_episodes(db: Any, run_id: str) -> list[Episode]:
    """Finished episodes of a run, ordered by task, trial, then file order."""
    rows = conn_of(db).execute(
        "SELECT episode_id, task_id, trial, reward, termination_reason, agent_cost, user_cost, "
        "duration, tokens_in, tokens_out FROM episodes "
        "WHERE run_id = ? AND status = 'done' ORDER BY task_id, trial, ord, episode_id",
        (run_id,)).fetchall()
    return [Episode(r[0], str(r[1]) if r[1] is not None else "", *r[2:]) for r in rows]


def task_outcomes(db: Any, run_id: str) -> dict[str, TaskOutcome]:
    """Per-task outcomes of a run, keyed by task id (every task with a finished episode, even
    if all its episodes were infrastructure errors: then `rate` is None)."""
    return outcomes_from_episodes(load_episodes(db, run_id))


@dataclass
class ActionMatch:
    """Gold actions matched in the trajectory, micro-averaged (None = n/a: no gold actions)."""
    matched: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return self.matched / self.total if self.total else None


def action_rows(db: Any, episode_ids: list[int]) -> dict[int, list[tuple[str | None, Any]]]:
    """(tool_kind, met) of the `checks` rows of kind 'action' of these episodes, by episode."""
    out: dict[int, list[tuple[str | None, Any]]] = {}
    conn = conn_of(db)
    for chunk in _chunks(episode_ids, 500):
        marks = ",".join("?" * len(chunk))
        for eid, kind, met in conn.execute(
                f"SELECT episode_id, tool_kind, met FROM checks WHERE kind = 'action' "
                f"AND episode_id IN ({marks})", chunk):
            out.setdefault(eid, []).append((kind, met))
    return out


def action_match(db: Any, episode_ids: list[int],
                 gold_by_episode: dict[int, list[str]] | None = None,
                 rows: dict[int, list[tuple[str | None, Any]]] | None = None
                 ) -> dict[str, ActionMatch]:
    """Action match overall/read/write over the given episodes, from `checks` rows of kind
    'action'. Rows with met NULL (unknown) are left out. An episode without action-check rows
    whose task has gold actions (a premature ending records no checks) counts those gold actions
    as unmatched, so cutting an episode short can never raise the figure;
    `gold_by_episode` maps such episodes to their gold action kinds. `rows` (from
    `action_rows`, possibly for more episodes) saves the query."""
    res = {k: ActionMatch() for k in KINDS}
    if not episode_ids:
        return res
    if rows is None:
        rows = action_rows(db, episode_ids)
    wanted = set(episode_ids)
    for eid in wanted:
        for kind, met in rows.get(eid, ()):
            if met is not None:
                _count(res, kind, bool(met))
    for eid, kinds in (gold_by_episode or {}).items():
        if eid in rows or eid not in wanted:
            continue
        for kind in kinds:
            _count(res, kind, False)
    return res


def _count(res: dict[str, ActionMatch], kind: str | None, met: bool) -> None:
    res["overall"].total += 1
    res["overall"].matched += int(met)
    if kind in ("read", "write"):
        res[kind].total += 1
        res[kind].matched += int(met)


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def gold_action_kinds(db: Any, run_id: str) -> dict[str, list[str]]:
    """Task id -> kinds of its gold actions, from the task definitions the run graded with."""
    from .rundata import gold_kinds

    return gold_kinds(db, run_id)


@dataclass
class RunMetrics:
    """The figures of one run over a task set."""
    run_id: str
    tasks: int
    episodes: int
    reward: float | None
    pass_rate: float | None
    pass_hat_k: dict[int, float]
    action_match: dict[str, float | None]
    action_counts: dict[str, list[int]]         # kind -> [matched, total]
    max_steps: int
    too_many_errors: int
    terminations: dict[str, int]
    infrastructure_errors: list[dict]           # listed apart, excluded from every figure
    unscored: list[dict]
    agent_cost: float | None
    user_cost: float | None
    tokens_in: int | None
    tokens_out: int | None
    mean_duration: float | None
    total_duration: float | None
    mean_step_latency_ms: float | None = None   # model/tool latency per step, when recorded

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pass_hat_k"] = {str(k): v for k, v in self.pass_hat_k.items()}
        return d


def run_metrics(db: Any, run_id: str, task_ids: Iterable[str] | None = None,
                data: Any = None) -> RunMetrics:
    """Figures of `run_id`, restricted to `task_ids` when given. `data` is the run as
    `rundata.load_run` read it (a Comparison carries both sides'), saving a second read."""
    from .rundata import episode_figures, load_run, rates

    if data is None or data.run_id != run_id:
        data = load_run(db, run_id)
    data.ensure_actions(db)
    keep = None if task_ids is None else set(task_ids)
    if keep is not None and keep.issuperset(data.outcomes):
        keep = None  # every task of the run: nothing to filter
    outcomes = data.outcomes if keep is None else {
        t: o for t, o in data.outcomes.items() if t in keep}
    counts = data.actions_of(None if keep is None else outcomes)
    f = data.figures if keep is None and data.figures is not None else \
        episode_figures(data.rows(db), keep)
    n = f["scored"]
    nd = f["durations"]
    return RunMetrics(
        run_id=run_id,
        tasks=sum(1 for t in outcomes.values() if t.rewards),
        episodes=n,
        reward=(f["reward"] / n) if n else None,
        pass_rate=(f["successes"] / n) if n else None,
        pass_hat_k=run_pass_hat_k([(sum(t.successes), len(t.successes))
                                   for t in outcomes.values()]),
        action_match=rates(counts),
        action_counts={k: [counts[2 * i], counts[2 * i + 1]] for i, k in enumerate(KINDS)},
        max_steps=f["terms"].get("max_steps", 0),
        too_many_errors=f["terms"].get("too_many_errors", 0),
        terminations=dict(f["terms"]),  # copies: the run's figures serve every call
        infrastructure_errors=list(f["infra"]),
        unscored=list(f["unscored"]),
        agent_cost=f["agent_cost"],
        user_cost=f["user_cost"],
        tokens_in=f["tokens_in"],
        tokens_out=f["tokens_out"],
        mean_duration=(f["duration"] / nd) if nd else None,
        total_duration=f["duration"] if nd else None,
        mean_step_latency_ms=_mean_step_latency(db, run_id, keep, data.id_range()),
    )


def _mean_step_latency(db: Any, run_id: str, keep: set[str] | None,
                       id_range: tuple[int, int] | None = None) -> float | None:
    """Mean recorded step latency over the run's scored episodes (of the `keep` tasks): one
    query, the task set passed as a JSON array (no bound-variable limit). `latency_ms IS NOT
    NULL` lets it read idx_steps_latency (only the steps that carry one) instead of every
    step row; given the run's episode `id_range`, a run whose range holds no such step
    (most imports) is answered from the index without visiting its episodes."""
    if id_range is not None and conn_of(db).execute(
            "SELECT 1 FROM steps WHERE latency_ms IS NOT NULL AND episode_id BETWEEN ? AND ? "
            "LIMIT 1", id_range).fetchone() is None:
        return None
    sql = ("SELECT total(s.latency_ms), count(s.latency_ms) FROM episodes e "
           "JOIN steps s ON s.episode_id = e.episode_id WHERE e.run_id = ? "
           "AND s.latency_ms IS NOT NULL "
           "AND e.status = 'done' AND e.reward IS NOT NULL "
           f"AND coalesce(e.termination_reason, '') != '{INFRA}'")
    args: tuple = (run_id,)
    if keep is not None:
        sql += " AND e.task_id IN (SELECT value FROM json_each(?))"
        args += (json.dumps(sorted(keep)),)
    s, n = conn_of(db).execute(sql, args).fetchone()
    return s / n if n else None


def task_action_match(db: Any, outcome: TaskOutcome, gold_kinds: list[str],
                      rows: dict[int, list[tuple[str | None, Any]]] | None = None
                      ) -> dict[str, float | None]:
    """Action match of one task's scored episodes (used to explain action-match checks)."""
    am = action_match(db, outcome.episode_ids, {e: gold_kinds for e in outcome.episode_ids},
                      rows)
    return {k: v.rate for k, v in am.items()}
