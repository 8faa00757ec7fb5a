"""The candidate editor: a markdown TextArea, a diff against the parent, save as a version.

Keys (TextArea takes printable keys, so the screen's keys are ctrl/F-keys):
ctrl+s/F5 save (asks for the hypothesis note), F3/ctrl+t toggle the diff, F4/ctrl+o edit in
$EDITOR (the app suspends), ctrl+r/F6 open the rerun launcher on the saved version, Escape/F10
leave (priority bindings, so the TextArea never swallows them; with unsaved changes a modal
asks first: y leaves and discards the draft, n or Escape keeps editing, s saves). The app's
q / ctrl+q ask the same way while a draft is unsaved (`confirm_leave`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Input, Label, Static, TextArea

from ...candidate_versions import Version, candidate_from_text, save_version
from ...candidates import CandidateError, body_hash, packaged_baseline
from ...textsafe import one_line, strip_controls
from ..plain import plain
from ..widgets.diffview import DiffView
from ..widgets.keybar import KeyBar
from .workbench_context import candidates_dir_for, shown_candidates_dir


def suggest_name(name: str) -> str:
    """`x-v3` -> `x-v4`; `baseline` -> `baseline-v2` (save bumps again if taken)."""
    import re

    m = re.match(r"^(.*?)-v(\d+)$", name)
    return f"{m.group(1)}-v{int(m.group(2)) + 1}" if m else f"{name}-v2"


def save_error(exc: Exception) -> str:
    """What the save dialog says when a save fails for another reason than the name."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"could not save: {exc.strerror}{where}"
    from ...errors import error_text

    return f"could not save: {error_text(exc)}"


