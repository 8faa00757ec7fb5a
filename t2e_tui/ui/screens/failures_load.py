"""How the failures screen reads the store, apart to keep failures.py small: the class table
and counts (started before the screen is composed), the failed episodes when first shown, the
clusters and the flywheel figures on their first view, each in a worker, and a reread when a
label is added. The core (t2e_tui.analysis) decides every class; these only fetch.
"""

from __future__ import annotations

from textual import work

from ... import data_access as da


class FailuresLoading:
    """The reading half of FailuresScreen (a mixin: the screen draws what lands here)."""

    def start_load(self, app) -> None:
        """Start reading before the screen is composed (the two overlap): the class table and
        the failed count; the episode list is read when first shown."""
        self._started, self._pending = True, None
        app.run_worker(lambda: self._read(app), thread=True, exclusive=True, group="failures-load",
                       exit_on_error=False, description="classifying failures")

    def _read(self, app) -> None:
        from store.heldout import watched_tasks

        from ...analysis.cache import unscored_count
        from ...analysis.views import class_table, failed_count, unscored_view

        conn = da.open_conn(app.store_path)
        try:
            self.note_labels(conn)  # human labels win in every class below: reread on a new one
            names = tuple(self._label(conn, r) for r in (self.run, self.vs))
            table = class_table(conn, self.run, self.vs)     # classifies what is not cached
            n_failed = failed_count(conn, self.run)
            n_unscored = unscored_count(conn, self.run)
            # what `t2e failures` lists for them, from the same analyses (one truth)
            found = unscored_view(conn, self.run) if n_unscored else ([], [])
            # this run's (and the baseline's: Enter shows its trace too) tasks of a
            # registered heldout set: the status line says opening them counts as a view
            watched = watched_tasks(conn, runs=(self.run, self.vs))
        finally:
            conn.close()
        app.call_from_thread(self._deliver, names, table, n_failed, n_unscored, *found, watched)

    def labels_changed(self) -> None:
        """A label was added since the last read: the classes, the episodes (if read) and the
        clusters and flywheel (when next shown) are read again; the cursor stays on its
        class or episode (_apply)."""
        self.start_load(self.app)
        if self.episodes_loaded or getattr(self, "_eps_asked", False):
            self.load_episodes()
        self.clusters, self.flywheel_rows, self.flywheel_chart = [], None, {}
        if self.view == "clusters":
            self._load_clusters()
        elif self.view == "flywheel":
            self._load_flywheel()

    def _deliver(self, *data) -> None:
        if self.is_mounted:
            self._loaded(*data)
        else:
            self._pending = data

    @work(thread=True, exclusive=True, group="failures-episodes", exit_on_error=False,
          description="listing failed episodes")
    def load_episodes(self) -> None:
        from ...analysis.views import failed_episodes

        self._fetch(lambda conn: failed_episodes(conn, self.run, ensure=False),
                    self._episodes_loaded)

    def _fetch(self, read, then) -> None:
        """In a worker: `read(conn)` on this thread's own connection, then `then(result)` on
        the UI thread (the episodes, clusters and flywheel workers)."""
        conn = da.open_conn(self.app.store_path)
        try:
            found = read(conn)
        finally:
            conn.close()
        self.app.call_from_thread(then, found)

    @staticmethod
    def _label(conn, run_id: str | None) -> tuple | None:
        """(name, run id, scripted) of a run for the title (the name None: not stored)."""
        if run_id is None:
            return None
        from ...ui_queries import run_name_model

        row = run_name_model(conn, run_id)
        if row is None:
            return None, run_id, False
        return row[0], run_id, (row[1] or "").lower().startswith(da.SCRIPTED)

    def _loaded(self, names, table, n_failed, n_unscored=0, unscored_rows=(),
                unscored_eps=(), watched=None) -> None:
        self.names, self.table_rows, self.n_failed = names, table, n_failed
        self.watched = watched or {}
        self.n_unscored = n_unscored
        self.unscored_rows, self.unscored_eps = list(unscored_rows), list(unscored_eps)
        self.loaded = True
        self._apply()

    def _episodes_loaded(self, eps) -> None:
        self.episodes = eps
        self.episodes_loaded = True
        if self.view == "episodes":
            self._apply()
        else:
            self._title()

    @work(thread=True, exclusive=True, group="failures-clusters", exit_on_error=False,
          description="clustering failures")
    def _load_clusters(self) -> None:
        from ...analysis.cache import analyse_run
        from ...analysis.clusters import cluster

        self._fetch(lambda conn: cluster(analyse_run(conn, self.run)), self._clusters_loaded)

    def _clusters_loaded(self, found) -> None:
        self.clusters = found
        if self.view == "clusters":
            self._apply()

    @work(thread=True, exclusive=True, group="failures-flywheel", exit_on_error=False,
          description="computing the flywheel figures")
    def _load_flywheel(self) -> None:
        from ...analysis.flywheel import flywheel_chart

        self._fetch(flywheel_chart, self._flywheel_loaded)

    def _flywheel_loaded(self, chart) -> None:
        self.flywheel_chart, self.flywheel_rows = chart, chart["rows"]
        if self.view == "flywheel":
            self._apply()
