"""GenAI messages of OpenTelemetry spans -> tau2-shaped messages (no I/O; otel_spans.py holds
the attributes, span kinds, usage and tool spans, and re-exports these names).

The forms read, old and new: `gen_ai.input.messages` / `gen_ai.output.messages` (JSON lists of
messages: one message's conversion is otel_convert.py's); the event form (`gen_ai.{system,user,assistant,
tool}.message` and `gen_ai.choice` span events, or `gen_ai.content.prompt|completion` events
carrying `gen_ai.prompt|completion`); the flattened `gen_ai.prompt.N.*` /
`gen_ai.completion.N.*` attributes; OpenInference's `llm.input_messages.N.message.*` /
`llm.output_messages.N.*`. Content that is present but not a message list is BadContent (the
file is refused, named); an absent attribute is content capture off.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .json_fast import loads_text

# one message's conversion (otel_convert.py), re-exported for otel_spans
from .otel_convert import (  # noqa: F401
    _OUTPUTS,
    SYSTEM_INSTRUCTIONS,
    BadContent,
    Converted,
    Several,
    _args,
    _first,
    _json,
    _kind,
    _messages,
    bad_id,
    each,
    id_text,
    instructions,
    message,
    message_list,
    messages,
)

_FLAT_HEADS = ("gen_", "llm.")
_FLAT = re.compile(r"^(gen_ai\.prompt|gen_ai\.completion|llm\.input_messages|"
                   r"llm\.output_messages)\.(\d+)\.(.+)$")


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
        elif rest.startswith("contents."):  # OpenInference's multi-part content
            parts = rest.split(".", 2)
            if len(parts) < 3 or not parts[1].isdigit() or len(parts[1]) > 9:
                continue  # (contents.N.message_content.FIELD, as a call's key is)
            items = rec.get("contents")
            if not isinstance(items, dict):
                items = rec["contents"] = {}
            item = items.setdefault(int(parts[1]), {})
            *path, last = parts[2].removeprefix("message_content.").split(".")
            for name in path:  # (image.image.url: {"image": {"image": {"url": ...}}})
                if not isinstance(item.get(name), dict):
                    item[name] = {}
                item = item[name]
            item[last] = v
        else:
            if rest == "tool_calls" and isinstance(rec.get("tool_calls"), dict):
                continue  # the numbered calls already read stand
            rec[rest] = v
    out = {}
    for base, by_idx in groups.items():
        msgs = []
        unnamed = "assistant" if base in _OUTPUTS else "unknown"
        for i in sorted(by_idx):
            rec = by_idx[i]
            if isinstance(rec.get("tool_calls"), dict):
                rec["tool_calls"] = [rec["tool_calls"][j] for j in sorted(rec["tool_calls"])]
            if isinstance(rec.get("contents"), dict):
                _contents(rec)
            try:
                msgs.extend(each(message(rec, unnamed)))
            except BadContent as exc:
                raise BadContent(f"{base}.{i}: {exc}") from None
        out[base] = msgs
    return out


def _contents(rec: dict) -> None:
    """OpenInference's `message.contents` (index -> {type, text, image: {image: {url}}...})
    read into `rec`: the text items' text as its content (after any `message.content`), the
    other items (images, audio) kept as they are in its `content_parts`."""
    items = rec.pop("contents")
    texts = [rec["content"]] if isinstance(rec.get("content"), str) else []
    other = []
    for i in sorted(items):
        it = items[i]
        if it.get("type") == "text" and "text" in it:
            t = it["text"]
            texts.append(t if type(t) is str else json.dumps(t, ensure_ascii=False))
        else:
            other.append(it)
    if texts:
        rec["content"] = "".join(texts)
    if other:
        rec["content_parts"] = other


_EVENT_ROLE = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
               "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}

_INPUT_KEYS = ("gen_ai.input.messages", "gen_ai.prompt", "llm.input_messages")
_INPUT_EVENTS = frozenset((*_EVENT_ROLE, "gen_ai.content.prompt"))


def has_input(a: dict, events: list | None) -> bool:
    """Whether a chat span carries its input in one of the forms `chat_io` reads."""
    return INPUT in a or any(k.startswith(_INPUT_KEYS) for k in a) \
        or any(ev.get("name") in _INPUT_EVENTS for ev in events or ())


# Strands Agents' content blocks (Bedrock Converse's message content), which its events carry
# as JSON text: [{"text": ...}, {"toolUse": {...}}, {"toolResult": {...}}, ...], one key each
_BLOCKS = frozenset(("text", "toolUse", "toolResult", "json", "image", "document", "video",
                     "reasoningContent", "cachePoint", "guardContent", "citationsContent"))


def blocks(v: Any) -> list | None:
    """`v` (or the JSON text of it) as a list of content blocks; None when it is not one."""
    if type(v) is str:
        if v[:1] != "[":
            return None
        try:
            v = loads_text(v)
        except ValueError:
            return None
    if type(v) is not list or not v:
        return None
    for b in v:
        if type(b) is not dict or len(b) != 1 or next(iter(b)) not in _BLOCKS:
            return None
    return v


def blocks_text(items: list) -> str:
    """The text of content blocks: text blocks as they are, a json block's value and any
    other block (an image, reasoning) as JSON text, joined as text parts are."""
    out = []
    for b in items:
        (k, v), = b.items()
        out.append(v if k == "text" and type(v) is str else json.dumps(
            v if k in ("text", "json") else b, ensure_ascii=False))
    return "".join(out)


def event_messages(m: dict, unnamed: str = "unknown", results: bool = True) -> list[dict]:
    """A transcript event's message (its attributes, with a role) -> tau2 messages: one, as
    `message` reads it; or, where its content is content blocks, each toolResult a tool
    message (first: they answer the calls before), then the text and toolUse calls as one
    message of the event's role. `results` False: toolResult blocks are kept as their JSON
    text, as other blocks are (one message: a choice among several)."""
    items = blocks(m.get("content"))
    if items is None:
        got = message(m, unnamed)
        return got if type(got) is list else [got]
    texts: list[dict] = []
    calls: list[dict] = []
    out: list[dict] = []
    for n, b in enumerate(items):
        (k, v), = b.items()
        if k == "toolUse" or (k == "toolResult" and results):
            if type(v) is not dict:
                raise BadContent(f"content[{n}].{k} should be an object, found {_kind(v)}")
            if k == "toolUse":
                if v.get("name") is None:
                    raise BadContent(f"content[{n}]: a toolUse without a name")
                calls.append({"id": id_text(v.get("toolUseId"), f"content[{n}].toolUse.toolUseId"),
                              "name": v["name"],
                              "arguments": v.get("input")})
                continue
            res = v.get("content")
            inner = blocks(res) if type(res) is list else None
            out.append({"role": "tool", "id": id_text(v.get("toolUseId"),
                                                      f"content[{n}].toolResult.toolUseId"),
                        "content": blocks_text(inner) if inner is not None
                        else res if res is None or type(res) is str
                        else json.dumps(res, ensure_ascii=False),
                        "requestor": "assistant", "error": v.get("status") == "error"})
        else:
            texts.append(b)
    if texts or calls or not out:
        out.extend(each(message({**m, "content": blocks_text(texts) if texts else None,
                                 "tool_calls": calls or m.get("tool_calls")}, unnamed)))
    return out


def _item(ms: list[dict] | tuple) -> Any:
    """One input item's messages as the item (Several where it reads as more than one)."""
    return ms[0] if len(ms) == 1 else Several(ms)


