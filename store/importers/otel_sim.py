"""The simulation dict of one OpenTelemetry conversation (otel_episode.build_episode gives its
messages): ids, times, the root's kept attributes and outcomes, our own export's fields read
back (costs, seed, user turns, reward_info, the run's fields for the importer, and what the
store kept beside the spans: otel_fidelity.py)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from ..ranges import reward_problem
from . import otel_spans as S
from .json_fast import loads_text
from .otel_fidelity import NAMES as FIDELITY
from .otel_fidelity import restore
from .otel_run import FIELDS as RUN_FIELDS
from .otel_run import SIM_KEY as RUN_KEY

# root attributes kept per episode: what a user may map to an outcome (`--reward-attr`)
_KEEP_SCALARS = (str, int, float, bool)
_OUTCOME = re.compile(r"gen_ai\.evaluation\.|reward|score|feedback|outcome")
# never kept among the attributes: the messages (stored as steps) and our own export's
# reward_info (stored as the episode's reward_info; "reward" in its name made the outcome
# search keep its whole text a second time) and fields read back into the episode
_NOT_KEPT = ("gen_ai.input.", "gen_ai.output.", "gen_ai.prompt", "gen_ai.completion",
             "llm.input_messages", "llm.output_messages", "t2e.reward_info", "t2e.user_turns",
             "t2e.run.", "gen_ai.system_instructions", *FIDELITY)


_UTC = timezone.utc
FIDELITY_SET = frozenset(FIDELITY)


def _iso(ns: int) -> str | None:
    if not ns:
        return None
    # (isoformat ends "+00:00" in UTC; a replace looked through the whole text)
    return datetime.fromtimestamp(ns / 1e9, _UTC).isoformat()[:-6] + "Z"


def sim_of(key: str, by_conv: bool, spans: list[list], root: list, msgs: list[dict],
           system: list, nc: int, lat: list | None = None) -> dict:
    """The tau2-shaped simulation of a conversation: its spans (time order), root span,
    messages, system instructions and count of messages not captured; `lat`: the messages'
    latencies (our export's exact ones put in place)."""
    ra = root[1]
    start = min(sp[4] for sp in spans if sp[4]) if any(sp[4] for sp in spans) else 0
    end = max(sp[5] for sp in spans)
    trial = ra.get("t2e.trial")
    seed = ra.get("t2e.seed")
    task = ra.get("t2e.task_id", ra.get("task.id"))
    for k in ("t2e.task_id" if "t2e.task_id" in ra else "task.id", "t2e.sim_id"):
        # (the ids read: str() of a map or a list stored Python's repr)
        if type(v := ra.get(k)) is not str and v is not None and (bad := S.bad_id(v)):
            raise S.BadContent(f"{_root_named(root)}: {k} {bad}")
    keep = {k: v for k, v in ra.items() if isinstance(v, _KEEP_SCALARS)
            and not k.startswith(_NOT_KEPT)}
    for sp in spans:  # outcomes elsewhere: evaluation events, evaluator or feedback spans
        if sp[2]:
            for ev in sp[2]:
                if str(ev.get("name") or "").startswith("gen_ai.evaluation"):
                    _outcomes(ev["attributes"], keep)
        # (a chat or tool span's are not read; the root's are all in `keep` already)
        if (sp[10] == "agent" or sp[10] == "other") and sp is not root:
            _outcomes(sp[1], keep)
    ri = ra.get("t2e.reward_info")
    try:
        ri = loads_text(ri) if isinstance(ri, str) else None
    except ValueError:
        ri = None
    if isinstance(ri, dict) and (bad := reward_problem(ri.get("reward"))) is not None:
        raise S.BadContent(f"{_root_named(root)}: "
                           f"t2e.reward_info: reward {bad}")
    sim: dict[str, Any] = {
        "id": str(ra.get("t2e.sim_id") or key), "task_id": str(task if task is not None else key),
        "start_time": _iso(start), "end_time": _iso(end),
        "duration": (end - start) / 1e9 if end and start and end >= start else None,
        "termination_reason": ra.get("t2e.termination_reason")
        or ("agent_error" if root[3] else None),
        "reward_info": ri if isinstance(ri, dict) else None,
        "messages": msgs, "trial": trial if type(trial) is int else None,  # (numbered later)
        "otel": {"trace_ids": sorted({sp[9] for sp in spans if len(sp) > 9}) or None,
                 "group": "conversation" if by_conv else "trace", "key": key,
                 "root_span": root[0], "service": root[8], "attributes": keep},
    }
    # our export's costs and seed, when of their type (a foreign file's others: ignored, as
    # wrong-typed usage is); absent keys stay absent, so foreign episodes keep their key set
    for k in ("agent_cost", "user_cost"):
        v = ra.get("t2e." + k)
        if v is not None and (v := S.cost(v)) is not None:
            sim[k] = v
    if type(seed) is int:
        sim["seed"] = seed
    turns = ra.get("t2e.user_turns")
    if type(turns) is str:
        try:
            _user_turns(msgs, turns)
        except S.BadContent as exc:  # (a negative count)
            raise S.BadContent(f"{_root_named(root)}: "
                               f"t2e.user_turns{exc}") from None
    if system:
        sim["otel"]["system_instructions"] = system
    run = {k: ra[k] for k in RUN_FIELDS if k in ra}
    if run:  # (our export's run fields: for the importer, never stored with the episode)
        sim[RUN_KEY] = run
    if nc:
        sim["otel"]["content_not_captured"] = nc
    if not isinstance(sim["termination_reason"], str):
        sim["termination_reason"] = None
    if not FIDELITY_SET.isdisjoint(ra):  # (our export's: the episode as it was stored)
        try:
            sim = restore(ra, sim, msgs, lat)
        except S.BadContent as exc:
            raise S.BadContent(f"{_root_named(root)}: "
                               f"{exc}") from None
    return sim


def _root_named(root: list) -> str:
    """The root span as an error names it: `span ID ('NAME')`."""
    return f"span {str(root[6])[:40]} ({str(root[0])[:80]!r})"


def _outcomes(attrs: dict, keep: dict) -> None:
    """An evaluation event's or a span's attributes that name an outcome added to `keep`
    (the first value of each name read stands)."""
    for k, v in attrs.items():
        if k not in keep and isinstance(v, _KEEP_SCALARS) and _OUTCOME.search(k) \
                and not k.startswith(_NOT_KEPT):
            keep[k] = v


def _user_turns(msgs: list[dict], text: str) -> None:
    """Our export's user-turn costs and usage (`t2e.user_turns` on the root: [[k, cost,
    {GenAI usage name: count}], ...] for the k-th user message) put on those messages. An
    item of another shape, a value of the wrong type, or a k past the user messages is left
    out, as wrong-typed usage is; a negative count is BadContent ("[n]: ATTRIBUTE is
    negative ...")."""
    try:
        turns = loads_text(text)
    except ValueError:
        return
    users = [m for m in msgs if m.get("role") == "user"]
    for n, t in enumerate(turns if type(turns) is list else ()):
        if type(t) is not list or len(t) != 3 or type(t[0]) is not int \
                or not 0 <= t[0] < len(users):
            continue
        m = users[t[0]]
        if t[1] is not None and (c := S.cost(t[1])) is not None:
            m["cost"] = c
        try:
            u = S.usage(t[2]) if type(t[2]) is dict else None
        except S.BadContent as exc:  # (a negative count: named with its item)
            raise S.BadContent(f"[{n}]: {exc}") from None
        if u:
            m["usage"] = u


def kept_parts(a: dict) -> list | None:
    """Our export's `t2e.content_parts` (a message's kept parts, on a span or an event where
    no chat input carries the message): the JSON list, or None (absent, or not a list)."""
    v = a.get("t2e.content_parts")
    if type(v) is not str:
        return None
    try:
        v = loads_text(v)
    except ValueError:
        return None
    return v if type(v) is list else None
