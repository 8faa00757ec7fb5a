"""Restoring the world at step t of a recorded trajectory (pair-debugging: fork from step t).

`restore_at(base_db, messages, t)` replays, on a fresh copy-on-write fork of the task's initial
records, every tool call whose result is recorded before step t (steps are messages, 0-based),
in the order the results were recorded, and checks each replayed result against the recorded
one (content and error flag). Reads are replayed too: they cannot change the records, but a
read that answers differently proves the trace was not made in this world, and a fork from it
would simulate a different situation. The first difference is refused with a
`ReplayDivergence` naming the step; nothing is half-restored.

Cost: one fork (shared records) plus one tool call per recorded result, so a 200-step
trajectory restores in a few milliseconds once the base records are loaded (bench/fork.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .db import RetailDB
from .errors import WorldError
from .tools import WRITE_TOOLS, RetailEnv


class ReplayDivergence(WorldError):
    """The replay of a recorded tool call answered differently from the recording."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


@dataclass
class Restored:
    """The world at step t: `env` (its `.db` is the restored records), the calls replayed,
    and the ids of calls made before t whose results come at or after t (pending)."""
    env: RetailEnv
    at: int
    replayed: int = 0
    writes: int = 0
    pending: list[dict] = field(default_factory=list)

    @property
    def db(self) -> RetailDB:
        return self.env.db


def _args(call: dict) -> Any:
    args = call.get("arguments")
    if isinstance(args, str):  # some third-party files keep the raw JSON text
        try:
            return json.loads(args)
        except json.JSONDecodeError:
            return args
    return args


def _short(text: Any, n: int = 60) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def restore_at(base_db: RetailDB, messages: list[dict], t: int, *,
               tool_version: str = "v1", check: bool = True) -> Restored:
    """The world after the first `t` messages of `messages` (see the module docstring).

    Raises WorldError when t is out of range or a tool result answers a call that does not
    exist, and ReplayDivergence (a WorldError) at the first result that differs."""
    n = len(messages)
    if not isinstance(t, int) or isinstance(t, bool) or t < 0 or t > n:
        raise WorldError(f"step {t} is outside the trajectory (steps 0..{n - 1})")
    env = RetailEnv(base_db, tool_version)
    out = Restored(env=env, at=t)
    calls: dict[Any, tuple[int, dict]] = {}
    answered: set = set()
    for idx in range(t):
        msg = messages[idx]
        if not isinstance(msg, dict):
            raise WorldError(f"step {idx}: not a message object")
        role = msg.get("role")
        if role in ("assistant", "user"):
            for call in msg.get("tool_calls") or ():
                if isinstance(call, dict) and isinstance(call.get("name"), str):
                    calls[call.get("id")] = (idx, call)
            continue
        if role != "tool":
            continue
        found = calls.get(msg.get("id"))
        if found is None:
            raise WorldError(f"step {idx}: tool result for call {msg.get('id')!r}, which no "
                             "earlier message made")
        answered.add(msg.get("id"))
        call = found[1]
        result = env.call(call["name"], _args(call))
        out.replayed += 1
        if call["name"] in WRITE_TOOLS and not result.error:
            out.writes += 1
        if not check:
            continue
        recorded = msg.get("content")
        rec_error = bool(msg.get("error"))
        if result.content != recorded or result.error != rec_error:
            raise ReplayDivergence(
                f"step {idx}: replaying {call['name']} (call {call.get('id')}, made at step "
                f"{found[0]}) returned {_short(result.content)!r}"
                f"{' (error)' if result.error else ''}, the trace recorded "
                f"{_short(recorded)!r}{' (error)' if rec_error else ''}: the trace was not "
                "made in this world", idx)
    # calls of the last turn before t whose results were not recorded before t
    out.pending = [c for i, c in sorted(calls.values(), key=lambda x: x[0])
                   if c.get("id") not in answered and i == _last_call_turn(messages, t)]
    return out


def _last_call_turn(messages: list[dict], t: int) -> int:
    """Index of the last assistant/user message before t (the turn whose calls may pend)."""
    for idx in range(t - 1, -1, -1):
        m = messages[idx]
        if isinstance(m, dict) and m.get("role") in ("assistant", "user"):
            return idx
    return -1
