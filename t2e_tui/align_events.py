"""The lanes' events (core: no textual): a trajectory's steps and a task's gold actions as
events, each tool call with its result attached and each text turn; the key a call is aligned
on (tool name and identifying arguments) and the argument-level differences of two calls.
`t2e_tui/align.py` aligns them (and re-exports these names)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Argument names that identify *which* entity a call is about (not how). Keys ending in _id/_ids
# count too (see `is_identifying`).
ID_KEYS = frozenset({"email", "order_id", "user_id", "item_ids", "new_item_ids", "product_id",
                     "item_id", "payment_method_id", "reservation_id", "flight_number"})

SAME, ARGS, ERROR, ONLY_A, ONLY_B, TEXT = "same", "args", "error", "only_a", "only_b", "text"
DIVERGENT = frozenset({ARGS, ERROR, ONLY_A, ONLY_B})


def is_identifying(key: str) -> bool:
    return key in ID_KEYS or key.endswith("_id") or key.endswith("_ids")


def parse_args(arguments: Any) -> Any:
    """Tool-call arguments as a dict when they are JSON; the raw value otherwise."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments if arguments is not None else {}


def norm_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def call_key(name: str, args: Any) -> tuple:
    """Alignment key: tool name + identifying arguments (normalised)."""
    if not isinstance(args, dict):
        return (name,)
    ids = tuple(sorted((k, norm_value(v)) for k, v in args.items() if is_identifying(k)))
    return (name, ids)


@dataclass
class Event:
    """One lane entry: a tool call (with its result) or a text turn."""

    kind: str                      # call | text | gold
    step_idx: int                  # index of the step (message) it comes from; -1 for gold
    role: str
    name: str | None = None
    args: Any = None
    call_id: str | None = None
    text: str | None = None        # text turns: the content
    result: str | None = None      # calls: the tool message content
    result_idx: int | None = None
    error: bool = False
    step: dict | None = None       # the step row (latency, tokens ...)
    result_step: dict | None = None
    gold_index: int | None = None  # gold lane: position in the gold action list
    tool_kind: str | None = None

    @property
    def key(self) -> tuple:
        return call_key(self.name or "", self.args)


def events_of(steps: list[dict]) -> list[Event]:
    """A trajectory's steps (tau2 message dicts, as stored) to lane events."""
    events: list[Event] = []
    by_call_id: dict[str, Event] = {}
    pending: list[Event] = []  # calls still waiting for a result, in order
    for s in steps:
        role = s.get("role") or "?"
        idx = int(s.get("idx", s.get("turn_idx", len(events))))
        if role == "tool":
            target = by_call_id.get(s.get("tool_call_id") or s.get("id") or "")
            if target is None and pending:
                target = pending[0]
            if target is not None and target.result_idx is None:
                target.result, target.result_idx = s.get("content"), idx
                target.error, target.result_step = bool(s.get("error")), s
                if target in pending:
                    pending.remove(target)
            else:  # orphan tool message: show it rather than lose it
                events.append(Event("text", idx, role, text=s.get("content"), step=s,
                                    error=bool(s.get("error"))))
            continue
        content = s.get("content")
        if content not in (None, ""):
            events.append(Event("text", idx, role, text=content, step=s))
        for call in s.get("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            ev = Event("call", idx, role, name=str(call.get("name") or ""),
                       args=parse_args(call.get("arguments")), call_id=call.get("id"), step=s)
            events.append(ev)
            pending.append(ev)
            if ev.call_id:
                by_call_id[ev.call_id] = ev
    return events


def gold_events(task: dict | None) -> list[Event]:
    """The task's gold actions as lane events."""
    actions = (((task or {}).get("evaluation_criteria") or {}).get("actions")) or []
    out = []
    for i, a in enumerate(actions):
        if isinstance(a, dict):
            out.append(Event("gold", -1, a.get("requestor") or "assistant",
                             name=str(a.get("name") or ""), args=parse_args(a.get("arguments")),
                             call_id=a.get("action_id"), gold_index=i,
                             text=json.dumps(a.get("compare_args"))))
    return out


@dataclass
class ArgDiff:
    key: str
    a: Any
    b: Any
    status: str  # same | changed | only_a | only_b


def diff_args(a: Any, b: Any) -> list[ArgDiff]:
    """Argument-level differences between two calls' arguments (keys in A's order, then B's)."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        same = norm_value(a) == norm_value(b)
        return [ArgDiff("(arguments)", a, b, SAME if same else "changed")]
    out = []
    for k in list(a) + [k for k in b if k not in a]:
        if k not in b:
            out.append(ArgDiff(k, a[k], None, "only_a"))
        elif k not in a:
            out.append(ArgDiff(k, None, b[k], "only_b"))
        else:
            same = norm_value(a[k]) == norm_value(b[k])
            out.append(ArgDiff(k, a[k], b[k], SAME if same else "changed"))
    return out
