"""The transfer rerun: the same candidate (and its baseline) on the other domain, gated.

`run_transfer(store_path, baseline_run, candidate_run)` reads both runs' manifests (candidate,
models, trials, seed), reruns each candidate on the transfer domain's chosen split with the
role `transfer` (a complete transfer run of the same candidate, domain and split is reused),
and gates the pair. What the verdict means next to the heldout one is gate/transfer.py's job.

Used by `t2e transfer` and by the gate screen's one-key transfer check. Core: no textual.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import T2EError

DEFAULT_SPLIT = "heldout"


@dataclass
class TransferRun:
    """The two transfer runs and the gate verdict on them."""
    domain: str
    tasks: str
    baseline_run: str
    candidate_run: str
    reused: list[str]
    result: Any          # gate.GateResult

    def to_dict(self) -> dict:
        return {"domain": self.domain, "tasks": self.tasks, "baseline_run": self.baseline_run,
                "candidate_run": self.candidate_run, "reused": self.reused,
                "gate": self.result.to_dict()}


def _spec(part: dict | None) -> str:
    """A manifest's agent/user block as a --model value."""
    part = part or {}
    if part.get("kind") == "openai" and part.get("model"):
        return f"openai:{part['model']}"
    return "scripted"


def _manifest(run: Any) -> dict:
    try:
        return json.loads(run.manifest_json or "{}") or {}
    except ValueError:
        return {}


def _existing(conn, candidate_hash: str, domain: str, tasks: str) -> str | None:
    """A complete transfer run of this candidate on this domain and split, newest first."""
    for run_id, manifest in conn.execute(
            "SELECT run_id, manifest_json FROM runs WHERE candidate_hash = ? AND domain = ? "
            "AND role = 'transfer' AND status = 'complete' ORDER BY created_at DESC",
            (candidate_hash, domain)):
        try:
            spec = (json.loads(manifest or "{}") or {}).get("tasks_spec")
        except ValueError:
            continue
        if spec == tasks:
            return run_id
    return None


def transfer_domain(home: str | None, domain: str | None = None) -> str:
    """The domain to transfer to: the one given, else the home domain's pair."""
    from .gate.transfer import other_domain

    target = domain or other_domain(home)
    if not target:
        raise T2EError(f"no transfer domain known for {home!r}: pass --domain")
    if target == home:
        raise T2EError(f"the transfer domain must differ from the run's own ({home})")
    return target


def check_rerunnable(baseline: Any, candidate: Any) -> None:
    """T2EError when a run of the pair cannot be rerun elsewhere (an imported run has no
    candidate: its instruction is unknown). Asked before anything starts (the app's T said
    'rerunning both candidates' and only then refused)."""
    for side, run in (("baseline", baseline), ("candidate", candidate)):
        if not run.candidate_hash:
            raise T2EError(f"{side} run {run.label()} has no candidate (an imported run): "
                           "a transfer rerun needs the instruction it ran with")


def run_transfer(store_path: str, baseline_run: str, candidate_run: str, *,
                 domain: str | None = None, tasks: str = DEFAULT_SPLIT,
                 data_dir: str | None = None, concurrency: int = 4) -> TransferRun:
    """Rerun baseline and candidate on the transfer domain (role transfer) and gate them."""
    from store import connect

    from . import gate as gate_mod
    from .engine import execute_run
    from .engine.plan import plan_run
    from .gate.runs import refuse_self

    conn = connect(store_path)
    try:
        b = gate_mod.resolve_run(conn, baseline_run)
        c = gate_mod.resolve_run(conn, candidate_run)
        refuse_self(b, c)  # the gate's own check, before anything is rerun
        check_rerunnable(b, c)
        if b.candidate_hash == c.candidate_hash:
            # a candidate's transfer run is reused: the two reruns would be one run
            raise T2EError(f"{b.label()} and {c.label()} ran the same candidate "
                           f"({b.candidate_hash[:8]}): their transfer reruns are one run, and "
                           "a run cannot be gated against itself")
        target = transfer_domain(c.domain, domain)
        ids: list[str] = []
        reused: list[str] = []
        for run in (b, c):
            found = _existing(conn, run.candidate_hash, target, tasks)
            if found is not None:
                ids.append(found)
                reused.append(found)
                continue
            m = _manifest(run)
            name = (m.get("candidate") or {}).get("name") or run.name
            plan = plan_run(domain=target, data_dir=data_dir, candidate=run.candidate_hash,
                            tasks=tasks, trials=int(m.get("trials") or 1),
                            concurrency=concurrency, model=_spec(m.get("agent")),
                            user=_spec(m.get("user")) if (m.get("user") or {}).get("kind")
                            else None, seed=int(m.get("seed") or 300),
                            grade=m.get("grading") or "judge", role="transfer",
                            name=f"{name} transfer ({target})", store_conn=conn)
            summary = execute_run(plan, store_path)
            if summary.status != "complete":
                raise T2EError(f"transfer run of {name} on {target} ended {summary.status}")
            ids.append(summary.run_id)
        result = gate_mod.evaluate(conn, ids[0], ids[1])
        row = conn.execute("SELECT row_id FROM gate_decisions WHERE baseline_run_id = ? AND "
                           "candidate_run_id = ? AND intersected = 0 ORDER BY row_id DESC "
                           "LIMIT 1", (ids[0], ids[1])).fetchone()
        if row:
            result.row_id = row[0]   # asked again: the pair's verdict is already on record
        else:
            gate_mod.record_decision(conn, result)
        return TransferRun(target, tasks, ids[0], ids[1], reused, result)
    finally:
        conn.close()
