"""The order an OpenTelemetry conversation's spans and transcript events are read in
(otel_episode.build_episode): spans without a start time kept where the file put them, and
the transcript events a later chat input repeats left out."""

from __future__ import annotations

from . import otel_spans as S


def file_order(spans: list[list]) -> tuple[list[list], set]:
    """Spans sorted by time where some have no start time (they came first): each such span
    takes the start of the span before it in the file (seq order; none: it stays first), so
    it keeps its place among its conversation's calls (a chat span without times came before
    the call whose turns its input repeats, and they were emitted twice). Returns the spans
    in that order and the seqs of the spans given a start (their latency is not known)."""
    made = set()
    t = 0
    for sp in sorted(spans, key=lambda sp: sp[11]):
        if sp[4]:
            t = sp[4]
        else:
            sp[4] = t
            made.add(sp[11])
    spans.sort(key=lambda sp: (sp[4], sp[11]))
    return spans, made


def past_last_input(items: list, spans: list[list], first: tuple) -> list:
    """`items` less the transcript events that a later chat input repeats: one comes before
    the last chat span whose input was captured (that input is the conversation so far).
    Such events are the conversation written again (Strands Agents puts the agent's input on
    its span and the conversation on each cycle's span); the ones after it are turns no input
    has (our export's last turns, on the root). `first`: the earliest event's (time, span);
    the spans are in time order, so only the chat spans after it are looked at."""
    for i in range(len(spans) - 1, -1, -1):
        sp = spans[i]
        if (sp[4], i) < first:
            return items
        if sp[10] == "chat" and S.has_input(sp[1], sp[2]):
            last = (sp[4], i)
            return [t for t in items if not isinstance(t[2], dict) or (t[0], t[1]) > last]
    return items
