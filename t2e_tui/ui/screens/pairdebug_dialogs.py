"""Dialogs of the pair-debugging loop (#14): rerun this task, fork at this step, and the
link fallback that shows a reference when the terminal may not take OSC 52.

Each dialog dismisses with a dict of its fields (or None on Escape). Trace-derived text (task
ids, labels) is shown as rich Text, never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...textsafe import one_line

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 76; max-width: 100%; height: auto; max-height: 100%;
    padding: 0 1; border: round $accent; background: $surface; }}
{name} Input, {name} Input:focus {{ height: 1; border: none; padding: 0 1;
    margin: 0 0 1 0; }}
{name} Input:focus {{ background: $accent 25%; }}
"""


class _FormDialog(ModalScreen[dict | None]):
    """A small form: a title, labelled inputs, Enter (on any input) submits, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    FIELDS: tuple[tuple[str, str, str], ...] = ()   # (id, label, placeholder)
    FOOTER = "Enter start · Escape cancel"

    def __init__(self, title: Text, values: dict[str, str]) -> None:
        super().__init__()
        self._title = title
        self._values = values

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="dialog-title")
            for fid, label, placeholder in self.FIELDS:
                yield Static(label, classes="dim")
                yield Input(self._values.get(fid, ""), placeholder=placeholder, id=fid)
            yield Static(self.FOOTER, id="dialog-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        values = {fid: self.query_one(f"#{fid}", Input).value.strip()
                  for fid, _l, _p in self.FIELDS}
        problem = self.check(values)
        if problem:
            self.query_one("#dialog-error", Static).update(Text(problem, style="bold red"))
            return
        self.dismiss(values)

    def check(self, values: dict[str, str]) -> str | None:
        """A one-line problem with the values, or None."""
        trials = values.get("trials", "1")
        if not trials.isdigit() or not 1 <= int(trials) <= 20:
            return "trials: a whole number from 1 to 20"
        return None

    def action_cancel(self) -> None:
        self.dismiss(None)


class RerunTaskDialog(_FormDialog):
    """Rerun the task: k trials each for the baseline (A) and the draft (B), fresh seeds;
    A and B as on the compare screen (A the baseline's episode, B the candidate's)."""

    DEFAULT_CSS = _CSS.format(name="RerunTaskDialog")
    FIELDS = (("trials", "trials per side", "3"),
              ("baseline", "A: baseline", "baseline"),
              ("draft", "B: candidate (the draft)", "candidate name or hash"),
              ("model", "model", "scripted | openai:MODEL"))

    def __init__(self, task_id: str, values: dict[str, str]) -> None:
        title = Text("Rerun task ", style="bold")
        title.append(one_line(task_id, 30))
        title.append(" — fresh seeds, development evidence only", style="dim")
        super().__init__(title, values)


class ForkDialog(_FormDialog):
    """Fork the episode at the selected step: keep steps before it, simulate the rest."""

    DEFAULT_CSS = _CSS.format(name="ForkDialog")
    FIELDS = (("at", "fork at step (kept: the steps before it)", "step"),
              ("trials", "trials", "1"),
              ("candidate", "candidate for the rest (the draft)", "candidate name or hash"),
              ("model", "model", "scripted | openai:MODEL"),
              ("data", "tau2 data directory (imported tau2 traces)", "e.g. ../shared/tau2"))

    def __init__(self, label: str, values: dict[str, str]) -> None:
        title = Text("Fork ", style="bold")
        title.append(one_line(label, 40))
        title.append(" — world restored by replay; development evidence", style="dim")
        super().__init__(title, values)

    def check(self, values: dict[str, str]) -> str | None:
        if not values.get("at", "").isdigit() or int(values["at"]) < 1:
            return "step: a step number from 1"
        return super().check(values)


class LinkDialog(ModalScreen[None]):
    """Shows a reference as plain text (the fallback when the clipboard may not take it)."""

    DEFAULT_CSS = _CSS.format(name="LinkDialog")
    BINDINGS = [Binding("escape,enter,y", "close", "Close", id="link.close")]

    def __init__(self, link: str) -> None:
        super().__init__()
        self.link = link

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Reference (sent to the clipboard by OSC 52; copy it from here if "
                              "your terminal does not pass that on)", style="bold"))
            yield Static(Text(self.link), id="link-text")
            yield Static("Escape close", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)


class NoteDialog(_FormDialog):
    """A note on the selected step; the step's earlier notes are shown above the input."""

    DEFAULT_CSS = _CSS.format(name="NoteDialog")
    FIELDS = (("text", "note", "what you found here"),)
    FOOTER = "Enter save · Escape cancel"

    def __init__(self, label: str, step: int, earlier: list[str]) -> None:
        title = Text("Note on ", style="bold")
        title.append(one_line(label, 40) + f" step {step}")
        for n in earlier[-5:]:
            title.append("\n✎ " + one_line(n, 200), style="yellow")
        super().__init__(title, {})

    def check(self, values: dict[str, str]) -> str | None:
        return None if values.get("text") else "a note cannot be empty"
