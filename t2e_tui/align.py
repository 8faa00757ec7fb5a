"""Aligning two trajectories on their tool calls (core: no textual).

A trajectory becomes a list of events: each tool call (with its result attached) and each text
turn. Tool calls are aligned with difflib's SequenceMatcher (autojunk=False, or repeated calls
such as get_order_details would be treated as junk) on a key made of the tool name and its
identifying arguments (ids of users, orders, items, products, payment methods, emails). Text turns
are laid between the aligned calls. Calls in a replaced block are paired by tool name so that a
call made with different ids shows as one row with argument-level differences.

The gold lane lists the task's gold actions, each found or missing in each run. A run can also
be compared with the gold actions alone (single-run mode).

The events (steps and gold actions, call keys, argument diffs) are align_events'. `print_compare`
(the CLI twin, `t2e show A --vs B`) lives in align_print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher

from .align_events import (  # noqa: F401 (re-exported: the lanes' events)
    ARGS,
    DIVERGENT,
    ERROR,
    ID_KEYS,
    ONLY_A,
    ONLY_B,
    SAME,
    TEXT,
    ArgDiff,
    Event,
    call_key,
    diff_args,
    events_of,
    gold_events,
    is_identifying,
    norm_value,
    parse_args,
)
from .align_gold import (  # noqa: F401 (gold_matches re-exported: tau2's action check)
    gold_matches,
    in_run_order,
    locate_gold,
    recorded_action_checks,
)


@dataclass
class Row:
    """One aligned line: what lane A and lane B show there, and how they relate."""

    a: Event | None
    b: Event | None
    status: str
    diffs: list[ArgDiff] = field(default_factory=list)
    gold_a: int | None = None  # index of the gold action this A call satisfies
    gold_b: int | None = None
    split: bool = False  # a text row where the two conversations first part (see mark_split)

    @property
    def divergent(self) -> bool:
        return self.status in DIVERGENT or self.split

    def step(self, side: str) -> int | None:
        """The step (message index) this row shows for side "a" or "b"; None when empty."""
        ev = self.a if side == "a" else self.b
        return ev.step_idx if ev is not None and ev.step_idx >= 0 else None


@dataclass
class GoldMark:
    """A gold action and where each run did (or did not) perform it."""

    index: int
    event: Event
    found_a: bool | None
    found_b: bool | None
    row_a: int | None = None
    row_b: int | None = None


def blocks_of(rows: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive row indices as (first, last) pairs: [7,8,9,11] → [(7,9),(11,11)]."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


@dataclass
class Alignment:
    rows: list[Row]
    gold: list[GoldMark]
    divergences: list[int]   # row indices of every differing row
    single: bool             # True when B is the gold actions (one-run mode)
    blocks: list[tuple[int, int]] = field(default_factory=list)  # (first, last) row, inclusive
    # False when no task definition is stored (foreign traces): there are no gold actions, not
    # an empty list of them, so a run alone has nothing to differ from
    gold_known: bool = True

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = blocks_of(self.divergences)

    def first_divergence(self) -> int:
        return self.blocks[0][0] if self.blocks else 0

    def next_divergence(self, row: int) -> int | None:
        """The first row of the next divergence block after `row` (n): a block of several
        consecutive differing rows is one stop, not one per row."""
        return next((b for b, _ in self.blocks if b > row), None)

    def prev_divergence(self, row: int) -> int | None:
        """The first row of the block before `row` (p); inside a block, that block's start."""
        return next((b for b, _ in reversed(self.blocks) if b < row), None)

    def block_at(self, row: int) -> int | None:
        """Index of the divergence block containing `row`, or None."""
        return next((i for i, (b, e) in enumerate(self.blocks) if b <= row <= e), None)

    def first_step(self) -> tuple[int | None, int | None]:
        """(A step, B step) of the first divergence, for headers that name it in steps."""
        if not self.blocks:
            return None, None
        row = self.rows[self.blocks[0][0]]
        return row.step("a"), row.step("b")

    def last_event_before(self, row: int, side: str) -> tuple[int, Event] | None:
        """The nearest row at or before `row` that has an event on `side` (with the event):
        what that side was at when the other side alone goes on."""
        for r in range(min(row, len(self.rows) - 1), -1, -1):
            ev = self.rows[r].a if side == "a" else self.rows[r].b
            if ev is not None:
                return r, ev
        return None

    def last_row(self, side: str) -> int | None:
        """The row of `side`'s last event (its last message or call)."""
        found = self.last_event_before(len(self.rows) - 1, side)
        return None if found is None else found[0]


