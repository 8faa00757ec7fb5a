"""The run's fields in `t2e export --format otel` (export_otel.py): its world on the first
episode's root (`run_fields`), and its own time, where an episode without a time of its own is
laid out from (`run_time_ns`); a time as OTLP writes it (`time_ns`)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

MAX_NS = 1 << 64  # (OTLP times are fixed64 nanoseconds)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


def time_ns(v: Any) -> int | None:
    """An ISO 8601 time (UTC when it names no zone) in nanoseconds, or None (also for a time
    OTLP's fixed64 cannot hold: before 1970, or from 2^64 ns, in 2554, on)."""
    if not isinstance(v, str):
        return None
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    try:
        # in whole microseconds (a float of seconds times 1e9 was up to ~100 ns off)
        ns = (t - _EPOCH) // _US * 1000
    except (OverflowError, OSError, ValueError):
        return None
    return ns if 0 <= ns < MAX_NS else None


def run_fields(db: Any, run_id: str) -> dict:
    """The run's world as root attributes (the first episode's): its tau2 info block and tasks
    as the tau2 export writes them (store.exporters.run_header), compact JSON, and the policy
    (the info's `environment_info.policy`, when it is text) as an attribute of its own, so a
    trace viewer shows it as text (store/importers/otel_run.py puts it back)."""
    from .exporters import run_header

    return run_fields_of(run_header(db, run_id, provenance=False)[1])


def run_fields_of(top: dict) -> dict:
    """`run_fields` from the run's tau2 header (store.exporters.run_header's `top`)."""
    info, policy = top["info"], None
    env = info.get("environment_info")
    if isinstance(env, dict) and isinstance(env.get("policy"), str):
        env = dict(env)
        policy = env.pop("policy")
        info = {**info, "environment_info": env}
    return {"t2e.run.info": _compact(info), "t2e.run.policy": policy,
            "t2e.run.tasks": _compact(top["tasks"])}


def run_time_ns(top: dict, conn: Any, run_id: str) -> int:
    """The run's own time in nanoseconds: its file's `timestamp` (the tau2 header's), else
    when t2e made the run (0 only when neither reads as a time OTLP can hold)."""
    t = time_ns(top.get("timestamp"))
    if t is None or t <= 0:
        row = conn.execute("SELECT created_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        t = time_ns(row[0] if row else None)
    return t if t is not None and t > 0 else 0


def _compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