class HypothesisModal(ModalScreen[tuple[str, str] | None]):
    """Ask for the version name and the hypothesis note; Enter saves, Escape cancels.

    With `save` (name, hypothesis → None, or the error text), the dialog saves itself and
    closes only on success: a refused save (a bad name, a store error) is shown in the
    dialog with both fields as typed, ready to correct."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save.cancel")]

    DEFAULT_CSS = """
    HypothesisModal { align: center middle; }
    HypothesisModal > Vertical { width: 76; max-width: 100%; height: auto; padding: 1 2;
        border: thick $accent; background: $surface; }
    HypothesisModal Label { margin-top: 1; }
    HypothesisModal #hyp-error { color: $error; height: auto; }
    """

    def __init__(self, name: str, save=None) -> None:
        super().__init__()
        self._name = name
        self._save = save

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Save a new immutable version[/b]")
            yield Label("name")
            # not selected on focus: Tab wrapping back here must not make typing replace it
            yield Input(self._name, id="hyp-name", select_on_focus=False)
            yield Label("hypothesis: what should this version fix, and why?")
            yield Input(placeholder="e.g. look up delivered orders for 'the same as ...'",
                        id="hyp-text", select_on_focus=False)
            yield Static("", id="hyp-error")
            yield Static("[dim]Enter save · Escape cancel[/dim]")

    def on_mount(self) -> None:
        # the first field first: the form reads top to bottom and Tab moves forward
        self.query_one("#hyp-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = self.query_one("#hyp-name", Input).value.strip()
        hyp = self.query_one("#hyp-text", Input).value.strip()
        if not hyp and event.input.id == "hyp-name":  # Enter on the name: on to the note
            self.query_one("#hyp-text", Input).focus()
            return
        if not hyp:
            self._error("a hypothesis note is required", "#hyp-text")
            return
        error = self._save(name, hyp) if self._save is not None else None
        if error:
            # the name is the usual culprit (the hypothesis is free text): back to it
            self._error(error, "#hyp-name")
            return
        self.dismiss((name, hyp))

    def _error(self, message: str, field: str) -> None:
        # a Text: the message quotes what was typed, which is shown, never read as markup
        self.query_one("#hyp-error", Static).update(Text(one_line(message, 400)))
        self.query_one(field, Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class LeaveModal(ModalScreen[str]):
    """Unsaved changes: leave and discard (y), save first (s), or keep editing (n/Escape)."""

    BINDINGS = [Binding("y", "answer('discard')", "Discard", id="leave.discard"),
                Binding("s", "answer('save')", "Save", id="leave.save"),
                Binding("n,escape", "answer('stay')", "Keep editing", id="leave.stay")]

    DEFAULT_CSS = """
    LeaveModal { align: center middle; }
    LeaveModal > Static { width: 64; max-width: 100%; height: auto; padding: 1 2;
        border: thick $warning; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        yield Static("[b]This draft has unsaved changes.[/b]\n\n"
                     "y  leave and discard them\ns  save a version first\n"
                     "n / Escape  keep editing")

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


class EditorScreen(Screen):
    """Edit a candidate's instruction; the parent of what you save is the version you opened."""

    BINDINGS = [
        Binding("ctrl+s,f5", "save", "Save", id="editor.save"),
        Binding("f3,ctrl+t", "toggle_diff", "Diff", id="editor.diff"),
        Binding("f4,ctrl+o", "external", "$EDITOR", id="editor.external"),
        Binding("ctrl+r,f6", "rerun", "Rerun", id="editor.rerun"),
        Binding("escape,f10", "leave", "Back", priority=True, id="editor.back"),
    ]
    # the diff's keys join the bar at 80 columns: its n/p and the editor's keys stay, the
    # layout toggle and search (both in F1) give way first
    KEYBAR_SHORT = {"diff.next": "Next", "diff.prev": "Prev"}
    KEYBAR_DROP = ("search", "diff.mode")

    DEFAULT_CSS = """
    EditorScreen #ed-switch { height: 1fr; }
    EditorScreen TextArea { height: 1fr; border: none; }
    EditorScreen #ed-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, version: Version | None) -> None:
        super().__init__()
        if version is None:
            base = packaged_baseline()
            self.parent_hash: str | None = None
            self.parent_name = base.name
            self.parent_body = base.body
            self.parent_ref: str | None = None
        else:
            self.parent_hash = version.hash
            self.parent_name = version.name
            self.parent_body = version.body
            self.parent_ref = version.hash
        self.saved: Version | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="ed-title", classes="title")  # filled on mount (needs the app)
        with ContentSwitcher(initial="ed-text", id="ed-switch"):
            yield TextArea(self.parent_body, language="markdown", id="ed-text",
                           soft_wrap=True, tab_behavior="focus")
            yield DiffView(self.parent_body, self.parent_body, id="ed-diff")
        yield Static("", id="ed-status")
        yield KeyBar()

    def _title_text(self) -> Text:
        """Two lines: what is being edited (the opened version, or after a save the saved
        one, which is the next save's parent), then the folder a save writes into."""
        short = self.parent_hash[:10] if self.parent_hash else "unsaved"
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.saved is None:
            t.append("Edit candidate · parent ")
            t.append(one_line(self.parent_name, 60), style="bold")
            t.append(f" {short}")
        else:
            t.append("Edit ")
            t.append(one_line(self.saved.name, 60), style="bold")
            t.append(f" {self.saved.short} (saved) · the next save's parent")
        t.append("\n")
        t.append(f"saves into {shown_candidates_dir(self.app)}/", style="dim")
        return t

    def on_mount(self) -> None:
        self.query_one("#ed-title", Static).update(self._title_text())
        # The leakage guard counts views tagged with a candidate's name against it whatever
        # their time: tag them with the name the next save will most likely get.
        self._drafting = suggest_name(self.parent_name)
        self.app.drafting_candidate = self._drafting
        self.query_one(TextArea).focus()
        self._status()

    def on_unmount(self) -> None:
        if getattr(self.app, "drafting_candidate", None) == getattr(self, "_drafting", None):
            self.app.drafting_candidate = None

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._status()

    def _status(self) -> None:
        from ...difftext import compare

        st = compare(self.parent_body, self.text).stats
        # against the parent: the opened version, or the one saved last (see _do_save)
        name = one_line(self.parent_name, 40)
        msg = (f"unchanged from {name}" if st.identical else
               f"+{st.added} -{st.removed} ~{st.changed} lines vs {name}")
        self.query_one("#ed-status", Static).update(Text(msg))

    def action_toggle_diff(self) -> None:
        sw = self.query_one(ContentSwitcher)
        if sw.current == "ed-text":
            dv = self.query_one(DiffView)
            dv.set_texts(self.parent_body, self.text)
            sw.current = "ed-diff"
            dv.focus()
        else:
            sw.current = "ed-text"
            self.query_one(TextArea).focus()

    def action_external(self) -> None:
        """Round trip through $EDITOR (VISUAL first); the app suspends while it runs."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, tmp = tempfile.mkstemp(suffix=".md", prefix="t2e-candidate-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.text)
            try:
                with self.app.suspend():
                    subprocess.run([*shlex.split(editor), tmp], check=False)
            except Exception as exc:  # noqa: BLE001 - suspend is unsupported in some drivers
                self.notify(f"$EDITOR round trip failed: {exc}", severity="error")
                return
            new = Path(tmp).read_text("utf-8", errors="replace")
        finally:
            os.unlink(tmp)
        self.query_one(TextArea).load_text(strip_controls(new))
        self._status()

    def action_save(self) -> None:
        cand = candidate_from_text(self.text, name=self.parent_name, parent=None)
        if not cand.body.strip():
            self.notify("the instruction is empty: nothing to save", severity="error")
            return
        if cand.hash == (self.saved.hash if self.saved else body_hash(self.parent_body)):
            self.notify("no change since the last saved version", severity="warning")
            return
        base_name = self.saved.name if self.saved else self.parent_name
        # the dialog saves and stays open on a refusal (it shows why, fields as typed)
        self.app.push_screen(HypothesisModal(self._free_suggestion(base_name),
                                             save=self._save_as))

    def _free_suggestion(self, base_name: str) -> str:
        """The next name after `base_name` that the save will use (a taken `-vN` skipped);
        the plain next name when the store cannot be read (the save says what is wrong)."""
        from store import connect

        from ...candidate_versions import next_name

        try:
            conn = connect(self.app.store_path)
            try:
                return next_name(conn, base_name, candidates_dir_for(self.app))
            finally:
                conn.close()
        except Exception:  # noqa: BLE001 - a suggestion only
            return suggest_name(base_name)

    def _save_as(self, name: str, hyp: str) -> str | None:
        """Save the text as a version named `name`; None when saved, else why not."""
        from store import connect

        saved_text = self.text
        cand = candidate_from_text(saved_text, name=name or self.parent_name, parent=None)
        parent_ref = self.saved.hash if self.saved else self.parent_ref
        conn = None
        try:
            conn = connect(self.app.store_path)
            if parent_ref is None:  # editing the packaged baseline: record it first
                base = packaged_baseline()
                parent_ref = save_version(conn, base, hypothesis=base.hypothesis or "baseline",
                                          candidates_dir=candidates_dir_for(self.app)
                                          ).version.hash
            res = save_version(conn, cand, hypothesis=hyp, parent_ref=parent_ref,
                               name=name or None, candidates_dir=candidates_dir_for(self.app))
        except CandidateError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog; the draft stays
            # the candidates folder under a file or not writable, a store locked or gone: a
            # save that fails is said where the name is typed, never a crash losing the draft
            return save_error(exc)
        finally:
            if conn is not None:
                conn.close()
        self.saved = res.version
        # from now on the editor edits the saved version: it is the next save's parent, and
        # the diff and the line counts run against it
        self.parent_hash = self.parent_ref = res.version.hash
        # the text as saved (its body hash is the version's), so the line counts start at 0
        self.parent_name, self.parent_body = res.version.name, saved_text
        self.query_one("#ed-title", Static).update(self._title_text())
        if self.query_one(ContentSwitcher).current == "ed-diff":  # saved from the diff view
            self.query_one(DiffView).set_texts(self.parent_body, self.text)
        self.app.last_saved_candidate = res.version.hash
        # the marks it was saved under: until they change, this save is the newest choice of
        # what is worked on (workbench_context.current_version)
        self.app.saved_under_marks = (getattr(self.app, "baseline_run", None),
                                      getattr(self.app, "candidate_run", None))
        self._drafting = suggest_name(res.version.name)
        self.app.drafting_candidate = self._drafting
        word = "already saved as" if res.duplicate else "saved"
        self.notify(f"{word} {res.version.name} {res.version.short} → {res.version.path}. "
                    "ctrl+r launches a rerun")
        self._status()
        return None

    def action_rerun(self) -> None:
        from .workbench_context import visible_task_ids
        from .workbench_launcher import LauncherScreen

        if self.saved is None:
            self.notify("save the candidate first (ctrl+s)", severity="warning")
            return
        self.app.push_screen(LauncherScreen(candidate=self.saved.name,
                                            baseline_run=getattr(self.app, "baseline_run", None),
                                            task_ids=visible_task_ids(self.app)))

    @property
    def unsaved(self) -> bool:
        """The text differs from the last saved version (or from the parent, before a save)."""
        # the same identity save uses: the body hash (front matter and edge blanks aside)
        cand = candidate_from_text(self.text, name=self.parent_name, parent=None)
        return cand.hash != (self.saved.hash if self.saved else body_hash(self.parent_body))

    def action_leave(self) -> None:
        self.confirm_leave(self.app.pop_screen)

    def confirm_leave(self, leave) -> None:
        """Call `leave` now when nothing is unsaved; else ask (every way out asks: Escape,
        F10, and the app's q / ctrl+q through `T2EApp.action_quit`). Saving brings the
        editor back to the top and asks for the hypothesis; it does not leave."""
        if not self.unsaved:
            leave()
            return
        if isinstance(self.app.screen, LeaveModal):  # already asking (ctrl+q pressed twice)
            return

        def answered(answer: str | None) -> None:
            if answer == "discard":
                leave()
            elif answer == "save":
                while self.app.screen is not self and len(self.app.screen_stack) > 1:
                    self.app.pop_screen()
                self.action_save()

        self.app.push_screen(LeaveModal(), answered)


class DiffScreen(Screen):
    """Two candidate versions, diffed (m toggles side by side / unified)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="diffscreen.back")]

    def __init__(self, old: str, new: str, title: str, mode: str = "side") -> None:
        super().__init__()
        self._old, self._new, self._title, self._mode = old, new, title, mode

    def compose(self) -> ComposeResult:
        title = plain(self._title) if isinstance(self._title, str) else self._title
        yield Static(title, classes="title", id="diff-title")
        yield DiffView(self._old, self._new, mode=self._mode, id="diff-view")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(DiffView).focus()
