"""The rerun engine: play a planned run's episodes concurrently and stream them into the store.

Python API (what `t2e run` and the TUI's rerun launcher call; no textual here):

    from t2e_tui.engine import plan_run, execute_run, resume_run
    plan = plan_run(domain="mini-retail", candidate="candidates/x.md", tasks="heldout",
                    trials=4, concurrency=8, model="scripted", name="x heldout",
                    role="heldout")                       # raises T2EError on bad input
    summary = execute_run(plan, store_path, on_episode=cb, cancel=event)
    summary = resume_run(store_path, run_id, on_episode=cb, cancel=event)

- `on_episode(EpisodeDone)` is called (in the engine's thread) as each episode finishes:
  task_id, trial, reward, termination_reason, done/total counts. Keep it cheap; a UI should post
  a coalescing message from it.
- `on_start(run_id)` is called once the run row exists, so a live view can follow it.
- `cancel`: a `threading.Event`. When set, episodes in flight are abandoned (their partial rows
  deleted), every finished episode stays saved, the run is marked `interrupted`, and
  `execute_run` returns normally with `summary.status == "interrupted"`. Ctrl-C (asyncio
  cancellation) does the same and then re-raises.
- Errors: any other exception stops the run the same way (status `interrupted`, resumable)
  and propagates. Bad input never gets this far: `plan_run` refuses it first.
- `execute_run` runs its own event loop (`asyncio.run`), so call it from a worker thread;
  `execute_run_async` is the coroutine for callers that have a loop.

Durability: an episode row is created `running`, each message is appended as it happens (its
own transaction when a model call follows; group-committed within 50 ms for all-scripted runs,
see sink.py), and it is scored and closed in one transaction (all-scripted: the one that
also holds its row and steps, `StepSink.finish`). After
`kill -9` at any moment the store holds whole finished episodes plus `running` leftovers, which a
resume discards first (`discard_running`); UNIQUE(run_id, episode_key) with key "<task>:<trial>"
rules out duplicates. A resume also re-plays `infrastructure_error` episodes: they carry no
evidence (the model was unreachable) and are excluded from every figure anyway.

Seeds: each episode's seed is derived from (run seed, task, trial) (manifest.episode_seed), and
the scripted agent and user draw only from it, so a scripted run is reproducible and a resumed
run has the trajectory hash of an uninterrupted one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable

import store
from store import writer

from ..errors import T2EError
from .episode import Cancelled, EpisodeOutcome, play_episode
from .manifest import episode_seed, store_trajectory_hash
from .plan import ModelSpec, RunPlan, plan_from_manifest
from .secrets import redact
from .sink import StepSink

__all__ = ["ALL_INFRA", "EpisodeDone", "RunSummary", "execute_run", "execute_run_async", "resume_run",
           "run_summary"]


@dataclass
class EpisodeDone:
    """Progress report: one episode finished."""
    run_id: str
    task_id: str
    trial: int
    reward: float | None
    termination_reason: str
    done: int
    total: int


# RunSummary.status when a run finished but every episode ended infrastructure_error (the
# model was never reached): nothing was measured, so it must not read as "complete".
ALL_INFRA = store.INFRA


@dataclass
class RunSummary:
    run_id: str
    status: str                     # running | interrupted | complete | infrastructure_error
    episodes: int                   # finished episodes in the store
    reward: float | None            # mean reward (infrastructure errors and ungraded excluded)
    pass_rate: float | None         # share of successes among the same episodes
    trajectory_hash: str
    infrastructure_errors: int = 0
    ungraded: int = 0

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "episodes": self.episodes, "reward": self.reward,
                "pass_rate": self.pass_rate, "trajectory_hash": self.trajectory_hash,
                "status": self.status, "infrastructure_errors": self.infrastructure_errors,
                "ungraded": self.ungraded}


OnEpisode = Callable[[EpisodeDone], None]


# ------------------------------------------------------------------ backends per run

class _Backends:
    """Model clients for one run (bound to the run's event loop; closed at the end)."""

    def __init__(self, plan: RunPlan):
        from .openai_backend import ChatClient, OpenAIAgent
        self._clients: dict[tuple, Any] = {}

        def chat(spec: ModelSpec) -> Any:
            key = (spec.model, json.dumps(spec.endpoint.public(), sort_keys=True))
            if key not in self._clients:
                self._clients[key] = ChatClient(spec.endpoint, spec.model)
            return self._clients[key]

        self.plan = plan
        if plan.agent.kind == "openai":
            self.agent: Any = OpenAIAgent(chat(plan.agent))
        else:
            from .scripted import ScriptedAgent
            self.agent = ScriptedAgent(noise=plan.noise)
        self.user_chat = chat(plan.user) if plan.user.kind == "openai" else None
        self.judge = None
        if plan.judge is not None:
            from .judge import LLMJudge
            self.judge = LLMJudge(chat(plan.judge))

    def user_for(self, task: Any, seed: int) -> Any:
        if self.user_chat is not None:
            from .llm_user import LLMUser
            return LLMUser(self.user_chat, task, seed)
        from world.users import scripted_user
        return scripted_user(task, seed)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


# ------------------------------------------------------------------ the run

def _create_run(conn: Any, plan: RunPlan) -> str:
    """Candidate, world, run row and task definitions: all or nothing."""
    # the candidate as planned (not looked up again: the file may have changed or gone),
    # recorded by the workbench's recorder, which names the version and dates it (its
    # children's drafting window starts there); a no-op when the hash is already stored
    from pathlib import Path

    from ..candidate_versions import record

    record(conn, plan.candidate, Path(plan.candidates_dir) if plan.candidates_dir else None)
    manifest = plan.manifest()
    with writer.transaction(conn):
        # the lock detail (per-part hashes) lets `t2e world verify` say what changed
        writer.ensure_world(conn, plan.domain.world_hash, kind="lock", domain=plan.domain_name,
                            detail=plan.domain.world_detail)
        run_id = writer.create_run(
            conn, name=plan.name, role=plan.role, world_id=plan.domain.world_hash,
            domain=plan.domain_name, status="running", agent_model=plan.agent.label,
            user_model=plan.user.label, candidate_hash=plan.candidate.hash,
            grading=plan.grading, num_trials=plan.trials, max_steps=plan.max_steps,
            max_errors=plan.max_errors, seed=plan.seed, manifest=manifest)
        writer.put_tasks(conn, run_id, [_task_dict(t) for t in plan.tasks])
    return run_id


def _task_dict(task: Any) -> dict:
    raw = dict(getattr(task, "raw", None) or {})
    t2e = getattr(task, "t2e", None)
    if t2e and "t2e" not in raw:
        raw["t2e"] = t2e
    return raw


async def _play_one(conn: Any, sink: StepSink, plan: RunPlan, backends: _Backends,
                    run_id: str, task_id: str, trial: int, ord_: int, tools: list[dict],
                    prompt: str, cancel: threading.Event | None) -> tuple[str, float | None]:
    task = plan.domain.tasks[task_id]
    seed = episode_seed(plan.seed, task_id, trial)
    key = f"{task_id}:{trial}"
    sink.begin()  # (batch mode: the episode's row, steps and close in one transaction)
    # sim_id gives exported tau2 files a stable SimulationRun.id (ids stay out of the hash)
    eid = writer.begin_episode(conn, run_id, episode_key=key, task_id=task_id, trial=trial,
                               seed=seed, ord=ord_, sim_id=f"{run_id}:{key}")
    names: dict[str, str] = {}

    def on_step(idx: int, msg: dict, latency_ms: float | None) -> None:
        sink.append(eid, idx, msg, latency_ms, names)

    try:
        user = backends.user_for(task, seed)
    except Exception as exc:  # noqa: BLE001 - the scenario can't be played
        out = EpisodeOutcome(messages=[], termination_reason="user_error",
                             error=f"{type(exc).__name__}: {exc}")
    else:
        out = await play_episode(agent=backends.agent, user=user, env=plan.domain.new_env(),
                                 system_prompt=prompt, tools=tools, max_steps=plan.max_steps,
                                 max_errors=plan.max_errors, seed=seed, on_step=on_step,
                                 cost=plan.config.cost, cancel=cancel)
    # (no commit here: batch mode is off whenever anything below may await, the judge)
    reason = out.termination_reason
    verdicts: list | None = None
    if (backends.judge is not None and plan.grading == "judge" and task.nl_assertions
            and reason in ("user_stop", "agent_stop")):
        from .types import InfrastructureError
        try:
            verdicts = await backends.judge.verdicts(out.messages, list(task.nl_assertions))
        except InfrastructureError as exc:
            reason, out.error = store.INFRA, f"judge: {exc}"
    from world.scoring import score_episode
    reward_info = score_episode(
        task, out.messages, reason, base_db=plan.domain.base_db,
        tool_version=plan.domain.tool_version, grading=plan.grading,
        judge=(lambda _t, _m: verdicts) if verdicts is not None else None)
    extra = {"error": redact(out.error)} if out.error else None  # stored and exported
    sink.finish(lambda c: writer.close_episode(
        c, eid, termination_reason=reason, reward_info=reward_info, duration=out.duration,
        agent_cost=out.agent_cost, user_cost=out.user_cost, extra=extra))
    return reason, reward_info.get("reward")


async def execute_run_async(plan: RunPlan, store_path: str, *, run_id: str | None = None,
                            on_episode: OnEpisode | None = None,
                            on_start: Callable[[str], None] | None = None,
                            cancel: threading.Event | None = None,
                            commit_delay: float = 0.05) -> RunSummary:
    """Play every missing episode of the plan (all of them for a new run). `commit_delay`:
    the longest a scripted step waits for its group commit (a live view's latency)."""
    backends = _Backends(plan)  # before any row is written: a backend that can't load is bad input
    conn = store.connect(store_path)
    lock = None
    try:
        if run_id is None:
            run_id = _create_run(conn, plan)
            lock = _lock_run(store_path, run_id)
        else:
            lock = _lock_run(store_path, run_id)  # before touching its rows
            _prepare_resume(conn, run_id)
        if on_start is not None:
            on_start(run_id)
        have = {r[0] for r in conn.execute(
            "SELECT episode_key FROM episodes WHERE run_id = ? AND status = 'done'", (run_id,))}
        todo = [e for e in plan.episodes() if f"{e[0]}:{e[1]}" not in have]
        total = len(plan.episodes())
        done_count = total - len(todo)
        tools = plan.domain.tool_schemas()
        prompt = plan.system_prompt()
        # group commit only when no model call can sit between two steps (see sink.py)
        sink = StepSink(conn, batch=plan.agent.kind == plan.user.kind == "scripted"
                        and backends.judge is None)
        sink.max_delay = commit_delay
        queue: asyncio.Queue = asyncio.Queue()
        for item in todo:
            queue.put_nowait(item)

        async def worker() -> None:
            nonlocal done_count
            while not queue.empty():
                task_id, trial, ord_ = queue.get_nowait()
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                reason, reward = await _play_one(conn, sink, plan, backends, run_id, task_id,
                                                 trial, ord_, tools, prompt, cancel)
                done_count += 1
                if on_episode is not None:
                    on_episode(EpisodeDone(run_id, task_id, trial, reward, reason, done_count,
                                           total))
                await asyncio.sleep(0)  # let Ctrl-C and the other workers in

        workers = [asyncio.ensure_future(worker())
                   for _ in range(min(plan.concurrency, max(1, len(todo))))]
        watcher = asyncio.ensure_future(_watch(cancel, workers)) if cancel else None
        try:
            await asyncio.gather(*workers)
        except BaseException as exc:
            # Stop the other workers, drop the episodes in flight, keep every finished one.
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            sink.abandon()
            _close_interrupted(conn, run_id)
            requested = cancel is not None and cancel.is_set() and isinstance(
                exc, (Cancelled, asyncio.CancelledError))
            if not requested:
                raise  # Ctrl-C (asyncio cancellation) or a real error: the caller sees it
        else:
            writer.set_run_status(conn, run_id, "complete")
        finally:
            if watcher is not None:
                watcher.cancel()
            await backends.aclose()
        return run_summary(conn, run_id)
    finally:
        conn.close()
        if lock is not None:
            lock.release()


def _lock_run(store_path: str, run_id: str) -> Any:
    """One process plays a run at a time: a second `--resume` of a live run is refused with
    the pid that has it (the lock goes when that process ends, even killed)."""
    from store.locks import Held, Lock

    try:
        return Lock.take(store_path, f"run-{run_id}")
    except Held as exc:
        raise T2EError(f"run {run_id} is being played or resumed by pid {exc.pid}; let it "
                       "finish (or stop it) before `t2e run --resume`") from None


async def _watch(cancel: threading.Event, workers: list[asyncio.Future]) -> None:
    """Turn a threading.Event into task cancellation (a request may be in flight for long)."""
    while not cancel.is_set():
        await asyncio.sleep(0.05)
    for w in workers:
        w.cancel()


def _close_interrupted(conn: Any, run_id: str) -> None:
    writer.discard_running(conn, run_id)
    writer.set_run_status(conn, run_id, "interrupted")


def _prepare_resume(conn: Any, run_id: str) -> None:
    writer.discard_running(conn, run_id)
    with writer.transaction(conn):
        ids = [r[0] for r in conn.execute(
            "SELECT episode_id FROM episodes WHERE run_id = ? AND status = 'done' AND "
            "termination_reason = ?", (run_id, store.INFRA))]
        for eid in ids:
            writer.delete_fts_for_episode(conn, eid)
        conn.executemany("DELETE FROM episodes WHERE episode_id = ?", [(i,) for i in ids])
        conn.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?",
                     (run_id,))


