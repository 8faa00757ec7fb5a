"""Fork an episode at step t: keep its first t messages, restore the world at t, and simulate
the rest again, k times, with a chosen candidate and model (pair-debugging).

    fp = plan_fork(conn, "RUN:TASK", at=7, candidate="draft-v2", trials=3)   # T2EError on bad input
    summary = execute_fork(fp, store_path, on_episode=cb)

- The world at t: `world.replay.restore_at` replays every recorded tool call answered before t
  on a fresh fork of the task's initial records and checks every replayed result against the
  recording; a trace that diverges is refused, naming the first differing step.
- Worlds: our runs on mini-retail (the scripted user plays on), and imported tau2-retail traces
  with the tau2 data directory (`--data DIR`, the run's manifest, or $TAU2_DATA_DIR): the
  records come from its db.json, the task is the one the run graded (stored with the run), and
  the user must be an LLM (tau2 tasks carry no scripted-user scenario).
- Storage: one run per fork call (role `development`, manifest `kind: fork`), one episode per
  trial with `forked_from_episode` and `forked_at_step` set. The kept prefix is stored as the
  fork's first t steps, so the compare screen aligns the fork with its parent from step t.
  The gate never counts a run holding forks as anything but development evidence.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import store
from store import writer

from ..errors import T2EError
from .engine import EpisodeDone, RunSummary, _Backends, run_summary
from .episode import play_episode
from .manifest import episode_seed
from .plan import (
    DEFAULT_MAX_ERRORS,
    DEFAULT_MAX_STEPS,
    GRADINGS,
    ModelSpec,
    RunPlan,
    _endpoint_for,
    _resolve_candidate,
    parse_model,
)

RETAIL_IMPORTS = ("retail", "tau2-retail")


@dataclass
class ForkPlan:
    """A validated fork: the parent, the step, the restored world and the run plan."""
    parent_episode: int
    parent_run: str
    parent_ref: str
    at: int
    task_id: str
    prefix: list[dict]
    restored: Any                   # world.replay.Restored
    plan: RunPlan
    world_id: str | None
    run_domain: str
    restore_ms: float

    def manifest(self) -> dict:
        m = self.plan.manifest()
        m.update(kind="fork", parent_episode=self.parent_episode, parent_run=self.parent_run,
                 parent_ref=self.parent_ref, fork_step=self.at, world_id=self.world_id,
                 replayed_calls=self.restored.replayed)
        return m


def _stored_task(conn: Any, run_id: str, task_id: str) -> Any:
    from world.tasks import parse_task
    row = conn.execute("SELECT task_json FROM tasks WHERE run_id = ? AND task_id = ?",
                       (run_id, task_id)).fetchone()
    if row is None:
        return None
    return parse_task(json.loads(row[0]))


def _world_for(conn: Any, run: dict, task_id: str, data_dir: str | None) -> tuple[Any, Any]:
    """(domain object, task) for the parent's run: mini-retail, or a tau2 retail import."""
    from world.domains import Domain, load_domain
    domain = run.get("domain") or ""
    stored = _stored_task(conn, run["run_id"], task_id)
    if domain == "mini-retail":
        dom = load_domain("mini-retail")
        if run.get("world_id") and run["world_id"] != dom.world_hash:
            raise T2EError(f"run {run['run_id']} was made in another mini-retail world "
                           f"({run['world_id'][:12]}, now {dom.world_hash[:12]}); its trace "
                           "can't be restored in this one")
        task = stored or dom.tasks.get(task_id)
        if task is None:
            raise T2EError(f"task {task_id!r} is neither stored with run {run['run_id']} nor "
                           "in mini-retail")
        tasks = dict(dom.tasks)
        tasks[task_id] = task
        return Domain(dom.name, dom.policy, tasks, dom.splits, dom.base_db, dom.world_hash,
                      dom.world_detail, dom.tool_version, info=dom.info), task
    if domain not in RETAIL_IMPORTS:
        raise T2EError(f"run {run['run_id']} is domain {domain or 'unknown'!r}: forks restore "
                       "retail worlds only (mini-retail, tau2 retail)")
    from world.tau2_data import load_retail_db, retail_dir
    manifest = json.loads(run["manifest_json"]) if run.get("manifest_json") else {}
    folder = retail_dir(data_dir or manifest.get("data_dir"))
    if stored is None:
        raise T2EError(f"run {run['run_id']} stores no definition of task {task_id!r}; "
                       "a fork needs the task as graded")
    info = json.loads(run["info_json"]) if run.get("info_json") else {}
    policy = ((info.get("environment_info") or {}).get("policy")
              if isinstance(info.get("environment_info"), dict) else None)
    policy_file = folder / "policy.md"
    if policy_file.is_file():
        policy = policy_file.read_text(encoding="utf-8")
    if not policy:
        raise T2EError(f"{folder}: no policy.md and run {run['run_id']} records no policy")
    version = "v0" if (run.get("source_format") or "").endswith("v0") else "v1"
    dom = Domain("tau2-retail", policy, {task_id: stored}, {}, load_retail_db(folder),
                 run.get("world_id") or "", {}, version, data_dir=str(folder))
    return dom, stored