def _pair_status(a: Event, b: Event) -> tuple[str, list[ArgDiff]]:
    diffs = diff_args(a.args, b.args)
    if any(d.status != SAME for d in diffs):
        return ARGS, diffs
    if b.kind != "gold" and a.error != b.error:
        return ERROR, diffs
    return SAME, diffs


def align_events(ea: list[Event], eb: list[Event]) -> list[Row]:
    """Align two event lists on their calls; text turns go between the aligned calls."""
    ca = [i for i, e in enumerate(ea) if e.kind in ("call", "gold")]
    cb = [i for i, e in enumerate(eb) if e.kind in ("call", "gold")]
    rows: list[Row] = []
    pa = pb = 0

    def flush(upto_a: int, upto_b: int) -> None:
        nonlocal pa, pb
        rows.extend(_text_rows(ea[pa:upto_a], eb[pb:upto_b]))
        pa, pb = max(pa, upto_a), max(pb, upto_b)

    def emit_pair(ia: int, ib: int) -> None:
        nonlocal pa, pb
        flush(ia, ib)
        status, diffs = _pair_status(ea[ia], eb[ib])
        rows.append(Row(ea[ia], eb[ib], status, diffs))
        pa, pb = ia + 1, ib + 1

    def emit_a(ia: int) -> None:
        # A's text turns before a call only A made, with the text turns B has in common with
        # them (the same opening turns share rows, not only-A rows then a shifted pairing)
        nonlocal pa
        flush(ia, pb + _common_texts(ea[pa:ia], eb, pb))
        rows.append(Row(ea[ia], None, ONLY_A))
        pa = ia + 1

    def emit_b(ib: int) -> None:
        nonlocal pb
        flush(pa + _common_texts(eb[pb:ib], ea, pa), ib)
        rows.append(Row(None, eb[ib], ONLY_B))
        pb = ib + 1

    sm = SequenceMatcher(None, [ea[i].key for i in ca], [eb[i].key for i in cb], autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                emit_pair(ca[i1 + k], cb[j1 + k])
        elif op == "delete":
            for k in range(i1, i2):
                emit_a(ca[k])
        elif op == "insert":
            for k in range(j1, j2):
                emit_b(cb[k])
        else:  # replace: pair calls of the same tool so their differing ids show as diffs
            names_a = [ea[ca[k]].name for k in range(i1, i2)]
            names_b = [eb[cb[k]].name for k in range(j1, j2)]
            inner = SequenceMatcher(None, names_a, names_b, autojunk=False)
            for op2, x1, x2, y1, y2 in inner.get_opcodes():
                if op2 == "equal":
                    for k in range(x2 - x1):
                        emit_pair(ca[i1 + x1 + k], cb[j1 + y1 + k])
                else:
                    for k in range(x1, x2):
                        emit_a(ca[i1 + k])
                    for k in range(y1, y2):
                        emit_b(cb[j1 + k])
    flush(len(ea), len(eb))
    return rows


def align(steps_a: list[dict], steps_b: list[dict] | None, task: dict | None = None, *,
          checks_a: list[dict] | None = None, checks_b: list[dict] | None = None) -> Alignment:
    """Align two trajectories (or one with the gold actions when `steps_b` is None).

    Recorded action checks (the `checks` rows) decide found/missing when present; otherwise
    found means a call matches the gold action the way tau2's action check does.
    """
    gold = gold_events(task)
    ea = events_of(steps_a)
    single = steps_b is None
    eb = in_run_order(gold, ea) if single else events_of(steps_b)
    rows = align_events(ea, eb)
    annotate_kinds(rows)
    marks_a = locate_gold(rows, gold, "a", recorded_action_checks(checks_a))
    if single:
        marks_b: list[tuple[bool | None, int | None]] = [(None, None)] * len(gold)
        for r, row in enumerate(rows):
            if row.b is not None and row.b.kind == "gold":
                marks_b[row.b.gold_index] = (None, r)
                row.gold_b = row.b.gold_index
    else:
        marks_b = locate_gold(rows, gold, "b", recorded_action_checks(checks_b))
    marks = [GoldMark(g.gold_index, g, fa, fb, ra, rb)
             for g, (fa, ra), (fb, rb) in zip(gold, marks_a, marks_b)]
    if single and task is None:
        div = []    # no gold actions stored: nothing to differ from (not "no difference")
    elif single:
        # vs gold, an extra read call is ordinary exploration; missing or different writes are not
        div = [i for i, r in enumerate(rows) if r.status in (ARGS, ONLY_B)
               or (r.status == ONLY_A and r.a is not None and r.a.tool_kind == "write")]
    else:
        mark_split(rows)
        div = [i for i, r in enumerate(rows) if r.divergent]
    return Alignment(rows, marks, div, single, gold_known=task is not None)


def _text_key(ev: Event) -> tuple:
    return (ev.role, " ".join(str(ev.text or "").split()))


def _text_rows(ta: list[Event], tb: list[Event]) -> list[Row]:
    """Text turns between two anchors: the same turn (role and words) on both sides shares a
    row; the others pair in order, as before."""
    if not ta or not tb:
        return [Row(e, None, TEXT) for e in ta] + [Row(None, e, TEXT) for e in tb]
    out: list[Row] = []
    sm = SequenceMatcher(None, [_text_key(e) for e in ta], [_text_key(e) for e in tb],
                         autojunk=False)
    for _op, i1, i2, j1, j2 in sm.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            out.append(Row(ta[i1 + k] if i1 + k < i2 else None,
                           tb[j1 + k] if j1 + k < j2 else None, TEXT))
    return out


def _common_texts(texts: list[Event], other: list[Event], start: int) -> int:
    """How many of `other`'s text turns from `start` (up to its next non-text event) go with
    `texts` (the turns before a call only one side made): up to the last one equal to one of
    them; when none is (two runs seldom word a turn alike), as many as pair with them in
    order, role by role (a user turn with a user turn), so the opening turns that answer each
    other share rows rather than the other side's pairing with the turns after the call."""
    end = start
    while end < len(other) and other[end].kind == "text":
        end += 1
    if not texts or end == start:
        return 0
    sm = SequenceMatcher(None, [_text_key(e) for e in texts],
                         [_text_key(e) for e in other[start:end]], autojunk=False)
    equal = max((j2 for op, _i1, _i2, _j1, j2 in sm.get_opcodes() if op == "equal"), default=0)
    if equal:
        return equal
    k = 0
    while k < min(len(texts), end - start) and texts[k].role == other[start + k].role:
        k += 1
    return k


def _same_text(a: Event | None, b: Event | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.role == b.role and " ".join(str(a.text or "").split()) == " ".join(
        str(b.text or "").split())


def mark_split(rows: list[Row]) -> None:
    """Mark where two conversations part at the message level before any tool call differs.

    Two LLM runs of a task often agree on every tool call for a while but word their messages
    differently from some turn on; that turn is where they part (task 18 of the tau2 retail
    pair parts at row 2 while its first differing call is at row 24). The first run of text
    rows that differ, while every row before it was identical, is marked `split` and so counts
    as a divergence block. Later text differences are not counted: once the conversations
    have parted, every message differs and would drown the call-level blocks."""
    for i, row in enumerate(rows):
        if row.status != TEXT:
            if row.status != SAME:
                return  # a call-level divergence comes first: it is where they part
            continue
        if _same_text(row.a, row.b):
            continue
        for later in rows[i:]:
            if later.status != TEXT or _same_text(later.a, later.b):
                break
            later.split = True
        return


STOP_MARKERS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")


def end_matters(ev: Event | None) -> bool:
    """True when the end of an event's one-line summary is what matters (a user's stop or
    transfer marker, an error result, a transfer call), so a cut line keeps its tail."""
    if ev is None:
        return False
    if ev.error:
        return True
    if ev.kind == "text":
        return any(m in str(ev.text or "") for m in STOP_MARKERS)
    return "transfer" in (ev.name or "")


def annotate_kinds(events_rows: list[Row]) -> None:
    """Fill Event.tool_kind from the world's tool tables (read/write/generic; every domain's,
    since tool names never clash across domains)."""
    try:
        from world.kinds import ALL_TOOL_KINDS as TOOL_KINDS
    except Exception:  # noqa: BLE001 - world not importable: kinds stay unknown
        TOOL_KINDS = {}
    for row in events_rows:
        for ev in (row.a, row.b):
            if ev is not None and ev.name and ev.tool_kind is None:
                ev.tool_kind = TOOL_KINDS.get(ev.name)


# Summaries and the CLI twin live in align_print, which imports this module (never the
# reverse: no import circle).
__all__ = ["align", "align_events", "blocks_of", "mark_split", "end_matters", "events_of",
           "gold_events", "diff_args", "call_key", "Alignment", "Row", "Event", "ArgDiff",
           "GoldMark"]
