"""The Textual app: runs → tasks → compare, search, help, palette. Built by `make_app`.

The app only asks; the core (data_access, align, store, gate) answers. Store reads happen in
named thread workers, each with its own SQLite connection; a failed worker becomes a visible
notice (see `on_worker_state_changed`); the rerun launcher's plan and estimate too, the
newest form state's result winning (`LauncherScreen.refresh_estimate`). One measured exception:
the compare screen reads a small pair (<= SYNC_STEPS steps, ~10 ms) before it composes, so it
paints once (`CompareScreen.start_load`). Not yet moved (small, one row each): what a key asks
for directly, i.e. saving a version, registering a heldout set, recording a gate decision and
the gate's decision history, opening a proposal from the evolve screen.

Workbench: the bindings with ids "edit", "rerun", "gate" and "lineage" call
`action_workbench(name)`, which hands over to `screens/workbench_hooks.open(app, name)`. Other
screens open the explorer through `open_runs`, `open_tasks`, `open_compare` and
`open_task_compare`.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Callable

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from store import inuse

from .. import data_access as da
from .. import session_state
from ..textsafe import clean, one_line
from . import safe_render
from .commands import AppActions
from .gc_pacing import IdleCollector
from .screens import workbench_hooks
from .screens.compare import CompareScreen
from .screens.help import HelpScreen, binding_rows, shortened_lines
from .screens.runs import RunsScreen
from .screens.search import SearchScreen
from .screens.tasks import TasksScreen


class T2EApp(App):
    """The t2e explorer on one store."""

    CSS_PATH = "app.tcss"
    TITLE = "t2e"
    # one provider, app actions first; Textual's system commands (theme, quit, keys) are in it
    COMMANDS = {AppActions}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("f1", "help", "Help", id="help"),
        # many terminals (and tmux setups) take F1 for themselves
        Binding("question_mark", "help", "Help", show=False, id="help_question"),
        Binding("slash", "search", "Search", id="search"),
        Binding("escape", "back", "Back", id="back"),
        Binding("f2", "runs", "Runs", show=False, id="runs"),
        Binding("e", "workbench('edit')", "Edit", show=False, id="edit"),
        Binding("R", "workbench('rerun')", "Rerun", show=False, id="rerun"),
        Binding("G", "workbench('gate')", "Gate", show=False, id="gate"),
        Binding("L", "workbench('lineage')", "Lineage", show=False, id="lineage"),
        Binding("V", "evolve", "Evolve", show=False, id="evolve"),
    ]

    def __init__(self, store_path: str | Path, *, keymap: dict[str, str] | None = None,
                 poll_interval: float = 2.0, load_config: bool = True,
                 start: tuple[str, ...] | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 remember: bool | None = None, session: dict | None = None) -> None:
        safe_render.install()  # before anything is drawn: every strip is cleaned
        # NO_COLOR: Textual pops it in App.__init__ and greys everything; read it first so
        # the theme can also use the terminal's own few colours (ansi-dark)
        no_color = bool(os.environ.get("NO_COLOR"))
        super().__init__()
        self.no_color_env = no_color
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
        # theme, marks and last screen are remembered per store in the XDG state dir;
        # tests that pass load_config=False get a clean slate unless they ask for it
        self.remember = load_config if remember is None else remember
        self.restored_marks: tuple[str | None, str | None] = (None, None)
        # follow mode (#14, ui/follow.py): {"name": ...} leads, {"follow": id, ...} follows
        self._session = session
        self.session_link: Any = None
        # the screens' polls ask it whether anything was committed since their last look;
        # the session link writes through it (data_access.ChangeProbe)
        self.store_probe = da.ChangeProbe(self.store_path)
        # the store stays ours while we run: a `t2e demo` rebuild is refused meanwhile, and a
        # file replaced anyway (by something that did not ask) is noticed (check_store)
        self._store_hold = inuse.hold_open(self.store_path)
        self._store_identity = inuse.identity(self.store_path)
        self.store_replaced = False
        self.gc_pacer = IdleCollector(self)  # full GC passes after a key's frame, not in it

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)) and not event.is_forwarded:
            self.gc_pacer.input_seen()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.gc_pacer.stop()
        self.store_probe.close()
        if self._store_hold is not None:
            self._store_hold.close()
            self._store_hold = None

    def check_store(self) -> bool:
        """True (and said once, loudly) when the file at the store path is no longer the one
        the app opened: what the screens show is stale and ids may point elsewhere."""
        return self._store_seen(inuse.identity(self.store_path))

    @work(thread=True, exclusive=True, group="store-watch", exit_on_error=False,
          description="watching the store file")
    def _watch_store(self) -> None:
        now = inuse.identity(self.store_path)  # a read: off the UI thread
        if now != self._store_identity:
            self.call_from_thread(self._store_seen, now)

    def _store_seen(self, now: tuple | None) -> bool:
        if self.store_replaced:
            return True
        if now == self._store_identity:
            return False
        self.store_replaced = True
        self.notify(f"the store {self.store_path} was replaced since the app opened it (a "
                    "rebuild?): what is on screen is stale; quit (q) and open it again",
                    severity="error", timeout=60)
        refresh = getattr(self.screen_stack[0], "refresh_title", None)
        if refresh is not None:
            refresh()
        return True

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Notices often quote trace text (a task id, an error): shown as plain text, never
        read as markup, controls stripped."""
        super().notify(clean(message, 2000)[0], title=one_line(title, 200), severity=severity,
                       timeout=timeout, markup=False)

    def on_mount(self) -> None:
        self.gc_pacer.start()
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
        self._restore_theme()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self._start is None and self.remember:
            self._restore_session()
        if self._session is not None:
            from .follow import SessionLink

            self.session_link = SessionLink(self, **self._session)
            self.session_link.start()
        if self.poll_interval:
            self.set_interval(self.poll_interval, self._watch_store)
        if self._start:
            kind, *args = self._start
            if kind == "tasks":
                self.open_tasks(args[0], args[1] if len(args) > 1 else None)
            elif kind == "compare":
                step = int(args[2]) if len(args) > 2 and args[2] else None  # a deep link's
                # (of that episode: the first, unless a step of B was asked for)
                on = int(args[3]) if len(args) > 3 and args[3] else int(args[0])
                self.open_compare(int(args[0]), int(args[1]) if len(args) > 1 and args[1]
                                  else None, step=step,
                                  step_episode=on if step is not None else None)

    def get_default_screen(self) -> RunsScreen:
        return RunsScreen()

    # --- remembered between sessions (t2e_tui/session_state.py) -------------------------------

    def _restore_theme(self) -> None:
        name = session_state.theme() if self.remember else None
        if name is None and self.no_color_env:
            name = "ansi-dark"  # the terminal's own colours, greyed by Textual's NO_COLOR filter
        if name in self.available_themes:
            self.theme = name

    def _theme_changed(self, theme) -> None:
        if self.remember:
            session_state.remember(theme=theme.name)

    def _restore_session(self) -> None:
        """Marks and the last screen of this store, when its runs and episodes still exist
        (a rebuilt store has new ids: then nothing is restored)."""
        entry = session_state.for_store(self.store_path)
        conn = da.open_conn(self.store_path)
        try:
            from ..ui_queries import episode_exists, run_ids

            runs = run_ids(conn)

            def episode_ok(eid) -> bool:
                return eid is None or (isinstance(eid, int) and episode_exists(conn, eid))

            marks = [m if m in runs else None for m in (entry.get("baseline"),
                                                        entry.get("candidate"))]
            screen = entry.get("screen") or []
            ok = (isinstance(screen, list) and len(screen) >= 3 and screen[1] in runs
                  and (screen[2] is None or screen[2] in runs))
            if ok and screen[0] == "compare":
                ok = len(screen) == 5 and episode_ok(screen[3]) and screen[3] is not None \
                    and episode_ok(screen[4])
        finally:
            conn.close()
        self.restored_marks = (marks[0], marks[1])
        self.baseline_run, self.candidate_run = self.restored_marks
        if ok and screen[0] in ("tasks", "compare"):
            self.open_tasks(screen[1], screen[2])
            if screen[0] == "compare":
                self.open_compare(screen[3], screen[4])

    def note_marks(self, baseline: str | None, candidate: str | None) -> None:
        """The runs screen's marks changed: remember them for this store."""
        if self.remember:
            session_state.remember(self.store_path, baseline=baseline, candidate=candidate)

    def note_screen(self, *where) -> None:
        """A screen came to the top: remember it (`"runs"`, `"tasks", b, c` or
        `"compare", b, c, episode_a, episode_b`)."""
        if self.remember:
            session_state.remember(self.store_path, screen=list(where))

    # --- navigation API (used by screens, the palette and the workbench) ---------------------

    def open_runs(self) -> None:
        """Back to the runs screen (the bottom of the stack)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def open_tasks(self, baseline: str, candidate: str | None) -> None:
        """The tasks screen of a run pair (or of one run against the gold actions)."""
        self.baseline_run, self.candidate_run = baseline, candidate
        self.push_screen(TasksScreen(baseline, candidate))

    def open_failures(self, run: str, vs: str | None = None) -> None:
        """The failures screen of a run (against a baseline when given)."""
        from .screens.failures import FailuresScreen

        screen = FailuresScreen(run, vs)
        screen.start_load(self)      # the read overlaps the screen's composition
        self.push_screen(screen)

    def open_compare(self, episode_a: int, episode_b: int | None = None, *,
                     step: int | None = None, step_episode: int | None = None) -> None:
        """The compare screen on two episodes (or one against its task's gold actions)."""
        screen = CompareScreen(episode_a, episode_b, step=step, step_episode=step_episode)
        # the read starts before the screen composes, so the two overlap
        screen.start_load(self)
        self.push_screen(screen)

    def open_task_compare(self, baseline: str, candidate: str | None, task_id: str) -> None:
        """Compare one task across a run pair (for the gate screen: Enter on a task). The
        episodes are looked up in a worker; the compare screen opens when they are known."""
        from ..trial_pair import task_pair

        def find() -> None:
            conn = da.open_conn(self.store_path)
            try:  # the trials that show the difference, as the tasks screen and the
                # gate reports pick them
                a, b = task_pair(conn, baseline, candidate, task_id)
            finally:
                conn.close()
            self.call_from_thread(self._open_found, task_id, a, b)

        self.run_worker(find, thread=True, group="open-task", exit_on_error=False,
                        description=f"finding task {task_id}'s episodes")

    def _open_found(self, task_id: str, a: int | None, b: int | None) -> None:
        if a is None and b is None:
            self.notify(f"task {task_id}: no episode in either run", severity="warning")
            return
        self.open_compare(a if a is not None else b, b if a is not None else None)

    def open_hit(self, hit: da.Hit) -> None:
        """Open a search hit at its step, paired with the other run of the current pair (the
        other run's episode is looked up in a worker)."""
        if not (hit.run_id in (self.baseline_run, self.candidate_run) and self.candidate_run):
            self._open_hit(hit, None)
            return
        other_run = (self.candidate_run if hit.run_id == self.baseline_run
                     else self.baseline_run)

        def find() -> None:
            conn = da.open_conn(self.store_path)
            try:
                other = da.find_episode(conn, other_run, hit.task_id, hit.trial)
            finally:
                conn.close()
            self.call_from_thread(self._open_hit, hit, other)

        self.run_worker(find, thread=True, group="open-hit", exit_on_error=False,
                        description="finding the other run's episode")

    def _open_hit(self, hit: da.Hit, other: int | None) -> None:
        if other is not None and hit.run_id == self.candidate_run:
            self.open_compare(other, hit.episode_id, step=hit.idx, step_episode=hit.episode_id)
        else:
            self.open_compare(hit.episode_id, other, step=hit.idx, step_episode=hit.episode_id)

    # --- actions ------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """q and ctrl+q: quit, but a screen holding unsaved work (the editor's draft) asks
        first, as its own Escape does."""
        holder = next((s for s in reversed(self.screen_stack)
                       if getattr(s, "unsaved", False) and hasattr(s, "confirm_leave")), None)
        if holder is None:
            self.exit()
        else:
            holder.confirm_leave(self.exit)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        title = getattr(self.screen, "HELP_TITLE", None) or re.sub(
            r"(?<=[a-z])(?=[A-Z])", " ", type(self.screen).__name__.replace("Screen", ""))
        self.push_screen(HelpScreen(binding_rows(self.screen), title,
                                    shortened_lines(self.screen)))

    def action_search(self) -> None:
        if not isinstance(self.screen, SearchScreen):
            self.push_screen(SearchScreen())

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_runs(self) -> None:
        self.open_runs()

    def action_evolve(self) -> None:
        """The evolve loop's live proposal tree (t2e evolve's screen)."""
        from .screens.evolve import EvolveScreen

        if not isinstance(self.screen, EvolveScreen):
            self.push_screen(EvolveScreen())

    def action_workbench(self, name: str) -> None:
        """Hand over to the workbench (editor, rerun launcher, gate, lineage)."""
        workbench_hooks.open(self, name)

    def action_follow_take_over(self) -> None:
        if self.session_link is not None:
            self.session_link.take_over()

    def action_follow_stop(self) -> None:
        if self.session_link is not None:
            self.session_link.stop()

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
            from ..errors import error_text

            self.notify(f"{what} failed: {error_text(worker.error)}", severity="error",
                        timeout=12)


def make_app(store_path: str | Path, **kwargs: Any) -> T2EApp:
    """Build the app on a store (tests and snapshots use this factory too)."""
    return T2EApp(store_path, **kwargs)