def plan_fork(conn: Any, episode: Any, at: int, *, candidate: Any = None,
              candidates_dir: str | None = None, model: str = "scripted",
              user: str | None = None, judge: str | None = None, grade: str | None = None,
              trials: int = 1, data_dir: str | None = None, seed: int | None = None,
              max_steps: int | None = None, endpoint: str | None = None,
              base_url: str | None = None, api_key_env: str | None = None,
              config: Any = None) -> ForkPlan:
    """Validate a fork and restore the world at `at`; raises T2EError (exit 2) on bad input,
    world.replay.ReplayDivergence (a WorldError, exit 2) when the trace diverges."""
    from store.queries import get_run, load_episode, resolve_episode
    from world.replay import restore_at

    from .config import load_config
    cfg = config if config is not None else load_config()
    if trials < 1:
        raise T2EError(f"--trials {trials}: must be at least 1")
    eid = resolve_episode(conn, episode)
    ep = load_episode(conn, eid)
    if ep["status"] != "done":
        raise T2EError(f"episode {eid} is still running; fork it once it has finished")
    msgs = ep["messages"]
    n = len(msgs)
    if not isinstance(at, int) or at < 1 or at >= n:
        raise T2EError(f"--at {at}: episode {eid} has steps 0..{n - 1}; fork at a step from 1 "
                       f"to {n - 1} (steps before it are kept, it and the rest re-simulated)")
    run = get_run(conn, ep["run_id"])
    task_id = ep.get("likely_task_id") or ep["task_id"]
    dom, task = _world_for(conn, run, task_id, data_dir)
    t0 = time.perf_counter()
    restored = restore_at(dom.base_db, msgs, at, tool_version=dom.tool_version)
    restore_ms = (time.perf_counter() - t0) * 1000.0

    agent_kind, agent_model = parse_model(model, "--model")
    if user is None:
        user = "scripted" if dom.name == "mini-retail" else model
    user_kind, user_model = parse_model(user, "--user")
    if user_kind == "scripted" and not getattr(task, "scenario", None):
        raise T2EError(f"task {task_id} has no scripted-user scenario (a tau2 task): fork it "
                       "with an LLM user (--user openai:MODEL)")
    agent_spec, user_spec = ModelSpec(agent_kind, agent_model), ModelSpec(user_kind, user_model)
    flags = {"base_url": base_url, "api_key_env": api_key_env}
    _endpoint_for(cfg, agent_spec, {"endpoint": endpoint, "flags": flags})
    _endpoint_for(cfg, user_spec, {"endpoint": endpoint, "flags": flags})
    judge_spec = None
    if judge is not None:
        jk, jm = parse_model(judge, "--judge")
        if jk != "openai":
            raise T2EError("--judge must be openai:MODEL (the judge is a model)")
        judge_spec = ModelSpec(jk, jm)
        _endpoint_for(cfg, judge_spec, {"endpoint": endpoint, "flags": flags})
    if grade is None:
        # the parent's grading, so fork and parent score alike; imports ("recorded") have
        # no judge of ours, so they grade on the deterministic parts
        grade = run.get("grading") if run.get("grading") in GRADINGS else "db-communicate"
    if grade not in GRADINGS:
        raise T2EError(f"--grade {grade!r}: expected one of {', '.join(GRADINGS)}")
    if grade == "judge" and judge_spec is None and task.nl_assertions \
            and "NL_ASSERTION" in task.reward_basis:
        raise T2EError(f"task {task_id} gates on NL assertions: pass --judge openai:MODEL, or "
                       "--grade db-communicate")
    for spec in (agent_spec, user_spec, judge_spec):
        if spec is not None and spec.endpoint is not None:
            spec.endpoint.api_key()
    cand, cand_ref = _resolve_candidate(candidate, candidates_dir, conn)
    from store.queries import episode_ref_or_id
    ref = episode_ref_or_id(eid, ep["run_id"], ep["task_id"], ep["trial"])
    plan = RunPlan(domain_name=dom.name, data_dir=dom.data_dir, domain=dom, candidate=cand,
                   candidate_ref=cand_ref, candidates_dir=candidates_dir, task_ids=[task_id],
                   trials=trials, concurrency=min(trials, 8),
                   max_steps=max_steps or run.get("max_steps") or DEFAULT_MAX_STEPS,
                   max_errors=run.get("max_errors") or DEFAULT_MAX_ERRORS,
                   seed=secrets.randbelow(2**31) if seed is None else seed, noise=0.0,
                   agent=agent_spec, user=user_spec, judge=judge_spec, grading=grade,
                   name=f"fork {ref} @{at} · {cand.name} {agent_spec.label}",
                   role="development", tasks_spec=task_id, config=cfg)
    return ForkPlan(parent_episode=eid, parent_run=ep["run_id"], parent_ref=ref, at=at,
                    task_id=task_id, prefix=msgs[:at], restored=restored, plan=plan,
                    world_id=run.get("world_id"), run_domain=run.get("domain") or dom.name,
                    restore_ms=restore_ms)


