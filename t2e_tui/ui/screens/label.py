"""The label dialog (key `l` on the compare and tasks screens): confirm or add a failure
class on an episode or a step, or reject one (`-CLASS`), with an optional note. The label is
stored by the core (t2e_tui.analysis.labels) with author and time; a human label wins in every
view."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...textsafe import one_line


def parse_entry(text: str) -> tuple[str, bool, str | None]:
    """'CLASS [note]' or '-CLASS [note]' -> (class, reject, note)."""
    head, _, note = text.strip().partition(" ")
    reject = head.startswith("-")
    return head.lstrip("-"), reject, (note.strip() or None)


# analysis.outcome's outcomes as the dialog's "now:" line says them
OUTCOME_WORDS = {"passed": "passing", "failed": "failed", "unscored": "unscored (no reward)",
                 "infrastructure": "infrastructure error", "running": "running"}


class LabelScreen(ModalScreen):
    """Asks for `CLASS [note]` (or `-CLASS` to reject) and stores the label."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="label.cancel")]
    DEFAULT_CSS = """
    LabelScreen { align: center middle; }
    LabelScreen > Vertical { width: 76; max-width: 100%; height: auto; border: round $accent;
                             background: $panel; padding: 0 1; }
    LabelScreen Static { height: auto; }
    """

    def __init__(self, episode_id: int, step: int | None, current: str | None) -> None:
        super().__init__()
        self.episode_id, self.step, self.current = episode_id, step, current

    def compose(self) -> ComposeResult:
        from ...analysis import registered

        names = " ".join(c.name for c in registered())
        target = f"episode {self.episode_id}" + (f" step {self.step}" if self.step is not None else "")
        with Vertical():
            yield Static(Text(f"Label {target}", style="bold"))
            now = self.current or f"{self._outcome()} / not classified"
            yield Static(Text(one_line(f"now: {now}", 300), style="dim"))
            yield Static(Text(one_line(f"classes: {names}", 600), style="dim"))
            yield Input(placeholder="CLASS [note]   or   -CLASS [note] to reject", id="label-input")

    def _outcome(self) -> str:
        """The episode's outcome in words, for an episode with no class to show (it passed,
        or has no reward: a foreign trace is unscored, never passing)."""
        from ...analysis.outcome import of_episode
        from ...data_access import open_conn

        conn = open_conn(self.app.store_path)
        try:
            said = of_episode(conn, self.episode_id)
        finally:
            conn.close()
        return "not found" if said is None else OUTCOME_WORDS[said]

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from ...analysis.labels import LabelError, add_label
        from ...data_access import open_conn

        cls, reject, note = parse_entry(event.value)
        if not cls:
            self.notify("type a class name (or -CLASS to reject)", severity="warning")
            return
        conn = open_conn(self.app.store_path)
        try:
            row = add_label(conn, self.episode_id, self.step, cls, reject=reject, note=note)
        except LabelError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        finally:
            conn.close()
        self.notify(f"{'rejected' if reject else 'labelled'} {cls} on {row['target_kind']} "
                    f"{row['target_id']} ({row['author']})", timeout=3)
        self.dismiss(row)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _per_side(conn, a: int | None, b: int | None, say) -> dict:
    """{"A": .., "B": ..}: what `say(conn, episode)` has to say of each side (sides with
    nothing to say left out)."""
    out = {}
    for side, eid in (("A", a), ("B", b)):
        text = say(conn, eid) if eid is not None else None
        if text:
            out[side] = text
    return out


def compare_briefs(conn, a: int | None, b: int | None) -> dict:
    """{"A": .., "B": ..}: each failed side's classes and first-divergence step, for the
    compare header (the core's failure analysis; passing sides are left out)."""
    from ...analysis.views import brief

    return _per_side(conn, a, b, brief)


def compare_unscored(conn, a: int | None, b: int | None) -> dict:
    """{"A": .., "B": ..}: for each unscored side (no reward: a foreign trace), what the
    classes that need no gold found (`unscored · loop at step 7`); never a failure, so `l`
    does not choose its side from these."""
    from ...analysis.views import unscored_brief

    return _per_side(conn, a, b, unscored_brief)


def label_compare(screen) -> None:
    """Key `l` on the compare screen: label the failing side (B when it failed, else A) at
    the step under the cursor; the header is reread after."""  # noqa: D401
    from ..widgets.lanes import AlignedLanes

    if screen.a is None or screen.alignment is None:
        return
    briefs = getattr(screen, "failure_briefs", {})
    # the side that failed (B first); with neither failed, the side under review (B, else A)
    side = ("b" if "B" in briefs else "a" if "A" in briefs else
            "b" if screen.b is not None else "a")
    eid = screen.episode_b if side == "b" else screen.episode_a
    lanes = screen.query_one(AlignedLanes)
    row = screen.alignment.rows[lanes.cursor] if screen.alignment.rows else None
    ev = getattr(row, side, None) if row is not None else None
    step = getattr(ev, "step_idx", None)
    if step is not None and step < 0:
        step = None       # a gold-only row has no step of the episode
    # a failed side's classes, else what the gold-free classes found in an unscored one
    current = briefs.get(side.upper()) or getattr(screen, "unscored_briefs", {}).get(side.upper())
    # the header rereads the classes when the dialog closes (ExplorerScreen.labels_changed)
    screen.app.push_screen(LabelScreen(eid, step, current))


def label_task_row(screen) -> None:
    """Key `l` on the tasks screen: label the row's failed trial (the candidate's first)."""
    from ..widgets.linetable import LineTable

    table = screen.query_one(LineTable)
    if not screen.shown or table.cursor >= len(screen.shown):
        return
    r = screen.shown[table.cursor]
    failed = [t for t in (r.cand if screen.pair else []) + r.base
              if t.status == "done" and not t.success]
    if not failed:
        screen.notify(f"task {r.task_id}: no failed trial to label", severity="warning")
        return
    eid = failed[0].episode_id
    current = ", ".join(screen.failure_classes.get(eid, [])) or None
    # the class column rereads when the dialog closes (ExplorerScreen.labels_changed)
    screen.app.push_screen(LabelScreen(eid, None, current))
