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