def _create_fork_run(conn: Any, fp: ForkPlan) -> str:
    from pathlib import Path

    plan = fp.plan
    if plan.candidate_ref is not None:
        from ..candidate_versions import ensure_recorded
        from ..candidates import CandidateError
        try:
            ensure_recorded(conn, plan.candidate_ref,
                            Path(plan.candidates_dir) if plan.candidates_dir else None)
        except CandidateError:
            pass
    from ..candidate_versions import record  # the engine's recorder (#12): no row of our own
    record(conn, plan.candidate, Path(plan.candidates_dir) if plan.candidates_dir else None)
    from .engine import _task_dict
    with writer.transaction(conn):
        if fp.world_id:
            writer.ensure_world(conn, fp.world_id, kind="lock" if fp.run_domain == "mini-retail"
                                else "import", domain=fp.run_domain)
        run_id = writer.create_run(
            conn, name=plan.name, role="development", world_id=fp.world_id or None,
            domain=fp.run_domain, status="running", agent_model=plan.agent.label,
            user_model=plan.user.label, candidate_hash=plan.candidate.hash,
            grading=plan.grading, num_trials=plan.trials, max_steps=plan.max_steps,
            max_errors=plan.max_errors, seed=plan.seed, manifest=fp.manifest())
        writer.put_tasks(conn, run_id, [_task_dict(plan.domain.tasks[fp.task_id])])
    return run_id


