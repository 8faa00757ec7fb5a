"""One tau2 message <-> one `steps` row (plus its `tool_calls` rows).

`step_row` is used by every writer (importers in bulk, the engine one message at a time);
`message_from_step` gives the message back for export and display. Only deviations from the
usual tau2 key set are recorded (a `_t2e` note in extra_json), so the common case costs nothing
and export stays lossless.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring
from typing import Any

HUGE_CHARS = 1_000_000  # a field above this is stored whole and flagged for the UI to truncate

# Keys of a tau2 message that have columns of their own; everything else goes to extra_json.
_MESSAGE_KEYS = {"role", "content", "tool_calls", "id", "error", "requestor", "timestamp",
                 "cost", "usage", "turn_idx"}

_TOOL_KINDS: dict[str, str] | None = None


def tool_kind(name: str) -> str:
    """read | write | generic | unknown, from the world's tool tables (every domain: tool
    names never clash across domains, world/kinds.py)."""
    global _TOOL_KINDS
    if _TOOL_KINDS is None:
        from world.kinds import ALL_TOOL_KINDS

        _TOOL_KINDS = ALL_TOOL_KINDS
    return _TOOL_KINDS.get(name, "unknown")


# The keys a tau2 message of each role normally carries (pydantic dump). Only deviations from
# these are recorded per step, so the common case costs nothing and export stays lossless.
_DEFAULT_KEYS = {
    "assistant": ("role", "content", "tool_calls", "turn_idx", "timestamp", "cost", "usage"),
    "user": ("role", "content", "tool_calls", "turn_idx", "timestamp", "cost", "usage"),
    "tool": ("role", "content", "id", "requestor", "error", "turn_idx", "timestamp"),
}
_OTHER_DEFAULT = ("role", "content", "turn_idx")
META_KEY = "_t2e"  # inside steps.extra_json: {"keys": [...], "raw": {key: value}} when needed


def _raw_needed(key: str, value: Any, role: str, idx: int) -> bool:
    """True when the column for `key` cannot give back `value` exactly (then it is kept raw)."""
    if value is None:
        return False
    if key in ("role", "content", "requestor", "timestamp"):
        return type(value) is not str
    if key == "tool_calls":  # (calls with integer ids: the column holds them as text)
        return not (type(value) is list and value) or _int_ids(value)
    if key == "id":
        return role != "tool" or type(value) is not str
    if key == "error":
        return type(value) is not bool
    if key == "cost":
        return type(value) is not float and type(value) is not int
    if key == "turn_idx":
        return type(value) is not int or value != idx
    return False


def _int_ids(calls: list) -> bool:
    for c in calls:
        if type(c) is dict and type(c.get("id")) is int:
            return True
    return False


def _text_ids(calls: list) -> list:
    """`calls` with integer ids as their text (the message's own list kept raw)."""
    return [{**c, "id": str(c["id"])} if type(c) is dict and type(c.get("id")) is int else c
            for c in calls]


# One encoder for every row: json.dumps builds a new one per call, which shows at 10^6 rows.
# Input comes from JSON (or the engine's plain dicts), so there are no cycles to check.
_ENC = json.JSONEncoder(ensure_ascii=False, check_circular=False)
_encode = _ENC.encode
if c_make_encoder is not None:
    # the C encoder encode() itself would make for each call, made once (a third of a
    # small value's encoding time); same text: it is the same encoder with the same settings
    _C_ENC = c_make_encoder(None, _ENC.default, encode_basestring, None, _ENC.key_separator,
                            _ENC.item_separator, False, False, True)

    def _encode(value: Any) -> str:
        return "".join(_C_ENC(value, 0))
_DEFAULT_SETS = {role: frozenset(k for k in keys if k != "usage")
                 for role, keys in _DEFAULT_KEYS.items()}
_OTHER_SET = frozenset(k for k in _OTHER_DEFAULT if k != "usage")
_STR_KEYS = frozenset(("role", "content", "requestor", "timestamp"))
_COLUMN_KEYS = frozenset(_MESSAGE_KEYS - {"usage"})  # usage also rides in extra_json


# A message's key order and role decide which keys ride in extra_json, whether the key list is
# noted, and which columns' values are checked: worked out once per shape (a results file has a
# handful), not per message. Bounded: hostile input with endless shapes is simply not cached.
_SHAPES: dict[tuple, tuple[tuple, tuple | None, tuple, str | None]] = {}
_SHAPES_MAX = 1024


def _shape(role: str, message: dict) -> tuple[tuple, tuple | None, tuple, str | None]:
    """(keys for extra_json, the column keys to note or None, the column keys present, the
    key note's JSON text as extra_json's last member, or None: no note, or the message has a
    key of the note's name, which the note replaces in place)."""
    key = (role, tuple(message))
    shape = _SHAPES.get(key)
    if shape is None:
        present = tuple(k for k in key[1] if k in _COLUMN_KEYS)
        extra_keys = tuple(k for k in key[1] if k not in _COLUMN_KEYS)
        note = None if set(present) == _DEFAULT_SETS.get(role, _OTHER_SET) else present
        text = None
        if note is not None and META_KEY not in extra_keys:
            text = _encode(META_KEY) + ": " + _encode({"keys": list(note)})
        shape = (extra_keys, note, present, text)
        if len(_SHAPES) < _SHAPES_MAX:
            _SHAPES[key] = shape
    return shape


# JSON text of small values made without the encoder, whose every call costs ~1 us (most of
# a message's extra_json: a model name, a usage object of counts): the same text, as
# json.dumps(ensure_ascii=False) writes it. An object of counts is written through a template
# per key list (bounded, as _SHAPES).
_COUNTS: dict[tuple, str] = {}
# the text of an object with these (text) keys, but for its closing brace: `%s` per value
_MEMBERS: dict[tuple, str] = {}


def _counts_text(value: dict) -> str | None:
    """An object whose values are all integers (not booleans) as JSON text, else None."""
    keys = tuple(value)
    template = _COUNTS.get(keys)
    if template is None:
        if not all(type(k) is str for k in keys):
            return None
        template = "{" + ", ".join(encode_basestring(k).replace("%", "%%") + ": %d"
                                   for k in keys) + "}"
        if len(_COUNTS) < _SHAPES_MAX:
            _COUNTS[keys] = template
    values = tuple(value.values())
    for v in values:
        if type(v) is not int:
            return None
    return template % values


def _members(message: dict, keys: tuple) -> str:
    """JSON text of {k: message[k] for k in keys} without its closing brace."""
    template = _MEMBERS.get(keys)
    if template is None:
        if not all(type(k) is str for k in keys):  # (JSON keys are text; the encoder's way)
            return _encode({k: message[k] for k in keys})[:-1]
        template = "{" + ", ".join(encode_basestring(k).replace("%", "%%") + ": %s"
                                   for k in keys)
        if len(_MEMBERS) < _SHAPES_MAX:
            _MEMBERS[keys] = template
    texts = []
    for k in keys:
        v = message[k]
        t = type(v)
        if t is str:
            texts.append(encode_basestring(v))
        elif t is dict:
            texts.append(_counts_text(v) or _encode(v))
        elif t is int:
            texts.append(int.__repr__(v))
        else:
            texts.append(_encode(v))
    return template % tuple(texts)


def _extra_text(message: dict, extra_keys: tuple, keys_note: tuple | None,
                note_text: str | None, raw: dict | None) -> str | None:
    """extra_json: the keys without a column, then the `_t2e` note when one is needed."""
    if raw is None and note_text is not None:
        # the usual note (the shape's key list alone): its text is the shape's, made once;
        # JSON text of {**extra, META_KEY: note} is extra's with the note's member appended
        if not extra_keys:
            return "{" + note_text + "}"
        return _members(message, extra_keys) + ", " + note_text + "}"
    if raw is None and keys_note is None:
        return _members(message, extra_keys) + "}" if extra_keys else None
    extra = {k: message[k] for k in extra_keys}
    meta: dict[str, Any] = {}
    if keys_note is not None:
        meta["keys"] = list(keys_note)
    if raw:
        meta["raw"] = raw
    if meta:
        extra[META_KEY] = meta
    return _encode(extra) if extra else None


def short_json(v: Any) -> str:
    """A value as JSON text cut to 40 characters, for the messages that name a wrong value."""
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def bad_call_name(calls: list) -> str | None:
    """What is wrong with the first tool call (of a list of call objects) whose `name` is
    neither text nor missing: "[k].name should be a string, found ..."; None when all are
    fine. step_row keeps names as text (str() of anything else stored Python's repr), so
    every importer refuses such a call through this one check."""
    for k, call in enumerate(calls):
        name = call.get("name")
        if name is not None and type(name) is not str:
            return f"[{k}].name should be a string, found {type(name).__name__} " \
                   f"{short_json(name)}"
    return None


def step_row(episode_id: int, idx: int, message: dict, *, latency_ms: float | None = None,
             tool_names: dict[str, str] | None = None) -> tuple[tuple, list[tuple], bool]:
    """Turn one tau2 message dict into a steps row plus tool_calls rows.

    `tool_names` maps call id -> tool name seen so far in the episode (to label tool results).
    Returns (step_values, tool_call_values_without_step_id, huge). Unknown keys go to
    extra_json; so does a small `_t2e` note when the message deviates from the usual tau2 key
    set or a value does not fit its column, so `message_from_step` gives the message back.
    """
    get = message.get
    role = get("role") or "unknown"
    content = get("content")
    if content is not None and type(content) is not str:
        content = _encode(content)
    calls = get("tool_calls") or None
    usage = get("usage")
    if type(usage) is dict:
        tokens_in = usage.get("prompt_tokens")
        tokens_out = usage.get("completion_tokens")
    else:
        tokens_in = tokens_out = None
    if type(role) is not str:
        role = "unknown"
    extra_keys, keys_note, present, note_text = _shape(role, message)
    raw = None
    for k in present:  # in the message's order, so a note with two raw values is always alike
        v = message[k]
        # inline fast path for the common, column-exact values; _raw_needed decides the rest
        if v is None:
            continue
        t = type(v)
        if (t is str and (k in _STR_KEYS or (k == "id" and role == "tool"))) \
                or (t is int and k == "turn_idx" and v == idx) \
                or (t is float and k == "cost") or (t is bool and k == "error") \
                or (t is list and k == "tool_calls" and v and not _int_ids(v)):
            continue
        if _raw_needed(k, v, role, idx):
            if raw is None:
                raw = {}
            raw[k] = v
    if raw and "tool_calls" in raw and type(calls) is list:
        calls = _text_ids(calls)  # (the ids as the call rows and results hold them)
    calls_text = _encode(calls) if calls else None
    # a call id as the store keeps it (tool_calls.call_id, steps.tool_call_id, the ids in
    # steps.tool_calls): text as it is, an integer as its text (1 is the id "1", as the ATIF
    # and OTel importers read it; the message's own value is kept raw for export); anything
    # else (a boolean, a fraction, an object) is no id
    tool_call_id = get("id") if role == "tool" else None
    if tool_call_id is not None and type(tool_call_id) is not str:
        tool_call_id = str(tool_call_id) if type(tool_call_id) is int else None
    tool_name = None
    if tool_call_id is not None and tool_names is not None:
        tool_name = tool_names.get(tool_call_id)
    call_rows = []
    if calls and type(calls) is list:
        for pos, call in enumerate(calls):
            if type(call) is not dict:
                continue
            name = str(call.get("name") or "")
            args = call.get("arguments")
            args_text = args if type(args) is str else _encode(args)
            cid = call.get("id")
            if type(cid) is not str:  # (see tool_call_id above)
                cid = str(cid) if type(cid) is int else None
            if cid is not None and tool_names is not None:
                tool_names[cid] = name
            call_rows.append((pos, cid, name, args_text, tool_kind(name)))
    extra_text = _extra_text(message, extra_keys, keys_note, note_text, raw)
    huge = ((content is not None and len(content) > HUGE_CHARS)
            or (calls_text is not None and len(calls_text) > HUGE_CHARS)
            or (extra_text is not None and len(extra_text) > HUGE_CHARS))
    requestor = get("requestor")
    timestamp = get("timestamp")
    cost = get("cost")
    row = (episode_id, idx, role, content, calls_text, tool_call_id, tool_name,
           1 if get("error") else 0,
           requestor if type(requestor) is str else None,
           timestamp if type(timestamp) is str else None,
           latency_ms, tokens_in, tokens_out,
           cost if type(cost) is float or type(cost) is int else None,
           1 if huge else 0, extra_text)
    return row, call_rows, huge


def message_from_step(step: dict) -> dict:
    """The tau2 message dict a steps row was made from (inverse of `step_row`)."""
    role = step.get("role")
    extra = json.loads(step["extra_json"]) if step.get("extra_json") else {}
    meta = extra.pop(META_KEY, None) or {}
    # older rows (before the meta note) flagged a missing turn_idx this way
    no_turn = extra.pop("_no_turn_idx", False)
    keys = meta.get("keys")
    if keys is None:
        keys = [k for k in _DEFAULT_KEYS.get(role, _OTHER_DEFAULT) if k != "usage"]
        if no_turn:
            keys = [k for k in keys if k != "turn_idx"]
    raw = meta.get("raw") or {}
    msg: dict[str, Any] = {}
    for k in keys:
        if k in raw:
            msg[k] = raw[k]
        elif k == "role":
            msg[k] = role
        elif k == "content":
            msg[k] = step.get("content")
        elif k == "tool_calls":
            tc = step.get("tool_calls")
            msg[k] = json.loads(tc) if tc else None
        elif k == "id":
            msg[k] = step.get("tool_call_id")
        elif k == "error":
            msg[k] = bool(step.get("error"))
        elif k == "turn_idx":
            msg[k] = step.get("idx")
        else:  # requestor, timestamp, cost
            msg[k] = step.get(k)
    msg.update(extra)
    return msg



# JSON text with non-ASCII kept: the same output as json.dumps(value, ensure_ascii=False)
encode = _encode
