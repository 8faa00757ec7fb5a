"""A chat input's messages as the episode builder reads them: the whole text of a span's
gen_ai.input.messages put back together from the spill's parts (`Inputs`), and the messages
one input adds to the previous one, parsed alone (`appended`, `parse_added`)."""

from __future__ import annotations

import re
from typing import Any

from .json_fast import loads_text
from .otel_spans import INPUT, extends


def appended(text: Any, old: Any, out: Output | None = None) -> list | None:
    """The messages a chat input adds to the previous one, parsing only the added part:
    instrumentations serialise the growing conversation the same way each call, so the new
    input is the old one with items appended. None when that does not hold. `out`: see
    parse_added."""
    if not (isinstance(text, str) and isinstance(old, str) and extends(text, old)):
        return None
    return parse_added(text[len(old):], out)


# a chat call's output attribute: its text and the list loads_text read from it
Output = tuple[str, list]
_WS = " \t\n\r"  # (JSON's whitespace)
_SPACE = re.compile(f"[{_WS}]*")


def output_items(v: Any) -> Output | None:
    """A chat output attribute's (text, items) where loads_text reads the text as a list (what
    message_list then gives as it is); None for anything else (message_list decides)."""
    if type(v) is not str:
        return None
    try:
        items = loads_text(v)
    except ValueError:
        return None
    return (v, items) if type(items) is list else None


def parse_added(rest: str, out: Output | None = None) -> list | None:
    """The items after the comma that continues a message list (`extends`), or None. `out`:
    the previous chat call's output (output_items); the next input usually starts with its
    items, written the same way: then they are taken as read, and only the text after them is
    parsed (the same list: JSON is read left to right, and that text is whole values)."""
    if out is not None and (tail := _after_output(rest, *out)) is not None:
        return tail
    try:
        tail = loads_text("[" + rest)
    except ValueError:
        return None
    return tail if isinstance(tail, list) else None


class Inputs:
    """Whole chat inputs of one conversation's spans. The spill keeps only what an input adds
    to an earlier span's (the record's last field names that span's seq, see
    otel_spill._history_ref); the whole text is put back together here, only when needed
    (the previous span read is not that span, or the added part does not parse alone)."""

    def __init__(self, spans: list[list]):
        self.spans = spans
        self.by_seq: dict[int, list] | None = None
        self.texts: dict[int, str] = {}

    def input(self, sp: list, keep: bool = True) -> Any:
        """The span's gen_ai.input.messages as it was in the file. `keep`: remember the texts
        rebuilt on the way (the episode reads them again); without, nothing is kept (a
        comparison of two spans, otel_groups._once_each: keeping every history of a long
        conversation written twice took memory in its length squared)."""
        if sp[12] is None:
            return sp[1].get(INPUT)
        if self.by_seq is None:
            self.by_seq = {s[11]: s for s in self.spans}
        chain = []  # walked without recursion: a conversation may have many calls
        while sp[12] is not None and sp[11] not in self.texts:
            chain.append(sp)
            sp = self.by_seq[sp[12]]
        text = self.texts.get(sp[11]) if sp[12] is not None else sp[1].get(INPUT)
        if not keep:  # the same texts, joined once: each step's `]` gives way to the next
            parts = [s[1][INPUT] for s in reversed(chain)]
            return "".join([text[:-1], *(f",{p[:-1]}" for p in parts[:-1]), ",", parts[-1]])
        for s in reversed(chain):
            text = self.texts[s[11]] = text[:-1] + "," + s[1][INPUT]
        return text


def _after_output(rest: str, text: str, items: list) -> list | None:
    """parse_added(rest) where `rest` starts with the items of the output `text` (the list
    `items`), followed by a comma or the closing bracket; else None."""
    body = text.strip(_WS)[1:-1].strip(_WS)  # (a list's text: [ ... ])
    # (the spaces looked for only where the usual one space after a comma is not so)
    i = 1 if rest[:1] == " " and rest.startswith(body, 1) else _SPACE.match(rest).end()
    if not items or not rest.startswith(body, i):
        return None
    j = i + len(body)
    if rest[j:j + 1] not in (",", "]"):
        j = _SPACE.match(rest, j).end()
    if rest[j:j + 1] == "]":
        return list(items) if _SPACE.match(rest, j + 1).end() == len(rest) else None
    if rest[j:j + 1] != ",":
        return None
    more = parse_added(rest[j + 1:])
    # (after a comma, at least one value: "[x, ]" is no JSON)
    return [*items, *more] if more else None