def _from_events(events: list[dict]) -> tuple[list | None, list[dict] | None]:
    """The event form's (input items, output messages). An input event is one item of the
    conversation, and so is a gen_ai.choice (a Converted output says how many more messages
    they read as), however many messages an item reads as (a toolResult block is a tool
    message of its own): the next input repeats it as one item, in either form. Several
    choices (n > 1) are one message each, their toolResult blocks kept as JSON text."""
    inp: list = []
    choices: list[tuple[dict, list[dict]]] = []
    out: list[dict] = []
    added = 0
    seen = False
    for ev in events:
        name, a = ev.get("name"), ev.get("attributes") or {}
        try:
            if name in _EVENT_ROLE:
                seen = True
                inp.append(_item(event_messages({**a, "role": a.get("role")
                                                 or _EVENT_ROLE[name]})))
            elif name == "gen_ai.choice":
                seen = True
                body = _json(a.get("message")) if a.get("message") is not None else a
                if type(body) is not dict:  # the content alone: text, or a list of content
                    body = {"content": body}  # blocks (Strands Agents: [{"text": ...}])
                body = {**body, "role": "assistant"}
                choices.append((body, event_messages(body)))
            elif name == "gen_ai.content.prompt" and a.get("gen_ai.prompt") is not None:
                seen = True
                items = message_list(a["gen_ai.prompt"], "gen_ai.prompt")
                inp.extend(_item(each(got)) for got in messages_each(items, "gen_ai.prompt"))
            elif name == "gen_ai.content.completion" and a.get("gen_ai.completion") is not None:
                seen = True
                got = _messages(a["gen_ai.completion"], "gen_ai.completion")
                out.extend(got)
                added += got.added if type(got) is Converted else 0
        except BadContent as exc:
            raise BadContent(f"event {str(name)[:80]!r}: {exc}") from None
    for body, ms in choices:
        if len(ms) > 1 and len(choices) > 1:  # (a choice is one message among several)
            ms = event_messages(body, results=False)
        out.extend(ms)
        added += len(ms) - 1
    if added:
        out = Converted(out)
        out.added = added
    return (inp if seen else None), (out if seen else None)


def messages_each(items: list, key: str) -> list:
    """`items` of attribute `key` each converted by `message` (a message, or a list of them
    for one that answers several calls); BadContent names the item (`key[3]: ...`)."""
    out = []
    for n, x in enumerate(items):
        try:
            out.append(message(x))
        except BadContent as exc:
            raise BadContent(f"{key}[{n}]: {exc}") from None
    return out


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
