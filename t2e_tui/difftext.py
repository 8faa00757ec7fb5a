"""Line diffs of candidate instructions, on stdlib difflib (no textual here).

Two shapes share one alignment:

* side by side: `side_by_side(a, b)` -> rows of (left line, right line) with a kind;
* unified: `unified(a, b)` -> hunks of `-`/`+`/` ` lines with `@@` headers.

Changed line pairs also carry intra-line spans (`inline_spans`) so a view can highlight the
words that changed. SequenceMatcher is always built with `autojunk=False`: instructions repeat
lines ("- Always ...") and the default heuristic would junk them and misalign the diff.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterator, Literal

Kind = Literal["equal", "replace", "delete", "insert"]


@dataclass(frozen=True)
class Row:
    """One side-by-side row. A missing side has `None` for its number and text."""

    kind: Kind
    left_no: int | None
    left: str | None
    right_no: int | None
    right: str | None
    # (start, end) character spans that differ, per side; only for `replace` rows
    left_spans: tuple[tuple[int, int], ...] = ()
    right_spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ULine:
    """One unified-diff line: tag is ' ', '-', '+' or '@' (hunk header)."""

    tag: str
    text: str
    old_no: int | None = None
    new_no: int | None = None
    spans: tuple[tuple[int, int], ...] = ()


@dataclass
class DiffStats:
    added: int = 0
    removed: int = 0
    changed: int = 0

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass
class Diff:
    """The whole comparison: rows for side by side, lines for unified, and counts."""

    rows: list[Row] = field(default_factory=list)
    stats: DiffStats = field(default_factory=DiffStats)

    def unified(self, context: int = 3) -> list[ULine]:
        return list(_unified_from_rows(self.rows, context))


def split_lines(text: str) -> list[str]:
    """Lines without terminators; '' -> [] so an empty file diffs as nothing, not one blank."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text == "":
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def inline_spans(a: str, b: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """Character spans that differ between two similar lines, on word boundaries.

    Diffing word tokens (not characters) keeps highlights readable: 'confirm' -> 'skip' marks
    the two words, not a scatter of letters.
    """
    ta, tb = _tokens(a), _tokens(b)
    sm = difflib.SequenceMatcher(None, [t for t, _ in ta], [t for t, _ in tb], autojunk=False)
    left: list[tuple[int, int]] = []
    right: list[tuple[int, int]] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            left.append((ta[i1][1], ta[i2 - 1][1] + len(ta[i2 - 1][0])))
        if j2 > j1:
            right.append((tb[j1][1], tb[j2 - 1][1] + len(tb[j2 - 1][0])))
    return tuple(left), tuple(right)


def _tokens(s: str) -> list[tuple[str, int]]:
    """Split into word / space / punctuation runs, with their offsets."""
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(s):
        c = s[i]
        j = i + 1
        if c.isalnum() or c == "_":
            while j < len(s) and (s[j].isalnum() or s[j] == "_"):
                j += 1
        elif c.isspace():
            while j < len(s) and s[j].isspace():
                j += 1
        out.append((s[i:j], i))
        i = j
    return out


def compare(a: str, b: str) -> Diff:
    """Align two texts line by line (the common core of both views)."""
    la, lb = split_lines(a), split_lines(b)
    sm = difflib.SequenceMatcher(None, la, lb, autojunk=False)
    diff = Diff()
    rows = diff.rows
    st = diff.stats
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                rows.append(Row("equal", i1 + k + 1, la[i1 + k], j1 + k + 1, lb[j1 + k]))
        elif op == "delete":
            st.removed += i2 - i1
            for k in range(i1, i2):
                rows.append(Row("delete", k + 1, la[k], None, None))
        elif op == "insert":
            st.added += j2 - j1
            for k in range(j1, j2):
                rows.append(Row("insert", None, None, k + 1, lb[k]))
        else:  # replace: pair lines up, the longer side's excess becomes delete/insert rows
            n = min(i2 - i1, j2 - j1)
            st.changed += n
            for k in range(n):
                ls, rs = inline_spans(la[i1 + k], lb[j1 + k])
                rows.append(Row("replace", i1 + k + 1, la[i1 + k], j1 + k + 1, lb[j1 + k],
                                ls, rs))
            for k in range(i1 + n, i2):
                st.removed += 1
                rows.append(Row("delete", k + 1, la[k], None, None))
            for k in range(j1 + n, j2):
                st.added += 1
                rows.append(Row("insert", None, None, k + 1, lb[k]))
    return diff


def _unified_from_rows(rows: list[Row], context: int) -> Iterator[ULine]:
    """Group rows into hunks with `context` equal lines around each change."""
    changed = [i for i, r in enumerate(rows) if r.kind != "equal"]
    if not changed:
        return
    # merge change indices into hunk ranges [start, end)
    ranges: list[list[int]] = []
    for i in changed:
        lo, hi = max(0, i - context), min(len(rows), i + context + 1)
        if ranges and lo <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], hi)
        else:
            ranges.append([lo, hi])
    for lo, hi in ranges:
        chunk = rows[lo:hi]
        old = [r.left_no for r in chunk if r.left_no is not None]
        new = [r.right_no for r in chunk if r.right_no is not None]
        old_start = old[0] if old else _prev_no(rows, lo, "left")
        new_start = new[0] if new else _prev_no(rows, lo, "right")
        yield ULine("@", f"@@ -{old_start},{len(old)} +{new_start},{len(new)} @@")
        # within a hunk, print a replace block's removals before its additions, as diff -u does
        pending_plus: list[ULine] = []
        for r in chunk:
            if r.kind in ("replace", "delete"):
                yield ULine("-", r.left or "", old_no=r.left_no, spans=r.left_spans)
                if r.kind == "replace":
                    pending_plus.append(ULine("+", r.right or "", new_no=r.right_no,
                                              spans=r.right_spans))
                continue
            if r.kind == "insert":
                pending_plus.append(ULine("+", r.right or "", new_no=r.right_no))
                continue
            yield from pending_plus
            pending_plus = []
            yield ULine(" ", r.left or "", old_no=r.left_no, new_no=r.right_no)
        yield from pending_plus


