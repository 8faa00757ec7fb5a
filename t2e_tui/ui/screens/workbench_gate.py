"""The gate screen: verdict, each check baseline vs candidate, CI and p-value, the tasks behind
each failed check (Enter opens the compare screen), and the human promote/discard decision.

The verdict is the gate's (t2e_tui.gate); this screen only shows it and records a person's
decision with `record_human_decision`. Promoting against the verdict asks for a reason.
The lines under the head (reasons, stats, rewards, human decision) and the store helpers are
in gate_lines.py (`GateLines`, mixed in; its names are re-exported here).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ..plain import plain
from ..widgets.datatable import PlainDataTable
from ..widgets.fittitle import FitTitle, Part, run_parts
from ..widgets.keybar import KeyBar
from ..widgets.textline import TextLine
from .gate_lines import (  # noqa: F401 - re-exported: these lived here
    GateLines,
    _gate_once,
    _intersect_answers,
    _scripted,
    _sig,
    decision_author,
)
from .gate_modals import ConfirmModal, ReasonModal

# At 80×24 the task table keeps its header and this many rows; the verdict's reasons above it
# scroll in what is left (their first line, verdict and grade, is a line of its own).
TASK_ROWS_MIN = 4

VERDICT_STYLE = {"promote": "bold black on green", "discard": "bold white on red",
                 "inconclusive": "bold black on yellow", "supported": "bold black on cyan"}


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


class GateScreen(GateLines, Screen):
    """Gate a run pair (or show a gate result already computed) and take the human decision."""

    BINDINGS = [
        Binding("P", "decide('promote')", "Promote", id="gate.promote"),
        Binding("D", "decide('discard')", "Discard", id="gate.discard"),
        Binding("enter", "open_task", "Compare task", id="gate.open"),
        # shown only after a refusal that gating the shared tasks answers (check_action)
        Binding("i", "intersect", "Gate shared tasks", id="gate.intersect"),
        Binding("T", "transfer", "Transfer check", id="gate.transfer"),
        Binding("escape", "app.pop_screen", "Back", id="gate.back"),
    ]

    DEFAULT_CSS = """
    GateScreen #gate-head { height: auto; padding: 0 1; }
    GateScreen #gate-verdict-box { height: auto; max-height: 2; }
    GateScreen #gate-verdict { height: auto; padding: 0 1; }
    GateScreen #gate-stats { height: auto; padding: 0 1; }
    GateScreen #gate-checks { height: auto; max-height: 11; }
    GateScreen #gate-tasks { height: 1fr; min-height: 5; }  /* header + TASK_ROWS_MIN */
    GateScreen #gate-human { padding: 0 1; }
    GateScreen #gate-rewards { padding: 0 1; }
    """

    def __init__(self, baseline_run: str, candidate_run: str, result: Any = None) -> None:
        super().__init__()
        self.baseline_run = baseline_run
        self.candidate_run = candidate_run
        self.result = result
        self.human: dict | None = None
        self.refusal: str | None = None  # why the gate refused or failed (shown on screen)
        self._shared = 0

    def compose(self) -> ComposeResult:
        yield FitTitle([Part("Gate", "bold")], classes="title", id="gate-title")
        head = Static("", id="gate-head")
        head.display = False  # verdict and grade, once there is a verdict
        yield head
        with VerticalScroll(id="gate-verdict-box"):
            yield Static("evaluating…", id="gate-verdict")
        yield PlainDataTable(id="gate-checks", cursor_type="none", zebra_stripes=True)
        yield Static("", id="gate-stats")
        rewards = TextLine(id="gate-rewards")
        rewards.display = False  # imported runs only: were their rewards re-scored?
        yield rewards
        yield PlainDataTable(id="gate-tasks", cursor_type="row")
        yield TextLine(id="gate-human")
        yield KeyBar()

    def on_mount(self) -> None:
        if self.result is not None:
            self._show_safely(self.result)
        else:
            self._evaluate()

    def on_resize(self) -> None:
        self._show_stats()
        self.call_after_refresh(self._fit)

    def _fit(self, tries: int = 6) -> None:
        """Cap the reasons' region to what the screen has left once every other part and the
        task table's header and TASK_ROWS_MIN rows are placed: the reasons scroll, the task
        rows stay (a verdict naming many tasks used to squeeze the table to nothing).

        The parts' heights are read from the layout, which can lag one refresh behind their
        new content (the checks table sizes itself later): fitted again after each refresh
        until the cap stops changing, so a stale height is never the last word (under load the
        reasons once kept their whole height and pushed the task rows off the screen)."""
        box = self.query_one("#gate-verdict-box")
        checks = self.query_one("#gate-checks", DataTable)
        # the checks table may not be laid out with its rows yet (its height still 0 on the
        # first refresh after _show): counted at the height it is about to take (header +
        # rows, up to its max-height), else the reasons took its rows' room (a race)
        cap = checks.styles.max_height
        want = checks.row_count + 1 if cap is None else min(checks.row_count + 1,
                                                             int(cap.value))
        laid = {checks: want} if checks.row_count else {}
        others = sum(max(w.outer_size.height, laid.get(w, 0)) for w in self.children
                     if w.display and w is not box and w.id != "gate-tasks")
        # (a refusal has no task table: its words take the room)
        rows = 1 + TASK_ROWS_MIN if self.query_one("#gate-tasks").display else 0
        room = max(2, self.size.height - others - rows)
        if box.styles.max_height is not None and box.styles.max_height.value == room \
                and self.max_scroll_y == 0:
            return
        box.styles.max_height = room
        if tries > 1:
            self.call_after_refresh(self._fit, tries - 1)

    def _show_safely(self, result: Any) -> None:
        """Draw a result; a failure while drawing (a store gone, an odd row) is shown on the
        screen like a refusal, never raised into the app."""
        try:
            self._show(result)
        except Exception as exc:  # noqa: BLE001 - the screen must stay up
            self.result = None
            from ...errors import error_text

            self._refused(error_text(exc), False)

    @work(thread=True, exclusive=True, group="gate", description="gating the run pair")
    def _evaluate(self, intersect: bool | None = None) -> None:
        from store import connect

        try:
            conn = connect(self.app.store_path)
            try:
                result = _gate_once(conn, self.baseline_run, self.candidate_run, intersect)
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - a refusal or failure is shown, never a crash
            from ...errors import T2EError, error_text

            refusal = isinstance(exc, T2EError)
            shared = 0 if intersect or not refusal else _intersect_answers(
                self.app.store_path, self.baseline_run, self.candidate_run)
            self.app.call_from_thread(self._refused, error_text(exc), refusal, shared)
            return
        self.app.call_from_thread(self._show_safely, result)

    def _refused(self, message: Any, refusal: bool = True, shared: int = 0) -> None:
        """Show why there is no verdict; `shared`: the tasks `i` would gate on, offered only
        where gating them answers the refusal (different task sets, not different settings)."""
        self.refusal = str(message)
        for part in ("#gate-checks", "#gate-tasks"):  # no verdict: nothing to tabulate
            self.query_one(part).display = False
        # the scroll bar's room kept whether or not it shows: a region of auto height is
        # measured at its full width, so words one line longer once a scroll bar narrowed
        # them kept the bar and stayed cut by that line, whatever room the screen had
        self.query_one("#gate-verdict-box").styles.scrollbar_gutter = "stable"
        self.call_after_refresh(self._fit)
        text = Text("the gate refuses this pair: " if refusal else "the gate failed: ",
                    "bold red")
        text.append_text(plain(self.refusal, "bold red", 2000))
        self._shared = shared
        if shared:
            text.append(f"\n  i gates on the {shared} task(s) both runs share (the rest are "
                        "left out and listed)", "yellow")
        self.query_one("#gate-verdict", Static).update(text)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # `i` is in the key bar only while it is offered; Enter only over a verdict's tasks
        if action == "intersect":
            return bool(self.result is None and self._shared)
        if action == "open_task":
            return self.result is not None
        return True

    def action_intersect(self) -> None:
        """After a refusal over different task sets: gate on the tasks both runs share."""
        if self.result is not None or not getattr(self, "_shared", 0):
            return
        self.query_one("#gate-verdict", Static).update(
            Text(f"evaluating on the {self._shared} shared tasks…"))
        self._shared = 0
        self.refresh_bindings()
        self._evaluate(True)

    def on_worker_state_changed(self, event) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)

    # -- display ----------------------------------------------------------------------------

    def _show(self, result: Any) -> None:
        self.result = result
        if not self.query_one("#gate-tasks").display:  # after a refusal (`i`): as before it
            for part in ("#gate-checks", "#gate-tasks"):
                self.query_one(part).display = True
            self.query_one("#gate-verdict-box").styles.scrollbar_gutter = "auto"
        cmp = result.comparison
        # fitted to the width like the runs and tasks titles: labels, then ids, then names
        same = cmp.baseline.name == cmp.candidate.name
        self.query_one("#gate-title", FitTitle).set_lines(
            [Part("Gate · ", "bold")]
            + run_parts(("baseline ", "base ", ""), cmp.baseline.name, cmp.baseline.run_id,
                        keep_id=same)
            + [Part(" vs ")]
            + run_parts(("candidate ", "cand ", ""), cmp.candidate.name,
                        cmp.candidate.run_id, keep_id=same))
        h = Text()
        h.append(f" {result.verdict_label.upper()} ",
                 VERDICT_STYLE.get(result.decision, "bold"))
        same = " (same verdict, already recorded)" if result.reused else ""
        h.append(f"  row #{result.row_id}{same}  evidence: {result.evidence_role}")
        if result.role.claimed != result.evidence_role:
            h.append(f" (claimed {result.role.claimed})", "yellow")
        head = self.query_one("#gate-head", Static)
        head.update(h)
        head.display = True
        self._show_verdict()
        checks = self.query_one("#gate-checks", DataTable)
        checks.clear(columns=True)
        checks.add_columns("check", "", "baseline", "candidate", "behind")
        for c in result.checks:
            mark = Text("n/a", "dim") if c.na else (Text("✓", "green") if c.passed
                                                     else Text("✗", "bold red"))
            # the cells say what they count ("3 tasks at 1", "0 tasks 1→0", "2 episodes"):
            # the same columns hold metric values on other checks
            checks.add_row(c.name, mark, c.baseline_text or _fmt(c.baseline),
                           c.candidate_text or _fmt(c.candidate),
                           f"{len(c.tasks)} task{'' if len(c.tasks) == 1 else 's'}"
                           if c.tasks else "")
        self._show_stats()
        self._show_rewards()
        s = result.stats

        tasks = self.query_one("#gate-tasks", DataTable)
        tasks.clear(columns=True)
        tasks.add_columns("why", "task", "baseline", "candidate")
        rows = {r.task_id: r for r in cmp.rows}
        self._task_keys: list[str] = []
        seen: set[tuple[str, str]] = set()
        # each row shows the figure of the check it is under (a task lower on action match,
        # its action match); rows without one (regressions, fixes) show the task's pass rate
        entries = [(c.name, t, c.task_figures.get(t)) for c in result.checks
                   if not c.passed and not c.na for t in c.tasks]
        entries += [("regression", t, None) for t in (s.get("regressions") or [])]
        entries += [("fix", t, None) for t in (s.get("fixes") or [])]
        for why, t, figures in entries:
            if (why, t) in seen:
                continue
            seen.add((why, t))
            r = rows.get(t)
            style = "red" if why not in ("fix",) else "green"
            if figures is None:
                figures = (_fmt(r.baseline_rate), _fmt(r.candidate_rate)) if r else ("", "")
            tasks.add_row(Text(why, style), t, *figures)
            self._task_keys.append(t)
        if not entries:
            tasks.add_row(Text("no failed checks, fixes or regressions", "dim"), "", "", "")
        self._load_human()
        self.refresh_bindings()  # Enter compares a task now (check_action)
        tasks.focus()
        self.call_after_refresh(self._fit)

    def on_screen_resume(self) -> None:
        """Back from a screen this one opened (T's transfer verdict): the transfer evidence
        may have changed under it, so its lines are read again."""
        if self.result is not None and hasattr(self.result, "comparison"):
            try:
                self._show_verdict()
            except Exception as exc:  # noqa: BLE001 - the screen must stay up
                from ...errors import error_text

                self.notify(error_text(exc), severity="error")
            self.call_after_refresh(self._fit)

    # -- actions ----------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # the tasks table takes Enter itself (select_cursor), so the screen listens here
        if event.data_table.id == "gate-tasks":
            event.stop()
            self.action_open_task()

    def action_open_task(self) -> None:
        table = self.query_one("#gate-tasks", DataTable)
        keys = getattr(self, "_task_keys", [])
        if not keys or table.cursor_row >= len(keys):
            return
        opener = getattr(self.app, "open_task_compare", None)
        if opener is None:
            self.notify("the compare screen is not available", severity="warning")
            return
        opener(self.baseline_run, self.candidate_run, keys[table.cursor_row])

    def action_transfer(self) -> None:
        """T: the transfer check (workbench_transfer.py)."""
        from .workbench_transfer import start_transfer

        start_transfer(self)

    def action_decide(self, decision: str) -> None:
        if self.result is None:  # say why nothing is recorded
            why = ("the gate refused this pair" if self.refusal is not None
                   else "the gate is still evaluating")
            self.notify(f"no verdict to {decision}: {why}; nothing recorded",
                        severity="warning")
            return
        asks = []
        if self.result.evidence_role not in ("heldout", "transfer"):
            asks.append(f"This evidence is {self.result.evidence_role}, not clean heldout.")
        if self.human and self.human["decision"] != decision:
            asks.append(f"This row already has a human decision: {self.human['decision']}; "
                        f"recording {decision} replaces it (both stay in its history).")
        if asks:
            self.app.push_screen(ConfirmModal(" ".join(asks) + f" Record {decision}?"),
                                 lambda yes: yes and self._decide(decision))
            return
        self._decide(decision)

    def _decide(self, decision: str) -> None:
        if decision == "promote" and self.result.decision != "promote":
            self.app.push_screen(ReasonModal(self.result.verdict_label),
                                 lambda reason: self._record(decision, reason))
            return
        self._record(decision, None)

    def _record(self, decision: str, reason: str | None) -> None:
        if decision == "promote" and self.result.decision != "promote" and not reason:
            return  # cancelled: nothing recorded
        from store import connect

        from ...errors import T2EError
        from ...gate import record_human_decision

        conn = connect(self.app.store_path)
        try:
            rec = record_human_decision(conn, self.result.row_id, decision,
                                        override=bool(reason), reason=reason,
                                        author=decision_author())
        except T2EError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        finally:
            conn.close()
        self.human = {"decision": rec["decision"], "override": rec["override"],
                      "reason": rec["reason"]}
        self._history = getattr(self, "_history", []) + [self.human]
        self._show_human()
        self.notify(f"recorded: {decision} on scoreboard row #{self.result.row_id}")
