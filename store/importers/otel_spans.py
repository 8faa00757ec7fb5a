"""OpenTelemetry GenAI spans -> tau2-shaped messages (no I/O; see otel.py for the file side).

Accepted forms, old and new (the semantic conventions moved several times):

* messages: `gen_ai.input.messages` / `gen_ai.output.messages` (JSON, `parts` of type text,
  tool_call, tool_call_response); the event form (`gen_ai.{system,user,assistant,tool}.message`
  and `gen_ai.choice` span events, or `gen_ai.content.prompt|completion` events carrying
  `gen_ai.prompt|completion`); the flattened `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`
  attributes; OpenInference's `llm.input_messages.N.message.*` / `llm.output_messages.N.*`;
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
import re
from typing import Any

from world.jsonstream import JsonStreamError

from ..messages import bad_call_name
from .json_fast import loads_keeping_numbers, loads_text

NOT_CAPTURED = "(content not captured)"
CALL_FAILED = "(model call failed)"  # a chat span with an error status and no output
CHAT_OPS = {"chat", "text_completion", "generate_content"}
_ROLE = {"model": "assistant", "ai": "assistant", "human": "user", "function": "tool",
         "developer": "system"}
_FLAT_HEADS = ("gen_", "llm.")
_FLAT = re.compile(r"^(gen_ai\.prompt|gen_ai\.completion|llm\.input_messages|"
                   r"llm\.output_messages)\.(\d+)\.(.+)$")


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")


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
    shape no reader takes (TypeError: `items` is not a list)."""
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
        # inline fast path for the common scalar types (this runs for every attribute)
        if type(v) is dict:
            if "stringValue" in v:
                out[k] = v["stringValue"]
                continue
            if "intValue" in v and type(v["intValue"]) is int:
                out[k] = v["intValue"]
                continue
        try:
            out[k] = any_value(v)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"attribute {k[:80]!r}: {exc}") from None
    return out


def _place(items: list, item: Any) -> int:
    """The index of `item` (that very object) in `items`, for a message."""
    return next(n for n, x in enumerate(items) if x is item)


def _first(a: dict, *keys: str) -> Any:
    for k in keys:
        v = a.get(k)
        if v is not None:
            return v
    return None


class BadContent(ValueError):
    """A GenAI message list or message that is present but not one (not JSON, not a list, a
    role that is not text...): the file is refused, naming the episode, span and attribute.
    Content capture off is an absent attribute, never a malformed one."""


# the older attribute forms, whose conventions only recommend JSON: plain text is one message
_PLAIN_TEXT_ROLE = {"gen_ai.prompt": "user", "gen_ai.completion": "assistant"}


def message_list(v: Any, key: str) -> list | None:
    """The decoded message list of attribute `key` (None: absent). One message object stands
    for a list of it, and plain text in the older gen_ai.prompt / gen_ai.completion
    attributes (JSON is only recommended there) for one message of that text. Numbers the
    store cannot hold are kept as their JSON text (loads_keeping_numbers: a tool call's
    arguments keep their turn); anything else that is not a JSON list raises BadContent
    naming `key`."""
    if v is None:
        return None
    if type(v) is str:
        plain = key in _PLAIN_TEXT_ROLE
        if plain and v.lstrip()[:1] not in ("[", "{"):
            return [{"role": _PLAIN_TEXT_ROLE[key], "content": v}]
        try:
            v = loads_text(v)
        except JsonStreamError:
            try:
                v = loads_keeping_numbers(v)
            except ValueError as exc:
                raise BadContent(f"{key}: {exc}") from None
        except ValueError as exc:
            if plain:  # text that only starts like JSON ("[INST] ...", "{user} asks")
                return [{"role": _PLAIN_TEXT_ROLE[key], "content": v}]
            raise BadContent(f"{key} is not JSON ({str(exc)[:120]})") from None
    if type(v) is dict:
        return [v]
    if type(v) is not list:
        raise BadContent(f"{key} should be a list of messages, found {_kind(v)}")
    return v


def _json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return loads_text(v)
        except ValueError:
            return v
    return v


def _args(v: Any) -> Any:
    if isinstance(v, str) and v[:1] == '"':  # the JSON text of a string: that string
        try:
            text = loads_text(v)
        except ValueError:
            text = None
        if isinstance(text, str):
            return text
    v = _json(v)
    return v if v is not None else {}


def _call(c: Any) -> dict | None:
    """A tool call in any of the shapes seen (parts, OpenAI, flattened) -> tau2 ToolCall."""
    if not isinstance(c, dict):
        return None
    fn = c.get("function") if isinstance(c.get("function"), dict) else {}
    name = c.get("name")
    if name is None:  # ("" is a name given empty: kept, as every importer keeps it)
        name = fn.get("name")
    if name is None:
        return None
    args = c.get("arguments", fn.get("arguments"))
    # the name as given: one that is not text is refused by the episode's validation (as in
    # every importer: str() stored Python's repr, "{'a': 1}")
    return {"id": str(c.get("id") or ""), "name": name, "arguments": _args(args),
            "requestor": "assistant"}


