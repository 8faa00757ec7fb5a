"""A chat input's messages as the episode builder reads them: the whole text of a span's
gen_ai.input.messages put back together from the spill's parts (`Inputs`), and the messages
one input adds to the previous one, parsed alone (`appended`, `parse_added`)."""

from __future__ import annotations

from typing import Any

from .json_fast import loads_text
from .otel_spans import INPUT, extends


def appended(text: Any, old: Any) -> list | None:
    """The messages a chat input adds to the previous one, parsing only the added part:
    instrumentations serialise the growing conversation the same way each call, so the new
    input is the old one with items appended. None when that does not hold."""
    if not (isinstance(text, str) and isinstance(old, str) and extends(text, old)):
        return None
    return parse_added(text[len(old):])


def parse_added(rest: str) -> list | None:
    """The items after the comma that continues a message list (`extends`), or None."""
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
