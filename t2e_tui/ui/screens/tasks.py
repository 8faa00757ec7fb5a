"""The tasks screen for a pair of runs (or one run): outcomes per trial, transition,
termination reasons, failure hints; filters, sorting, live refresh, jump-to-task."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding

from ... import data_access as da
from ... import run_queries as rq
from ...fitting import middle_cut, tell_apart
from ...textsafe import one_line
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LineTable
from ..widgets.textline import TextLine
from .base import ExplorerScreen, freeze_heap, thaw_heap

FILTERS = ("all", "regressed", "fixed", "failed", "flaky")
SORTS = ("task", "transition", "hints")
WIDE = 120  # from this many columns the failure-class column shows
TASK_ID_MAX = 24  # longer ids end in … (the jump picker and compare title show them whole)
_TRANSITION_ORDER = {"regressed": 0, "worsened": 1, "fixed": 2, "improved": 3, "flaky": 4,
                     "both fail": 5, "fail": 5, "both pass": 6, "pass": 6}
_TRANSITION_STYLE = {"regressed": "regressed", "worsened": "fail", "fixed": "fixed",
                     "improved": "pass", "flaky": "warn", "both fail": "dim", "fail": "fail",
                     "both pass": "dim", "pass": "pass", "running": "running",
                     "unscored": "dim"}


def trials_cell(trials: list[da.Trial]) -> list[tuple[str, str]]:
    """✓/✗ per trial; … running; ∅ infrastructure error (excluded from figures); ? no
    reward."""
    out = []
    for t in trials:
        if t.status == "running":
            out.append(("…", "running"))
        elif t.termination == da.INFRA:
            out.append(("∅", "dim"))
        elif t.success:
            out.append(("✓", "pass"))
        elif t.success is None and t.status == "done":
            out.append(("?", "dim"))  # no reward (foreign traces without an outcome)
        else:
            out.append(("✗", "fail"))
    return out or [("–", "dim")]


def merge_hints(hints: list[str]) -> list[str]:
    """`B:x` and `C:x` shown once as `B+C:x`, so a narrow hints column says more."""
    sides: dict[str, list[str]] = {}
    for h in hints:
        side, sep, text = h.partition(":")
        if not sep or side not in ("B", "C"):
            side, text = "", h
        sides.setdefault(text, [])
        if side and side not in sides[text]:
            sides[text].append(side)
    return [f"{'+'.join(sorted(s))}:{t}" if s else t for t, s in sides.items()]


def task_sort_key(task_id: str) -> tuple:
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)


class TasksScreen(ExplorerScreen):
    """One row per task of a run pair. Enter opens the compare screen on that task."""

    HELP_TITLE = "Tasks"

    BINDINGS = [
        Binding("1", "filter('all')", "All", id="tasks.all"),
        Binding("2", "filter('regressed')", "Regressed", id="tasks.regressed"),
        Binding("3", "filter('fixed')", "Fixed", id="tasks.fixed"),
        Binding("4", "filter('failed')", "Cand failed", id="tasks.failed"),
        Binding("5", "filter('flaky')", "Flaky", show=False, id="tasks.flaky"),
        Binding("t", "termination", "Termination", id="tasks.termination"),
        Binding("s", "sort", "Sort", id="tasks.sort"),
        Binding("v", "reverse", "Reverse", show=False, id="tasks.reverse"),
        Binding("g", "jump", "Go to task", id="tasks.jump"),
        Binding("o", "open", "Compare", show=False, id="tasks.open"),
        Binding("f", "failures", "Failures", show=False, id="tasks.failures"),
        Binding("c", "class_filter", "Class", show=False, id="tasks.class"),
        Binding("l", "label", "Label", show=False, id="tasks.label"),
        Binding("r", "rerun_task", "Rerun task", show=False, id="tasks.rerun_task"),
    ]
    # at 80 columns: short labels, and Enter (also o) goes first, so g stays in view
    KEYBAR_SHORT = {"tasks.regressed": "Regr", "tasks.failed": "Cand✗",
                    "tasks.termination": "Term", "tasks.jump": "Go to", "table.select": "Open"}
    KEYBAR_DROP = ("table.select", "back", "search", "quit", "help")

    def __init__(self, baseline: str, candidate: str | None) -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.baseline, self.candidate = baseline, candidate
        self.all_rows: list[da.TaskRow] = []
        self.shown: list[da.TaskRow] = []
        self.filter = "all"
        self.termination: str | None = None
        self.sort = "task"
        self.reverse = False
        self.names = (baseline, candidate)  # labels, once loaded
        self._signature: tuple | None = None
        self.loaded = False
        self._cells: dict[str, list] = {}
        self._orders: dict[str, list[da.TaskRow]] = {}
        self._summary: str | None = None
        self.failure_classes: dict[int, list[str]] = {}   # failed episode -> failure classes (core)
        self.class_filter: str | None = None
        self.wide = False

    @property
    def pair(self) -> bool:
        return self.candidate is not None

    def compose(self) -> ComposeResult:
        yield TextLine(id="tasks-title", classes="title")
        # fixed columns fit their content once rows load (ids like "crossorder-01" must show
        # whole; tau2's "18" needs 4 cells): hints take what is left and end in …
        yield LineTable(self._columns(), id="tasks-table", empty="no finished episodes yet")
        yield TextLine(id="tasks-status", classes="info")
        yield KeyBar()

    def _columns(self) -> list[Column]:
        if self.pair:
            cols = [Column("task", 7, fit=TASK_ID_MAX), Column("base", 6, fit=12),
                    Column("cand", 6, fit=12), Column("transition", 10, fit=10),
                    Column("termination", 16, fit=24), Column("hints", 0)]
        else:
            cols = [Column("task", 7, fit=TASK_ID_MAX), Column("trials", 8, fit=12),
                    Column("outcome", 8, fit=10), Column("termination", 16, fit=24),
                    Column("hints", 0)]
        if self.wide:   # the failure class (#13) only where the hints keep room (c filters)
            cols.insert(-1, Column("class", 5, fit=18))
        return cols

    def on_resize(self, event) -> None:
        wide = event.size.width >= WIDE
        if wide != self.wide:
            self.wide = wide
            table = self.query_one(LineTable)
            table.columns = self._columns()
            self._cells, self._orders = {}, {}
            table.fit_columns([self._cells_of(r) for r in self.all_rows])
            if self.loaded:
                self._apply()
        if self.loaded:
            self._title()  # the names are fitted to the width

    def on_mount(self) -> None:
        self.load()
        interval = getattr(self.app, "poll_interval", 2.0)
        if interval:
            self.set_interval(interval, self.poll)

    def _runs(self) -> list[str]:
        return [r for r in (self.baseline, self.candidate) if r]

    @work(thread=True, exclusive=True, group="tasks-load", exit_on_error=False,
          description="loading tasks")
    def load(self) -> None:
        conn = da.open_conn(self.app.store_path)
        try:
            sig = da.run_signature(conn, self._runs())
            names = tuple(self._label(conn, r) for r in (self.baseline, self.candidate))
            rows = da.task_rows(conn, self.baseline, self.candidate)
            self.app.call_from_thread(self._loaded, rows, sig, names)
            # hints need a join over write calls: fill them after the table is on screen
            da.fill_hints(conn, rows)
            self.app.call_from_thread(self._hints_filled)
            from ...analysis.views import episode_classes  # why each failed trial failed
            classes = episode_classes(conn, self._runs())
            self.app.call_from_thread(self._classes_filled, classes)
        finally:
            conn.close()

    @work(thread=True, exclusive=True, group="tasks-poll", exit_on_error=False,
          description="watching the runs for new episodes")
    def poll(self) -> None:
        conn = da.open_conn(self.app.store_path)
        try:
            sig = da.run_signature(conn, self._runs())
        finally:
            conn.close()
        if sig != self._signature and self.loaded:
            self.app.call_from_thread(self.load)

    def _loaded(self, rows: list[da.TaskRow], sig: tuple, names: tuple) -> None:
        self.all_rows, self._signature, self.names = rows, sig, names
        self.loaded = True
        self._cells, self._orders, self._summary = {}, {}, None
        self.query_one(LineTable).fit_columns([self._cells_of(r) for r in rows])
        self._apply()
        freeze_heap()  # the rows stay for the screen's life: keep GC passes off them

    def on_screen_resume(self) -> None:
        note = getattr(self.app, "note_screen", None)
        if note is not None:  # the next session on this store opens here again
            note("tasks", self.baseline, self.candidate)

    def on_unmount(self) -> None:
        thaw_heap()  # this screen's rows and widgets may now be collected

    def _classes_filled(self, classes: dict) -> None:
        self.failure_classes = classes
        self._cells, self._orders = {}, {}
        self.query_one(LineTable).fit_columns([self._cells_of(r) for r in self.all_rows])
        self._apply()

    def _row_classes(self, r: da.TaskRow) -> list[str]:
        """Classes of the row's failed trials, the candidate's first."""
        out: list[str] = []
        for t in (r.cand if self.pair else []) + r.base:
            for name in self.failure_classes.get(t.episode_id, []):
                if name not in out:
                    out.append(name)
        return out

    def _hints_filled(self) -> None:
        self._cells, self._orders = {}, {}
        self._apply()
        freeze_heap()

    # --- filter / sort ------------------------------------------------------------------------

    def _sorted_all(self) -> list[da.TaskRow]:
        """All rows in the current sort order, computed once per load and sort key, so a
        filter or sort key only walks a list (≤ 50 ms at 10,000 tasks)."""
        cached = self._orders.get(self.sort)
        if cached is not None:
            return cached
        rows = self.all_rows
        if self.sort == "task":
            key = lambda r: task_sort_key(r.task_id)  # noqa: E731
        elif self.sort == "transition":
            key = lambda r: (_TRANSITION_ORDER.get(r.transition, 9),  # noqa: E731
                             task_sort_key(r.task_id))
        else:
            key = lambda r: (-len(r.hints), task_sort_key(r.task_id))  # noqa: E731
        self._orders[self.sort] = out = sorted(rows, key=key)
        return out

    def _visible(self) -> list[da.TaskRow]:
        rows = self._sorted_all()
        if self.filter == "regressed":
            rows = [r for r in rows if r.transition in ("regressed", "worsened")]
        elif self.filter == "fixed":
            rows = [r for r in rows if r.transition in ("fixed", "improved")]
        elif self.filter == "failed":
            # "failed" = failed on the candidate side (the run one is judging); one run
            # alone: failed in it
            rows = [r for r in rows if any(t.status == "done" and not t.success
                                           for t in (r.cand if self.pair else r.base))]
        elif self.filter == "flaky":
            rows = [r for r in rows if r.transition == "flaky"]
        if self.termination:
            rows = [r for r in rows if self.termination in r.terminations()]
        if self.class_filter:
            rows = [r for r in rows if self.class_filter in self._row_classes(r)]
        return list(reversed(rows)) if self.reverse else rows

    def _apply(self) -> None:
        table = self.query_one(LineTable)
        current = self.shown[table.cursor].task_id if self.shown and table.cursor < len(
            self.shown) else None
        self.shown = self._visible()
        cells = [self._cells_of(r) for r in self.shown]
        # an empty table says why: nothing finished yet, or the filter hides every task
        table.empty = ("no finished episodes yet" if not self.all_rows else
                       f"no task matches this filter ({self._filter_words()}): 1 shows all")
        table.set_rows(cells)
        if current is not None:
            idx = next((i for i, r in enumerate(self.shown) if r.task_id == current), None)
            if idx is not None:
                table.move_to(idx)
        self._title()

    def _cells_of(self, r: da.TaskRow) -> list:
        """A row's cells, built once per load (filters and sorts only reorder them)."""
        cached = self._cells.get(r.task_id)
        if cached is not None:
            return cached
        term = ", ".join(t.replace("_", " ") for t in sorted(r.terminations()))
        hints = [(h + "  ", "warn") for h in merge_hints(r.hints)]
        style = _TRANSITION_STYLE.get(r.transition, "")
        names = self._row_classes(r)
        cls = [(names[0] + (f" +{len(names) - 1}" if len(names) > 1 else ""), "fail")] if names else ""
        if self.pair:
            cells = [r.task_id, trials_cell(r.base), trials_cell(r.cand),
                     [(r.transition, style)], term, hints]
        else:
            cells = [r.task_id, trials_cell(r.base), [(r.transition, style)], term, hints]
        if self.wide:
            cells.insert(-1, cls)
        self._cells[r.task_id] = cells
        return cells

    @staticmethod
    def _label(conn, run_id: str | None) -> str | None:
        """`name (id)`, marked when the run's agent is the scripted stand-in."""
        if run_id is None:
            return None
        row = rq.run_label_row(conn, run_id)
        if row is None:
            return run_id
        scripted = (row[1] or "").lower().startswith(da.SCRIPTED)
        return f"{row[0]} ({run_id})" + (" [scripted stand-in]" if scripted else "")

    def _filter_words(self) -> str:
        words = {"all": "all tasks", "regressed": "regressed", "fixed": "fixed",
                 "failed": "failed on the candidate" if self.pair else "failed",
                 "flaky": "flaky"}[self.filter]
        if self.termination:
            words += f", ended {self.termination.replace('_', ' ')}"
        return words

    def _title(self) -> None:
        b, c = self.names
        t = Text()
        t.append("Tasks ", style="bold")
        width = max(20, self.size.width - 2)
        if self.pair:
            # two names of one family differ in the middle: keep that part in view
            room = max(8, (width - len("Tasks base  → cand ")) // 2)
            b, c = tell_apart(b or "", c or "", room)
            t.append("base ", style="dim")
            t.append(b)
            t.append(" → cand ", style="dim")
            t.append(c)
        else:
            t.append(f"{middle_cut(b or '', width - 24)} vs gold actions")
        self.query_one("#tasks-title", TextLine).set(t)
        if self._summary is None:
            counts: dict[str, int] = {}
            for r in self.all_rows:
                counts[r.transition] = counts.get(r.transition, 0) + 1
            self._summary = ", ".join(f"{k} {v}" for k, v in sorted(
                counts.items(), key=lambda kv: _TRANSITION_ORDER.get(kv[0], 9)))
        summary = self._summary
        # what is shown and how first (never cut at 80 columns), then the counts
        status = (f"{len(self.shown)}/{len(self.all_rows)} {self._filter_words()}"
                  + (f" + class {self.class_filter}" if self.class_filter else "")
                  + f" · by {self.sort}{' ↓' if self.reverse else ''} · {summary}"
                  + (" · hints B=base C=cand" if self.pair else ""))
        self.query_one("#tasks-status", TextLine).set(Text(one_line(status, 400), style="dim"))

    def visible_task_ids(self) -> list[str]:
        """Task ids shown now (filters applied): the workbench launcher reruns these."""
        return [r.task_id for r in self.shown]

    def action_filter(self, name: str) -> None:
        self.filter = name
        self._apply()

    def action_termination(self) -> None:
        reasons = sorted({t for r in self.all_rows for t in r.terminations()})
        options = [None] + reasons
        i = options.index(self.termination) if self.termination in options else 0
        self.termination = options[(i + 1) % len(options)]
        self._apply()

    def action_class_filter(self) -> None:
        """Cycle the failure-class filter through the classes present (then off)."""
        present = sorted({n for r in self.all_rows for n in self._row_classes(r)})
        options = [None] + present
        i = options.index(self.class_filter) if self.class_filter in options else 0
        self.class_filter = options[(i + 1) % len(options)]
        self._apply()

    def action_label(self) -> None:
        from .label import label_task_row

        label_task_row(self)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._apply()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._apply()

    @on(LineTable.Selected, "#tasks-table")
    def _selected(self, event: LineTable.Selected) -> None:
        self.open_row(event.row)

    def action_open(self) -> None:
        self.open_row(self.query_one(LineTable).cursor)

    def action_rerun_task(self) -> None:
        """Rerun the task under the cursor for the draft and the baseline (#14)."""
        index = self.query_one(LineTable).cursor
        if not self.shown or index >= len(self.shown):
            return
        row = self.shown[index]
        eid = _first(row.base) or _first(row.cand)
        if eid is not None:
            from ..pairdebug import rerun_task
            rerun_task(self, eid, row.task_id)

    def open_row(self, index: int) -> None:
        if not self.shown or index >= len(self.shown):
            return
        row = self.shown[index]
        a, b = pick_pair(row.base, row.cand) if self.pair else (_first(row.base), None)
        if a is None and b is None:
            self.notify(f"task {row.task_id}: no finished episode to open", severity="warning")
            return
        if a is None:
            a, b = b, None
        self.app.open_compare(a, b)

    def action_failures(self) -> None:
        """Why the (candidate) run's episodes failed, against the baseline of the pair."""
        if self.pair:
            self.app.open_failures(self.candidate, self.baseline)
        else:
            self.app.open_failures(self.baseline)

    def action_jump(self) -> None:
        from .task_jump import open_picker

        open_picker(self.app)

    def go_to_task(self, tid: str) -> None:
        """Put the cursor on task `tid` (clearing filters that hide it) and open it: going
        to a task is to look at it (Escape comes back here)."""
        table = self.query_one(LineTable)
        idx = next((i for i, r in enumerate(self.shown) if r.task_id == tid), None)
        if idx is None:
            self.filter, self.termination, self.class_filter = "all", None, None
            self._apply()
            idx = next((i for i, r in enumerate(self.shown) if r.task_id == tid), 0)
        table.move_to(idx)
        self.open_row(idx)


def _first(trials: list[da.Trial]) -> int | None:
    done = [t for t in trials if t.status == "done"]
    return (done or trials or [None])[0].episode_id if (done or trials) else None


def pick_pair(base: list[da.Trial], cand: list[da.Trial]) -> tuple[int | None, int | None]:
    """Trials to compare: a pair whose outcomes differ when there is one (that is where the
    runs part), else the first finished trial of each."""
    done_b = [t for t in base if t.status == "done"]
    done_c = [t for t in cand if t.status == "done"]
    for tb in done_b:
        for tc in done_c:
            if bool(tb.success) != bool(tc.success):
                return tb.episode_id, tc.episode_id
    return _first(base), _first(cand)
