"""OpenTelemetry GenAI spans -> tau2-shaped messages (no I/O; see otel.py for the file side):
attribute values, span kinds, tool spans, usage, model and costs here; the messages in
otel_messages.py (re-exported here).

Accepted forms, old and new (the semantic conventions moved several times):

* messages: see otel_messages.py;
* tool calls: `execute_tool` spans (`gen_ai.tool.name`, `gen_ai.tool.call.id`,
  `gen_ai.tool.call.arguments` / `.result`), OpenInference TOOL spans (`tool.name`,
  `input.value`, `output.value`);
* usage and model: `gen_ai.usage.input_tokens|prompt_tokens`, `output_tokens|completion_tokens`,
  cache read/write under both the old and the new names, `gen_ai.request|response.model`,
  `gen_ai.provider.name` (formerly `gen_ai.system`), OpenInference `llm.token_count.*`; counts
  only (integers, or whole doubles), anything else is left out;
* our export's (store/export_otel.py) costs: `t2e.cost` (a chat span's), the root's
  `t2e.agent_cost|user_cost` and `t2e.user_turns` (otel_episode); finite numbers only,
  anything else is left out as wrong-typed usage is.
"""

from __future__ import annotations

import json
from typing import Any

from ..messages import bad_call_name
from ..ranges import count_problem

# the messages (otel_messages.py), re-exported: the importer reads them here with the rest
from .otel_messages import (  # noqa: F401
    INPUT,
    OUTPUT,
    SYSTEM_INSTRUCTIONS,
    BadContent,
    _args,
    _first,
    _kind,
    _messages,
    bad_id,
    blocks,
    blocks_text,
    chat_io,
    each,
    event_messages,
    extends,
    has_input,
    id_text,
    instructions,
    message,
    message_list,
    messages,
)

NOT_CAPTURED = "(content not captured)"
CALL_FAILED = "(model call failed)"  # a chat span with an error status and no output
CHAT_OPS = {"chat", "text_completion", "generate_content"}
def any_value(v: Any) -> Any:
    """Decode an OTLP/JSON AnyValue ({"stringValue": ...} and friends)."""
    if type(v) is not dict:
        if v is None:
            return None  # (no value: an empty AnyValue)
        raise ValueError(f"value should be an AnyValue object ({{\"stringValue\": ...}}), "
                         f"found {_kind(v)}")
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        n = v["intValue"]
        if type(n) is not int:  # (OTLP/JSON writes 64-bit integers as decimal text)
            text = n.strip().lstrip("+-") if type(n) is str else ""
            if not (text.isascii() and text.isdigit()):
                raise ValueError(f"intValue should be an integer, found {_kind(n)} "
                                 f"{json.dumps(n, ensure_ascii=False)[:40]}")
            if len(text) > 19:
                return n  # beyond 64 bits (or int()'s digit limit): the text, kept
            n = int(n)
        # beyond 64 bits the store cannot hold it as a number: keep the text
        return n if -(1 << 63) <= n < 1 << 63 else str(v["intValue"])
    if "doubleValue" in v:
        return v["doubleValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "arrayValue" in v or "kvlistValue" in v:
        kind = "arrayValue" if "arrayValue" in v else "kvlistValue"
        inner = v[kind] or {}
        items = inner.get("values") if type(inner) is dict else None
        if items is not None and type(items) is not list or type(inner) is not dict:
            raise ValueError(f"{kind} should be an object with a 'values' list")
        return [any_value(x) for x in items or ()] if kind == "arrayValue" else attrs(items)
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attrs(items: Any) -> dict:
    """An OTLP attribute list as a dict. ValueError names the attribute whose value has a
    shape no reader takes (TypeError: `items` is not a list). (This runs for every span:
    the usual list, each item a {"key": str, "value": {"stringValue" | "intValue" |
    "doubleValue": ...}}, is read by subscripts and no check that cannot fail; anything
    else, from its first item again, by _attrs.)"""
    if type(items) is list:
        out = {}
        try:
            for kv in items:
                v = kv["value"]
                k = kv["key"]
                if type(v) is not dict or type(k) is not str:
                    break
                if "stringValue" in v:
                    out[k] = v["stringValue"]
                elif "intValue" in v:
                    n = v["intValue"]
                    if type(n) is int:
                        out[k] = n
                    elif type(n) is str and len(n) < 19 and n.isdigit() and n.isascii():
                        out[k] = int(n)  # (OTLP/JSON writes 64-bit integers as decimal text)
                    else:
                        break
                elif "doubleValue" in v:
                    out[k] = v["doubleValue"]
                else:
                    break
            else:
                return out
        except (KeyError, TypeError):  # (an item of another shape: _attrs names it)
            pass
    return _attrs(items)


def _attrs(items: Any) -> dict:
    """attrs, each item checked."""
    out = {}
    if items and type(items) is not list:
        raise TypeError("attributes should be a list")
    for kv in items or ():
        if type(kv) is not dict:
            raise ValueError(f"attribute #{_place(items, kv)} should be an object with a key "
                             f"and a value, found {_kind(kv)}")
        k, v = kv.get("key"), kv.get("value")
        if type(k) is not str:
            raise ValueError(f"attribute #{_place(items, kv)}: key should be a string, found "
                             f"{_kind(k)}")
        # inline fast path for the common scalar types (this runs for every attribute):
        # any_value's results, its checks left out where they cannot fail (an intValue of
        # fewer than 19 ASCII digits is within 64 bits)
        if type(v) is dict:
            if "stringValue" in v:
                out[k] = v["stringValue"]
                continue
            if "intValue" in v:
                n = v["intValue"]
                if type(n) is int:
                    out[k] = n
                    continue
                if type(n) is str and len(n) < 19 and n.isdigit() and n.isascii():
                    out[k] = int(n)  # (OTLP/JSON writes 64-bit integers as decimal text)
                    continue
            elif "doubleValue" in v:
                out[k] = v["doubleValue"]
                continue
        try:
            out[k] = any_value(v)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"attribute {k[:80]!r}: {exc}") from None
    return out