def _prev_no(rows: list[Row], i: int, side: str) -> int:
    """Line number before position i on one side (0 at the top), for empty-side hunk headers."""
    for r in reversed(rows[:i]):
        n = r.left_no if side == "left" else r.right_no
        if n is not None:
            return n
    return 0


def unified_text(a: str, b: str, a_name: str = "a", b_name: str = "b",
                 context: int = 3) -> str:
    """A plain unified diff (for the CLI and pipes); empty when the texts are equal."""
    lines = compare(a, b).unified(context)
    if not lines:
        return ""
    out = [f"--- {a_name}", f"+++ {b_name}"]
    out.extend(ln.text if ln.tag == "@" else f"{ln.tag}{ln.text}" for ln in lines)
    return "\n".join(out) + "\n"


def side_by_side_text(a: str, b: str, width: int = 120) -> str:
    """A plain two-column diff: `NNN left | NNN right`, marker `<`, `>`, `|` or blank."""
    col = max(10, (width - 13) // 2)
    out = []
    for r in compare(a, b).rows:
        mark = {"equal": " ", "replace": "|", "delete": "<", "insert": ">"}[r.kind]
        left = _clip(r.left or "", col)
        right = _clip(r.right or "", col)
        ln = f"{r.left_no:>4}" if r.left_no else "    "
        rn = f"{r.right_no:>4}" if r.right_no else "    "
        out.append(f"{ln} {left:<{col}} {mark} {rn} {right}".rstrip())
    return "\n".join(out) + ("\n" if out else "")


def _clip(s: str, n: int) -> str:
    s = s.expandtabs(4)
    return s if len(s) <= n else s[: n - 1] + "…"