async def execute_fork_async(fp: ForkPlan, store_path: str, *,
                             on_episode: Callable[[EpisodeDone], None] | None = None,
                             on_start: Callable[[str], None] | None = None,
                             cancel: threading.Event | None = None) -> RunSummary:
    """Play the fork's trials (concurrently) and store them; returns the run's summary."""
    from world.scoring import score_episode
    from world.tools import RetailEnv

    from .sink import StepSink
    plan = fp.plan
    backends = _Backends(plan)
    conn = store.connect(store_path)
    try:
        run_id = _create_fork_run(conn, fp)
        if on_start is not None:
            on_start(run_id)
        sink = StepSink(conn, batch=plan.agent.kind == plan.user.kind == "scripted")
        task = plan.domain.tasks[fp.task_id]
        tools, prompt = plan.domain.tool_schemas(), plan.system_prompt()
        done = 0

        async def one(k: int) -> None:
            nonlocal done
            seed = episode_seed(plan.seed, f"{fp.task_id}@fork{fp.parent_episode}.{fp.at}", k)
            eid = writer.begin_episode(conn, run_id, episode_key=f"{fp.task_id}:{k}",
                                       task_id=fp.task_id, trial=k, seed=seed, ord=k,
                                       sim_id=f"{run_id}:{fp.task_id}:{k}")
            conn.execute("UPDATE episodes SET forked_from_episode = ?, forked_at_step = ? "
                         "WHERE episode_id = ?", (fp.parent_episode, fp.at, eid))
            names: dict[str, str] = {}
            env = RetailEnv(fp.restored.db.fork(), plan.domain.tool_version)
            out = await play_episode(
                agent=backends.agent, user=backends.user_for(task, seed), env=env,
                system_prompt=prompt, tools=tools, max_steps=plan.max_steps,
                max_errors=plan.max_errors, seed=seed, cost=plan.config.cost, cancel=cancel,
                prefix=[dict(m) for m in fp.prefix],
                on_step=lambda i, m, lat: sink.append(eid, i, m, lat, names))
            sink.flush()
            verdicts = None
            if backends.judge is not None and plan.grading == "judge" and task.nl_assertions \
                    and out.termination_reason in ("user_stop", "agent_stop"):
                verdicts = await backends.judge.verdicts(out.messages, list(task.nl_assertions))
            info = score_episode(task, out.messages, out.termination_reason,
                                 base_db=plan.domain.base_db,
                                 tool_version=plan.domain.tool_version, grading=plan.grading,
                                 judge=(lambda _t, _m: verdicts) if verdicts is not None
                                 else None)
            writer.finish_episode(conn, eid, termination_reason=out.termination_reason,
                                  reward_info=info, duration=out.duration,
                                  agent_cost=out.agent_cost, user_cost=out.user_cost,
                                  extra={"error": out.error} if out.error else None)
            done += 1
            if on_episode is not None:
                on_episode(EpisodeDone(run_id, fp.task_id, k, info.get("reward"),
                                       out.termination_reason, done, plan.trials))

        tasks = [asyncio.ensure_future(one(k)) for k in range(plan.trials)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:  # no trial may write after its run is closed
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            sink.abandon()
            writer.discard_running(conn, run_id)
            writer.set_run_status(conn, run_id, "interrupted")
            raise
        finally:
            await backends.aclose()
        writer.set_run_status(conn, run_id, "complete")
        return run_summary(conn, run_id)
    finally:
        conn.close()


def execute_fork(fp: ForkPlan, store_path: str, **kw: Any) -> RunSummary:
    """Run the fork in a fresh event loop (from a worker thread in a UI)."""
    return asyncio.run(execute_fork_async(fp, store_path, **kw))


def fork_rows(conn: Any, episode_id: int) -> list[dict]:
    """Forks made of an episode: id, run, step, reward, success (newest last)."""
    cur = conn.execute(
        "SELECT e.episode_id, e.run_id, e.forked_at_step, e.trial, e.reward, e.success, "
        "e.termination_reason, r.name FROM episodes e JOIN runs r ON r.run_id = e.run_id "
        "WHERE e.forked_from_episode = ? ORDER BY e.episode_id", (episode_id,))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
