"""`:` on the compare screen: a one-line prompt for a step number (the message index the
gutter, the header and `t2e show` use). Enter jumps; Escape cancels."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class StepPrompt(ModalScreen[tuple | None]):
    """Asks for a step as the gutter prints it (`12`, or `B12` for B's step 12); dismisses
    with (side or None, number), or None when cancelled or not a step."""

    DEFAULT_CSS = """
    StepPrompt { align: center bottom; }
    StepPrompt > Vertical { width: 60; max-width: 100%; height: auto; background: $panel;
                            border: solid $accent; padding: 0 1; margin-bottom: 2; }
    StepPrompt Input { margin: 0; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="step.cancel")]

    def __init__(self, hint: str) -> None:
        super().__init__()
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.hint))
            yield Input(placeholder="step number (B12: B's step 12), then Enter",
                        restrict=r"[aAbB]?[0-9]*", id="step-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from ...align_where import parse_step

        self.dismiss(parse_step(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)
