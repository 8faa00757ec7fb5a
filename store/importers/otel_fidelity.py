"""Our own OTel export's fidelity fields read back (otel_sim.sim_of calls `restore`).

`t2e export --format otel` puts on each episode's root what its spans cannot say
(store/export_otel_extra.py): `t2e.simulation_fields` (the simulation's keys no span carries
as they are: its exact times and duration, tau2 1.x reviews, usage, policy and mode, ATIF's
trajectory block...), `t2e.simulation_keys` (its keys in order), `t2e.message_fields`
(`[[k, {field: value}, [key, ...]], ...]`: the k-th message's raw_data, timestamp, turn_idx,
audio and tick metadata..., and its keys in order) and `t2e.latencies` (every message's
latency in ms, null where none). The episode comes back as it was stored.

The fields only add what the spans cannot say, never override it (a trace edited after
export, or written by anyone else): a key the spans give (a message's role, content, calls
and a result's call id; the simulation's id, task id, trial, seed, termination, reward_info,
costs and messages) is taken only where it agrees with the spans' value (a content of text
blocks, or whose JSON text, is the span's text; integer ids whose text is the span's: the
raw values export_otel_extra carries), else refused, naming the root span, the attribute,
the item, the message and the key. A value the store would refuse from any file (a message's
calls that are no list of objects or a call's name that is no text, a negative token count)
is refused the same way. A value of another shape (no text, no JSON, no object or list, an
item that is no `[k, {...}, [...]]`, a k past the messages, a latency list that is not one
number or null per message) is left out, what the spans give stays, and the run's warnings
say which attribute, how often and why (`sim[IGNORED]`, counted by `Ignored` in otel.py). An OTel import's `otel` block (the trace ids,
root attributes and counts of the file it read) comes back as it was, but for the counts of
span times the re-import reads in our file (`spans_without_start`, `spans_ending_before_start`:
the re-import's own, of our spans); a simulation that had none keeps the re-import's, the
record of the file read, less the root's attributes (our export's own, and those the
simulation keeps in its own block: not the trace's to list or map).
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..messages import _encode as encode
from ..messages import bad_call_name
from ..ranges import USAGE_COUNTS, count_problem
from . import otel_spans as S
from .json_fast import loads_text

SIM_FIELDS, SIM_KEYS = "t2e.simulation_fields", "t2e.simulation_keys"
MESSAGE_FIELDS, LATENCIES = "t2e.message_fields", "t2e.latencies"
NAMES = (SIM_FIELDS, SIM_KEYS, MESSAGE_FIELDS, LATENCIES)
# what the fields never set: the messages (the spans'), the import's own record of the file
# (`otel`: set apart, _otel) and the run's fields on their way to the importer
# (otel_run.SIM_KEY)
_NOT_SET = frozenset(("messages", "otel", "t2e.run"))
# what an `otel` block says of the span times of the file read: the re-import's own
_FILE_COUNTS = ("spans_ending_before_start", "spans_without_start")
# a message's key its spans carry (never set from the fields: a step's role is text)
_MESSAGE_OWN = frozenset(("role",))
# the root attributes the export sets itself (over a trace's own of that name)
_EXPORT_OWN = frozenset(("gen_ai.operation.name", "gen_ai.agent.name", "gen_ai.conversation.id"))
# what the import says of the fields it left out: [[attribute, why], ...] (popped by otel.py)
IGNORED = "t2e.fidelity_ignored"
# a simulation's keys the spans give (when the root says them): the fields' value must agree
_SIM_SAID = {
    "id": lambda ra, sim: "t2e.sim_id" in ra,
    "task_id": lambda ra, sim: "t2e.task_id" in ra or "task.id" in ra,
    "trial": lambda ra, sim: type(ra.get("t2e.trial")) is int,
    "seed": lambda ra, sim: "seed" in sim,
    "termination_reason": lambda ra, sim: type(ra.get("t2e.termination_reason")) is str,
    "reward_info": lambda ra, sim: type(sim.get("reward_info")) is dict,
    "agent_cost": lambda ra, sim: "agent_cost" in sim,
    "user_cost": lambda ra, sim: "user_cost" in sim,
    "messages": lambda ra, sim: True,
}


def _json(ra: dict, name: str, ignored: list) -> Any:
    """The attribute's JSON value; None (and why, in `ignored`) when it is no JSON text."""
    v = ra.get(name)
    if type(v) is not str:
        ignored.append((name, f"not text ({_kind(v)})"))
        return None
    try:
        return loads_text(v)
    except ValueError as exc:
        ignored.append((name, f"not JSON ({str(exc)[:80]})"))
        return None


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(v), "another value")


def _keys(v: Any) -> list | None:
    return v if type(v) is list and all(type(k) is str for k in v) else None


