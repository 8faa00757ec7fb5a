"""The compare screen: baseline and candidate lanes aligned on tool calls, the gold-actions
lane, argument-level diffs, divergence navigation, the detail pane and the reward by component.
With one episode it compares that trajectory with the task's gold actions.

Apart, to keep this module small: the header (compare_header.py), navigation (compare_nav.py),
the reward lines (compare_reward.py)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical

from ... import data_access as da
from ...align import Alignment, align
from ...align_print import event_segments
from ...reviews import episode_lines
from ..pairdebug import PairDebugMixin
from ..widgets.detail import StepDetail
from ..widgets.fittitle import FitTitle, Part
from ..widgets.keybar import KeyBar
from ..widgets.lanes import AlignedLanes
from ..widgets.linetable import Column, LineTable
from .base import ExplorerScreen
from .compare_header import CompareHeader
from .compare_nav import CompareNavigation, divergence_parts  # noqa: F401 (re-exported)
from .compare_reward import reward_compact, reward_line  # noqa: F401 (re-exported)

NARROW = 120  # below this many columns the lanes become a toggle
SYNC_STEPS = 3000  # pairs up to this many steps are read on the UI thread (see start_load)
DETAIL_DELAY = 0.05  # s: the detail pane follows the cursor once keys pause (see _row_changed)


class CompareScreen(CompareHeader, CompareNavigation, PairDebugMixin, ExplorerScreen):
    """Aligned trajectories. Opens at the first divergence (or at a requested step)."""

    HELP_TITLE = "Compare"

    BINDINGS = [
        Binding("n", "divergence(1)", "Next difference", id="compare.next"),
        Binding("p", "divergence(-1)", "Previous difference", id="compare.prev"),
        Binding("t", "toggle_lane", "Lane A→B→gold", id="compare.toggle"),
        Binding("colon", "goto_step", "Go to step", id="compare.step"),
        Binding("x", "expand", "Expand long fields, raw_data", id="compare.expand"),
        Binding("d", "focus_detail", "Scroll the detail pane", show=False,
                id="compare.detail"),
        Binding("1", "trial('a')", "Next A trial", show=False, id="compare.trial_a"),
        Binding("2", "trial('b')", "Next B trial", show=False, id="compare.trial_b"),
        Binding("l", "label", "Label", show=False, id="compare.label"),
        # pair-debugging (#14, ui/pairdebug.py)
        Binding("r", "rerun_task", "Rerun task", show=False, id="compare.rerun_task"),
        Binding("f", "fork", "Fork here", show=False, id="compare.fork"),
        Binding("y", "copy_link", "Copy link", show=False, id="compare.link"),
        Binding("a", "note", "Note on step", show=False, id="compare.note"),
    ]
    # End (the lanes' key) goes to the last turns, where a run's ending shows: keep it in the
    # bar. At 80 columns the bar uses short labels (with x Expand, shown when a field is cut,
    # "Last turns" left f1 Help no room).
    KEYBAR_EXTRA = ("lanes.last",)
    KEYBAR_SHORT = {"compare.next": "Next diff", "compare.prev": "Prev diff",
                    "compare.toggle": "A→B→gold", "compare.step": "Step",
                    "compare.expand": "Expand", "lanes.last": "Ending"}
    KEYBAR_DROP = ("back", "search", "quit")

    def __init__(self, episode_a: int, episode_b: int | None = None, *,
                 step: int | None = None, step_episode: int | None = None) -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.episode_a, self.episode_b = episode_a, episode_b
        self.target_step, self.target_episode = step, step_episode
        self.alignment: Alignment | None = None
        self.a: da.Episode | None = None
        self.b: da.Episode | None = None
        self.expanded = False
        self.view = "a"  # narrow mode: a | b | gold
        self.narrow = False
        self._token = 0  # which load the screen is waiting for (older ones are dropped)
        self._views_recorded = False
        self._detail_timer = None

    def compose(self) -> ComposeResult:
        yield FitTitle([Part("loading…")], id="cmp-title", classes="title")
        with Horizontal(id="cmp-main"):
            yield AlignedLanes(id="lanes")
            with Vertical(id="cmp-side"):
                yield LineTable([Column("★", 2), Column("gold action", 0), Column("A", 7),
                                 Column("B", 7)], id="gold", empty="no gold actions")
                yield StepDetail(id="detail")
        yield KeyBar()

    def start_load(self, app) -> None:
        """Read the episodes before the screen is composed. A pair of up to SYNC_STEPS steps
        is read and aligned right here, on the UI thread (~10 ms for 2×500 steps): a worker
        thread would fight the first layout for the GIL and paint the lanes twice (empty,
        then full), which made a cold open ~200 ms. Bigger pairs (or a failed read, so the
        worker reports it) go to a worker as before."""
        self._pending = None
        self._started = True
        self._app_ref = app  # the worker may run before this screen is attached to the app
        self._token += 1
        token = self._token
        ids = [e for e in (self.episode_a, self.episode_b) if e is not None]
        try:
            conn = da.open_conn(app.store_path)
            try:
                if da.step_count(conn, ids) <= SYNC_STEPS:
                    self._pending = self._fetch(conn)
                    return
            finally:
                conn.close()
        except Exception:  # noqa: BLE001 - the worker below reads again and reports it
            self._pending = None
        app.run_worker(lambda: self._read(token), thread=True, exclusive=True, group="compare-load",
                       exit_on_error=False, description="loading trajectories")

    def on_mount(self) -> None:
        self._layout(self.app.size.width)
        # no loading indicator: it costs a mount and a timer, and the load takes ~10 ms
        if not getattr(self, "_started", False):
            self._started = True
            self.load()
        elif getattr(self, "_pending", None) is not None:
            self._loaded(*self._pending)

    def _deliver(self, a, b, al, token: int | None = None) -> None:
        if token is not None and token != self._token:
            return  # a newer episode pair was asked for meanwhile
        if self.is_mounted:
            self._loaded(a, b, al)
        else:
            self._pending = (a, b, al)

    def on_screen_resume(self) -> None:
        app = self.app
        note = getattr(app, "note_screen", None)
        if note is not None and getattr(app, "baseline_run", None):
            note("compare", app.baseline_run, app.candidate_run, self.episode_a, self.episode_b)

    def labels_changed(self) -> None:
        """The header's failure classes, as the labels now say (`l` here, or elsewhere)."""
        from .label import compare_briefs

        conn = da.open_conn(self.app.store_path)
        try:
            self.failure_briefs = compare_briefs(conn, self.episode_a, self.episode_b)
        finally:
            conn.close()
        if self.a is not None and self.alignment is not None:
            self._title()

    def on_resize(self, event) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.narrow = width < NARROW
        self.set_class(self.narrow, "-narrow")
        lanes = self.query_one(AlignedLanes)
        if self.narrow:
            lanes.mode = "b" if self.view == "b" else "a"
        else:
            lanes.mode = "split"
        self.set_class(self.narrow and self.view == "gold", "-goldview")
        if self.a is not None and self.alignment is not None:
            self._title()
        self._show_detail()

    # --- loading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-load", exit_on_error=False,
          description="loading trajectories")
    def load(self) -> None:
        self._read()

    def _fetch(self, conn) -> tuple:
        """(episode A, episode B or None, alignment), and the other trials of the task."""
        a = da.load_episode(conn, self.episode_a)
        b = da.load_episode(conn, self.episode_b) if self.episode_b is not None else None
        task = a.task or (b.task if b else None)
        al = align(a.steps, b.steps if b else None, task, checks_a=a.checks,
                   checks_b=b.checks if b else None)
        # other trials of the same task, for the trial keys (1 / 2)
        self.trials = {"a": da.trial_episodes(conn, a.run_id, a.task_id),
                       "b": da.trial_episodes(conn, b.run_id, b.task_id) if b else []}
        from .label import compare_briefs, compare_unscored
        self.note_labels(conn)  # the briefs show human labels: read again on a new one
        self.failure_briefs = compare_briefs(conn, self.episode_a, self.episode_b)
        self.unscored_briefs = compare_unscored(conn, self.episode_a, self.episode_b)
        from store.heldout import watched_tasks
        # a task of a registered heldout set: the header says this view counts
        self.watched = watched_tasks(conn, episode_ids=[self.episode_a, self.episode_b])
        return a, b, al

    def _read(self, token: int | None = None) -> None:
        app = getattr(self, "_app_ref", None) or self.app
        conn = da.open_conn(app.store_path)
        try:
            a, b, al = self._fetch(conn)
        finally:
            conn.close()
        app.call_from_thread(self._deliver, a, b, al, token)

    def _loaded(self, a: da.Episode, b: da.Episode | None, al: Alignment) -> None:
        self.a, self.b, self.alignment = a, b, al
        self._title()
        gold = self.query_one("#gold", LineTable)
        gold.set_rows([self._gold_row(m) for m in al.gold])
        # header + rows + the bottom border, capped so the detail pane keeps room
        gold.styles.height = min(len(al.gold) + 2, 12) if al.gold else 3
        lanes = self.query_one(AlignedLanes)
        lanes.show(al, a.label, b.label if b else "gold actions", self._start_row())
        lanes.focus()
        if not self._views_recorded:
            self._views_recorded = True
            # evidence views for the gate's leakage guard, written after the first paint
            self.call_after_refresh(self.record_views, [self.episode_a, self.episode_b], "tui")

    def _gold_row(self, m) -> list:
        def f(v):
            return [("–", "dim")] if v is None else [("found", "pass")] if v else [("missing",
                                                                                  "fail")]
        return [str(m.index), event_segments(m.event), f(m.found_a),
                f(m.found_b) if not self.alignment or not self.alignment.single else
                [("gold", "dim")]]

    def _start_row(self) -> int:
        al = self.alignment
        if self.target_step is not None:
            side = "b" if self.target_episode is not None and self.target_episode == \
                self.episode_b else "a"
            for i, row in enumerate(al.rows):
                ev = row.a if side == "a" else row.b
                if ev is not None and (ev.step_idx == self.target_step
                                       or ev.result_idx == self.target_step):
                    return i
        return al.first_divergence()

    # --- navigation ---------------------------------------------------------------------------

    @on(AlignedLanes.RowChanged)
    def _row_changed(self) -> None:
        # The lanes repaint two lines at once; the detail pane (a full re-layout of long
        # JSON) waits until the cursor rests, so held keys and n/p never queue behind it.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY, self._show_detail)

    @property
    def detail_pending(self) -> bool:
        """True while a cursor move has not reached the detail pane yet (tests wait on it)."""
        return self._detail_timer is not None

    def _show_detail(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        if self.alignment is None:
            return
        lanes = self.query_one(AlignedLanes)
        row = self.alignment.rows[lanes.cursor] if self.alignment.rows else None
        labels = (self.a.label if self.a else "A",
                  self.b.label if self.b else "gold actions")
        # both sides, always: at 80 columns stacked, so a row that exists on one side only
        # still shows where the other side was (or how it ended)
        nearest = {}
        if row is not None:
            for side in "ab":
                if (row.a if side == "a" else row.b) is None:
                    found = self.alignment.last_event_before(lanes.cursor, side)
                    if found is not None:
                        r, ev = found
                        nearest[side] = (ev, r == self.alignment.last_row(side))
        detail = self.query_one(StepDetail)
        notes = tuple(episode_lines(ep.meta) if ep else [] for ep in (self.a, self.b))
        detail.show(row, labels, expanded=self.expanded, sides="ab", nearest=nearest,
                    compact=self.narrow, notes=notes)
        self.refresh_bindings()  # x shows only when something is cut (or expanded)

    def action_toggle_lane(self) -> None:
        if self.narrow:
            order = ["a", "b", "gold"]
            self.view = order[(order.index(self.view) + 1) % 3]
            self._layout(self.app.size.width)
            (self.query_one("#gold") if self.view == "gold" else self.query_one(AlignedLanes)
             ).focus()
        else:  # both lanes are in view: t moves the keys to the gold list and back
            gold, lanes = self.query_one("#gold"), self.query_one(AlignedLanes)
            (lanes if gold.has_focus else gold).focus()
            self.notify("keys on the lanes again" if lanes.has_focus else
                        "keys on the gold list: Enter goes to where a run did it; t: back",
                        timeout=2)

    def action_trial(self, side: str) -> None:
        """Compare another trial of the same task on one side (multi-trial runs)."""
        trials = getattr(self, "trials", {}).get(side) or []
        if len(trials) < 2:
            self.notify("only one trial of this task on that side", timeout=2)
            return
        current = self.episode_a if side == "a" else self.episode_b
        pos = next((i for i, t in enumerate(trials) if t[0] == current), -1)
        nxt = trials[(pos + 1) % len(trials)][0]
        a, b = (nxt, self.episode_b) if side == "a" else (self.episode_a, nxt)
        screen = CompareScreen(a, b)
        screen.start_load(self.app)
        self.app.switch_screen(screen)

    def action_label(self) -> None:
        from .label import label_compare

        label_compare(self)

    @on(LineTable.Selected, "#gold")
    def _gold_selected(self, event: LineTable.Selected) -> None:
        """Enter on a gold action jumps to where a run performed it."""
        if self.alignment is None or event.row >= len(self.alignment.gold):
            return
        m = self.alignment.gold[event.row]
        target = m.row_a if m.row_a is not None else m.row_b
        if target is None:
            self.notify(f"gold action {m.index} ({m.event.name}) is missing in "
                        + ("the run" if self.alignment.single else "both runs"), timeout=3)
            return
        if self.narrow:
            self.view = "a" if m.row_a is not None else "b"
            self._layout(self.app.size.width)
        lanes = self.query_one(AlignedLanes)
        lanes.move_to(target)
        lanes.focus()
