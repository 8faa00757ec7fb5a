"""Our own OTel export's fidelity fields read back (otel_sim.sim_of calls `restore`).

`t2e export --format otel` puts on each episode's root what its spans cannot say
(store/export_otel_extra.py): `t2e.simulation_fields` (the simulation's keys no span carries
as they are: its exact times and duration, tau2 1.x reviews, usage, policy and mode, ATIF's
trajectory block...), `t2e.simulation_keys` (its keys in order), `t2e.message_fields`
(`[[k, {field: value}, [key, ...]], ...]`: the k-th message's raw_data, timestamp, turn_idx,
audio and tick metadata..., and its keys in order) and `t2e.latencies` (every message's
latency in ms, null where none). The episode comes back as it was stored.

As for our export's other `t2e.*` fields (otel_sim: `t2e.user_turns`, costs), a value of
another shape is left out (text that is no JSON, an item that is no `[k, {...}, [...]]`, a k
past the messages, a latency list that is not one number or null per message), so a foreign
file's look-alike changes nothing it cannot; a value the store would refuse from any file (a
message's calls that are no list of objects or a call's name that is no text, a negative
token count) is refused, naming the root span and the attribute, as every importer refuses it.
The messages are never taken from them. An OTel import's `otel` block (the trace ids,
root attributes and counts of the file it read) comes back as it was, but for the counts of
span times the re-import reads in our file (`spans_without_start`, `spans_ending_before_start`:
the re-import's own, of our spans); a simulation that had none keeps the re-import's, the
record of the file read, less the root's attributes (our export's own, and those the
simulation keeps in its own block: not the trace's to list or map).
"""

from __future__ import annotations

import math
from typing import Any

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


def _json(ra: dict, name: str) -> Any:
    v = ra.get(name)
    if type(v) is not str:
        return None
    try:
        return loads_text(v)
    except ValueError:
        return None


def _keys(v: Any) -> list | None:
    return v if type(v) is list and all(type(k) is str for k in v) else None


def restore(ra: dict, sim: dict, msgs: list[dict], lat: list | None) -> dict:
    """`sim` (its messages `msgs`, their latencies `lat`, changed in place) as our export's
    root attributes `ra` say it was stored; returns the simulation (a new dict when its keys
    are reordered). BadContent names the attribute and what is wrong."""
    if MESSAGE_FIELDS in ra:
        _messages(_json(ra, MESSAGE_FIELDS), msgs)
    if lat is not None and LATENCIES in ra:
        got = _json(ra, LATENCIES)
        if type(got) is list and len(got) == len(lat) and all(
                x is None or (type(x) in (int, float) and math.isfinite(x) and x >= 0)
                for x in got):
            lat[:] = got
    fields = _json(ra, SIM_FIELDS)
    if type(fields) is dict:
        for k, v in fields.items():
            if k not in _NOT_SET:
                sim[k] = v
        _otel(fields.get("otel"), sim)
    keys = _keys(_json(ra, SIM_KEYS))
    if keys is None:
        return sim
    out = {k: sim[k] for k in keys if k in sim}
    for k in _NOT_SET:  # (always kept: the steps, the record of the file, the run's fields)
        if k in sim and k not in out:
            out[k] = sim[k]
    if "otel" not in keys and type(out.get("otel")) is dict:
        # an episode from another format had no trace attributes: its root's are our
        # export's own (agent name, conversation id, t2e.*) and the attributes its own block
        # keeps (ATIF's): not listed again as the trace's
        out["otel"].pop("attributes", None)
    return out


def _otel(block: Any, sim: dict) -> None:
    """An OTel import's `otel` block (an object, its attributes an object) as the episode's,
    the re-import's counts of its span times kept."""
    if type(block) is not dict or type(block.get("attributes", {})) is not dict:
        return
    own = sim.get("otel") if type(sim.get("otel")) is dict else {}
    block = {k: v for k, v in block.items() if k not in _FILE_COUNTS}
    sim["otel"] = {**block, **{k: own[k] for k in _FILE_COUNTS if k in own}}


def _messages(entries: Any, msgs: list[dict]) -> None:
    for n, e in enumerate(entries if type(entries) is list else ()):
        if type(e) is not list or len(e) not in (2, 3) or type(e[0]) is not int \
                or not 0 <= e[0] < len(msgs) or type(e[1]) is not dict:
            continue
        m = msgs[e[0]]
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