def restore(ra: dict, sim: dict, msgs: list[dict], lat: list | None) -> dict:
    """`sim` (its messages `msgs`, their latencies `lat`, changed in place) as our export's
    root attributes `ra` say it was stored; returns the simulation (a new dict when its keys
    are reordered). BadContent names the attribute and what contradicts the spans; a value
    of another shape is left out and said in sim[IGNORED] ([attribute, why], ...)."""
    ignored: list = []
    if MESSAGE_FIELDS in ra:
        _messages(_json(ra, MESSAGE_FIELDS, ignored), msgs, ignored)
    if lat is not None and LATENCIES in ra:
        got = _json(ra, LATENCIES, ignored)
        if type(got) is list and len(got) == len(lat) and all(
                x is None or (type(x) in (int, float) and math.isfinite(x) and x >= 0)
                for x in got):
            lat[:] = got
        elif got is not None:
            ignored.append((LATENCIES, f"not one latency (a number of at least 0, or null) "
                                       f"for each of the {len(lat)} message(s)"))
    fields = _json(ra, SIM_FIELDS, ignored) if SIM_FIELDS in ra else None
    if type(fields) is dict:
        _agree_sim(fields, ra, sim)
        for k, v in fields.items():
            if k not in _NOT_SET:
                sim[k] = v
        _otel(fields.get("otel"), sim)
    elif fields is not None:
        ignored.append((SIM_FIELDS, f"not an object ({_kind(fields)})"))
    keys = _json(ra, SIM_KEYS, ignored) if SIM_KEYS in ra else None
    if keys is not None and _keys(keys) is None:
        ignored.append((SIM_KEYS, "not a list of texts"))
    keys = _keys(keys)
    if keys is not None:
        out = {k: sim[k] for k in keys if k in sim}
        for k in (*_NOT_SET, IGNORED):  # (always kept: the steps, the record of the file,
            if k in sim and k not in out:  # the run's fields)
                out[k] = sim[k]
        if "otel" not in keys and type(out.get("otel")) is dict:
            # an episode from another format had no trace attributes: its root's are our
            # export's own (agent name, conversation id, t2e.*) and the attributes its own
            # block keeps (ATIF's): not listed again as the trace's
            out["otel"].pop("attributes", None)
        sim = out
    if ignored:
        sim[IGNORED] = ignored
    return sim


def _agree_sim(fields: dict, ra: dict, sim: dict) -> None:
    """BadContent when a key the root span gives (its task, trial, ids, termination, reward,
    costs, seed) or the messages are given otherwise in t2e.simulation_fields."""
    for k, v in fields.items():
        said = _SIM_SAID.get(k)
        if said is None or not said(ra, sim):
            continue
        s = sim[k]
        same = (v is not None and str(v) == s) if k in ("id", "task_id") else \
            (v == s and type(v) is type(s))
        if not same:
            raise S.BadContent(f"{SIM_FIELDS}: {k} {_short(v)} where the spans say {_short(s)}")


def _short(v: Any) -> str:
    t = json.dumps(v, ensure_ascii=False)
    return t if len(t) <= 80 else t[:77] + "..."


def _otel(block: Any, sim: dict) -> None:
    """An OTel import's `otel` block (an object, its attributes an object) as the episode's,
    the re-import's counts of its span times kept."""
    if type(block) is not dict or type(block.get("attributes", {})) is not dict:
        return
    own = sim.get("otel") if type(sim.get("otel")) is dict else {}
    said = own.get("attributes") or {}
    for k, v in (block.get("attributes") or {}).items():
        # (the trace's root attributes, which the export puts on the root again: what
        # `--reward-attr` maps; ours, t2e.* and the three it sets, are the export's)
        if k in said and not k.startswith("t2e.") and k not in _EXPORT_OWN \
                and (v != said[k] or type(v) is not type(said[k])):
            raise S.BadContent(f"{SIM_FIELDS}: otel.attributes.{k} {_short(v)} where the "
                               f"spans say {_short(said[k])}")
    block = {k: v for k, v in block.items() if k not in _FILE_COUNTS}
    sim["otel"] = {**block, **{k: own[k] for k in _FILE_COUNTS if k in own}}


