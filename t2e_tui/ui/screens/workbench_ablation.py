"""Ablation screen: one rerun per left-out rule line, then each rule's contribution.

Opened from the lineage view (`a`) on the selected version. The reruns run in a worker
(`t2e_tui.ablation.ablate`, the same function as `t2e ablate`) on the dev split, as
development evidence.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, ProgressBar, Static

from ...textsafe import strip_controls
from ..plain import plain
from ..widgets.datatable import KeyedDataTable
from ..widgets.keybar import KeyBar


class AblationScreen(Screen):
    """Runs the ablation of one candidate version and shows the per-rule contributions."""

    BINDINGS = [
        Binding("ctrl+c,f8", "cancel", "Cancel", id="ablation.cancel", priority=True),
        Binding("escape", "leave", "Back", id="ablation.back"),
        Binding("enter", "show_rule", "Rule in full", id="ablation.rule"),
    ]

    DEFAULT_CSS = """
    AblationScreen #abl-status { height: auto; padding: 0 1; }
    AblationScreen ProgressBar { height: 1; padding: 0 1; }
    AblationScreen DataTable { height: 1fr; }
    AblationScreen #abl-rule { height: auto; max-height: 8; padding: 0 1;
                               border-top: solid $panel-lighten-2; }
    """

    class Step(Message):
        def __init__(self, label: str, index: int, total: int) -> None:
            super().__init__()
            self.label, self.index, self.total = label, index, total

    def __init__(self, candidate_ref: str, name: str, *, tasks: str = "dev",
                 domain: str = "mini-retail") -> None:
        super().__init__()
        self.candidate_ref = candidate_ref
        self.cand_name = name
        self.tasks = tasks
        self.domain = domain
        self.result: dict | None = None
        self.running = False
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        # short: the title must not be cut at 80 columns (the agent note wraps below it)
        yield Static(Text.assemble("Ablation · ", plain(self.cand_name, "bold", 80), " on ",
                                   plain(self.tasks, width=200),
                                   " · agent: scripted stand-in unless configured"),
                     classes="title")
        yield Static("planning…", id="abl-status")
        yield ProgressBar(show_eta=False, id="abl-progress")
        yield KeyedDataTable(id="abl-table", cursor_type="row")
        yield Static(Text("Enter on a rule shows it here in full", "dim"), id="abl-rule")
        yield KeyBar()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for label, width in (("rule", 5), ("contribution", 12), ("reward w/o", 10),
                             ("wins", 5), ("loses", 5), ("text", 80)):
            t.add_column(label, width=width)
        self.running = True
        # the ablated candidate is the one being worked on: the launcher offers it next, not
        # one of the leave-one-out variants the ablation records
        self.app.working_candidate = self.candidate_ref
        self._run()

    @work(thread=True, exclusive=True, group="ablation", description="the ablation")
    def _run(self) -> None:
        from ...ablation import ablate
        from .workbench_context import candidates_dir_for

        try:
            res = ablate(self.app.store_path, self.candidate_ref,
                         candidates_dir=candidates_dir_for(self.app), domain=self.domain,
                         tasks=self.tasks,
                         on_progress=lambda lab, i, n: self.post_message(self.Step(lab, i, n)),
                         cancel=self._cancel)
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._show, res)

    def on_ablation_screen_step(self, message: "AblationScreen.Step") -> None:
        self.query_one(ProgressBar).update(total=message.total, progress=message.index - 1)
        self.query_one("#abl-status", Static).update(Text.assemble(
            f"run {message.index}/{message.total}: ", plain(message.label, width=200),
            " (ctrl+c cancels)"))

    def _failed(self, exc: Exception) -> None:
        self.running = False
        self.query_one("#abl-status", Static).update(
            plain(f"ablation refused: {exc}", "red", 1000))

    def _show(self, res: dict) -> None:
        self.running = False
        self.result = res
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, len(res["rules"])), progress=max(1, len(res["rules"])))
        fr = res.get("full_reward")
        status = (f"full candidate reward {'n/a' if fr is None else f'{fr:.3f}'} "
                  f"(run {res.get('full_run')}) · contribution = full − without the rule · "
                  "the runs: t2e runs")
        if not res.get("complete", True):
            status += " · cancelled: partial"
        self.query_one("#abl-status", Static).update(plain(status, width=1000))
        t = self.query_one(DataTable)
        t.clear()
        for r in res["rules"]:
            c = r["contribution"]
            style = "green" if c and c > 0 else "red" if c and c < 0 else "dim"
            t.add_row(str(r["index"]), Text("n/a" if c is None else f"{c:+.3f}", style),
                      "n/a" if r["reward"] is None else f"{r['reward']:.3f}",
                      str(len(r["tasks_won"])), str(len(r["tasks_lost"])),
                      strip_controls(r["rule"]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # DataTable takes Enter itself: show the rule from here
        self.action_show_rule()

    def action_show_rule(self) -> None:
        """The selected rule's whole text and its runs (the table cuts it at 80 columns)."""
        rules = (self.result or {}).get("rules") or []
        row = self.query_one(DataTable).cursor_row
        if not rules or not 0 <= row < len(rules):
            self.notify("no rule to show yet", timeout=2)
            return
        r = rules[row]
        text = Text(f"rule {r['index']}: ", "bold")
        text.append(strip_controls(r["rule"]))
        won, lost = r.get("tasks_won") or [], r.get("tasks_lost") or []
        if won or lost:
            text.append("\n")
            text.append_text(plain(f"without it: wins {', '.join(map(str, won)) or '–'} · "
                                   f"loses {', '.join(map(str, lost)) or '–'}", "dim", 2000))
        if r.get("run_id"):
            text.append(f" · run {r['run_id']}", "dim")
        self.query_one("#abl-rule", Static).update(text)

    def action_cancel(self) -> None:
        if self.running:
            self._cancel.set()
            self.query_one("#abl-status", Static).update(Text("cancelling after the current run…"))

    def action_leave(self) -> None:
        if self.running:
            self.notify("the ablation is running: ctrl+c cancels it first", severity="warning")
            return
        self.app.pop_screen()

    def on_worker_state_changed(self, event: Any) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)