def run_summary(conn: Any, run_id: str) -> RunSummary:
    """The run's figures from the store (infrastructure errors excluded, as everywhere)."""
    row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise T2EError(f"no run {run_id!r} in the store")
    eps = conn.execute("SELECT termination_reason, reward, success FROM episodes "
                       "WHERE run_id = ? AND status = 'done'", (run_id,)).fetchall()
    infra = sum(1 for r in eps if r[0] == store.INFRA)
    graded = [r for r in eps if r[0] != store.INFRA and r[1] is not None]
    ungraded = sum(1 for r in eps if r[0] != store.INFRA and r[1] is None)
    reward = sum(r[1] for r in graded) / len(graded) if graded else None
    pass_rate = sum(1 for r in graded if r[2]) / len(graded) if graded else None
    status = row[0]
    if status == "complete" and eps and infra == len(eps):
        status = ALL_INFRA
    return RunSummary(run_id=run_id, status=status, episodes=len(eps), reward=reward,
                      pass_rate=pass_rate, trajectory_hash=store_trajectory_hash(conn, run_id),
                      infrastructure_errors=infra, ungraded=ungraded)


def execute_run(plan: RunPlan, store_path: str, **kw: Any) -> RunSummary:
    """Run the plan in a fresh event loop (call from a worker thread in a UI)."""
    return asyncio.run(execute_run_async(plan, store_path, **kw))


