"""What every explorer screen shares: worker failures become visible notices, evidence views
of the episodes whose content a screen shows, fresh failure classes after a label, and a way to
keep large loaded data out of the cyclic garbage collector's full passes.

Worker.StateChanged does not bubble, so each screen forwards it to the app's one handler.
"""

from __future__ import annotations

import gc

from textual import on
from textual.events import ScreenResume
from textual.screen import Screen
from textual.worker import Worker


def freeze_heap() -> None:
    """Move every object alive now out of the cyclic GC's reach (`gc.freeze`).

    Why: with a 10,000-task pair loaded the heap holds ~200k tracked objects and each full
    (generation 2) collection takes 100-200 ms; those land on random keypresses (compare open
    ~285 ms, a cursor move ~260 ms in bench/tui.py). Frozen objects are still freed by
    reference counting; only cycles among them wait for `thaw_heap`. Young garbage is swept
    first so short-lived cycles are not frozen with the data."""
    gc.collect(1)
    gc.freeze()


def thaw_heap() -> None:
    """Give frozen objects back to the collector (a screen holding big data went away)."""
    gc.unfreeze()


class ExplorerScreen(Screen):
    """A screen whose failed workers are reported by `T2EApp.report_worker`."""

    # the labels (analysis.labels.labels_stamp) as of this screen's last read of failure
    # classes; None for a screen that shows none
    labels_read: tuple[int, int] | None = None

    def note_labels(self, conn) -> None:
        """Called by a read that shows failure classes (in its worker, before it reads them):
        back on top with other labels in the store, the screen reads them again."""
        from ...analysis.labels import labels_stamp

        self.labels_read = labels_stamp(conn)

    def labels_changed(self) -> None:
        """Read again what shows failure classes (screens that show them override)."""

    @on(ScreenResume)
    def _reread_if_labelled(self) -> None:
        """A label made while another screen was on top (the label dialog, the compare
        screen opened from here, `t2e label` in a shell) shows when this one is back: every
        screen that shows failure classes goes through here (human labels win there)."""
        if self.labels_read is None:
            return
        from ... import data_access as da
        from ...analysis.labels import labels_stamp

        conn = da.open_conn(self.app.store_path)
        try:
            now = labels_stamp(conn)
        finally:
            conn.close()
        if now != self.labels_read:
            self.labels_read = now
            self.labels_changed()

    def record_views(self, episode_ids, via: str) -> None:
        """Evidence views (the gate's leakage guard) of the episodes whose content this screen
        shows now (message text, tool calls, words drawn from them), once each per screen,
        tagged with the candidate being drafted; written in a worker (a write may wait for
        the store's lock) through `data_access.record_views`, the one writer of views."""
        from ... import data_access as da

        viewed = self.__dict__.setdefault("_views_recorded_of", set())
        new = sorted({int(e) for e in episode_ids if e is not None} - viewed)
        if not new:
            return
        viewed.update(new)
        app = self.app
        drafting = getattr(app, "drafting_candidate", None)

        def write() -> None:
            conn = da.open_conn(app.store_path)
            try:
                da.record_views(conn, new, via=via, drafting_candidate=drafting)
            finally:
                conn.close()
        # not exclusive: a later worker must not cancel an earlier one's views
        app.run_worker(write, thread=True, group="evidence-views", exit_on_error=False,
                       description="recording evidence views")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)