def _place(items: list, item: Any) -> int:
    """The index of `item` (that very object) in `items`, for a message."""
    return next(n for n, x in enumerate(items) if x is item)


def kind(name: str, a: dict) -> str:
    """agent | chat | tool | other."""
    op = a.get("gen_ai.operation.name")
    if op is not None and type(op) is not str:
        op = None  # an array or a map names no operation
    oi = str(a.get("openinference.span.kind") or "").upper()
    if op in ("invoke_agent", "create_agent") or oi == "AGENT" or name.startswith("invoke_agent"):
        return "agent"
    if op == "execute_tool" or oi == "TOOL" or name.startswith("execute_tool"):
        return "tool"
    if op in CHAT_OPS or oi == "LLM" or any(k.startswith(("gen_ai.input.messages",
                                                          "gen_ai.prompt", "llm.input_messages"))
                                            for k in a):
        return "chat"
    return "other"


USAGE_NAMES = (("prompt_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                             "llm.token_count.prompt")),
          ("completion_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                                 "llm.token_count.completion")),
          ("cache_read_tokens", ("gen_ai.usage.cache_read.input_tokens",
                                 "gen_ai.usage.cache_read_input_tokens",
                                 "gen_ai.usage.input_tokens.cached",
                                 "llm.token_count.prompt_details.cache_read")),
          ("cache_write_tokens", ("gen_ai.usage.cache_creation.input_tokens",
                                  "gen_ai.usage.cache_creation_input_tokens",
                                  "gen_ai.usage.input_tokens.cache_write",
                                  "llm.token_count.prompt_details.cache_write")))


_TOKEN_NAMES = USAGE_NAMES[:2]
_CACHE_NAMES = frozenset(k for _, keys in USAGE_NAMES[2:] for k in keys)
_EXACT = float(1 << 53)  # a double holds every integer up to here (and the store's 64 bits)


def usage(a: dict) -> dict:
    """Token usage under old and new attribute names (only the keys present): the first name
    set wins, kept when it is an integer or a whole double (12.0 is 12); text, booleans,
    fractions and the like are left out. A negative one is no count (store/ranges.py), nor an
    integer past the store's 64 bits: BadContent naming the attribute. (Runs for every chat span, hence the plain loops.)"""
    out = {}
    get = a.get
    # (most spans have no cache counts: their eight names are looked for in one test)
    for name, keys in USAGE_NAMES if not _CACHE_NAMES.isdisjoint(a) else _TOKEN_NAMES:
        for k in keys:
            v = get(k)
            if v is not None:
                if type(v) is int:
                    out[name] = v
                elif type(v) is float and v.is_integer() and -_EXACT <= v <= _EXACT:
                    out[name] = v = int(v)
                else:
                    if type(v) is str:  # (an intValue past 64 bits is kept as its text)
                        _past_64_bits(k, v)
                    break
                if v < 0:
                    raise BadContent(f"{k} {count_problem(v)}")
                break
    return out


def _past_64_bits(k: str, v: str) -> None:
    """A count written as an integer the store cannot hold (an intValue past 64 bits, or its
    decimal text) is refused, naming the attribute, as every format refuses it; other text
    is no count (left out)."""
    digits = v.strip().lstrip("+-")
    if digits.isascii() and digits.isdigit():
        from world.jsondecode import int64_problem

        if (problem := int64_problem(v.strip().lstrip("+"))) is not None:
            raise BadContent(f"{k}: {problem}")


def cost(v: Any) -> float | int | None:
    """A cost (`t2e.cost`, `t2e.agent_cost`, `t2e.user_cost`) when it is a finite number;
    None for anything else (text, a boolean, an object: a foreign file's, ignored)."""
    t = type(v)
    if t is float:
        return v if v - v == 0 else None  # (inf and nan are not)
    return v if t is int else None


_MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_PROVIDER_SET = frozenset(_PROVIDER)


def step_fields(a: dict) -> dict:
    """A chat span's fields for its step, in this order, each only where present and of its
    type: usage, cost (our export's `t2e.cost`), model and provider (the first of their
    names given: a value that is no text, or empty text, says none). One call per chat span,
    the lookups inline (this runs for every one)."""
    u = usage(a)
    out = {"usage": u} if u else {}
    get = a.get
    c = get("t2e.cost")
    if c is not None and (c := cost(c)) is not None:
        out["cost"] = c
    for k in _MODEL:
        v = get(k)
        if v is not None:
            if v and isinstance(v, str):
                out["model"] = v
            break
    if not _PROVIDER_SET.isdisjoint(a):  # (many spans name none: one test for the four)
        v = _first(a, *_PROVIDER)
        if v and isinstance(v, str):
            out["provider"] = v
    return out


def arguments(call: dict) -> dict:
    """A call from `tool_call` with its arguments decoded (as a message's are: see _call)."""
    call["arguments"] = _args(call["arguments"])
    return call


def tool_call(a: dict, name: str, events: list | None = None) -> tuple[dict, Any, bool]:
    """An execute_tool span -> (tau2 ToolCall whose arguments are still as the span gave them
    (`arguments` decodes them), result, arguments captured?). The result is
    its text; None where it was captured as null (the attribute present with an empty
    value, OTLP's null); NOT_CAPTURED where the span has no result (capture off). Without
    the attributes, the span's events are read: Strands Agents writes the tool's input as a
    gen_ai.tool.message event and its result as a gen_ai.choice event (content blocks)."""
    for key in ("gen_ai.tool.name", "tool.name"):
        tname = a.get(key)
        if tname is not None:
            if type(tname) is not str:  # (the wording of every importer's)
                bad = bad_call_name([{"name": tname}])
                # refused here: a message that names the call may show no name at all
                raise BadContent(key + bad[8:])  # (less "[0].name")
            break
    if tname is None:  # ('' is a name given empty: kept, as in a message's call)
        tname = name.removeprefix("execute_tool ")
    # (the first name read inline: most spans have it)
    args = a.get("gen_ai.tool.call.arguments")
    if args is None:  # (OpenInference: the input; its `tool.parameters` is the tool's
        args = a.get("input.value")  # declared parameter schema, never the call's arguments)
    result = a.get("gen_ai.tool.call.result")
    if result is None:
        result = a.get("output.value")
    if (args is None or result is None) and events:  # (rare: only then are events read)
        args, result = _from_tool_events(events, args, result, a)
    cid = a.get("gen_ai.tool.call.id")
    if cid is None:
        cid = _first(a, "tool_call.id", "tool.call.id")
    if cid is None:
        cid = ""
    elif type(cid) is not str:  # (str() of a map or a list stored Python's repr)
        cid = id_text(cid, next(k for k in ("gen_ai.tool.call.id", "tool_call.id",
                                            "tool.call.id") if a.get(k) is cid))
    # (the arguments as the span gives them: `arguments` decodes them, only for a call no
    # message made; a message's call has its own)
    call = {"id": cid, "name": tname, "arguments": args,
            "requestor": req if type(req := a.get("t2e.requestor")) is str and req
            else "assistant"}  # (our export's field: of another type, left out)
    if result is None:  # (a null result's attribute is there, with no value)
        if "gen_ai.tool.call.result" not in a and "output.value" not in a:
            result = NOT_CAPTURED
    elif not isinstance(result, str):
        result = json.dumps(result, ensure_ascii=False)
    return call, result, args is not None


def _from_tool_events(events: list, args: Any, result: Any, a: dict) -> tuple[Any, Any]:
    """Strands Agents' tool span events: the input (gen_ai.tool.message's content, JSON
    text) where `args` is None, the result (gen_ai.choice's message, content blocks as
    JSON text) where `result` is None and no result attribute is there (a null one is a
    null result)."""
    want_result = result is None and "gen_ai.tool.call.result" not in a \
        and "output.value" not in a
    for ev in events:
        name, ea = ev.get("name"), ev.get("attributes") or {}
        if name == "gen_ai.tool.message" and args is None:
            args = ea.get("content")
        elif name == "gen_ai.choice" and want_result and ea.get("message") is not None:
            v = ea["message"]
            items = blocks(v)
            result = blocks_text(items) if items is not None else v
            want_result = False
    return args, result
