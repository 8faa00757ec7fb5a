"""The failures screen: why a run's episodes failed (explained classes from
t2e_tui.analysis), class counts with deltas against a baseline, the failed episodes of a class,
clusters. Enter on an episode opens the compare screen at its first divergence.

Views (keys): 1 classes, 2 episodes (of the class under the cursor, or all), 3 clusters.
The core decides every class; this screen only shows them (human labels win there too).
How it reads them (workers, rereads after a label) is in failures_load.py."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from ... import data_access as da
from ...textsafe import one_line
from ..widgets.fittitle import FitTitle, Part, run_parts
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LineTable
from ..widgets.textline import TextLine, watched_part
from .base import ExplorerScreen
from .failures_load import FailuresLoading

VIEWS = ("classes", "episodes", "clusters", "flywheel")
UNSCORED_NOTE = "in unscored episodes: not failures"


def _key(item) -> tuple:
    """What a row of the screen is, to find it again in a reread list."""
    if isinstance(item, dict):
        return ("class", item["class"], bool(item.get("unscored")))
    if hasattr(item, "episode_id"):
        return ("episode", item.episode_id, item.unscored)
    if hasattr(item, "representative"):
        return ("cluster", item.representative)
    return ("row", str(item[0]) if item else "")


def _delta_cell(d: int) -> list:
    # more failures of a class is worse
    return [(f"{d:+d}", "fail" if d > 0 else "pass" if d < 0 else "dim")]


class FailuresScreen(FailuresLoading, ExplorerScreen):
    """Failure classes of `run` (the candidate), against `vs` (the baseline) when given."""

    BINDINGS = [
        Binding("1", "view('classes')", "Classes", id="failures.classes"),
        Binding("2", "view('episodes')", "Episodes", id="failures.episodes"),
        Binding("3", "view('clusters')", "Clusters", id="failures.clusters"),
        Binding("4", "view('flywheel')", "Flywheel", id="failures.flywheel"),
        Binding("a", "all_classes", "All classes", show=False, id="failures.all"),
    ]
    KEYBAR_SHORT = {"failures.classes": "Class", "failures.episodes": "Eps",
                    "failures.clusters": "Clust", "failures.flywheel": "Fly"}

    def __init__(self, run: str, vs: str | None = None) -> None:
        super().__init__()
        self.run, self.vs = run, vs
        self.view = "classes"
        self.table_rows: list[dict] = []
        self.episodes: list = []
        self.clusters: list = []
        self.class_filter: str | None = None
        self.filter_unscored = False   # the class filter is of unscored findings
        self.unscored_rows: list[dict] = []   # `t2e failures`' unscored_counts, as rows
        self.unscored_eps: list = []          # ... and its unscored_findings
        self.names: tuple = ((None, run, False), (None, vs, False) if vs else None)
        self.loaded = False
        self.episodes_loaded = False
        self.n_failed = 0
        self.flywheel_rows: list | None = None
        self.flywheel_chart: dict = {}     # analysis.flywheel.flywheel_chart: rows, basis, empty
        self._shown: list = []
        self.watched: dict = {}   # task id -> registered heldout/transfer set (a view counts)

    def compose(self) -> ComposeResult:
        yield FitTitle([Part("Failures", "bold")], id="fail-title", classes="title")
        yield LineTable(self._columns(), id="fail-table", empty="no failed episodes")
        yield Static(id="fail-why", classes="note")
        yield TextLine(id="fail-status", classes="info")
        yield KeyBar()

    def _columns(self) -> list[Column]:
        if self.view == "classes":
            if self.vs:
                return [Column("class", 20), Column("base", 6, "right"),
                        Column("cand", 6, "right"), Column("Δ", 5, "right"), Column("", 0)]
            return [Column("class", 20), Column("episodes", 8, "right"), Column("", 0)]
        if self.view == "episodes":
            return [Column("task", 8, fit=16), Column("tr", 3), Column("step", 5, "right"),
                    Column("classes", 0)]
        if self.view == "flywheel":
            return [Column("per version", 20), Column("trend", 12, fit=24), Column("values", 0)]
        return [Column("size", 5, "right"), Column("class", 18), Column("shared features", 0)]

    def on_mount(self) -> None:
        if not getattr(self, "_started", False):
            self.start_load(self.app)
        elif getattr(self, "_pending", None) is not None:
            self._loaded(*self._pending)

    # --- views --------------------------------------------------------------------------------

    def _apply(self) -> None:
        table = self.query_one(LineTable)
        # the same list drawn again (new data: a reread after a label) keeps the cursor on
        # its item; another view or class starts at the top
        same = getattr(self, "_drawn", None) == (self.view, self.class_filter,
                                                 self.filter_unscored)
        kept = (_key(self._shown[table.cursor])
                if same and 0 <= table.cursor < len(self._shown) else None)
        self._drawn = (self.view, self.class_filter, self.filter_unscored)
        table.columns = self._columns()
        table.empty = self._empty()
        if self.view == "classes":
            peak = max([max(r.get("baseline", 0), r["candidate"]) for r in self.table_rows] or [1]) or 1
            cells = []
            for r in self.table_rows:
                bar = [("█" * max(1, round(12 * r["candidate"] / peak)) if r["candidate"] else "", "fail")]
                if self.vs:
                    cells.append([r["class"], str(r["baseline"]), str(r["candidate"]),
                                  _delta_cell(r["delta"]), bar])
                else:
                    cells.append([r["class"], str(r["candidate"]), bar])
            # then what the classes needing no gold found in unscored episodes, as `t2e
            # failures` lists it: counted apart, never as failures
            for r in self.unscored_rows:
                said = [(UNSCORED_NOTE, "dim")]
                cells.append([r["class"], "", str(r["candidate"]), "", said] if self.vs
                             else [r["class"], str(r["candidate"]), said])
            self._shown = self.table_rows + self.unscored_rows
        elif self.view == "episodes":
            if not self.episodes_loaded and not getattr(self, "_eps_asked", False):
                self._eps_asked = True        # read on first use: 10k rows cost the open
                self.load_episodes()
            every = self.class_filter is None
            eps = [e for e in self.episodes if every or (
                not self.filter_unscored and self.class_filter in e.classes)]
            eps += [e for e in self.unscored_eps if every or (
                self.filter_unscored and self.class_filter in e.classes)]
            cells = [[e.task_id, str(e.trial if e.trial is not None else "-"),
                      "-" if e.first_step is None else str(e.first_step),
                      [(f"unscored: {e.said}", "dim")] if e.unscored else
                      [(", ".join(e.classes) + (" *human" if e.human else ""), "warn")]]
                     for e in eps]
            self._shown = eps
        elif self.view == "flywheel":
            cells = self._flywheel_cells()
            self._shown = cells
        else:
            cells = [[str(c.size), c.key["class"], one_line(c.explain(), 300)] for c in self.clusters]
            self._shown = self.clusters
            # the shared words come from every member's failing step
            self.record_views([m for c in self.clusters for m in c.members], "tui-failures")
        table.set_rows(cells, keep_cursor=False)
        if kept is not None:
            table.move_to(next((i for i, x in enumerate(self._shown) if _key(x) == kept), 0))
        table.fit_columns(cells)
        self._title()
        self._why(table.cursor)

    def _empty(self) -> str:
        """What the table says with no rows: the flywheel's own reason (the CLI's)."""
        if self.view != "flywheel":
            return "no failed episodes"
        if self.flywheel_rows is None:
            return "computing the flywheel figures…"
        return (self.flywheel_chart.get("empty") or ("nothing to show", ""))[0]

    def _title(self) -> None:
        """The title: the run, its counts, the baseline; the status line: what is listed and
        its keys, then detail. Both are fitted to the width (what tells least gives way
        first; the counts and "not failures" stay at 80 columns) and F1 shows them whole."""
        run, vs = self.names
        # run_parts: the labels go first, then the ids, then the two names are cut apart;
        # names come from the store and run_parts makes them one line
        parts = [Part("Failures ", "bold"), *run_parts("", run[0], run[1], scripted=run[2])]
        if self.loaded:
            parts.append(Part(f" · {self.n_failed} failed"))
            # episodes with no reward (foreign traces) are not failures: said, as t2e
            # failures does
            unscored = getattr(self, "n_unscored", 0)
            if unscored:
                parts.append(Part((f" · {unscored} unscored (no reward: not failures)",
                                   f" · {unscored} unscored (not failures)"), give=4))
        if vs is not None:
            parts += run_parts((" vs baseline ", " vs "), vs[0], vs[1], scripted=vs[2])
        self.query_one("#fail-title", FitTitle).set_lines(parts)
        self.query_one("#fail-status", TextLine).set(self._status_parts())

    def _status_parts(self) -> list[Part]:
        one = one_line(self.class_filter or "every class", 80)
        what = {"classes": ("class(es)", " · Enter: its episodes"),
                "episodes": (f"episode(s) of {one}"
                             f"{' (unscored)' if self.filter_unscored else ''}",
                             (" · Enter: compare at the first divergence · a: every class",
                              " · Enter: compare · a: every class")),
                "clusters": ("cluster(s)", " · Enter: the representative"),
                "flywheel": ("series across the lineage's versions", "")}[self.view]
        parts = [watched_part(self.watched)] if self.watched else []
        parts += [Part(f"{len(self._shown)} {what[0]}", "dim", give=1, cut="end", least=16),
                 Part(what[1], "dim", give=2)]
        if getattr(self, "n_unscored", 0):
            parts.append(Part((f" · unscored: {len(self.unscored_eps)} with findings of the "
                               "classes needing no gold, listed apart", ""), "dim", give=3))
        parts += [Part((" · infrastructure excluded", " · infra excluded", ""), "dim", give=4),
                  Part((" · rule-based: docs/failure-classes.md", ""), "dim", give=5)]
        return parts

    @on(LineTable.Highlighted, "#fail-table")
    def _highlighted(self, event: LineTable.Highlighted) -> None:
        self._why(event.row)

    def _why(self, index: int) -> None:
        text = ""
        if self.view == "flywheel" and self.flywheel_chart:
            from ...analysis.flywheel import basis_text

            empty = self.flywheel_chart["empty"]
            text = "{}: {}".format(*empty) if empty else basis_text(self.flywheel_chart["basis"])
        elif self._shown and 0 <= index < len(self._shown):
            item = self._shown[index]
            if self.view == "episodes" and item.unscored:
                text = (f"episode {item.episode_id} (unscored: no reward, not a failure): "
                        f"{item.why}")
            elif self.view == "episodes":
                if item.why is None:     # read when first shown (one row, ~1 ms)
                    from ...analysis.views import why_of
                    conn = da.open_conn(self.app.store_path)
                    try:
                        item.why = why_of(conn, item.episode_id)
                    finally:
                        conn.close()
                text = f"episode {item.episode_id}: {item.why}" + (" (human label)" if item.human else "")
            elif self.view == "clusters":
                n = f"{item.size} episode{'' if item.size == 1 else 's'}"
                text = f"cluster of {n}; representative: episode {item.representative}"
            elif item.get("unscored"):
                text = (f"{item['class']} in unscored episodes (no reward: not failures): "
                        "Enter lists them")
            else:
                text = f"{item['class']}: Enter lists its episodes"
            if self.view == "episodes":  # the why quotes the trace: a view of the episode
                self.record_views([item.episode_id], "tui-failures")
        self.query_one("#fail-why", Static).update(Text(one_line(text, 400)))

    def action_view(self, name: str) -> None:
        # the episodes view keeps the current class filter (None = every class; a: clear it)
        if name == "clusters" and not self.clusters:
            self._load_clusters()
        if name == "flywheel" and self.flywheel_rows is None:
            self._load_flywheel()
        self.view = name
        self._apply()

    def action_all_classes(self) -> None:
        self.class_filter, self.filter_unscored = None, False
        self.action_view("episodes")

    def _flywheel_cells(self) -> list:
        """Series across the lineage's versions: each class found, then fixed, regressed,
        improvement and regression-set pass rate (a small chart per row)."""
        from ...analysis.flywheel import SPARK, class_sparklines

        rows = self.flywheel_rows or []
        if not rows:
            return []

        def spark(vals, peak=None) -> str:
            top = peak or max([v for v in vals if v] or [1])
            return "".join("·" if v is None else SPARK[min(7, round(7 * v / top))] if v else " "
                           for v in vals)
        cells = [["versions", " ".join(r["version"][:1] for r in rows),
                  one_line(" → ".join(r["version"] for r in rows), 300)]]
        for name, line, counts in class_sparklines(rows):
            cells.append([name, [(line, "fail")], " ".join("-" if c is None else str(c) for c in counts)])
        for key, label in (("fixed", "fixed"), ("regressed", "newly regressed")):
            vals = [len(r[key]) if r["run_id"] else None for r in rows]
            cells.append([label, [(spark(vals), "pass" if key == "fixed" else "fail")],
                          " ".join("-" if v is None else str(v) for v in vals)])
        for key, label in (("improvement_rate", "improvement rate"),
                           ("regression_set_pass_rate", "regression set pass")):
            vals = [r[key] for r in rows]
            cells.append([label, spark(vals, 1.0),
                          " ".join("-" if v is None else f"{v:.0%}" for v in vals)])
        return cells

    @on(LineTable.Selected, "#fail-table")
    def _selected(self, event: LineTable.Selected) -> None:
        if not self._shown or event.row >= len(self._shown):
            return
        item = self._shown[event.row]
        if self.view == "flywheel":
            return
        if self.view == "classes":
            self.class_filter = item["class"]
            self.filter_unscored = bool(item.get("unscored"))
            self.view = "episodes"
            self._apply()
        elif self.view == "episodes":
            self.open_episode(item.episode_id, item.task_id, item.trial, item.first_step)
        else:
            e = next((x for x in self.episodes if x.episode_id == item.representative), None)
            if e is not None:
                self.open_episode(e.episode_id, e.task_id, e.trial, e.first_step)

    def open_episode(self, episode_id: int, task_id: str, trial, step) -> None:
        """The compare screen at the first divergence: baseline's episode of the task on the
        left when there is a baseline, this run's failing one on the right."""
        other = None
        if self.vs:
            conn = da.open_conn(self.app.store_path)
            try:
                other = da.find_episode(conn, self.vs, task_id, trial)
            finally:
                conn.close()
        if other is not None:
            self.app.open_compare(other, episode_id, step=step, step_episode=episode_id)
        else:
            self.app.open_compare(episode_id, None, step=step, step_episode=episode_id)
