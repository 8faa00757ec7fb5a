"""Run manifests, episode seeds, the code version and the trajectory hash.

- `episode_seed(run_seed, task_id, trial)`: sha256-derived (never `hash()`, which is salted per
  process), so an episode's seed is the same in a resumed run and on another machine.
- `trajectory_hash(episodes)`: sha256 over every episode's steps in (task order, trial) order,
  built from role, text, tool names and arguments, tool results and error flags only. Times,
  latencies, tokens, costs and ids (run, episode, step, tool-call ids) are left out, so two runs
  with equal trajectories have equal hashes and a resumed run hashes like an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .. import __version__

HASH_VERSION = 1  # bump when the hashed projection changes


def episode_seed(run_seed: int, task_id: str, trial: int) -> int:
    """A 31-bit seed from (run seed, task, trial)."""
    digest = hashlib.sha256(f"{run_seed}\x1f{task_id}\x1f{trial}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def episode_key(task_id: str, trial: int) -> str:
    return f"{task_id}:{trial}"


@lru_cache(maxsize=1)
def code_version() -> dict:
    """t2e's version, plus `git describe` when running from a checkout."""
    out: dict[str, Any] = {"t2e": __version__, "git": None}
    repo = Path(__file__).resolve().parents[2]
    if (repo / ".git").exists():
        try:
            res = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty",
                                  "--tags"], capture_output=True, text=True, timeout=5)
            if res.returncode == 0:
                out["git"] = res.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    return out


def step_projection(role: str, content: str | None, tool_calls: Any, error: bool) -> list:
    """What of a step enters the hash (no ids, times, latencies or costs)."""
    calls = None
    if tool_calls:
        if isinstance(tool_calls, str):
            tool_calls = json.loads(tool_calls)
        calls = [[c.get("name"), c.get("arguments")] for c in tool_calls]
    return [role, content, calls, bool(error)]


def trajectory_hash(episodes: Iterable[tuple[str, int, str | None, Iterable[list]]]) -> str:
    """sha256 over (task_id, trial, termination_reason, step projections) in the given order."""
    h = hashlib.sha256(f"t2e-trajectory-v{HASH_VERSION}\n".encode())
    for task_id, trial, reason, steps in episodes:
        h.update(json.dumps([str(task_id), trial, reason], ensure_ascii=False).encode())
        h.update(b"\n")
        for step in steps:
            h.update(json.dumps(step, ensure_ascii=False, sort_keys=True).encode())
            h.update(b"\n")
        h.update(b"\x1e\n")
    return h.hexdigest()


def store_trajectory_hash(conn: Any, run_id: str) -> str:
    """The trajectory hash of a run's finished episodes, read back from the store."""
    eps = conn.execute(
        "SELECT episode_id, task_id, trial, termination_reason FROM episodes "
        "WHERE run_id = ? AND status = 'done' ORDER BY ord, trial, episode_key",
        (run_id,)).fetchall()

    def gen():
        for eid, task_id, trial, reason in eps:
            rows = conn.execute("SELECT role, content, tool_calls, error FROM steps "
                                "WHERE episode_id = ? ORDER BY idx", (eid,)).fetchall()
            yield task_id, trial, reason, (step_projection(*r) for r in rows)
    return trajectory_hash(gen())
