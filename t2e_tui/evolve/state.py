"""The evolve loop's state and its record: the config, the bookkeeping of `evolve_events` (each
step recorded so a loop resumes where it stopped), one recorded run of the loop (`_run`: run,
resume or reuse, within the episode budget) and the summary built from the record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from store import INFRA, now_iso

from ..candidates import Candidate
from ..errors import T2EError

Progress = Callable[[str], None]


@dataclass
class EvolveConfig:
    start: str
    domain: str = "mini-retail"
    discovery: str = "train"
    dev: str = "dev"
    heldout: str = "heldout"
    transfer: str | None = None        # "DOMAIN:SPLIT"
    proposer: str = "offline"
    proposals: int = 3
    iterations: int = 3
    trials: int = 1
    noise: float = 0.0
    seed: int = 0
    concurrency: int = 4
    budget_episodes: int | None = None
    budget_usd: float | None = None
    auto_promote: bool = False
    candidates_dir: str | None = None


@dataclass
class _State:
    conn: Any
    loop_id: str
    store_path: str
    cfg: EvolveConfig
    episodes_used: int = 0
    cost_usd: float = 0.0
    cancel: Any = None                # threading.Event: pause after the current run's episodes


def _event(st: _State, iteration: int, kind: str) -> dict | None:
    row = st.conn.execute("SELECT data_json FROM evolve_events WHERE loop_id = ? AND iteration = ?"
                          " AND kind = ?", (st.loop_id, iteration, kind)).fetchone()
    return json.loads(row[0]) if row else None


def _record(st: _State, iteration: int, kind: str, data: dict) -> dict:
    st.conn.execute("INSERT OR REPLACE INTO evolve_events (loop_id, iteration, kind, data_json, "
                    "created_at) VALUES (?, ?, ?, ?, ?)",
                    (st.loop_id, iteration, kind, json.dumps(data), now_iso()))
    st.conn.execute("UPDATE evolve_loops SET updated_at = ? WHERE loop_id = ?",
                    (now_iso(), st.loop_id))
    return data


def _status(st: _State, status: str) -> None:
    st.conn.execute("UPDATE evolve_loops SET status = ?, updated_at = ? WHERE loop_id = ?",
                    (status, now_iso(), st.loop_id))


def _run(st: _State, iteration: int, label: str, cand: Candidate, tasks: str, role: str,
         seed: int, domain: str | None = None, progress: Progress | None = None) -> str:
    """Run (or resume, or reuse) one recorded run of the loop; returns its run id."""
    from ..engine import execute_run
    from ..engine.engine import resume_run
    from ..engine.plan import plan_run

    kind = f"run:{label}"
    done = _event(st, iteration, kind)
    if done and done.get("status") == "complete":
        return done["run_id"]
    if st.cancel is not None and st.cancel.is_set():
        raise _Paused(f"paused before {label}")
    if done and done.get("run_id"):
        if progress:
            progress(f"resuming {label} ({done['run_id'][:8]})")
        summary = resume_run(st.store_path, done["run_id"], cancel=st.cancel)
    else:
        plan = plan_run(domain=domain or st.cfg.domain, candidate=cand, tasks=tasks,
                        trials=st.cfg.trials, concurrency=st.cfg.concurrency, seed=seed,
                        noise=st.cfg.noise, role=role, store_conn=st.conn,
                        name=f"evolve {st.loop_id[:6]} i{iteration} {label}",
                        candidates_dir=st.cfg.candidates_dir)
        planned = len(plan.task_ids) * plan.trials
        if st.cfg.budget_episodes is not None and \
                st.episodes_used + planned > st.cfg.budget_episodes:
            raise _Budget(f"the episode budget ({st.cfg.budget_episodes}) would be exceeded by "
                          f"{label} ({planned} episodes after {st.episodes_used})")
        if progress:
            progress(f"iteration {iteration}: {label} ({planned} episodes)")

        def started(run_id: str) -> None:
            _record(st, iteration, kind, {"run_id": run_id, "status": "running"})

        summary = execute_run(plan, st.store_path, on_start=started, cancel=st.cancel)
    st.episodes_used += summary.episodes
    _record(st, iteration, kind, {"run_id": summary.run_id, "status": summary.status,
                                  "reward": summary.reward})
    if summary.status == "interrupted" and st.cancel is not None and st.cancel.is_set():
        raise _Paused(f"paused during {label}")
    if summary.status != "complete":
        raise T2EError(f"evolve: run {label} ended {summary.status}; resume with "
                       f"t2e evolve --resume {st.loop_id[:8]}")
    return summary.run_id


class _Budget(Exception):
    pass


class _Paused(Exception):
    pass


def _task_rates(conn: Any, run_id: str) -> dict[str, float]:
    rows = conn.execute(
        "SELECT task_id, avg(CASE WHEN success THEN 1.0 ELSE 0.0 END) FROM episodes WHERE run_id = ?"
        " AND status = 'done' AND coalesce(termination_reason, '') != ? "
        "GROUP BY task_id", (run_id, INFRA)).fetchall()
    return {t: r for t, r in rows}


def _cands_dir(cfg: EvolveConfig) -> Path:
    from ..paths import candidates_dir
    return Path(cfg.candidates_dir) if cfg.candidates_dir else candidates_dir()


def _summary(st: _State, status: str, why: str | None = None) -> dict:
    rows = st.conn.execute("SELECT iteration, data_json FROM evolve_events WHERE loop_id = ? AND "
                           "kind = 'iteration' ORDER BY iteration", (st.loop_id,)).fetchall()
    refused = [json.loads(r[0]) for r in st.conn.execute(
        "SELECT data_json FROM evolve_events WHERE loop_id = ? AND kind LIKE 'refused%'",
        (st.loop_id,))]
    return {"loop_id": st.loop_id, "status": status, "why": why,
            "iterations": [dict(json.loads(d), iteration=i) for i, d in rows],
            "refused_reads": refused, "episodes": st.episodes_used, "cost_usd": st.cost_usd,
            "proposer": st.cfg.proposer,
            "stand_in": st.cfg.proposer in ("offline", "noop")}