def message(m: Any) -> dict | None:
    """One GenAI message (parts form or role/content form) -> a tau2 message dict."""
    if type(m) is not dict:
        raise BadContent(f"a message should be an object, found {_kind(m)}")
    role = m.get("role")
    if type(role) is not str and role is not None:
        raise BadContent(f"role should be text, found {_kind(role)}")
    role = (role or "assistant").lower()
    role = _ROLE.get(role, role)
    texts: list[str] = []
    calls: list[dict] = []
    out: dict[str, Any] = {"role": role}
    parts = m.get("parts")
    if parts is not None and type(parts) is not list:
        raise BadContent(f"parts should be a list, found {_kind(parts)}")
    if parts is not None:
        for n, p in enumerate(parts):
            if type(p) is not dict:
                raise BadContent(f"parts[{n}] should be an object, found {_kind(p)}")
            kind = p.get("type")
            if kind == "text" and p.get("content") is not None:
                t = p["content"]
                texts.append(t if type(t) is str else json.dumps(t, ensure_ascii=False))
            elif kind == "tool_call":
                c = _call(p)
                if c is None:
                    raise BadContent(f"parts[{n}]: a tool_call without a name")
                calls.append(c)
            elif kind == "tool_call_response":
                resp = p.get("response", p.get("result"))
                out["id"] = str(p.get("id") or "")
                if p.get("error") is True:  # (our export's: a result that was an error)
                    out["error"] = True
                texts.append(resp if isinstance(resp, str)
                             else json.dumps(resp, ensure_ascii=False))
        content = "".join(texts) if texts else None
    else:
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        raw_calls = _json(m.get("tool_calls"))
        for c in raw_calls if isinstance(raw_calls, list) else ():  # (else: no calls)
            c = _call(c)
            if c:
                calls.append(c)
        tid = _first(m, "tool_call_id", "id")
        if role == "tool" and tid is not None:
            out["id"] = str(tid)
    out["content"] = content
    if calls:
        if role == "user":  # tau2 dual-control: the user simulator's own tool calls
            for c in calls:
                c["requestor"] = "user"
        out["tool_calls"] = calls
    if role == "tool":
        out.setdefault("id", "")
        out["requestor"] = "assistant"
        out.setdefault("error", False)
    return out


def messages(items: list, key: str, first: int = 0) -> list[dict]:
    """`items` (of attribute `key`, from its item `first` on) converted by `message`; a
    message that is not one raises BadContent naming it (`key[3]: role should be text`)."""
    out = []
    for n, x in enumerate(items, first):
        try:
            out.append(message(x))
        except BadContent as exc:
            raise BadContent(f"{key}[{n}]: {exc}") from None
    return out


def _messages(v: Any, key: str) -> list[dict] | None:
    v = message_list(v, key)
    return None if v is None else messages(v, key)


def _flat(a: dict) -> dict[str, list[dict]]:
    """Flattened per-index message attributes (gen_ai.prompt.N.*, llm.input_messages.N.*)."""
    groups: dict[str, dict[int, dict]] = {}
    for k, v in a.items():
        m = _FLAT.match(k)
        if not m:
            continue
        if len(m.group(2)) > 9:
            continue  # no conversation has a billion messages: not an index we can use
        base, idx, rest = m.group(1), int(m.group(2)), m.group(3)
        rest = rest.removeprefix("message.")
        rec = groups.setdefault(base, {}).setdefault(idx, {})
        if rest.startswith("tool_calls."):
            parts = rest.split(".", 2)
            if len(parts) < 3 or not parts[1].isdigit() or len(parts[1]) > 9:
                continue  # tool_calls.N.FIELD is the only shape of a call's key
            field = parts[2].removeprefix("tool_call.").removeprefix("function.")
            calls = rec.get("tool_calls")
            if not isinstance(calls, dict):  # a plain tool_calls value beside numbered ones
                calls = rec["tool_calls"] = {}
            calls.setdefault(int(parts[1]), {})[field] = v
        else:
            if rest == "tool_calls" and isinstance(rec.get("tool_calls"), dict):
                continue  # the numbered calls already read stand
            rec[rest] = v
    out = {}
    for base, by_idx in groups.items():
        msgs = []
        for i in sorted(by_idx):
            rec = by_idx[i]
            if isinstance(rec.get("tool_calls"), dict):
                rec["tool_calls"] = [rec["tool_calls"][j] for j in sorted(rec["tool_calls"])]
            try:
                msgs.append(message(rec))
            except BadContent as exc:
                raise BadContent(f"{base}.{i}: {exc}") from None
        out[base] = msgs
    return out


_EVENT_ROLE = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
               "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}


