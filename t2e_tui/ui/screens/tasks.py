"""The tasks screen for a pair of runs (or one run): outcomes per trial, transition,
termination reasons, failure hints; filters, sorting, live refresh, jump-to-task."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import SimpleCommand

from ... import data_access as da
from ... import run_queries as rq
from ...textsafe import one_line
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LineTable
from ..widgets.textline import TextLine
from .base import ExplorerScreen, freeze_heap, thaw_heap

FILTERS = ("all", "regressed", "fixed", "failed", "flaky")
SORTS = ("task", "transition", "hints")
TASK_ID_MAX = 24  # longer ids end in … (the jump picker and compare title show them whole)
_TRANSITION_ORDER = {"regressed": 0, "worsened": 1, "fixed": 2, "improved": 3, "flaky": 4,
                     "both fail": 5, "fail": 5, "both pass": 6, "pass": 6}
_TRANSITION_STYLE = {"regressed": "regressed", "worsened": "fail", "fixed": "fixed",
                     "improved": "pass", "flaky": "warn", "both fail": "dim", "fail": "fail",
                     "both pass": "dim", "pass": "pass", "running": "running"}


def trials_cell(trials: list[da.Trial]) -> list[tuple[str, str]]:
    """✓/✗ per trial; … running; ∅ infrastructure error (excluded from figures)."""
    out = []
    for t in trials:
        if t.status == "running":
            out.append(("…", "running"))
        elif t.termination == da.INFRA:
            out.append(("∅", "dim"))
        elif t.success:
            out.append(("✓", "pass"))
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

    BINDINGS = [
        Binding("1", "filter('all')", "All", id="tasks.all"),
        Binding("2", "filter('regressed')", "Regressed", id="tasks.regressed"),
        Binding("3", "filter('fixed')", "Fixed", id="tasks.fixed"),
        Binding("4", "filter('failed')", "Failed", id="tasks.failed"),
        Binding("5", "filter('flaky')", "Flaky", show=False, id="tasks.flaky"),
        Binding("t", "termination", "Termination", id="tasks.termination"),
        Binding("s", "sort", "Sort", id="tasks.sort"),
        Binding("v", "reverse", "Reverse", show=False, id="tasks.reverse"),
        Binding("g", "jump", "Jump to task", id="tasks.jump"),
        Binding("o", "open", "Compare", show=False, id="tasks.open"),
    ]

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

    @property
    def pair(self) -> bool:
        return self.candidate is not None

    def compose(self) -> ComposeResult:
        yield TextLine(id="tasks-title", classes="title")
        # fixed columns fit their content once rows load (ids like "crossorder-01" must show
        # whole; tau2's "18" needs 4 cells): hints take what is left and end in …
        if self.pair:
            cols = [Column("task", 7, fit=TASK_ID_MAX), Column("base", 6, fit=12),
                    Column("cand", 6, fit=12), Column("transition", 10, fit=10),
                    Column("termination", 16, fit=24), Column("hints", 0)]
        else:
            cols = [Column("task", 7, fit=TASK_ID_MAX), Column("trials", 8, fit=12),
                    Column("outcome", 8, fit=10), Column("termination", 16, fit=24),
                    Column("hints", 0)]
        yield LineTable(cols, id="tasks-table", empty="no finished episodes yet")
        yield TextLine(id="tasks-status", classes="info")
        yield KeyBar()

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

    def on_unmount(self) -> None:
        thaw_heap()  # this screen's rows and widgets may now be collected

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
            rows = [r for r in rows if r.failed()]
        elif self.filter == "flaky":
            rows = [r for r in rows if r.transition == "flaky"]
        if self.termination:
            rows = [r for r in rows if self.termination in r.terminations()]
        return list(reversed(rows)) if self.reverse else rows

    def _apply(self) -> None:
        table = self.query_one(LineTable)
        current = self.shown[table.cursor].task_id if self.shown and table.cursor < len(
            self.shown) else None
        self.shown = self._visible()
        cells = [self._cells_of(r) for r in self.shown]
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
        if self.pair:
            cells = [r.task_id, trials_cell(r.base), trials_cell(r.cand),
                     [(r.transition, style)], term, hints]
        else:
            cells = [r.task_id, trials_cell(r.base), [(r.transition, style)], term, hints]
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

    def _title(self) -> None:
        b, c = self.names
        t = Text()
        if self.pair:
            t.append("Tasks ", style="bold")
            t.append(f"baseline {b} → candidate {c}")
        else:
            t.append("Tasks ", style="bold")
            t.append(f"{b} vs gold actions")
        self.query_one("#tasks-title", TextLine).set(t)
        if self._summary is None:
            counts: dict[str, int] = {}
            for r in self.all_rows:
                counts[r.transition] = counts.get(r.transition, 0) + 1
            self._summary = " · ".join(f"{k} {v}" for k, v in sorted(
                counts.items(), key=lambda kv: _TRANSITION_ORDER.get(kv[0], 9)))
        summary = self._summary
        status = (f"{len(self.shown)}/{len(self.all_rows)} tasks · filter {self.filter}"
                  + (f" + {self.termination}" if self.termination else "")
                  + f" · sort {self.sort}{' ↓' if self.reverse else ''} · {summary}"
                  + " · hints B: baseline, C: candidate")
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

    def action_jump(self) -> None:
        table = self.query_one(LineTable)

        def go(tid: str) -> None:
            idx = next((i for i, r in enumerate(self.shown) if r.task_id == tid), None)
            if idx is None:  # hidden by a filter: clear filters to show it
                self.filter, self.termination = "all", None
                self._apply()
                idx = next((i for i, r in enumerate(self.shown) if r.task_id == tid), 0)
            table.move_to(idx)

        cmds = [SimpleCommand(f"task {r.task_id}", (lambda t=r.task_id: go(t)),
                              f"{r.transition} {' '.join(r.hints)}".strip())
                for r in sorted(self.all_rows, key=lambda r: task_sort_key(r.task_id))]
        self.app.search_commands(cmds, placeholder="Jump to task…")


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
