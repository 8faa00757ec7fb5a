"""One GenAI message -> tau2 message dicts (no I/O): the parts form (`parts` of type text,
tool_call, tool_call_response; other types kept as `content_parts`) and the role/content form
(OpenAI's `tool_calls`, `tool_call_id`), a message list attribute's text decoded
(`message_list`), and BadContent for what is present but no message. otel_messages.py reads a
span's message forms with these and re-exports them."""

from __future__ import annotations

import json
from typing import Any

from world.jsonstream import JsonStreamError

from ..messages import short_json
from .json_fast import loads_keeping_numbers, loads_text

_ROLE = {"model": "assistant", "ai": "assistant", "human": "user", "function": "tool",
         "developer": "system"}


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")


def bad_id(v: Any) -> str | None:
    """What is wrong with an id attribute's value (a task, simulation or conversation id):
    None for text or an integer (its text is the id, as in ATIF); str() of anything else
    stored Python's repr ("{'k': 'v'}")."""
    if type(v) is str or type(v) is int:
        return None
    return f"should be a string (or an integer), found {_kind(v)} {short_json(v)}"


def id_text(v: Any, field: str = "id") -> str:
    """A call or result id as text: "" for none (null, 0, false, as before), an integer's
    text; anything else (a map, a list, true, a double) is BadContent naming `field`."""
    if type(v) is str:
        return v
    if not v:
        return ""
    if type(v) is int:
        return str(v)
    raise BadContent(f"{field} {bad_id(v)}")


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


_NO_FUNCTION: dict = {}  # (a call without an OpenAI `function` object: read, never written)


def _call(c: Any) -> dict | None:
    """A tool call in any of the shapes seen (parts, OpenAI, flattened) -> tau2 ToolCall."""
    if not isinstance(c, dict):
        return None
    fn = c.get("function")
    if not isinstance(fn, dict):
        fn = _NO_FUNCTION
    name = c.get("name")
    if name is None:  # ("" is a name given empty: kept, as every importer keeps it)
        name = fn.get("name")
    if name is None:
        return None
    args = c["arguments"] if "arguments" in c else fn.get("arguments")
    # the name as given: one that is not text is refused by the episode's validation (as in
    # every importer: str() stored Python's repr, "{'a': 1}")
    cid = c.get("id")  # (BadContent "id ..." for one that is no id: the caller names the call)
    return {"id": cid if type(cid) is str else id_text(cid), "name": name,
            "arguments": args if type(args) is dict else _args(args),  # (an object: as it is)
            "requestor": "assistant"}


def message(m: Any, unnamed: str = "unknown") -> dict | None:
    """One GenAI message (parts form or role/content form) -> a tau2 message dict (a list of
    them for a message of several tool_call_response parts: one result each; `each`). A message
    without a role takes `unnamed`: "unknown" in an input (no speaker is made up; the store
    keeps that role), "assistant" in a chat call's output (the model's answer)."""
    if type(m) is not dict:
        if type(m) is Several:  # (an input item read already: its messages)
            return list(m)
        raise BadContent(f"a message should be an object, found {_kind(m)}")
    role = m.get("role")
    if type(role) is not str and role is not None:
        raise BadContent(f"role should be text, found {_kind(role)}")
    role = (role or unnamed).lower()
    role = _ROLE.get(role, role)
    texts: list[str] = []
    calls: list[dict] = []
    out: dict[str, Any] = {"role": role}
    parts = m.get("parts")
    if parts is not None and type(parts) is not list:
        raise BadContent(f"parts should be a list, found {_kind(parts)}")
    if parts is not None and len(parts) == 1 and type(p := parts[0]) is dict \
            and p.get("type") == "text" and type(t := p.get("content")) is str:
        content = t  # (the usual message: one text part, read as the loop below reads it)
    elif parts is not None:
        results = None  # the tool_call_response parts, when there are several
        for n, p in enumerate(parts):
            if type(p) is not dict:
                raise BadContent(f"parts[{n}] should be an object, found {_kind(p)}")
            kind = p.get("type")
            if kind == "text" and p.get("content") is not None:
                t = p["content"]
                texts.append(t if type(t) is str else json.dumps(t, ensure_ascii=False))
            elif kind == "tool_call":
                try:
                    c = _call(p)
                except BadContent as exc:
                    raise BadContent(f"parts[{n}].{exc}") from None
                if c is None:
                    raise BadContent(f"parts[{n}]: a tool_call without a name")
                calls.append(c)
            elif kind == "tool_call_response":
                if "id" in out:  # a second one: this message answers several calls
                    results = results or [p for p in parts if type(p) is dict
                                          and p.get("type") == "tool_call_response"]
                    continue
                resp = p.get("response", p.get("result"))
                pid = p.get("id")
                out["id"] = pid if type(pid) is str else id_text(pid, f"parts[{n}].id")
                if p.get("error") is True:  # (our export's: a result that was an error)
                    out["error"] = True
                if resp is not None:  # (null: the result's content is null, as in the
                    texts.append(resp if isinstance(resp, str)  # role/content form)
                                 else json.dumps(resp, ensure_ascii=False))
            elif kind != "text":  # reasoning, uri, blob, file, a type of another convention:
                out.setdefault("content_parts", []).append(p)  # kept as they are (as ATIF's)
        if results is not None:
            return _results(results, parts, out.get("content_parts"))
        content = "".join(texts) if texts else None
    else:
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        if "content_parts" in m:  # (parts kept by a reading before: OpenInference's, ours)
            out["content_parts"] = m["content_parts"]
        raw_calls = _json(m.get("tool_calls"))
        if raw_calls is not None:
            if type(raw_calls) is not list:
                raise BadContent(f"tool_calls should be a list, found {_kind(raw_calls)}")
            for n, c in enumerate(raw_calls):
                try:
                    call = _call(c)
                except BadContent as exc:
                    raise BadContent(f"tool_calls[{n}].{exc}") from None
                if call is None:  # (the parts form's rule: a call is named, or refused)
                    raise BadContent(f"tool_calls[{n}] should be an object, found {_kind(c)}"
                                     if type(c) is not dict else
                                     f"tool_calls[{n}]: a tool call without a name")
                calls.append(call)
        if role == "tool":
            tid = _first(m, "tool_call_id", "id")
            if tid is not None:
                out["id"] = tid if type(tid) is str else str(tid) if type(tid) is int \
                    else id_text(tid, "tool_call_id" if "tool_call_id" in m else "id")
            if m.get("error") is True:  # (a result that was an error, as a part says it;
                out["error"] = True  # and a message read before, passed through again)
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


