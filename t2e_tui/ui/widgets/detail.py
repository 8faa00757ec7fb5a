"""The detail pane: the selected row in full (pretty JSON arguments and results, error flag,
latency, tokens), for each lane. Built as rich Text from cleaned strings, never markup."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...align import SAME, ArgDiff, Event, Row
from ...reviews import has_raw, raw_line, step_lines
from ...textsafe import DEFAULT_LIMIT, EXPANDED_LIMIT, clean


def pretty(value: Any) -> str:
    """Pretty JSON for dicts/lists and JSON strings; other text as is."""
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in "{[" and len(s) < 2_000_000:
            try:
                value = json.loads(s)
            except ValueError:
                return value
        else:
            return value
    try:
        compact = json.dumps(value, ensure_ascii=False, default=str)
        if len(compact) <= 60:  # short lists/dicts read better on one line
            return compact
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def event_detail(ev: Event | None, side: str, label: str, diffs: list[ArgDiff],
                 expanded: bool, *, nearest: tuple[Event, bool] | None = None,
                 compact: bool = False) -> tuple[Text, bool]:
    """Text for one side of a row; returns (text, something_was_truncated).

    When this side has nothing at the row, `nearest` is (its last event before the row, True
    when it is that side's very last one): the pane shows where that side was (or how it
    ended) instead of an empty box. `compact` (narrow screens, both sides stacked) puts the
    side, step and facts on one heading line."""
    limit = EXPANDED_LIMIT if expanded else DEFAULT_LIMIT
    t = Text()
    if not compact:
        t.append(f"{side} · {clean(label, 80)[0]}\n", style="bold underline")
    if ev is None:
        if nearest is None:
            t.append(f"{side}: nothing yet at this point\n" if compact else
                     "nothing on this side yet at this point\n", style="dim")
            return t, False
        ev, ended = nearest
        where = (f"{side} ended at step {ev.step_idx}" if ended else
                 f"{side} has no step here; its previous: step {ev.step_idx}")
        compact = True  # one heading line: where that side was, then the event
    else:
        where = None
    cut_any = False
    step = ev.step or {}
    facts = [f"step {ev.step_idx}" if ev.step_idx >= 0 else "gold action", ev.role]
    if where:
        facts[0] = where
    elif compact:
        facts.insert(0, side)
    if step.get("latency_ms") is not None:
        facts.append(f"latency {step['latency_ms']:.0f} ms")
    if step.get("tokens_in") is not None or step.get("tokens_out") is not None:
        facts.append(f"tokens {step.get('tokens_in') or 0} in / {step.get('tokens_out') or 0} out")
    if step.get("huge"):
        facts.append("huge field")
    t.append(" · ".join(facts) + "\n", style="bold" if compact else "dim")
    if ev.kind == "text":
        body, cut = clean(ev.text, limit)
        cut_any |= cut
        t.append(body + "\n", style="red" if ev.error else "")
        return t, cut_any | _meta(t, step, limit, expanded)
    t.append(("gold " if ev.kind == "gold" else "call ") + clean(ev.name, 200)[0] + "\n",
             style="bold")
    changed = {d.key for d in diffs if d.status != SAME}
    if isinstance(ev.args, dict):
        for k, v in ev.args.items():
            val, cut = clean(pretty(v) if not isinstance(v, str) else v, limit)
            cut_any |= cut
            t.append(f"  {clean(k, 100)[0]}: ", style="dim")
            t.append(val + "\n", style="bold black on yellow" if k in changed else "")
    else:
        val, cut = clean(pretty(ev.args), limit)
        cut_any |= cut
        t.append("  " + val + "\n", style="bold black on yellow" if changed else "")
    if ev.kind == "call":
        if ev.result_idx is None:
            t.append("no result recorded\n", style="dim")
        else:
            t.append(f"result (step {ev.result_idx})" + (" · ERROR" if ev.error else "") + "\n",
                     style="bold red" if ev.error else "bold")
            rs = ev.result_step or {}
            if rs.get("latency_ms") is not None:
                t.append(f"latency {rs['latency_ms']:.0f} ms\n", style="dim")
            body, cut = clean(pretty(ev.result or ""), limit)
            cut_any |= cut
            t.append(body + "\n", style="red" if ev.error else "")
    return t, cut_any | _meta(t, step, limit, expanded)


def _meta(t: Text, step: dict, limit: int, expanded: bool) -> bool:
    """A step's metadata under its content: audio fields, ticks, review errors (tau2 1.x),
    and, expanded, the provider's raw response (cut to reviews.RAW_LIMIT). True when a line
    was cut."""
    cut_any = False
    lines = step_lines(step)
    if expanded and (rl := raw_line(step)):
        lines.append(rl)
    for line in lines:
        body, cut = clean(line, limit)
        cut_any |= cut
        t.append(body + "\n", style="italic magenta" if line.startswith("review:") else "dim")
    return cut_any


class StepDetail(VerticalScroll, can_focus=True):
    """Shows one aligned row in full; `x` (on the screen) toggles expansion of long fields and
    shows the provider's raw response (tau2's `raw_data`), hidden until then."""

    HELP_NAME = "detail pane"  # how help and the palette name it

    DEFAULT_CSS = """
    StepDetail { background: $surface; padding: 0 1; }
    StepDetail > Static { width: 1fr; }
    """

    truncated = False  # did the last `show` cut a field (x would show more)?
    raw_hidden = False  # did it leave a step's raw_data out (x shows it)?

    def compose(self):
        yield Static(id="detail-body")

    def show(self, row: Row | None, labels: tuple[str, str], *, expanded: bool = False,
             sides: str = "ab", nearest: dict | None = None, compact: bool = False,
             notes: tuple[list[str], list[str]] = ([], [])) -> bool:
        """Render `row` for `sides` ("ab": A above B); `nearest` maps a side with nothing
        at the row to (its previous event, ended) — see `event_detail`. `notes`: per side,
        episode-level lines (tau2 reviews, usage) shown under the step. Returns True when
        some field was truncated (so `x` would help)."""
        out = Text()
        cut_any = False
        nearest = nearest or {}
        self.raw_hidden = not expanded and row is not None and any(
            ev is not None and has_raw(ev.step or {})
            for side, ev in (("a", row.a), ("b", row.b)) if side in sides)
        if row is None:
            out.append("no step selected", style="dim")
            # an episode with no steps (a Harbor trial without a trajectory) still has its
            # episode-level lines: why it ended, its usage, why it has no steps
            for i, label in enumerate(labels):
                if notes[i] and "ab"[i] in sides:
                    out.append(f"\n{'AB'[i]} {label}\n", style="bold")
                    cut_any |= _notes(out, notes[i], expanded)
        else:
            for i, (side, ev, label) in enumerate((("A", row.a, labels[0]),
                                                    ("B", row.b, labels[1]))):
                if side.lower() not in sides:
                    continue
                if i and "a" in sides:
                    out.append("─" * 20 + "\n" if compact else "\n", style="dim")
                t, cut = event_detail(ev, side, label, row.diffs, expanded,
                                      nearest=nearest.get(side.lower()), compact=compact)
                out.append_text(t)
                cut_any |= cut | _notes(out, notes[i], expanded)
            # the provider's raw response is metadata: said once, under everything, on request
            if cut_any or self.raw_hidden:
                what = ", ".join(w for w, on in (("… truncated", cut_any),
                                                 ("raw_data hidden", self.raw_hidden)) if on)
                out.append(f"\n{what}: press x to expand\n", style="bold yellow")
        self.truncated = cut_any
        self.query_one("#detail-body", Static).update(out)
        return cut_any


def _notes(out: Text, lines: list[str], expanded: bool) -> bool:
    """Append an episode's tau2 review lines; True when one was cut."""
    cut_any = False
    for line in lines:
        body, cut = clean("episode · " + line, EXPANDED_LIMIT if expanded else DEFAULT_LIMIT)
        cut_any |= cut
        out.append(body + "\n", style="italic")
    return cut_any
