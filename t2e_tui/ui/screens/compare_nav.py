"""The compare screen's navigation, apart to keep compare.py small: divergence blocks (n/p),
going to a step (`:`), the detail pane's keys (x, d), and how blocks are named in steps.

Rows are alignment rows; everything said to the user is in steps (message indexes), the
numbers the gutter, the header and `t2e show` use.
"""

from __future__ import annotations

from ...align import Alignment
from ...align_where import (  # noqa: F401 (re-exported)
    against_gold,
    no_difference,
    step_at,
    steps_span,
)
from ..widgets.detail import StepDetail
from ..widgets.fittitle import Part
from ..widgets.lanes import AlignedLanes


def divergence_parts(al: Alignment) -> list[Part]:
    """The header's difference line as title parts: the count, where the first one is (cut
    last), and the n/p hint (also on the key bar: it goes first)."""
    n = len(al.blocks)
    if not n:
        return [Part(no_difference(al), "dim")]  # (t2e show's words: align_where)
    first, last = al.blocks[0]
    kind = " (messages part)" if al.rows[first].split else ""
    where = steps_span(al, first, last)
    at = "" if where.startswith(("after ", "before ")) else "at "
    return [Part(f"{n} difference{'s' if n != 1 else ''}", "dim"),
            Part(f" · first {at}{where}{kind}", "dim", give=1, cut="end", least=28),
            Part((" · n/p jump", ""), "dim", give=6)]


def divergence_summary(al: Alignment) -> str:
    """`2 differences · first at A step 2, B step 2 (messages part) · n/p jump`."""
    return "".join(p.forms if isinstance(p.forms, str) else p.forms[0]
                   for p in divergence_parts(al))


class CompareNavigation:
    """Mixed into CompareScreen (which provides alignment, narrow, view, expanded,
    _layout and _show_detail)."""

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Hide x where it would do nothing (no field cut, no raw_data hidden, nothing
        expanded)."""
        if action == "expand" and self.is_mounted:
            try:
                detail = self.query_one(StepDetail)
            except Exception:  # noqa: BLE001 - not composed yet
                return True
            return self.expanded or detail.truncated or detail.raw_hidden
        return True

    def action_divergence(self, direction: int) -> None:
        if self.alignment is None:
            return
        lanes = self.query_one(AlignedLanes)
        nxt = (self.alignment.next_divergence(lanes.cursor) if direction > 0
               else self.alignment.prev_divergence(lanes.cursor))
        if nxt is None:
            self.notify("no further difference" if direction > 0 else "no earlier difference",
                        timeout=2)
            return
        lanes.move_to(nxt)
        al = self.alignment
        i = al.block_at(nxt)
        first, last = al.blocks[i]
        self.notify(f"difference {i + 1} of {len(al.blocks)}: " + steps_span(al, first, last),
                    timeout=2)
        if self.view == "gold":
            self.view = "a"
            self._layout(self.app.size.width)
        lanes.focus()

    def action_expand(self) -> None:
        detail = self.query_one(StepDetail)
        raw = detail.raw_hidden
        self.expanded = not self.expanded
        self._show_detail()
        raw = raw or detail.raw_hidden
        self.notify("long fields shown in full" + (", raw_data too" if raw else "")
                    + " (x: cut them again)" if self.expanded else
                    "long fields cut again" + (", raw_data hidden" if raw else ""), timeout=2)

    def action_focus_detail(self) -> None:
        """d: move the keys to the detail pane (↑/↓ scroll it), d again back to the lanes."""
        detail, lanes = self.query_one(StepDetail), self.query_one(AlignedLanes)
        if detail.has_focus:
            lanes.focus()
            self.notify("keys move the lanes again", timeout=2)
        else:
            detail.focus()
            self.notify("detail pane: ↑/↓ scroll it, d goes back to the lanes", timeout=2)

    def action_goto_step(self) -> None:
        """`:` then a step number: the row of that step (A's, else B's)."""
        if self.alignment is None:
            return
        from .step_prompt import StepPrompt

        side = "b" if self.narrow and self.view == "b" else "a"
        self.app.push_screen(StepPrompt(f"Go to step of {side.upper()} (the gutter's numbers)"),
                             lambda n: self._goto_step(n, side))

    def _goto_step(self, step: int | tuple | None, side: str) -> None:
        if isinstance(step, tuple):  # (the prompt's: a side typed with the number wins)
            side, step = step[0] or side, step[1]
        if step is None or self.alignment is None:
            return
        found = step_at(self.alignment, step, side)
        if isinstance(found, str):  # (t2e open --step refuses with the same words)
            self.notify(found, severity="warning", timeout=3)
            return
        row, on = found
        if on != side:
            self.notify(f"step {step} is not in {side.upper()}: showing {on.upper()}'s",
                        timeout=3)
        lanes = self.query_one(AlignedLanes)
        lanes.move_to(row)
        if self.view == "gold":
            self.view = "a"
            self._layout(self.app.size.width)
        lanes.focus()

