"""One episode's messages as the GenAI semantic conventions write them, for the OTel export
(export_otel.py lays out the spans): a tau2 message as a parts-form message (`parts`), its
token counts under the GenAI names (`usage`), a chat call's several choices in their order
(`Choices`), and the episode's system instructions (`instructions`). Each in the form the OTel
import (store/importers/otel_*.py) reads back to the same stored fields.

- `content_parts` (the parts of other types an import kept: images, reasoning, files) are parts
  of the message beside its text and calls; a message whose kept parts would not come back
  as themselves from parts (a text part kept beside a result, a part that is no object, a
  value that is no list) is written in the role/content form with `content_parts` as it is,
  which the import also reads.
- `unchosen_choices` (the other choices of a call that returned several, each with its index)
  are the chat span's output messages, with the step at its own index; the chat span says
  which it is (`t2e.chosen_choice`), as no later input may (the last call). Indexes no choice
  holds are the assistant messages after the step that went on with it (the next input
  carried them: no chat span of their own); where they cannot be (no later chat input to
  carry them), the choices are written in index order and their indexes come back renumbered.
- The system instructions (`otel.system_instructions` of an OTel import, else ATIF's
  `system_prompt`) are system messages at the head of every chat input, as a foreign trace's
  system messages were (the import reads them back as the instructions, each text apart),
  their other parts `gen_ai.system_instructions` on the root. An episode with system turns
  (its chat inputs' system messages are turns: `t2e.system_turns`) or no chat span has them
  all on the root's `gen_ai.system_instructions`, text parts first: several texts come back
  joined there (the import reads a list of text parts as one text).
"""

from __future__ import annotations

import json
from typing import Any

from .importers.json_fast import loads_text
from .importers.otel_spans import USAGE_NAMES

# a message's usage (the store's names) -> the GenAI name the OTel importer reads first for
# each (its own table: the two cannot drift apart); ATIF's `cached_tokens` is the cache read
# count, read back as cache_read_tokens (a message with both keeps cache_read_tokens)
_NAME = {k: names[0] for k, names in USAGE_NAMES}
_USAGE = (("prompt_tokens", _NAME["prompt_tokens"]),
          ("completion_tokens", _NAME["completion_tokens"]),
          ("cache_read_tokens", _NAME["cache_read_tokens"]),
          ("cached_tokens", _NAME["cache_read_tokens"]),
          ("cache_write_tokens", _NAME["cache_write_tokens"]))

# part types the import reads as text, calls and results: a kept part of these types would
# come back as something else
_READ_TYPES = frozenset(("text", "tool_call", "tool_call_response"))


def usage(m: dict) -> dict:
    """The message's token counts under the GenAI attribute names (counts only)."""
    u = m.get("usage")
    out: dict = {}
    if isinstance(u, dict):
        for k, name in _USAGE:
            v = u.get(k)
            if type(v) is int and name not in out:
                out[name] = v
    return out


def _kept(m: dict) -> tuple[list, bool]:
    """(the message's kept parts, whether they come back as themselves from `parts`)."""
    cp = m.get("content_parts")
    if cp is None:
        return [], True
    if type(cp) is not list or not cp:
        return cp, False
    for p in cp:
        if type(p) is not dict or p.get("type") in _READ_TYPES:
            return cp, False
    return cp, True


def parts(m: dict) -> dict:
    """A tau2 message as a GenAI parts-form message (kept parts, text, calls; a tool result's
    response and its kept parts); the role/content form where the kept parts would not come
    back from parts."""
    role = m.get("role")
    kept, as_parts = _kept(m)
    if not as_parts:
        return _role_content(m, kept)
    if role == "tool":
        part = {"type": "tool_call_response", "id": m.get("id"), "response": m.get("content")}
        if m.get("error"):  # (what a span's error status says of a result in a span)
            part["error"] = True
        return {"role": "tool", "parts": [part, *kept]}
    out: list[dict] = list(kept)
    if m.get("content") is not None:
        out.append({"type": "text", "content": m["content"]})
    out.extend(_call_part(c) for c in _calls(m))
    return {"role": role, "parts": out}


def _calls(m: dict) -> list[dict]:
    """The message's tool calls (the objects of its list: an unchosen choice is kept as the
    file gave it, of any shape)."""
    tc = m.get("tool_calls")
    return [c for c in tc if type(c) is dict] if type(tc) is list else []


def _call_part(c: dict) -> dict:
    # (a call stored without a name has the name '': a part without one is refused)
    return {"type": "tool_call", "id": c.get("id"),
            "name": "" if c.get("name") is None else c.get("name"),
            "arguments": arguments(c.get("arguments"))}


