"""Rerun one task for the baseline and the draft candidate, k trials each, fresh seeds (the
compare screen's quickest "what if" loop). Side A is the baseline and B the draft, as A is the
baseline's episode and B the candidate's everywhere in the app.

    plans = plan_task_rerun(conn, episode_id, draft="v2", baseline="baseline", trials=3)
    summaries = execute_task_rerun(plans, store_path, on_start=..., on_episode=...)

Each side is an ordinary engine run (role `development`, manifest `task_selection`
`{"by": "task-rerun", ...}`), so its trajectories stream into the store as they happen and the
gate never counts them as heldout (store/pairdebug.py). Both sides play in one event loop,
concurrently. The world is the episode's run's: mini-retail, or tau2-retail with the run's data
directory (our own tau2 runs). Imported traces have no task set to rerun here; fork them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any, Callable

from ..errors import T2EError
from .engine import EpisodeDone, RunSummary, execute_run_async
from .plan import RunPlan, plan_run

TASK_RERUN = "task-rerun"


def plan_task_rerun(conn: Any, episode_id: int, *, draft: Any, baseline: Any = "baseline",
                    trials: int = 3, model: str | None = None, user: str | None = None,
                    candidates_dir: str | None = None, seed: int | None = None,
                    config: Any = None) -> list[RunPlan]:
    """Two plans, [A: the baseline's side, B: the draft's], for the task of `episode_id`
    (T2EError on bad input: unknown episode, imported run, trials < 1, a model that can't be
    reached ...)."""
    row = conn.execute(
        "SELECT e.task_id, e.likely_task_id, r.run_id, r.domain, r.manifest_json, "
        "r.source_id, r.grading FROM episodes e JOIN runs r ON r.run_id = e.run_id "
        "WHERE e.episode_id = ?", (int(episode_id),)).fetchone()
    if row is None:
        raise T2EError(f"no episode {episode_id} in this store")
    task_id = row[1] or row[0]
    manifest = json.loads(row[4]) if row[4] else None
    if row[5] is not None or not manifest or row[3] not in ("mini-retail", "tau2-retail"):
        raise T2EError(f"run {row[2]} was imported: its task can't be rerun here (no world "
                       "of ours holds it); fork an episode at a step instead (f)")
    if trials < 1:
        raise T2EError(f"trials {trials}: must be at least 1")
    agent = model or (manifest.get("agent") or {}).get("kind", "scripted")
    if agent == "openai":
        agent = f"openai:{manifest['agent'].get('model')}"
    run_seed = secrets.randbelow(2**31) if seed is None else seed
    selection = {"by": TASK_RERUN, "task": task_id, "from_episode": int(episode_id)}
    plans = []
    for side, cand in (("A", baseline), ("B", draft)):
        plan = plan_run(domain=row[3], data_dir=manifest.get("data_dir"), candidate=cand,
                        candidates_dir=candidates_dir, tasks=task_id, trials=trials,
                        concurrency=trials, model=agent, user=user,
                        grade=manifest.get("grading") or "db-communicate",
                        seed=run_seed, role="development", store_conn=conn,
                        task_selection=selection, config=config)
        plan.name = f"rerun {task_id} {side} · {plan.candidate.name} {plan.agent.label}"
        plans.append(plan)
    return plans


async def _both(plans: list[RunPlan], store_path: str, on_start: Callable | None,
                on_episode: Callable | None, cancel: Any) -> list[RunSummary]:
    async def one(i: int, plan: RunPlan) -> RunSummary:
        # steps are committed within 10 ms, so the live view shows the first one quickly
        return await execute_run_async(
            plan, store_path, cancel=cancel, commit_delay=0.01,
            on_start=(lambda rid: on_start(i, rid)) if on_start else None,
            on_episode=(lambda ev: on_episode(i, ev)) if on_episode else None)
    return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(plans))))


def execute_task_rerun(plans: list[RunPlan], store_path: str, *,
                       on_start: Callable[[int, str], None] | None = None,
                       on_episode: Callable[[int, EpisodeDone], None] | None = None,
                       cancel: Any = None) -> list[RunSummary]:
    """Play both sides concurrently in a fresh event loop (call from a worker thread).
    `on_start(side_index, run_id)` fires as each run row exists, so a view can follow."""
    return asyncio.run(_both(plans, store_path, on_start, on_episode, cancel))
