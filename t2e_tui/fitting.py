"""Fitting names into narrow cells without losing what tells them apart (core: no textual).

Names of runs made from one another share their start ("ablate cross-order-v1 full" and
"ablate cross-order-v1 -rule1"; "retail_gpt-4.1_test-split_1trial" and
"retail_ft-gpt-4.1-sft_test-split_1trial"): cutting the end leaves two equal stubs. A middle
cut keeps the head and the tail; `tell_apart` first drops what two names share."""

from __future__ import annotations

from os.path import commonprefix


def middle_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells: whole, or its head … its tail (the tail gets half)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    head = width - 1 - tail
    return text[:head] + "…" + (text[-tail:] if tail else "")


def tell_apart(a: str, b: str, width: int) -> tuple[str, str]:
    """Two names, each in at most `width` cells, still different when they differ: whole
    when they fit; else their shared start and end become … and the rest is middle-cut."""
    if len(a) <= width and len(b) <= width:
        return a, b
    pre = len(commonprefix([a, b]))
    suf = len(commonprefix([a[pre:][::-1], b[pre:][::-1]]))

    def core(s: str) -> str:
        body = s[pre:len(s) - suf] if suf else s[pre:]
        out = ("…" if pre > 3 else s[:pre]) + body + ("…" if suf > 3 else s[len(s) - suf:])
        return middle_cut(out if len(s) > width else s, width)
    return core(a), core(b)
