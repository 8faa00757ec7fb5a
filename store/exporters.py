"""Exporting a run: a tau2 results file, or native t2e JSONL (store/formats.md).

Imports keep what has no column (unknown keys, the original key set of each record), so an
imported run exports semantically equal to its source. Writers stream episode by episode and
write to a temporary file renamed into place, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import IO, Any, Iterator

from .atomic import Output, prepare
from .db import StoreError
from .importers.episodes import SIM_DEFAULT_KEYS
from .writer import META_KEY, conn_of, message_from_step

FORMATS = ("tau2", "jsonl", "otel")
_SIM_COLUMN = {
    "id": "sim_id", "task_id": "task_id", "trial": "trial", "seed": "seed",
    "start_time": "start_time", "end_time": "end_time", "duration": "duration",
    "termination_reason": "termination_reason", "agent_cost": "agent_cost",
    "user_cost": "user_cost",
}


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def run_header(db: Any, run_id: str,
               provenance: bool = True) -> tuple[list[str], dict[str, Any]]:
    """The run's top-level keys (in source order) and values, except `simulations`.
    Always includes timestamp, info and tasks, so the result is a valid tau2 file; with
    `provenance`, also `t2e_provenance` (store/provenance.py), else none at all."""
    conn = conn_of(db)
    row = conn.execute(
        "SELECT name, domain, agent_model, user_model, num_trials, max_steps, max_errors, seed, "
        "info_json, created_at, manifest_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise StoreError(f"no run {run_id!r}")
    (name, domain, agent_model, user_model, num_trials, max_steps, max_errors, seed, info_json,
     created_at, manifest_json) = row
    info = json.loads(info_json) if info_json else {}
    meta = info.pop(META_KEY, None) or {}
    keys = list(meta.get("keys") or [])
    top = dict(meta.get("top") or {})
    if not meta.get("has_info", bool(info)):
        # a foreign import or a rerun: describe the run the tau2 way from our columns
        policy = None
        if manifest_json:
            policy = (json.loads(manifest_json) or {}).get("policy")
        info = {"num_trials": num_trials, "max_steps": max_steps, "max_errors": max_errors,
                "seed": seed,
                "user_info": {"implementation": "user_simulator", "llm": user_model},
                "agent_info": {"implementation": "llm_agent", "llm": agent_model},
                "environment_info": {"domain_name": domain, "policy": policy,
                                     "tool_defs": None}}
    top["info"] = info
    top["tasks"] = [json.loads(t) for (t,) in conn.execute(
        "SELECT task_json FROM tasks WHERE run_id = ? ORDER BY ord", (run_id,))]
    top.setdefault("timestamp", created_at)
    # where this run's evidence comes from: role, role history, candidate, manifest; an
    # earlier block (this run was itself imported from an export) is kept inside it
    from .provenance import PROVENANCE_KEY, run_provenance

    earlier = top.pop(PROVENANCE_KEY, None)
    if provenance:
        prov = run_provenance(conn, run_id)
        if isinstance(earlier, dict):
            prov["previous"] = earlier
        top[PROVENANCE_KEY] = prov
        if PROVENANCE_KEY not in keys:
            keys.append(PROVENANCE_KEY)
    elif PROVENANCE_KEY in keys:
        keys.remove(PROVENANCE_KEY)
    for k in ("timestamp", "info", "tasks", "simulations"):
        if k not in keys:
            keys.append(k)
    return keys, top


def simulation(conn: sqlite3.Connection, ep: dict) -> dict:
    """An episodes row (dict) and its steps as a tau2 SimulationRun dict."""
    extra = json.loads(ep["extra_json"]) if ep.get("extra_json") else {}
    meta = extra.pop(META_KEY, None) or {}
    keys = meta.get("keys")
    if keys is None:
        keys = [k for k in SIM_DEFAULT_KEYS if k != "timestamp"]
    raw = meta.get("raw") or {}
    sim: dict[str, Any] = {}
    for k in keys:
        if k in raw:
            sim[k] = raw[k]
        elif k == "messages":
            sim[k] = messages(conn, ep["episode_id"])
        elif k == "reward_info":
            sim[k] = json.loads(ep["reward_info_json"]) if ep.get("reward_info_json") else None
        elif k in _SIM_COLUMN:
            sim[k] = ep.get(_SIM_COLUMN[k])
    sim.update(extra)
    return sim


def messages(conn: sqlite3.Connection, episode_id: int) -> list[dict]:
    """The tau2 messages of an episode, in order."""
    cur = conn.execute("SELECT * FROM steps WHERE episode_id = ? ORDER BY idx", (episode_id,))
    cols = [d[0] for d in cur.description]
    return [message_from_step(dict(zip(cols, r))) for r in cur]


def iter_simulations(db: Any, run_id: str) -> Iterator[dict]:
    """The run's episodes as tau2 SimulationRun dicts, one at a time, in run order."""
    conn = conn_of(db)
    cur = conn.execute("SELECT * FROM episodes WHERE run_id = ? AND status = 'done' "
                       "ORDER BY ord, episode_id", (run_id,))
    cols = [d[0] for d in cur.description]
    for r in _batched(cur):
        yield simulation(conn, dict(zip(cols, r)))


