"""The gate screen's lines under its head, and the store helpers the screen calls: the
verdict's reasons (role, intersection, leaks, transfer evidence, stand-in note), the test's
stats and trial-budget advice, the rewards' re-score line, the human decision's line, and
`_gate_once` / `_intersect_answers` / `decision_author`. Moved out of workbench_gate.py,
which re-exports these names; `GateLines` is a mixin of GateScreen (its methods read and
update the screen's widgets by id).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...standin import NOTE as STAND_IN_NOTE
from ...standin import is_stand_in
from ...textsafe import one_line
from ..plain import plain
from ..widgets.fittitle import Part
from ..widgets.textline import TextLine


def _sig(v: Any) -> str:
    """p and alpha as every gate report rounds them (gate.report.significant)."""
    from ...gate.report import significant
    return significant(v) if isinstance(v, (int, float)) else "n/a"


class GateLines:
    """GateScreen's line builders (workbench_gate.GateScreen mixes this in)."""

    def _show_verdict(self) -> None:
        """The verdict's reasons, its transfer evidence and the stand-in note, under the head
        (they scroll when long)."""
        result = self.result
        cmp = result.comparison
        v = Text()  # the reasons, one per line
        if result.role.claimed != result.evidence_role:
            # why it was downgraded (a role raised after the run, an outcome filter, …)
            for why in result.role.reasons[:3]:
                v.append("\n  role: ", "yellow")
                v.append_text(plain(why, "yellow", 300))
        if cmp.intersected:
            v.append(f"\n  restricted to the {len(cmp.rows)} shared tasks (baseline "
                     f"{len(cmp.rows) + len(cmp.only_baseline)}, candidate "
                     f"{len(cmp.rows) + len(cmp.only_candidate)} tasks): the other tasks are "
                     "not judged", "yellow")
        if result.role.leaked_tasks:
            v.append("\n  leaked: ", "yellow")
            v.append_text(plain(", ".join(plain(t, width=80).plain
                                          for t in result.role.leaked_tasks[:8]), "yellow", 800))
        # a reason quotes task ids and names: one line each, a newline in an id shown as ⏎
        for r in result.reasons[:3]:
            v.append("\n  ")
            v.append_text(plain(r, width=2000))
        from .workbench_transfer import transfer_text

        tr = transfer_text(self.app.store_path, result)  # the candidate's transfer evidence
        if tr is not None:
            v.append(tr)
        if _scripted(cmp):
            v.append(f"\n  {STAND_IN_NOTE}", "dim italic")
        self.query_one("#gate-verdict", Static).update(v[1:])  # each reason began a line
        self.query_one("#gate-verdict-box").display = bool(v.plain)

    def _show_stats(self) -> None:
        """The test's line, and the trial-budget advice where there is room: decided at the
        width the screen has now (on_resize draws it again)."""
        result = self.result
        if result is None or not hasattr(result, "stats"):
            return
        s = result.stats
        from ...gate.report import ci_text

        # the interval at the level tested (1 - alpha), labelled with it, as the CLI says it
        ci = ci_text(s, ".3f") if s.get("ci_low") is not None else "CI n/a"
        from ...cli.gate import advice_lines

        adv = result.advice or {}
        # "noise unknown" is a hint; below 100 columns the task list needs the line more
        quiet = adv.get("slip_per_trial") is None and self.size.width < 100
        # an advice line can quote a task id: one line each
        budget = "" if quiet else "\n".join(plain(x, width=1000).plain
                                             for x in advice_lines(adv)[:3])
        self.query_one("#gate-stats", Static).update(Text(
            f"{s.get('test', 'test')}: p = {_sig(s.get('p_value'))} (α {_sig(s.get('alpha'))})"
            f" · reward Δ {ci} · fixes {len(s.get('fixes') or [])} · regressions "
            f"{len(s.get('regressions') or [])} · flaky {len(s.get('flaky') or [])}"
            + (f"\n{budget}" if budget else "")))

    def _show_rewards(self) -> None:
        """Whether an imported run's rewards were re-scored, and what would re-score them
        (the app reads TAU2_DATA_DIR when it starts): `t2e gate`'s rewards line, in one row.
        Runs t2e made were scored when they ran: no line."""
        from ...gate.rescore import rescore_hint, summary_of

        w = self.query_one("#gate-rewards", TextLine)
        sides = {side: r.to_dict() for side, r in (self.result.rescore or {}).items()}
        if all(r["status"] == "scored_here" for r in sides.values()):
            w.display = False
            return
        capped = any(r["status"] == "not_rescored" and r.get("cap") for r in sides.values())
        style = "yellow" if capped else ""
        parts = [Part("rewards: ", style),
                 # the summary gives way first (shorter words), the hint after it
                 Part((summary_of(sides), summary_of(sides, short=True)), style, give=2)]
        hint = rescore_hint(sides, "app")
        if hint:
            parts.append(Part((f" · {hint}", f" · {rescore_hint(sides, 'app', short=True)}"),
                              "bold", give=1, cut="end", least=12))
        w.set(parts)
        w.display = True

    def _load_human(self) -> None:
        from store import connect

        conn = connect(self.app.store_path)
        try:
            from ...ui_queries import human_decisions

            hist = human_decisions(conn, self.result.row_id)
        finally:
            conn.close()
        self._history = [{"decision": d, "override": bool(o), "reason": r} for d, o, r in hist]
        self.human = self._history[-1] if self._history else None
        self._show_human()

    def _show_human(self) -> None:
        """One row: the decision stays; the key hints give way first at 80 columns (F1 shows
        the line whole)."""
        w = self.query_one("#gate-human", TextLine)
        enter = Part((" · Enter compares the selected task", " · Enter compares", ""), give=3)
        if not self.human:
            w.set([Part("human decision: none yet"),
                   Part((" · P promote · D discard", " · P/D"), give=2), enter])
            return
        h = self.human
        parts = [Part("human decision: "), Part(h["decision"], "bold")]
        if h["override"]:
            parts.append(Part(f" (OVERRIDE: {one_line(h['reason'] or '', 300)})", give=1,
                              cut="end", least=14))
        # an override a later decision replaced stays visible (as on the scoreboard)
        earlier = [o for o in getattr(self, "_history", [])[:-1] if o["override"]]
        if earlier and not h["override"]:
            parts.append(Part(f" · replaces an OVERRIDE promote "
                              f"({one_line(earlier[-1]['reason'] or '', 300)})", give=1,
                              cut="end", least=24))
        w.set(parts + [enter])


def _gate_once(conn: Any, baseline: str, candidate: str, intersect: bool | None = None) -> Any:
    """`t2e gate`'s own function (t2e_tui.gate.gate): the same refusals (different task sets
    are refused unless the person asks to intersect, the `i` key = --intersect), and the same
    scoreboard row when nothing changed (reopening the screen adds no row)."""
    from ... import gate

    return gate.gate(conn, baseline, candidate, intersect=bool(intersect))


def _intersect_answers(store_path: Any, baseline: str, candidate: str) -> int:
    """How many tasks `i` (--intersect) would gate on: the comparison's own answer with
    intersect on (gate.compare_runs), so a refusal intersecting cannot answer (different
    settings, worlds or domains, which it raises again) offers nothing. 0 when it refuses."""
    from store import connect

    from ... import gate

    try:
        conn = connect(store_path)
        try:
            return len(gate.compare_runs(conn, baseline, candidate, intersect=True).rows)
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - only decides whether to offer `i`
        return 0


def _scripted(cmp: Any) -> bool:
    return any(is_stand_in(r.agent_model) for r in (cmp.baseline, cmp.candidate))


def decision_author() -> str | None:
    """Who decides: $USER, as `t2e decide` records it."""
    import os

    return os.environ.get("USER") or None
