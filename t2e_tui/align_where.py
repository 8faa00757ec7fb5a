"""Where a block of an alignment is, in steps (message indexes: the numbers the gutter, the
compare header and `t2e show` use); against the gold actions, which have no steps, what
differs and where A was. Core (no textual): the compare screen and `t2e show` share it."""

from __future__ import annotations

from typing import Any

from .align import ARGS, ONLY_A, ONLY_B, Alignment
from .textsafe import one_line

NO_GOLD = "no gold actions to compare with (task definition not stored)"


def no_difference(al: Alignment) -> str:
    """What the compare header and `t2e show` say when an alignment has no difference block:
    `no difference` between two runs, `no difference from the gold actions` only where the
    gold actions exist (an empty list of them is gold too), and `NO_GOLD` for a run alone
    whose task is not stored (foreign traces), where there was nothing to compare with."""
    if not al.single:
        return "no difference"
    return "no difference from the gold actions" if al.gold_known else NO_GOLD


def steps_span(al: Alignment, first: int, last: int) -> str:
    """Rows first..last in steps: `A steps 10–14, B steps 10–13` (a side absent: `only B`).
    Against the gold actions (which have no steps) it says what differs (`against_gold`)."""
    if al.single:
        return against_gold(al, first, last)
    parts = []
    for side in "ab":
        steps = [s for s in (al.rows[r].step(side) for r in range(first, last + 1))
                 if s is not None]
        if steps:
            lo, hi = min(steps), max(steps)
            parts.append(f"{side.upper()} step {lo}" if lo == hi else
                         f"{side.upper()} steps {lo}–{hi}")
    if len(parts) == 1:
        parts.append(f"only in {parts[0][0]}")
    return ", ".join(parts)


def against_gold(al: Alignment, first: int, last: int) -> str:
    """A block of a run against its gold actions, in A's steps and the gold action's number
    (the gold table's ★), the step first (a narrow header cuts the end):
    `A step 28: send_certificate args differ from gold action 3`, or, for a gold action A
    never did, where A was: `after A step 14: gold action 0 transfer_to_human_agents missing`.
    Never empty: gold actions have no steps of their own."""
    row = al.rows[first]
    steps = [s for s in (al.rows[r].step("a") for r in range(first, last + 1)) if s is not None]
    span = "" if not steps else (f"A step {min(steps)}" if min(steps) == max(steps) else
                                 f"A steps {min(steps)}–{max(steps)}")
    gold, ev = row.b, row.a
    if row.status == ONLY_B and gold is not None:
        before = al.last_event_before(first, "a")
        if before is None:
            where = "before A's first step"
        else:
            done = before[1]
            where = f"after A step {done.step_idx if done.result_idx is None else done.result_idx}"
        text = f"{where}: gold action {gold.gold_index} {one_line(gold.name, 40)} missing"
        return text + (f"; {span}" if span else "")
    name = one_line((ev.name if ev is not None else None) or "", 40)
    if row.status == ARGS and gold is not None:
        what = f"{name} args differ from gold action {gold.gold_index}"
    elif row.status == ONLY_A:
        what = f"{name}, a write not in the gold actions"
    else:
        what = row.status.replace("_", " ")
    return f"{span or 'A'}: {what}"


def row_step(row: Any, lane: str = "a") -> str:
    """A row's number as the compare gutter shows it: the step (message index) of `lane`'s
    event, else the other side's, prefixed with its letter (`B12`); "" for a row with no step
    (a gold action). `t2e show --vs` numbers its rows the same way."""
    mine, other = (row.b, row.a) if lane == "b" else (row.a, row.b)
    shown = mine if mine is not None else other
    if shown is None or shown.step_idx < 0:
        return ""
    step = str(shown.step_idx)
    return step if mine is not None else ("A" if lane == "b" else "B") + step


def parse_step(text: str) -> tuple[str | None, int] | None:
    """A step as the gutter and `t2e show --vs` print it, typed back: `12` (A's, else B's),
    `B12` / `A12` (that side's); None when it is not one."""
    t = text.strip()
    side = t[:1].lower() if t[:1] in ("a", "b", "A", "B") else None
    digits = t[1:] if side else t
    if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        return None
    return side, int(digits)


def find_step(al: Alignment, step: int, side: str) -> int | None:
    """The row showing `side`'s step `step` (a call's result step finds the call's row)."""
    for i, row in enumerate(al.rows):
        ev = row.a if side == "a" else row.b
        if ev is not None and (ev.step_idx == step or ev.result_idx == step):
            return i
    return None


def step_at(al: Alignment, step: int, side: str) -> tuple[int, str] | str:
    """Where going to a step lands (the `:` prompt, `t2e open --step`): (row, side) of
    `side`'s step, else of the other side's; when neither has it, the refusal to say."""
    for s in (side, "b" if side == "a" else "a"):
        row = find_step(al, step, s)
        if row is not None:
            return row, s
    return f"no step {step} in A" + ("" if al.single else " or B")