def _batched(cur: sqlite3.Cursor, size: int = 256) -> Iterator[tuple]:
    while rows := cur.fetchmany(size):
        yield from rows


def write_tau2(db: Any, run_id: str, fh: IO[str]) -> int:
    """Write a tau2 results file (keys in the source's order); returns the episode count."""
    keys, top = run_header(db, run_id)
    n = 0
    fh.write("{")
    for i, k in enumerate(keys):
        fh.write(("" if i == 0 else ",") + "\n  " + _dumps(k) + ": ")
        if k == "simulations":
            fh.write("[")
            for sim in iter_simulations(db, run_id):
                fh.write(("" if n == 0 else ",") + "\n    " + _dumps(sim))
                n += 1
            fh.write("\n  ]" if n else "]")
        else:
            fh.write(_dumps(top.get(k)))
    fh.write("\n}\n")
    return n


def write_jsonl(db: Any, run_id: str, fh: IO[str]) -> int:
    """Write native JSONL: a run header line, then one episode per line."""
    keys, top = run_header(db, run_id)
    name = conn_of(db).execute("SELECT name FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
    header: dict[str, Any] = {"type": "run", "name": name}
    for k in keys:
        if k != "simulations":
            header[k] = top.get(k)
    fh.write(_dumps(header) + "\n")
    n = 0
    for sim in iter_simulations(db, run_id):
        line: dict[str, Any] = {"type": "episode", "run": name}
        line.update(sim)
        ri = sim.get("reward_info")
        if isinstance(ri, dict) and ri.get("reward") is not None:
            line["reward"] = ri["reward"]
        fh.write(_dumps(line) + "\n")
        n += 1
    return n


def export_run(db: Any, run_id: str, fmt: str, out: str | os.PathLike | Output | None) -> int:
    """Export to `out` (None or '-' = stdout; a path or a prepared `atomic.Output`: replaced
    whole, a link written through, a FIFO written to); returns the episode count."""
    if fmt not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r} (expected {', '.join(FORMATS)})")
    from .export_otel import write_otel

    write = {"tau2": write_tau2, "jsonl": write_jsonl, "otel": write_otel}[fmt]
    if out is None or (not isinstance(out, Output) and str(out) == "-"):
        import sys

        return write(db, run_id, sys.stdout)
    target = out if isinstance(out, Output) else prepare(out)
    return target.write(lambda fh: write(db, run_id, fh))


def export_dict(db: Any, run_id: str, provenance: bool = False) -> dict:
    """The whole run as one tau2 dict (small runs and tests; big runs: write_tau2). Without
    `provenance` it is the evidence as its source gave it (no `t2e_provenance` block)."""
    keys, top = run_header(db, run_id, provenance)
    out = {k: top.get(k) for k in keys if k != "simulations"}
    out["simulations"] = list(iter_simulations(db, run_id))
    return {k: out[k] for k in keys}