def _from_events(events: list[dict]) -> tuple[list[dict] | None, list[dict] | None]:
    inp: list[dict] = []
    out: list[dict] = []
    seen = False
    for ev in events:
        name, a = ev.get("name"), ev.get("attributes") or {}
        try:
            if name in _EVENT_ROLE:
                seen = True
                inp.append(message({**a, "role": a.get("role") or _EVENT_ROLE[name]}))
            elif name == "gen_ai.choice":
                seen = True
                body = _json(a.get("message")) if a.get("message") is not None else a
                if type(body) is not dict:  # the content alone: text, or a list of content
                    body = {"content": body}  # blocks (Strands Agents: [{"text": ...}])
                out.append(message({**body, "role": "assistant"}))
            elif name == "gen_ai.content.prompt" and a.get("gen_ai.prompt") is not None:
                seen = True
                inp.extend(_messages(a["gen_ai.prompt"], "gen_ai.prompt"))
            elif name == "gen_ai.content.completion" and a.get("gen_ai.completion") is not None:
                seen = True
                out.extend(_messages(a["gen_ai.completion"], "gen_ai.completion"))
        except BadContent as exc:
            raise BadContent(f"event {str(name)[:80]!r}: {exc}") from None
    return (inp if seen else None), (out if seen else None)


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


INPUT = "gen_ai.input.messages"
OUTPUT = "gen_ai.output.messages"


def extends(text: str, old: str) -> bool:
    """True when the message list `text` is the list `old` with items appended, serialised
    the same way (what instrumentations write: each chat call's input is the conversation so
    far): `old` less its closing bracket, a comma, then the new items."""
    return (len(text) > len(old) and old.endswith("]") and text[len(old) - 1] == ","
            and text.startswith(old[:-1]))


def chat_io(a: dict, events: list[dict]) -> tuple[list | None, list[dict] | None]:
    """A chat span's (input, output) messages; None where the span does not carry them
    (content capture off); BadContent where it carries something that is not a message list. Input items may be unconverted: pass them through `message`
    (idempotent on converted ones), so a caller converts only the part it needs."""
    inp = message_list(a.get(INPUT), INPUT)
    out = _messages(a.get(OUTPUT), OUTPUT)
    if inp is None and out is None and events:
        inp, out = _from_events(events)
    if inp is None and out is None:
        inp = _messages(a.get("gen_ai.prompt"), "gen_ai.prompt")
        out = _messages(a.get("gen_ai.completion"), "gen_ai.completion")
    # the flattened form has numbered keys (checked on a few characters first: a chat span
    # with content capture off has none and comes here)
    if inp is None and out is None and any(k[:4] in _FLAT_HEADS and _FLAT.match(k) for k in a):
        flat = _flat(a)
        inp = flat.get("gen_ai.prompt", flat.get("llm.input_messages"))
        out = flat.get("gen_ai.completion", flat.get("llm.output_messages"))
    return inp, out


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


_EXACT = float(1 << 53)  # a double holds every integer up to here (and the store's 64 bits)


def usage(a: dict) -> dict:
    """Token usage under old and new attribute names (only the keys present): the first name
    set wins, kept when it is a count (an integer, or a whole double: 12.0 is 12);
    text, booleans, fractions and the like are left out. (Runs for every chat span, hence
    the plain loops.)"""
    out = {}
    get = a.get
    for name, keys in USAGE_NAMES:
        for k in keys:
            v = get(k)
            if v is not None:
                if type(v) is int:
                    out[name] = v
                elif type(v) is float and v.is_integer() and -_EXACT <= v <= _EXACT:
                    out[name] = int(v)
                break
    return out


def cost(v: Any) -> float | int | None:
    """A cost (`t2e.cost`, `t2e.agent_cost`, `t2e.user_cost`) when it is a finite number;
    None for anything else (text, a boolean, an object: a foreign file's, ignored)."""
    t = type(v)
    if t is float:
        return v if v - v == 0 else None  # (inf and nan are not)
    return v if t is int else None


def model(a: dict) -> str | None:
    v = _first(a, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
    return v if isinstance(v, str) else None


def provider(a: dict) -> str | None:
    v = _first(a, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
    return v if isinstance(v, str) else None


def tool_call(a: dict, name: str) -> tuple[dict, Any, bool]:
    """An execute_tool span -> (tau2 ToolCall, result or None, arguments captured?)."""
    for key in ("gen_ai.tool.name", "tool.name"):
        tname = a.get(key)
        if tname is not None:
            bad = bad_call_name([{"name": tname}])  # (the wording of every importer's)
            if bad:  # refused here: a message that names the call may show no name at all
                raise BadContent(key + bad[8:])  # (less "[0].name")
            break
    tname = tname or name.removeprefix("execute_tool ")
    args = _first(a, "gen_ai.tool.call.arguments", "tool.parameters", "input.value")
    result = _first(a, "gen_ai.tool.call.result", "output.value")
    cid = _first(a, "gen_ai.tool.call.id", "tool_call.id", "tool.call.id")
    call = {"id": str(cid or ""), "name": tname, "arguments": _args(args),  # (see _call)
            "requestor": str(a.get("t2e.requestor") or "assistant")}
    if result is not None and not isinstance(result, str):
        result = json.dumps(result, ensure_ascii=False)
    return call, result, args is not None