def _role_content(m: dict, kept: Any) -> dict:
    """The role/content form (tau2's own message keys), kept parts as they are."""
    out: dict = {"role": m.get("role"), "content": m.get("content")}
    if m.get("role") == "tool":
        out["id"] = m.get("id")
        if m.get("error"):
            out["error"] = True
    elif _calls(m):
        out["tool_calls"] = [_call_part(c) for c in _calls(m)]
    out["content_parts"] = kept
    return out


def arguments(v: Any) -> Any:
    """A call's arguments for a tool_call part: as they are, but a string that reads as JSON
    (it starts with [, { or a quote and decodes) as the JSON text of that string. Importers
    decode string arguments that read as JSON (instrumentations write the arguments' JSON
    text), so '{"a": 1}' came back as the object {"a": 1}; the JSON text of the string says
    which it was."""
    if isinstance(v, str) and v[:1] in ('[', '{', '"'):
        try:
            loads_text(v)
        except ValueError:
            return v  # (not JSON: read as the string it is)
        return json.dumps(v, ensure_ascii=False)
    return v


class Choices:
    """Each assistant message's output (the chat span's: the step, or the step among its
    choices) and the messages that ride in it (`carried`: no chat span of their own)."""

    def __init__(self, msgs: list[dict]):
        self.outputs: dict[int, tuple[list[dict], int | None]] = {}
        self.carried: set[int] = set()
        later = [i for i, m in enumerate(msgs) if m.get("role") == "assistant"]
        for i, m in enumerate(msgs):
            if m.get("role") == "assistant" and i not in self.carried:
                self._one(i, m, msgs, later)

    def output(self, i: int, m: dict) -> tuple[list[dict], int | None]:
        """(the output messages of assistant message i, the step's place among them, None
        for a single output)."""
        return self.outputs.get(i) or ([m], None)

    def _one(self, i: int, m: dict, msgs: list[dict], later: list[int]) -> None:
        other = [u for u in m.get("unchosen_choices") or () if type(u) is dict]
        if not other or type(m.get("unchosen_choices")) is not list:
            return
        idx = [u.get("index") for u in other]
        slots: dict | None = None
        # (the import's shape: distinct indexes, at most as many free below the highest as
        # the step and the messages after it can fill)
        if all(type(k) is int and k >= 0 for k in idx) and len(set(idx)) == len(idx) \
                and max(idx) + 1 - len(idx) <= len(msgs) - i:
            slots = dict(zip(idx, other))
            gaps = [k for k in range(max(idx) + 1) if k not in slots]
            chosen = gaps[0] if gaps else max(idx) + 1
            went = gaps[1:]  # filled by the assistant messages after the step
            nxt = list(range(i + 1, i + 1 + len(went)))
            if went and not (all(msgs[j].get("role") == "assistant"
                                 and not msgs[j].get("unchosen_choices") for j in nxt)
                             and any(j > nxt[-1] for j in later)):
                slots = None  # (no later chat input would carry them)
        if slots is None:
            out = [m, *(_choice(u) for u in other)]
            self.outputs[i] = (out, 0)
            return
        slots[chosen] = m
        for k, j in zip(went, nxt):
            slots[k] = msgs[j]
            self.carried.add(j)
        self.outputs[i] = ([m if k == chosen else _choice(slots[k]) if k not in went
                            else slots[k] for k in sorted(slots)], sorted(slots).index(chosen))


def _choice(u: dict) -> dict:
    """An unchosen choice as the message it was (less its index); an assistant message."""
    return {**{k: v for k, v in u.items() if k != "index"}, "role": "assistant"}


def instructions(sim: dict) -> tuple[list, list]:
    """(the episode's system instruction texts, their parts that are not text)."""
    otel = sim.get("otel") if type(sim.get("otel")) is dict else {}
    texts = otel.get("system_instructions")
    if type(texts) is not list:
        atif = sim.get("atif") if type(sim.get("atif")) is dict else {}
        texts = atif.get("system_prompt")
    texts = [t if t is None or type(t) is str else json.dumps(t, ensure_ascii=False)
             for t in texts] if type(texts) is list else []
    other = otel.get("system_instructions_parts")
    return texts, [p for p in other if type(p) is dict] if type(other) is list else []


def system_messages(texts: list) -> list[dict]:
    """Instruction texts as system messages at the head of a chat input."""
    return [{"role": "system", "parts": [] if t is None else [{"type": "text", "content": t}]}
            for t in texts]


def root_instructions(texts: list | None, other: list) -> str | None:
    """The root's gen_ai.system_instructions: the texts (when they ride there) as text parts,
    then the other parts; None when there is nothing to write."""
    items = [{"type": "text", "content": t} for t in texts or () if t is not None] + other
    return json.dumps(items, ensure_ascii=False) if items else None
