"""How the tasks screen reads the store, apart to keep tasks.py small: the load worker in
steps (the first page of a big pair, every row, then hints, then failure classes), each
step's landing on the UI thread (kept out of the full GC passes), and the live poll that reads
again when something was committed.
"""

from __future__ import annotations

from textual import work

from ... import data_access as da
from . import tasks_cells as tc
from .base import freeze_heap
from .tasks_cells import SORTS


class TasksLoading:
    """The reading half of TasksScreen (a mixin: the screen draws what lands here)."""

    def _tick(self) -> None:
        if self.app.screen is self:  # under another screen: no SQL racing its keys (RunsScreen)
            self.poll()

    def _runs(self) -> list[str]:
        return [r for r in (self.baseline, self.candidate) if r]

    @work(thread=True, exclusive=True, group="tasks-load", exit_on_error=False,
          description="loading tasks")
    def load(self) -> None:
        conn = da.open_conn(self.app.store_path)
        try:
            names = tuple(tc.run_label(conn, r) for r in (self.baseline, self.candidate))
            if not self.loaded:  # 10^4 tasks: the first page first, then the rest
                first = da.first_task_rows(conn, self.baseline, self.candidate,
                                           max(60, self.size.height))
                if first is not None:
                    self.app.call_from_thread(self._preview, names, *first)
            # in task order; sig = run_signature as of this read (the poll compares)
            rows, sig = da.read_task_rows(conn, self.baseline, self.candidate)
            # what the first paint needs is measured here, off the UI thread
            view = (tc.longest(rows, self.pair, False, {}), tc.summary(rows),
                    tc.reasons(rows))
            self.app.call_from_thread(self._loaded, rows, sig, names, view)
            if not self.watched:   # tasks of a registered heldout set: said before Enter
                from store.heldout import watched_tasks  # (after the paint: rows first)

                watched = watched_tasks(conn, runs=self._runs())
                if watched:
                    self.app.call_from_thread(self._watched_found, watched)
            # hints need a join over write calls: fill them after the table is on screen
            da.fill_hints(conn, rows, self.pair)
            # every sort order, here rather than on the first `s` (10 ms at 25,000 tasks)
            orders = {key: tc.sorted_rows(rows, key) for key in SORTS}
            self.app.call_from_thread(self._hints_filled, rows, orders)
            from ...analysis.views import episode_classes  # why each failed trial failed
            self.note_labels(conn)  # human labels win: read again when one is added
            classes = episode_classes(conn, self._runs())
            by_task = tc.row_classes(rows, self.pair, classes)
            self.app.call_from_thread(self._classes_filled, classes, by_task)
        finally:
            conn.close()

    @work(thread=True, exclusive=True, group="tasks-poll", exit_on_error=False,
          description="watching the runs for new episodes")
    def poll(self) -> None:
        if not self._look.changed():  # nothing committed since the last look
            return
        conn = da.open_conn(self.app.store_path)
        try:
            sig = da.run_signature(conn, self._runs())
        finally:
            conn.close()
        if sig != self._signature and self.loaded:
            self.app.call_from_thread(self.load)

    def _preview(self, names: tuple, rows: list[da.TaskRow], total: int, longest_id: int
                 ) -> None:
        """The first page of a big pair, whole rows, while the rest is read: the cursor
        moves and Enter opens; filters and sorts apply when every row is in."""
        if self.loaded:
            return
        self.names, self._first, self._total = names, rows, total
        longest = tc.longest(rows, self.pair, False, {})
        longest[0] = max(longest[0], longest_id)  # the id column will not widen later
        self._longest = longest
        self._fit()
        self._apply()

    def _loaded(self, rows: list[da.TaskRow], sig: tuple, names: tuple, view: tuple) -> None:
        self.all_rows, self._signature, self.names = rows, sig, names
        self.loaded, self._first = True, []
        (self._longest, self._summary, self._reasons), self._cells, self._orders = view, {}, {}
        self._fit()
        self._apply()
        self._keep_out_of_gc()

    def _keep_out_of_gc(self) -> None:
        """Each load step (rows, hints, failure classes) lands objects kept for the screen's
        life: out of the full GC passes with them, after the paint. (The classes once stayed
        in reach: ~55k lists at 25,000 tasks, walked by a full pass inside the first `t`.)"""
        self.call_after_refresh(freeze_heap)

    def _watched_found(self, watched: dict) -> None:
        self.watched = watched
        self._title()

    def _classes_filled(self, classes: dict, by_task: dict[str, list[str]]) -> None:
        self.failure_classes, self.row_classes = classes, by_task
        self._cells = {}
        self._fit()
        self._apply()
        self._keep_out_of_gc()

    def _hints_filled(self, rows: list[da.TaskRow], orders: dict[str, list]) -> None:
        # hints are drawn; sort "hints" reads them (orders of an older read are not kept)
        self._cells, self._orders = {}, orders if rows is self.all_rows else {}
        self._apply()
        self._keep_out_of_gc()
