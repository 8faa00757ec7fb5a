"""Where the spans of a trace holding several conversations go (otel_groups._by_pair, the rare
grouping), and the chat inputs that must be made whole there.

A span without a conversation id is in the conversation of the nearest span above it that has
one (many instrumentations put `gen_ai.conversation.id` on the agent span only, not on the
chat and tool spans under it); failing that, in the one the spans below it are in, when that
is one (a workflow step over one agent); failing that, in the one of the nearest span above
it placed so. Otherwise (a root over two conversations, a span with no parent in the trace)
it is the trace's own: an episode only where such spans hold messages (otel_groups.episodes).

The spill keeps only what a chat input adds to the previous input of its trace
(otel_spill._history_ref), which may be a span of another conversation here (a hand-off: the
second conversation's first input goes on from the first's). Such an input is put back
together now, while the trace's spans are all at hand, and kept whole in the table `whole`.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

from .otel_inputs import Inputs


def place(db: sqlite3.Connection, src: str, read: Callable) -> None:
    """Fill `a` (seq, conv: the spans placed in a conversation) and `whole` (seq, input: the
    inputs made whole) for the traces of `src` holding two conversations or more (g0)."""
    db.execute("CREATE TABLE a (seq INTEGER PRIMARY KEY, conv TEXT)")
    db.execute("CREATE TABLE whole (seq INTEGER PRIMARY KEY, input TEXT)")
    cur = db.cursor().execute(
        f"SELECT x.trace, x.conv, x.seq, x.off, x.len FROM {src} AS x JOIN g0 ON "
        f"g0.trace = x.trace WHERE g0.c0 < g0.conv ORDER BY x.trace")
    trace, rows = None, []
    for t, conv, seq, off, n in cur:
        if t != trace:
            if rows:
                _trace(db, rows, read)
            trace, rows = t, []
        sp = read(seq, off, n)
        # (seq, conv, off, len, span id, parent, input reference)
        rows.append((seq, conv, off, n, sp[6], sp[7], sp[12]))
    if rows:
        _trace(db, rows, read)


def _trace(db: sqlite3.Connection, rows: list[tuple], read: Callable) -> None:
    """One trace's spans (see `place`)."""
    by_id: dict[str, tuple] = {}
    for r in rows:
        by_id.setdefault(r[4], r)  # (a span id given twice: the first, as for copies)
    eff: dict[int, str | None] = {r[0]: r[1] for r in rows}  # seq -> its conversation
    loose = [r for r in rows if r[1] is None]
    if loose:
        for r in loose:  # the nearest span above with an id
            eff[r[0]] = _above(r, by_id, lambda p: p[1])
        below = _below(rows, by_id)
        for r in loose:  # the one conversation of the spans below
            if eff[r[0]] is None and len(got := below.get(r[4], ())) == 1:
                eff[r[0]] = next(iter(got))
        for r in loose:  # the nearest span above placed so
            if eff[r[0]] is None:
                eff[r[0]] = _above(r, by_id, lambda p: eff[p[0]])
        db.executemany("INSERT INTO a VALUES (?, ?)",
                       [(r[0], eff[r[0]]) for r in loose if eff[r[0]] is not None])
    by_seq = {r[0]: r for r in rows}
    made = [r for r in rows if r[6] is not None and r[6] in by_seq and eff[r[6]] != eff[r[0]]]
    if made:
        records: dict[int, list] = {}
        whole = []
        for r in made:
            chain = _chain(r, by_seq)
            if chain is None:
                continue  # (a reference that leaves the trace: the spill makes none)
            for q in chain:  # (each input's chain of references, read once)
                if q[0] not in records:
                    records[q[0]] = read(q[0], q[2], q[3])
            whole.append(r)
        inputs = Inputs(list(records.values()))
        db.executemany("INSERT INTO whole VALUES (?, ?)",
                       [(r[0], inputs.input(records[r[0]])) for r in whole])


def _chain(r: tuple, by_seq: dict) -> list[tuple] | None:
    """`r` and the spans its input refers to, back to one spilled whole; None if one is
    not in the trace (or the references loop)."""
    out = [r]
    while out[-1][6] is not None:
        q = by_seq.get(out[-1][6])
        if q is None or len(out) > len(by_seq):
            return None
        out.append(q)
    return out


def _above(r: tuple, by_id: dict, conv_of: Callable) -> str | None:
    """The conversation (`conv_of` of a span) of the nearest span above `r` that has one."""
    seen = {r[4]}  # (a loop of parents ends the walk)
    p = by_id.get(r[5]) if r[5] else None
    while p is not None and p[4] not in seen:
        c = conv_of(p)
        if c is not None:
            return c
        seen.add(p[4])
        p = by_id.get(p[5]) if p[5] else None
    return None


def _below(rows: list[tuple], by_id: dict) -> dict[str, set]:
    """Span id -> the conversations of the nearest spans below it that have an id (a span
    with one stands for the spans under it)."""
    children: dict[str, list] = {}
    for r in rows:
        if r[5] and r[5] in by_id and r[5] != r[4]:
            children.setdefault(r[5], []).append(r)
    out: dict[str, set] = {}
    # post-order without recursion: a span's set once all its children's are known
    for root in rows:
        if root[4] in out:
            continue
        stack = [(root, False)]
        on_path: set[str] = set()
        while stack:
            r, done = stack.pop()
            sid = r[4]
            if done:
                on_path.discard(sid)
                got: set = set()
                for c in children.get(sid, ()):
                    if c[1] is not None:
                        got.add(c[1])
                    else:
                        got |= out.get(c[4], set())
                out[sid] = got
                continue
            if sid in out or sid in on_path:  # (known, or a loop of parents)
                continue
            on_path.add(sid)
            stack.append((r, True))
            stack.extend((c, False) for c in children.get(sid, ()))
    return out