def _messages(entries: Any, msgs: list[dict], ignored: list) -> None:
    if entries is not None and type(entries) is not list:
        ignored.append((MESSAGE_FIELDS, f"not a list ({_kind(entries)})"))
        return
    for n, e in enumerate(entries or ()):
        if type(e) is not list or len(e) not in (2, 3) or type(e[0]) is not int \
                or type(e[1]) is not dict:
            ignored.append((MESSAGE_FIELDS, f"item [{n}] is no [k, {{field: value}}, "
                                            "[key, ...]]"))
            continue
        if not 0 <= e[0] < len(msgs):
            ignored.append((MESSAGE_FIELDS, f"item [{n}]: message {e[0]} is none of the "
                                            f"{len(msgs)} message(s)"))
            continue
        m = msgs[e[0]]
        try:
            _check(e[1])  # (what any importer refuses first: then what the spans say)
        except S.BadContent as exc:
            raise S.BadContent(f"{MESSAGE_FIELDS}[{n}]: {exc}") from None
        try:
            _agree_message(e[1], m)
        except S.BadContent as exc:
            raise S.BadContent(f"{MESSAGE_FIELDS}[{n}] (message {e[0]}): {exc}") from None
        for f, v in e[1].items():
            if f not in _MESSAGE_OWN:
                m[f] = v
        keys = _keys(e[2]) if len(e) == 3 else None
        if keys is not None:
            kept = {k: m[k] for k in keys if k in m}
            kept.setdefault("role", m["role"])  # (a step has a role)
            msgs[e[0]] = m = kept
        try:
            _check(m)
        except S.BadContent as exc:
            raise S.BadContent(f"{MESSAGE_FIELDS}[{n}]: {exc}") from None


def _agree_message(fields: dict, m: dict) -> None:
    """BadContent when the fields give a key the message's spans give (its role, content,
    calls, a result's call id) otherwise: the raw value must be the spans' in another shape
    (a content of blocks whose text the span's is, calls whose ids are the spans' as text)."""
    for f, v in fields.items():
        if f == "role":
            ok = v == m.get("role")
        elif f == "content":
            ok = _same_content(v, m.get("content"))
        elif f == "tool_calls":
            ok = _same_calls(v, m.get("tool_calls"))
        elif f == "id" and m.get("role") == "tool":
            s = m.get("id")
            ok = v == s or (v is not None and type(v) is not str and str(v) == s) \
                or (v is None and not s)
        else:
            continue
        if not ok:
            raise S.BadContent(f"{f} {_short(v)} where the spans say {_short(m.get(f))}")


def _same_content(v: Any, s: Any) -> bool:
    if v == s or (v is None and s in ("", None)):
        return True
    if type(v) is str or v is None:
        return False
    return encode(v) == s or _block_text(v) == s


def _block_text(v: Any) -> str | None:
    """The text of a content of text blocks ([{"type": "text", "text": ...}, ...])."""
    if type(v) is not list:
        return None
    parts = []
    for b in v:
        if type(b) is not dict or type(b.get("text")) is not str:
            return None
        parts.append(b["text"])
    return "".join(parts)


def _same_calls(v: Any, s: Any) -> bool:
    """Whether a message's raw calls are the spans' (ids as text, names and arguments)."""
    if not v or not s:  # (none on either side: the other has none either)
        return not s and v in (None, [])
    if type(v) is not list or type(s) is not list or len(v) != len(s):
        return False
    for a, b in zip(v, s):
        if type(a) is not dict or type(b) is not dict:
            return False
        ia = a.get("id")
        if (str(ia) if type(ia) is int else ia) != b.get("id") \
                or (a.get("name") or "") != (b.get("name") or "") \
                or (a.get("arguments") or {}) != (b.get("arguments") or {}):
            return False  # (no name or arguments: the spans' empty ones)
    return True


def _check(m: dict) -> None:
    """What every importer refuses in a message (episodes.validate_sim's checks, which the
    OTel import's own messages need not pass again): calls that are no list of objects, a
    call's name that is no text, a token count that is none."""
    calls = m.get("tool_calls")
    if calls is not None:
        if type(calls) is not list or not all(type(c) is dict for c in calls):
            raise S.BadContent("tool_calls should be a list of objects")
        if (bad := bad_call_name(calls)) is not None:
            raise S.BadContent(f"tool_calls{bad}")
    usage = m.get("usage")
    if type(usage) is dict:
        for k in USAGE_COUNTS:
            if (v := usage.get(k)) is not None and (bad := count_problem(v)) is not None:
                raise S.BadContent(f"usage.{k} {bad}")


class Ignored:
    """The run's count of our export's fields left out, per attribute: its episodes and why
    (for the run's warnings: what the spans give stays)."""

    def __init__(self) -> None:
        self.by_name: dict[str, list] = {}

    def add(self, episode: str, ignored: list) -> None:
        for name, why in ignored:
            seen = self.by_name.setdefault(name, [0, {}])
            seen[0] += 1
            seen[1].setdefault(why, episode)

    def warn(self, warn: Any) -> None:
        for name in NAMES:
            if name in self.by_name:
                n, whys = self.by_name[name]
                said = "; ".join(f"{why} (episode {str(ep)[:60]!r})"
                                 for why, ep in list(whys.items())[:3])
                warn(f"{name} (t2e's own export) ignored {n} time(s): {said}"
                     + (" ..." if len(whys) > 3 else "")
                     + ": what the spans give stays (what it alone kept is lost)")