def load_resume_plan(store_path: str, run_id: str, *, concurrency: int | None = None,
                     config: Any = None) -> RunPlan:
    """Rebuild a stored run's plan from its manifest and candidate (for --resume)."""
    conn = store.connect(store_path)
    try:
        row = conn.execute("SELECT manifest_json, name, role, candidate_hash, source_id "
                           "FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise T2EError(f"--resume {run_id}: no such run in {store_path}")
        if not row[0] or row[4] is not None:
            raise T2EError(f"--resume {run_id}: an imported run has nothing to resume")
        manifest = json.loads(row[0])
        crow = conn.execute("SELECT name, body, parent_hash, hypothesis FROM candidates "
                            "WHERE candidate_hash = ?", (row[3],)).fetchone()
        if crow is None:
            raise T2EError(f"--resume {run_id}: candidate {row[3][:10]} is not in the store")
    finally:
        conn.close()
    from ..candidates import Candidate
    cand = Candidate(name=crow[0], body=crow[1], parent=crow[2], hypothesis=crow[3])
    return plan_from_manifest(manifest, cand, run_name=row[1], role=row[2],
                              concurrency=concurrency, config=config)


def resume_run(store_path: str, run_id: str, *, concurrency: int | None = None,
               **kw: Any) -> RunSummary:
    """Finish what a stored run is missing (after Ctrl-C or a crash)."""
    plan = load_resume_plan(store_path, run_id, concurrency=concurrency)
    return execute_run(plan, store_path, run_id=run_id, **kw)

