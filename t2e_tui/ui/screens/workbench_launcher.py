"""The rerun launcher: choose what to run, see the cost and any refusal or leakage warning
before anything starts, then follow the rerun live (progress bar, task table), cancel or
resume it, and land on the gate screen when it ends.

Refusals come from the engine's `plan_run` (unknown tasks, empty candidate, missing endpoint
or API key): it validates everything before a row is written, so a refused rerun leaves
nothing behind. The form, its estimate and F6's set registration are in launcher_estimate.py
(`LauncherEstimate`, mixed in).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, ProgressBar, Select, Static

from store.termination import NO_REWARD, reward_text

from ..plain import plain
from ..widgets.datatable import KeyedDataTable
from ..widgets.keybar import KeyBar
from .launcher_estimate import LauncherEstimate
from .workbench_launch_plan import (  # noqa: F401 - the moved methods' names, importable here
    DOMAINS,
    ROLES,
    Estimate,
    LaunchForm,
    estimate_warnings,
    outcome_selection,
    plan_estimate,
    register_planned_set,
)


class LauncherScreen(LauncherEstimate, ModalScreen):
    """Plan, estimate, launch and follow a rerun."""

    BINDINGS = [
        Binding("ctrl+l,f9", "launch", "Launch", id="launcher.launch"),
        Binding("ctrl+c,f8", "cancel_run", "Cancel run", id="launcher.cancel", priority=True),
        Binding("ctrl+r,f7", "resume", "Resume", id="launcher.resume"),
        Binding("ctrl+g,f10", "show_gate", "Gate", id="launcher.gate"),
        # not ctrl+k: a focused field takes it (delete to end), so the bar showed f6, then ^k;
        # ctrl+y is taken by no field, no terminal multiplexer and no keymap example
        Binding("f6,ctrl+y", "register_set", "Register set", id="launcher.register"),
        Binding("escape", "close", "Close", id="launcher.close"),
    ]

    DEFAULT_CSS = """
    LauncherScreen { align: center middle; }
    LauncherScreen > Vertical { width: 96%; max-width: 140; height: 96%; padding: 0 1;
        border: thick $accent; background: $surface; }
    /* the form scrolls (Tab brings a field into view) so that the estimate and its warnings
       below always keep their room, at 80×24 too */
    LauncherScreen #lf-form { height: auto; max-height: 1fr; }
    LauncherScreen #lf-grid { grid-size: 4; grid-columns: 12 1fr 12 1fr; grid-rows: 3;
        height: auto; grid-gutter: 0 1; }
    LauncherScreen #lf-grid Label { padding: 1 0 0 0; }
    LauncherScreen #lf-estimate { height: auto; }
    LauncherScreen #lf-refusal { height: auto; color: $error; }
    LauncherScreen #lf-warning { height: auto; color: $warning; }
    LauncherScreen #lf-progress { height: auto; display: none; }
    LauncherScreen #lf-live { height: 1fr; display: none; }
    LauncherScreen #lf-summary { height: auto; display: none; }
    LauncherScreen.running #lf-progress, LauncherScreen.running #lf-live,
    LauncherScreen.done #lf-progress, LauncherScreen.done #lf-live,
    LauncherScreen.running #lf-summary, LauncherScreen.done #lf-summary { display: block; }
    /* while a rerun runs, the form folds into one summary line: the live table needs room */
    LauncherScreen.running #lf-form, LauncherScreen.done #lf-form { display: none; }
    """

    class Progress(Message):
        """Episodes finished (from the engine's thread). Coalesces: a scripted run finishes
        hundreds of episodes a second, so one pending message stands for all of them and the
        handler drains the queue."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LauncherScreen.Progress)

    def __init__(self, *, candidate: str = "baseline", baseline_run: str | None = None,
                 task_ids: list[str] | None = None, domain: str = "mini-retail",
                 task_selection: dict | None = None) -> None:
        super().__init__()
        self._init = dict(candidate=candidate, baseline_run=baseline_run or "",
                          task_ids=task_ids, domain=domain)
        # how `task_ids` were chosen (an outcome filter); None: found on the tasks screen
        # at mount, if the ids came from its filtered view
        self._selection = task_selection
        self.run_id: str | None = None
        self.status: str | None = None
        self.summary: Any = None
        self._cancel: threading.Event | None = None
        self._plan: Any = None  # None until the current form is planned (or when refused)
        # estimates run in a thread worker: each form state gets a generation number and only
        # the newest one's result is shown, so a slow stale plan never overwrites a newer one
        self._est_gen = 0
        self._est_done = 0
        self._launch_gen: int | None = None  # launch once this generation is planned
        self._tasks_filled = False  # the empty tasks field took the baseline run's spec
        self._no_set = False
        self._refused: list[str] = []  # settings the gate refuses, as the last plan found them
        self._settings_from: str | None = None  # the baseline run the fields were filled from
        self._task_mismatch: tuple[int, int] | None = None
        self._pending: deque[Any] = deque()  # EpisodeDone reports not yet shown

    def compose(self) -> ComposeResult:
        i = self._init
        tasks = ",".join(i["task_ids"]) if i["task_ids"] else ""
        with Vertical():
            # short enough for an 80-column dialog: the stand-in warning must not be cut
            yield Static("[b]Rerun[/b] · scripted = stand-in agent (proves nothing about "
                         "models)", classes="title")
            with VerticalScroll(id="lf-form", can_focus=False), Grid(id="lf-grid"):
                yield Label("candidate")
                yield Input(i["candidate"], id="lf-candidate")
                yield Label("baseline run")
                yield Input(i["baseline_run"], id="lf-baseline", placeholder="run id (for the gate)")
                yield Label("domain")
                yield Select([(d, d) for d in DOMAINS], value=i["domain"], allow_blank=False,
                             id="lf-domain")
                yield Label("tasks")
                yield Input(tasks, id="lf-tasks", placeholder="all | SPLIT | ID,ID,…")
                yield Label("trials")
                yield Input("1", id="lf-trials", type="integer")
                yield Label("concurrency")
                yield Input("4", id="lf-concurrency", type="integer")
                yield Label("model")
                yield Input("scripted", id="lf-model", placeholder="scripted | openai:MODEL")
                yield Label("user")
                yield Input("scripted", id="lf-user", placeholder="scripted | openai:MODEL")
                yield Label("evidence")
                yield Select([(r, r) for r in ROLES], value="heldout", allow_blank=False,
                             id="lf-role")
            yield Static("", id="lf-summary")
            yield Static("", id="lf-estimate")
            yield Static("", id="lf-warning")
            yield Static("", id="lf-refusal")
            yield ProgressBar(id="lf-progress", show_eta=False)
            yield KeyedDataTable(id="lf-live", cursor_type="row")
        yield KeyBar()

    def on_mount(self) -> None:
        if self._selection is None and self._init["task_ids"]:
            self._selection = self._selection_from_app()
        # an empty tasks field is filled from the baseline run by the first estimate (a store
        # read, so in its worker)
        live = self.query_one("#lf-live", DataTable)
        live.add_columns("task", "trial", "reward", "termination")
        self.call_after_refresh(self.refresh_estimate)

    def _selection_from_app(self) -> dict | None:
        """The filter of the tasks screen below, when the given task ids are what it shows
        (the workbench hook hands over its filtered view)."""
        for screen in reversed(self.app.screen_stack):
            ids = getattr(screen, "visible_task_ids", None)
            if not callable(ids):
                continue
            try:
                shown = list(ids())
            except Exception:  # noqa: BLE001 - no view to read: nothing known about it
                return None
            if shown != list(self._init["task_ids"]):
                return None
            return outcome_selection(getattr(screen, "filter", None),
                                     getattr(screen, "termination", None), shown,
                                     [getattr(screen, "baseline", None),
                                      getattr(screen, "candidate", None)])
        return None

    def task_selection(self) -> dict | None:
        """The outcome-filter selection to record, while the tasks field still holds the
        ids it chose (typing another spec, e.g. a split by name, drops it)."""
        ids = self._init["task_ids"]
        if not self._selection or not ids:
            return None
        typed = self.query_one("#lf-tasks", Input).value
        # the same ids re-ordered or re-spaced are still the filter's choice
        if {t.strip() for t in typed.split(",") if t.strip()} != {str(t) for t in ids}:
            return None
        return self._selection

    # -- form -------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.status is None:
            self.refresh_estimate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if self.status is None:
            self.refresh_estimate()


    # -- running ----------------------------------------------------------------------------

    def action_launch(self) -> None:
        if self.status == "running":
            return
        # re-plan against the store as it is now; the run starts when that plan lands
        self.refresh_estimate(launch=True)

    def action_resume(self) -> None:
        if self.status != "interrupted" or not self.run_id:
            self.notify("nothing to resume: only an interrupted rerun can be resumed",
                        severity="warning")
            return
        self._start(None, resume=self.run_id)

    def _start(self, plan: Any, resume: str | None) -> None:
        self.status = "running"
        self.set_class(True, "running")
        self.set_class(False, "done")
        for w in self.query(Input):
            w.disabled = True
        bar = self.query_one("#lf-progress", ProgressBar)
        if plan is not None:
            bar.update(total=len(plan.task_ids) * plan.trials, progress=0)
            self.query_one("#lf-live", DataTable).clear()
        f = self.form()
        self.query_one("#lf-summary", Static).update(plain(
            f"{f.candidate} on {f.domain} {f.tasks} × {f.trials} trials · {f.model} / {f.user}"
            f" · {f.role}" + (f" · baseline {f.baseline_run}" if f.baseline_run else "")
            + (f" · resuming {resume}" if resume else ""), width=1000))
        self._cancel = threading.Event()
        self._run(plan, resume, self._cancel)
        self._say("#lf-refusal", "")
        self._say("#lf-warning", "")
        self.query_one("#lf-estimate", Static).update("running… (ctrl+c / F8 cancels)")

    @work(thread=True, exclusive=True, group="rerun", description="the rerun")
    def _run(self, plan: Any, resume: str | None, cancel: threading.Event) -> None:
        from ...engine import execute_run, resume_run

        def on_start(run_id: str) -> None:
            self.run_id = run_id

        def on_episode(done: Any) -> None:
            self._pending.append(done)  # deque appends are thread-safe
            self.post_message(self.Progress())

        try:
            if resume:
                summary = resume_run(self.app.store_path, resume, on_episode=on_episode,
                                     on_start=on_start, cancel=cancel)
            else:
                summary = execute_run(plan, self.app.store_path, on_episode=on_episode,
                                      on_start=on_start, cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - shown on the screen, run stays resumable
            self.app.call_from_thread(self._finished, None, exc)
            return
        self.app.call_from_thread(self._finished, summary, None)

    def on_launcher_screen_progress(self, message: "LauncherScreen.Progress") -> None:
        self._drain()

    def _drain(self) -> None:
        """Show every queued episode report: table rows, then the bar at the latest count."""
        table = self.query_one("#lf-live", DataTable)
        last = None
        while self._pending:
            d = last = self._pending.popleft()
            reward = reward_text(d.reward, d.termination_reason, 2, missing="n/a")
            style = ("" if reward == NO_REWARD else "green" if d.reward is not None
                     and abs(d.reward - 1) <= 1e-6 else "red")
            table.add_row(d.task_id, str(d.trial), Text(reward, style), d.termination_reason)
        if last is None:
            return
        table.move_cursor(row=table.row_count - 1)
        self.query_one("#lf-progress", ProgressBar).update(total=last.total, progress=last.done)
        if self.status == "running" and not (self._cancel and self._cancel.is_set()):
            self.query_one("#lf-estimate", Static).update(Text(
                f"running {last.run_id}: {last.done}/{last.total} episodes · ctrl+c / F8 cancels"))

    def _finished(self, summary: Any, error: Exception | None) -> None:
        self._drain()
        self.set_class(False, "running")
        self.set_class(True, "done")
        est = self.query_one("#lf-estimate", Static)
        if error is not None:
            self.status = "interrupted"
            est.update(plain(f"rerun {self.run_id or ''} stopped: {error} (ctrl+r resumes)",
                             "red", 1000))
            return
        self.summary = summary
        self.status = summary.status
        self.run_id = summary.run_id
        if summary.status != "complete":
            est.update(Text(f"rerun {summary.run_id} {summary.status}: {summary.episodes} "
                            "episodes saved · ctrl+r / F7 resumes"))
            return
        reward = "n/a" if summary.reward is None else f"{summary.reward:.3f}"
        est.update(Text(f"rerun {summary.run_id} complete: {summary.episodes} episodes, reward "
                        f"{reward}"))
        baseline = self.form().baseline_run
        if baseline:
            self.action_show_gate()
        else:
            self.notify("no baseline run given: nothing to gate against", severity="warning")

    def action_show_gate(self) -> None:
        from .workbench_gate import GateScreen

        baseline = self.form().baseline_run
        if not (baseline and self.run_id and self.status == "complete"):
            self.notify("the gate needs a baseline run and a complete rerun", severity="warning")
            return
        run_id = self.run_id
        app = self.app
        app.baseline_run, app.candidate_run = baseline, run_id
        self.dismiss(run_id)
        app.push_screen(GateScreen(baseline, run_id))

    def action_cancel_run(self) -> None:
        if self.status == "running" and self._cancel is not None:
            self._cancel.set()
            self.query_one("#lf-estimate", Static).update("cancelling… finished episodes stay "
                                                          "saved")

    def action_close(self) -> None:
        if self.status == "running":
            self.notify("a rerun is in progress: ctrl+c / F8 cancels it first",
                        severity="warning")
            return
        self.dismiss(self.run_id)

    def on_worker_state_changed(self, event) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)
