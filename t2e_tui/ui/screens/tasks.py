"""The tasks screen for a pair of runs (or one run): outcomes per trial, transition,
termination reasons, failure hints; filters, sorting, live refresh, jump-to-task.

Apart: what a row draws and the order and filter of the rows (tasks_cells.py), how the screen
reads the store and polls it (tasks_load.py), the jump picker (task_jump.py)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding

from ... import data_access as da
from ...textsafe import one_line
from ..widgets.fittitle import FitTitle, Part, run_parts
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LazyRows, LineTable
from ..widgets.textline import TextLine, watched_part
from . import tasks_cells as tc
from .base import ExplorerScreen, thaw_heap
from .tasks_cells import FILTERS, SORTS, first_trial, merge_hints, pick_pair, trials_cell
from .tasks_load import TasksLoading

WIDE = 120  # from this many columns the failure-class column shows
TASK_ID_MAX = 24  # longer ids end in … (the jump picker and compare title show them whole)
# re-exported: tests and other screens import these from here
__all__ = ["FILTERS", "SORTS", "merge_hints", "pick_pair", "trials_cell", "TasksScreen"]


class TasksScreen(TasksLoading, ExplorerScreen):
    """One row per task of a run pair. Enter opens the compare screen on that task."""

    HELP_TITLE = "Tasks"

    BINDINGS = [
        Binding("1", "filter('all')", "All", id="tasks.all"),
        Binding("2", "filter('regressed')", "Regressed or worsened", id="tasks.regressed"),
        Binding("3", "filter('fixed')", "Fixed or improved", id="tasks.fixed"),
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
    KEYBAR_SHORT = {"tasks.regressed": "Regr", "tasks.fixed": "Fixed", "tasks.failed": "Cand✗",
                    "tasks.termination": "Term", "tasks.jump": "Go to", "table.select": "Open"}
    KEYBAR_DROP = ("table.select", "back", "search", "quit", "help")

    def __init__(self, baseline: str, candidate: str | None) -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.baseline, self.candidate = baseline, candidate
        self.watched: dict = {}   # task id -> registered heldout/transfer set (a view counts)
        self.all_rows: list[da.TaskRow] = []
        self.shown: list[da.TaskRow] = []
        self.filter = "all"
        self.termination: str | None = None
        self.sort = "task"
        self.reverse = False
        # what the title says of each run (tc.RunName): the ids at once, names when loaded
        self.names = tuple(None if r is None else tc.RunName(None, r)
                           for r in (baseline, candidate))
        self._signature: tuple | None = None
        self.loaded = False
        self._cells: dict[str, list] = {}   # task id -> cells, for rows drawn so far
        self._orders: dict[str, list[da.TaskRow]] = {}
        self._summary = ""                  # transition counts, for the status line
        self._first: list[da.TaskRow] = []  # the first page, shown while the rest is read
        self._total = 0
        self._longest: list[int] = []        # the fitted columns' longest content (no class)
        self._reasons: list[str] = []        # termination reasons present, sorted (`t` cycles)
        self._shown_from: list | None = None  # the all_rows `shown` was taken from
        self.failure_classes: dict[int, list[str]] = {}   # failed episode -> failure classes (core)
        self.row_classes: dict[str, list[str]] = {}       # task id -> its failed trials' classes
        self.class_filter: str | None = None
        self.wide = False

    @property
    def pair(self) -> bool:
        return self.candidate is not None

    def compose(self) -> ComposeResult:
        yield FitTitle(id="tasks-title", classes="title")
        # fixed columns fit their content once rows load (ids like "crossorder-01" must show
        # whole; tau2's "18" needs 4 cells): hints take what is left and end in …
        yield LineTable(self._columns(), id="tasks-table", empty="loading tasks…")
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
            self._cells = {}
            self._fit()
            if self.loaded or self._first:
                self._apply()

    def on_mount(self) -> None:
        self.load()
        self._look = da.Look(getattr(self.app, "store_probe", None))
        self._title()  # the run ids at once; their names and the counts when loaded
        interval = getattr(self.app, "poll_interval", 2.0)
        if interval:
            self.set_interval(interval, self._tick)

    def on_screen_resume(self) -> None:
        note = getattr(self.app, "note_screen", None)
        if note is not None:  # the next session on this store opens here again
            note("tasks", self.baseline, self.candidate)
        if self.loaded and getattr(self.app, "poll_interval", 0):
            self.poll()  # what changed while another screen was on top

    def labels_changed(self) -> None:
        self.load()  # the class column and filter (the cursor stays on its row)

    def on_unmount(self) -> None:
        thaw_heap()  # this screen's rows and widgets may now be collected


    def _fit(self) -> None:
        """Fixed columns to their longest content, measured on the data (every row, not only
        the filtered ones, so widths stay put when a filter changes)."""
        if not self._longest:
            return  # nothing read yet: the columns keep their starting widths
        longest = list(self._longest)
        if self.wide:
            longest.insert(-1, tc.class_width(self.row_classes))
        self.query_one(LineTable).fit_widths(longest)

    # --- filter / sort ------------------------------------------------------------------------

    def _sorted_all(self) -> list[da.TaskRow]:
        """All rows in the current sort order, computed once per load and sort key, so a
        filter or sort key only walks a list."""
        cached = self._orders.get(self.sort)
        if cached is None:
            cached = self._orders[self.sort] = tc.sorted_rows(self.all_rows, self.sort)
        return cached

    def _visible(self) -> list[da.TaskRow]:
        rows = tc.filtered(self._sorted_all(), self.filter, self.pair, self.termination,
                           self.class_filter, self.row_classes)
        return rows[::-1] if self.reverse else rows

    def _apply(self) -> None:
        table = self.query_one(LineTable)
        current = self.shown[table.cursor] if self.shown and table.cursor < len(
            self.shown) else None
        # a full read makes new row objects: the cursor's row is then found by its task id
        same_rows = self._shown_from is self.all_rows
        self.shown = self._visible() if self.loaded else self._first
        self._shown_from = self.all_rows if self.loaded else None
        # an empty table says why: nothing finished yet, or the filter hides every task
        table.empty = ("loading tasks…" if not self.loaded else
                       "no finished episodes yet" if not self.all_rows else
                       f"no task matches this filter ({self._filter_words()}): 1 shows all")
        table.set_rows(LazyRows(self.shown, self._cells_of))  # cells built as lines are drawn
        if current is not None:  # the cursor stays on its task
            idx = _index(self.shown, current, by_id=not same_rows)
            if idx is not None:
                table.move_to(idx)
        self._title()

    def _cells_of(self, r: da.TaskRow) -> list:
        """A row's cells, built when it is first drawn (filters and sorts only reorder)."""
        cells = self._cells.get(r.task_id)
        if cells is None:
            cells = self._cells[r.task_id] = tc.row_cells(
                r, self.pair, self.wide, self.row_classes.get(r.task_id, []))
        return cells

    def _filter_words(self) -> str:
        # the 2 and 3 filters keep both kinds of move (tasks_cells._IN_FILTER): say so, or
        # "1101/25000 regressed" sits beside "regressed 1276, worsened 6424" and means neither
        words = {"all": "all tasks", "regressed": "regressed or worsened",
                 "fixed": "fixed or improved",
                 "failed": "failed on the candidate" if self.pair else "failed",
                 "flaky": "flaky"}[self.filter]
        if self.termination:
            words += f", ended {self.termination.replace('_', ' ')}"
        return words

    def _title(self) -> None:
        b, c = self.names
        parts = [Part("Tasks ", "bold")]
        if self.pair:
            # fitted to the width by FitTitle: the labels go first, then the ids (unless the
            # names are the same), then the two names are cut apart (never to look the same)
            same = b is not None and c is not None and b.name == c.name
            parts += run_parts(("base ", ""), *_name(b), keep_id=same, scripted=_scripted(b))
            parts += run_parts((" → cand ", " → "), *_name(c), keep_id=same,
                               scripted=_scripted(c))
        else:
            parts += run_parts("", *_name(b), scripted=_scripted(b))
            # foreign traces (OpenTelemetry, ATIF) carry no gold to compare against
            parts.append(Part((" · no gold (foreign traces)", " · no gold")
                              if b is not None and b.foreign
                              else (" vs gold actions", " vs gold"), give=4))
        self.query_one("#tasks-title", FitTitle).set_lines(parts)
        self.query_one("#tasks-status", TextLine).set(self._status_parts())

    def _status_parts(self) -> list[Part]:
        """What is shown and how first (never cut at 80 columns), then the counts; the hint
        legend gives way first, whole or not at all (F1 shows the line whole)."""
        # opening a task of a registered heldout set shows its trace: a view the gate counts
        warn = [watched_part(self.watched)] if self.watched else []
        if not self.loaded:
            return warn + [Part(f"first {len(self._first)} of {self._total:,} tasks · "
                                "loading the rest…" if self._first else "loading tasks…",
                                "dim", give=1, cut="end", least=16)]
        parts = warn + [Part(f"{len(self.shown)}/{len(self.all_rows)} {self._filter_words()}",
                      "dim", give=1, cut="end", least=24)]
        if self.class_filter:
            parts.append(Part(f" + class {one_line(self.class_filter, 80)}", "dim", give=1,
                              cut="end", least=12))
        parts += [Part(f" · by {self.sort}{' ↓' if self.reverse else ''}", "dim"),
                  Part(f" · {one_line(self._summary, 300)}", "dim", give=2, cut="end",
                       least=16)]
        if self.pair:
            parts.append(Part((" · hints B=base C=cand", " · B=base C=cand", ""), "dim",
                              give=3))
        return parts

    def visible_task_ids(self) -> list[str]:
        """Task ids shown now (filters applied): the workbench launcher reruns these."""
        return [r.task_id for r in self.shown] if self.loaded else []

    def action_filter(self, name: str) -> None:
        self.filter = name
        self._apply()

    def action_termination(self) -> None:
        options = [None] + self._reasons  # read with the rows, off the UI thread
        i = options.index(self.termination) if self.termination in options else 0
        self.termination = options[(i + 1) % len(options)]
        self._apply()

    def action_class_filter(self) -> None:
        """Cycle the failure-class filter through the classes present (then off)."""
        present = sorted({n for names in self.row_classes.values() for n in names})
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
        eid = first_trial(row.base) or first_trial(row.cand)
        if eid is not None:
            from ..pairdebug import rerun_task
            rerun_task(self, eid, row.task_id)

    def open_row(self, index: int) -> None:
        if not self.shown or index >= len(self.shown):
            return
        row = self.shown[index]
        a, b = pick_pair(row.base, row.cand) if self.pair else (first_trial(row.base), None)
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


def _index(rows: list[da.TaskRow], row: da.TaskRow, by_id: bool) -> int | None:
    """Where `row` is in `rows`: by identity (list.index, in C), else, only when `by_id` (a
    reload made new row objects), by task id (a 2 ms scan at 25,000 tasks)."""
    try:
        return rows.index(row)
    except ValueError:
        if not by_id:
            return None
        return next((i for i, r in enumerate(rows) if r.task_id == row.task_id), None)


def _name(run) -> tuple[str | None, str | None]:
    return (None, None) if run is None else (run.name, run.run_id)


def _scripted(run) -> bool:
    return run is not None and run.scripted
