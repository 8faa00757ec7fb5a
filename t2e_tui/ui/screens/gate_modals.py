"""The gate screen's two questions: the reason for promoting against the gate's verdict
(required), and y/n before recording a decision on evidence that is not clean heldout or one
that replaces the row's decision (workbench_gate.py asks them)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..plain import plain


class ReasonModal(ModalScreen[str | None]):
    """A reason is required to promote against the gate's verdict."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="reason.cancel")]
    DEFAULT_CSS = """
    ReasonModal { align: center middle; }
    ReasonModal > Vertical { width: 76; max-width: 100%; height: auto; padding: 1 2;
        border: thick $error; background: $surface; }
    """

    def __init__(self, verdict: str) -> None:
        super().__init__()
        self._verdict = verdict

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble((f"The gate said {self._verdict}.", "bold"),
                                       " Promoting against it is recorded as an override. "
                                       "Why?"))
            yield Input(placeholder="reason (required)", id="reason")
            yield Static("[dim]Enter record · Escape cancel[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """y/n: recording a decision on evidence that is not clean heldout, or changing one."""

    BINDINGS = [Binding("y", "answer(True)", "Yes", id="confirm.yes"),
                Binding("n,escape", "answer(False)", "No", id="confirm.no")]
    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical { width: 76; max-width: 100%; height: auto; padding: 1 2;
        border: thick $warning; background: $surface; }
    """

    def __init__(self, question: str, yes: str = "record") -> None:
        super().__init__()
        self._question, self._yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self._question, width=2000))
            yield Static(plain(f"y {self._yes} · n / Escape cancel", "dim", 200))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
