"""Fitting names into narrow cells without losing what tells them apart (core: no textual).

Names of runs made from one another share their start ("ablate cross-order-v1 full" and
"ablate cross-order-v1 -rule1"; "retail_gpt-4.1_test-split_1trial" and
"retail_ft-gpt-4.1-sft_test-split_1trial"): cutting the end leaves two equal stubs. A middle
cut keeps the head and the tail; `tell_apart` first drops what two names share."""

from __future__ import annotations

from os.path import commonprefix

from rich.cells import cell_len


def head(text: str, width: int) -> str:
    """The longest start of `text` in at most `width` terminal cells."""
    if cell_len(text) <= width:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += cell_len(ch)
        if used > width:
            return text[:i]
    return text


def tail(text: str, width: int) -> str:
    """The longest end of `text` in at most `width` terminal cells."""
    return head(text[::-1], width)[::-1]


def end_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells: whole, or its start and …"""
    if cell_len(text) <= width:
        return text
    return head(text, max(0, width - 1)) + "…"[:width]


def around(text: str, at: int, width: int, before: int = 16) -> str:
    """`text` in at most `width` cells with character `at` in view: from its start when `at`
    and a few cells after it fit there, else from a word start up to `before` cells ahead of
    `at` (… for what is left out at either end). Two texts quoted `around` where they first
    differ show what differs, not the start they share."""
    if cell_len(text) <= width:
        return text
    if cell_len(text[:at]) + 12 <= width - 1:
        return end_cut(text, width)
    start = max(0, at - before)
    space = text.find(" ", start, at)
    if start and space >= 0:
        start = space + 1   # a whole word first
    return "…" + end_cut(text[start:], width - 1)


def middle_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells: whole, or its head … its tail (the tail gets half).
    Cells, not characters: a CJK character takes two."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    back = (width - 1) // 2
    front = head(text, width - 1 - back)
    # a wide character that did not fit the head leaves its cell to the tail
    back += width - 1 - back - cell_len(front)
    return front + "…" + (tail(text, back) if back else "")


def tell_apart(a: str, b: str, width: int) -> tuple[str, str]:
    """Two names, each in at most `width` cells, still different when they differ: whole
    when they fit; else their shared start and end become … and the rest is middle-cut."""
    if cell_len(a) <= width and cell_len(b) <= width:
        return a, b
    pre = len(commonprefix([a, b]))
    suf = len(commonprefix([a[pre:][::-1], b[pre:][::-1]]))
    # the shared parts give way when longer than 3 cells (a wide character takes two)
    pre_gives, suf_gives = cell_len(a[:pre]) > 3, cell_len(a[len(a) - suf:]) > 3

    def core(s: str) -> str:
        if cell_len(s) <= width:
            return s
        body = s[pre:len(s) - suf] if suf else s[pre:]
        end = "…" if suf_gives else s[len(s) - suf:]
        start = s[:pre]
        if pre_gives:  # the shared start gives way first, keeping what room is left of it
            room = width - cell_len(body) - cell_len(end)
            start = start if cell_len(start) <= room else head(start, room - 1) + "…"
        return middle_cut(start + body + end, width)

    ca, cb = core(a), core(b)
    if ca == cb:  # still alike: what differs, between two …
        def differing(s: str) -> str:
            body = s[pre:len(s) - suf] if suf else s[pre:]
            return middle_cut(("…" if pre else "") + body + ("…" if suf else ""), width)
        ca, cb = differing(a), differing(b)
    return ca, cb


def _could_be(shown: str, name: str) -> bool:
    """Whether `shown` (pieces of a name with … between them) could be a cut of `name`."""
    if "…" not in shown:
        return shown == name
    pieces = shown.split("…")
    first, last = pieces[0], pieces[-1]
    if len(name) < len(first) + len(last) or not (name.startswith(first)
                                                  and name.endswith(last)):
        return False
    at, end = len(first), len(name) - len(last)
    for piece in pieces[1:-1]:  # the inner pieces in order, between the two ends
        at = name.find(piece, at, end)
        if at < 0:
            return False
        at += len(piece)
    return True


def _cuts(name: str, width: int):
    """Ways to show `name` in `width` cells, the most readable first: its start up to a word's
    end (at least half the width, the longest first), whole words at both ends, its head and
    tail (middle_cut), its start, then every other split of head and tail."""
    # words: split at spaces, and at underscores (file names: retail_gpt-4.1_test-split)
    ends = [i for i in range(1, len(name))
            if name[i] in " _" and name[i - 1] not in " _"]
    starts = [i + 1 for i in range(len(name) - 1) if name[i] in " _" and name[i + 1] not in " _"]
    heads = [name[:i] for i in reversed(ends) if cell_len(name[:i]) + 1 <= width]
    for h in heads:
        if cell_len(h) + 1 >= width / 2:
            yield h + "…"
    pairs = [(h, name[j:]) for h in heads for j in starts
             if j > len(h) and cell_len(h) + 1 + cell_len(name[j:]) <= width]
    for h, t in sorted(pairs, key=lambda p: -(cell_len(p[0]) + cell_len(p[1]))):
        yield h + "…" + t
    yield middle_cut(name, width)
    yield end_cut(name, width)
    for front in range(width - 2, 0, -1):
        yield head(name, front) + "…" + tail(name, width - 1 - front)
    yield "…" + tail(name, width - 1)


def cut_apart(names: list[str], width: int) -> list[str]:
    """Names of one column (runs), each in at most `width` cells, none of them shown as
    something that could be a cut of another: `tell_apart` for a column. A name that fits is
    whole; a longer one keeps its start to a word's end where that tells it apart (`baseline
    transfer…` beside `baseline train`), else its head and tail (the differing end of names
    made from one another), else the first split of head and tail that no other name could
    show. Equal names stay equal (only their ids tell them apart)."""
    if len(names) > 2000:  # a column that long is not read name by name: the plain cut
        return [middle_cut(n, width) for n in names]
    others = sorted(set(names))
    out = []
    for name in names:
        if cell_len(name) <= width:
            out.append(name)
            continue
        rivals = [m for m in others if m != name]
        shown = next((c for c in _cuts(name, width) if not any(_could_be(c, m)
                                                                 for m in rivals)), None)
        if shown is None:  # no head and tail tells it apart: what differs, between two …
            near = max(rivals, key=lambda m: _shared(name, m))
            shown = tell_apart(name, near, width)[0]
        out.append(shown)
    return out


def _shared(a: str, b: str) -> int:
    """How much of their start and end two names share."""
    pre = len(commonprefix([a, b]))
    return pre + len(commonprefix([a[pre:][::-1], b[pre:][::-1]]))
