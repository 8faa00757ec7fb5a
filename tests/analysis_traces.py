"""Hand-made minimal traces for the failure-class tests (a tiny builder, no tau2 file)."""

from __future__ import annotations

import json

from t2e_tui.analysis.trace import EpisodeTrace, Gold, build_steps
from world.tools import TOOL_KINDS

AUTH = ("find_user_id_by_email", {"email": "a@b.co"}, "u_one_1")
USER = {"user_id": "u_one_1", "orders": ["#W1000001"]}


def order(oid="#W1000001", uid="u_one_1", **extra) -> str:
    return json.dumps({"order_id": oid, "user_id": uid, "status": "pending", **extra})


def trace(*msgs, gold=(), comm=(), breakdown=None, reward=0.0, termination="user_stop",
          scenario="") -> EpisodeTrace:
    """msgs: ("a", text) | ("u", text) | ("call", name, args, result[, error]) |
    ("calls", [(name, args, result[, error]), ...]): one assistant step holding several calls,
    then one tool step per call."""
    rows, idx, n = [], 0, 0
    for m in msgs:
        if m[0] in ("a", "u"):
            rows.append((idx, "assistant" if m[0] == "a" else "user", m[1], None, None, 0))
            idx += 1
            continue
        calls = m[1] if m[0] == "calls" else [m[1:]]
        ids = [f"c{n + i}" for i in range(len(calls))]
        n += len(calls)
        rows.append((idx, "assistant", None, json.dumps([{"id": cid, "name": c[0], "arguments": c[1]}
                                                         for cid, c in zip(ids, calls)]), None, 0))
        idx += 1
        for cid, (_, _, result, *err) in zip(ids, calls):
            rows.append((idx, "tool", result, None, cid, int(bool(err and err[0]))))
            idx += 1
    golds = [Gold(i, g[0], g[1], TOOL_KINDS.get(g[0], "unknown"), None, g[2])
             for i, g in enumerate(gold)]
    return EpisodeTrace(1, "t1", build_steps(rows), golds, list(comm), reward, termination,
                        breakdown if breakdown is not None else {"DB": 0.0}, 0, "r",
                        scenario)


def authed(*rest, **kw) -> EpisodeTrace:
    """A trace that greets, authenticates and reads the order first."""
    return trace(("a", "Hi! How can I help?"), ("u", "Cancel #W1000001, my email is a@b.co"),
                 ("call", *AUTH), ("call", "get_order_details", {"order_id": "#W1000001"}, order()),
                 *rest, **kw)


CANCEL = {"order_id": "#W1000001", "reason": "no longer needed"}
ASK = ("a", "I will cancel order #W1000001 because it is no longer needed. Shall I go ahead?")