def result_id(raw: Any) -> str | None:
    """The call id of a message that `message` reads as one tool result with a text id and
    nothing else, raising nothing (the parts form: role "tool", one tool_call_response part);
    None for any other. (The episode builder skips an input's copy of a result a tool span
    placed already: there is nothing more in it to take.)"""
    if type(raw) is dict and raw.get("role") == "tool" and type(ps := raw.get("parts")) is list \
            and len(ps) == 1 and type(p := ps[0]) is dict and p.get("type") == "tool_call_response" \
            and type(rid := p.get("id")) is str:
        return rid
    return None


def _results(results: list[dict], parts: list, kept: list | None) -> list[dict]:
    """A GenAI message with several tool_call_response parts (the results of several calls,
    in one message as some providers send them) -> one tool message per result, in order;
    its other parts (text, reasoning...) kept as the first one's content_parts."""
    out = []
    for p in results:
        resp = p.get("response", p.get("result"))
        out.append({"role": "tool", "id": id_text(p.get("id"), f"parts[{parts.index(p)}].id"),
                    "content": resp if resp is None or isinstance(resp, str)
                    else json.dumps(resp, ensure_ascii=False),
                    "requestor": "assistant", "error": p.get("error") is True})
    rest = [p for p in parts if p.get("type") == "text" and p.get("content") is not None]
    if rest or kept:
        out[0]["content_parts"] = rest + (kept or [])
    return out


def each(m: dict | list[dict]) -> list[dict] | tuple[dict]:
    """`message`'s answer as a sequence of tau2 messages."""
    return m if type(m) is list else (m,)


# the attributes that hold a chat call's output: a message there without a role is the model's
_OUTPUTS = frozenset(("gen_ai.output.messages", "gen_ai.completion", "llm.output_messages"))


def messages(items: list, key: str, first: int = 0) -> list[dict]:
    """`items` (of attribute `key`, from its item `first` on) converted by `message`; a
    message that is not one raises BadContent naming it (`key[3]: role should be text`)."""
    out = []
    unnamed = "assistant" if key in _OUTPUTS else "unknown"
    split = 0
    for n, x in enumerate(items, first):
        try:
            m = message(x, unnamed)
        except BadContent as exc:
            raise BadContent(f"{key}[{n}]: {exc}") from None
        if type(m) is list:  # (several results in one message)
            out.extend(m)
            split += len(m) - 1
        else:
            out.append(m)
    if split:
        out = Converted(out)
        out.added = split
    return out


class Converted(list):
    """Messages converted from a list in which some items were several messages (`_results`):
    `added` says how many more messages than items (the items count in a chat input)."""

    added = 0


class Several(list):
    """One item of a chat input that reads as several messages (an event whose content blocks
    hold tool results: otel_messages.event_messages), already converted: `message` gives its
    messages back. The input counts it as one item, as the next input repeats it."""


def _messages(v: Any, key: str) -> list[dict] | None:
    v = message_list(v, key)
    return None if v is None else messages(v, key)


SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"


def instructions(v: Any) -> tuple[str | None, list | None]:
    """gen_ai.system_instructions (semconv 1.37+: the JSON text of a list of parts, text parts
    mostly) -> (its text, its other parts or None). Plain text (not JSON) is that text; a
    string item is a text part; what is present but no list of parts is BadContent."""
    if type(v) is str:
        if v.lstrip()[:1] not in ("[", "{"):
            return v, None
        try:
            v = loads_text(v)
        except ValueError:
            return v, None  # (text that only starts like JSON)
    if type(v) is dict:
        v = [v]
    if type(v) is not list:
        raise BadContent(f"should be a list of parts, found {_kind(v)}")
    m = message({"role": "system", "parts": [{"type": "text", "content": p}
                                             if type(p) is str else p for p in v]})
    if type(m) is list:  # (tool results are no instructions: kept as parts)
        return None, v
    return m["content"], m.get("content_parts")
