"""The Textual app: runs → tasks → compare, search, help, palette. Built by `make_app`.

The app only asks; the core (data_access, align, store, gate) answers. All store I/O happens in
named thread workers, each with its own SQLite connection; a failed worker becomes a visible
notice (see `on_worker_state_changed`).

Workbench hook: the bindings with ids "edit", "rerun", "gate" and "lineage" call
`action_workbench(name)`, which hands over to `t2e_tui.screens.workbench_hooks.open(app, name)`
when the workbench module exists (the workbench engineer's file). Other screens open the
explorer through `open_runs`, `open_tasks`, `open_compare` and `open_task_compare`.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, Callable

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from .. import data_access as da
from ..textsafe import clean, one_line
from . import safe_render
from .commands import ScreenActions
from .screens.compare import CompareScreen
from .screens.help import HelpScreen, binding_rows
from .screens.runs import RunsScreen
from .screens.search import SearchScreen
from .screens.tasks import TasksScreen

WORKBENCH_MODULE = "t2e_tui.ui.screens.workbench_hooks"


class T2EApp(App):
    """The t2e explorer on one store."""

    CSS_PATH = "app.tcss"
    TITLE = "t2e"
    COMMANDS = App.COMMANDS | {ScreenActions}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("f1", "help", "Help", id="help"),
        Binding("slash", "search", "Search", id="search"),
        Binding("escape", "back", "Back", id="back"),
        Binding("f2", "runs", "Runs", show=False, id="runs"),
        Binding("e", "workbench('edit')", "Edit", show=False, id="edit"),
        Binding("R", "workbench('rerun')", "Rerun", show=False, id="rerun"),
        Binding("G", "workbench('gate')", "Gate", show=False, id="gate"),
        Binding("L", "workbench('lineage')", "Lineage", show=False, id="lineage"),
    ]

    def __init__(self, store_path: str | Path, *, keymap: dict[str, str] | None = None,
                 poll_interval: float = 2.0, load_config: bool = True,
                 start: tuple[str, ...] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        safe_render.install()  # before anything is drawn: every strip is cleaned
        super().__init__()
        self.clock = clock  # timings shown on screen; snapshot tests pass a fixed clock
        self.store_path = str(store_path)
        self.poll_interval = poll_interval
        self.animation_level = "none"  # over SSH, animations cost more than they show
        self.baseline_run: str | None = None
        self.candidate_run: str | None = None
        self.drafting_candidate: str | None = None  # set by the workbench while drafting
        self._extra_keymap = keymap or {}
        self._load_config = load_config
        self._start = start

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Notices often quote trace text (a task id, an error): shown as plain text, never
        read as markup, controls stripped."""
        super().notify(clean(message, 2000)[0], title=one_line(title, 200), severity=severity,
                       timeout=timeout, markup=False)

    def on_mount(self) -> None:
        keymap: dict[str, str] = {}
        if self._load_config:
            try:
                from ..engine.config import load_config

                keymap.update(load_config().keymap)
            except Exception as exc:  # noqa: BLE001 - a bad config must not stop the app
                self.notify(f"config ignored: {exc}", severity="error", timeout=10)
        keymap.update(self._extra_keymap)
        if keymap:
            self.set_keymap(keymap)
        if self._start:
            kind, *args = self._start
            if kind == "tasks":
                self.open_tasks(args[0], args[1] if len(args) > 1 else None)
            elif kind == "compare":
                self.open_compare(int(args[0]), int(args[1]) if len(args) > 1 and args[1]
                                  else None)

    def get_default_screen(self) -> RunsScreen:
        return RunsScreen()

    # --- navigation API (used by screens, the palette and the workbench) ---------------------

    def open_runs(self) -> None:
        """Back to the runs screen (the bottom of the stack)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def open_tasks(self, baseline: str, candidate: str | None) -> None:
        """The tasks screen of a run pair (or of one run against the gold actions)."""
        self.baseline_run, self.candidate_run = baseline, candidate
        self.push_screen(TasksScreen(baseline, candidate))

    def open_compare(self, episode_a: int, episode_b: int | None = None, *,
                     step: int | None = None, step_episode: int | None = None) -> None:
        """The compare screen on two episodes (or one against its task's gold actions)."""
        screen = CompareScreen(episode_a, episode_b, step=step, step_episode=step_episode)
        # the read starts before the screen composes, so the two overlap
        screen.start_load(self)
        self.push_screen(screen)

    def open_task_compare(self, baseline: str, candidate: str | None, task_id: str) -> None:
        """Compare one task across a run pair (for the gate screen: Enter on a task)."""
        conn = da.open_conn(self.store_path)
        try:
            a = da.find_episode(conn, baseline, task_id)
            b = da.find_episode(conn, candidate, task_id) if candidate else None
        finally:
            conn.close()
        if a is None and b is None:
            self.notify(f"task {task_id}: no episode in either run", severity="warning")
            return
        self.open_compare(a if a is not None else b, b if a is not None else None)

    def open_hit(self, hit: da.Hit) -> None:
        """Open a search hit at its step, paired with the other run of the current pair."""
        other = None
        if hit.run_id in (self.baseline_run, self.candidate_run) and self.candidate_run:
            other_run = (self.candidate_run if hit.run_id == self.baseline_run
                         else self.baseline_run)
            conn = da.open_conn(self.store_path)
            try:
                other = da.find_episode(conn, other_run, hit.task_id, hit.trial)
            finally:
                conn.close()
        if other is not None and hit.run_id == self.candidate_run:
            self.open_compare(other, hit.episode_id, step=hit.idx, step_episode=hit.episode_id)
        else:
            self.open_compare(hit.episode_id, other, step=hit.idx, step_episode=hit.episode_id)

    # --- actions ------------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        title = type(self.screen).__name__.replace("Screen", "")
        self.push_screen(HelpScreen(binding_rows(self.screen), title))

    def action_search(self) -> None:
        if not isinstance(self.screen, SearchScreen):
            self.push_screen(SearchScreen())

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_runs(self) -> None:
        self.open_runs()

    def action_workbench(self, name: str) -> None:
        """Hand over to the workbench (editor, rerun launcher, gate, lineage)."""
        try:
            hooks = importlib.import_module(WORKBENCH_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != WORKBENCH_MODULE:
                raise
            self.notify(f"{name}: the workbench is not installed in this build",
                        severity="warning")
            return
        hooks.open(self, name)

    def context(self) -> dict[str, Any]:
        """What the user is looking at (for the workbench): runs, episodes, task."""
        ctx: dict[str, Any] = {"baseline": self.baseline_run, "candidate": self.candidate_run}
        screen = self.screen
        if isinstance(screen, CompareScreen):
            ctx.update(episode_a=screen.episode_a, episode_b=screen.episode_b,
                       task_id=screen.a.task_id if screen.a else None)
        return ctx

    # --- errors -------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker(event)

    def report_worker(self, event: Worker.StateChanged) -> None:
        """Every failed worker becomes a visible notice naming what it was doing."""
        if event.state == WorkerState.ERROR:
            worker = event.worker
            what = worker.description or worker.name or "background task"
            err = worker.error
            self.notify(f"{what} failed: {type(err).__name__}: {err}", severity="error",
                        timeout=12)


def make_app(store_path: str | Path, **kwargs: Any) -> T2EApp:
    """Build the app on a store (tests and snapshots use this factory too)."""
    return T2EApp(store_path, **kwargs)
