"""The runs screen: every run in the store; mark a baseline and a candidate, open their tasks."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import SimpleCommand
from textual.widgets import Static

from ... import data_access as da
from ...textsafe import one_line
from ..widgets.fittitle import FitTitle, Part, run_parts
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LineTable
from ..widgets.textline import TextLine
from .base import ExplorerScreen

SCRIPTED_NOTE = ("⚠ scripted = the deterministic stand-in agent: its results exercise the "
                 "harness and prove nothing about models")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


class RunsScreen(ExplorerScreen):
    """Lists runs with source, model, candidate, episodes, reward and pass rate."""

    HELP_TITLE = "Runs"

    BINDINGS = [
        Binding("b", "mark('baseline')", "Baseline", id="runs.baseline"),
        Binding("c", "mark('candidate')", "Candidate", id="runs.candidate"),
        Binding("o", "open", "Open pair", id="runs.open"),
        Binding("u", "unmark", "Clear marks", id="runs.clear"),
        Binding("g", "jump", "Jump to run", id="runs.jump"),
        Binding("f5", "reload", "Reload", show=False, id="runs.reload"),
        Binding("f", "failures", "Failures", show=False, id="runs.failures"),
    ]
    # The workbench keys (app bindings) start here: show them, not only in F1. At 80 columns
    # the bar uses the short labels and leaves out, in this order, what is also reachable
    # another way (Enter = o, Escape does nothing here, f1 ends the bar, q is in F1) or is
    # used less.
    # `f` (failures, the first step of triage) is shown too.
    KEYBAR_EXTRA = ("runs.failures", "edit", "rerun", "gate", "lineage")
    KEYBAR_SHORT = {"runs.baseline": "Base", "runs.candidate": "Cand", "runs.open": "Open",
                    "runs.clear": "Clear", "runs.jump": "Jump", "lineage": "Lineage",
                    "runs.failures": "Fail"}
    KEYBAR_DROP = ("table.select", "back", "help", "quit", "runs.jump", "runs.clear", "search")

    def __init__(self) -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.runs: list[da.RunRow] = []
        self.baseline: str | None = None
        self.candidate: str | None = None
        self._signature: tuple | None = None
        self.wide = False

    def compose(self) -> ComposeResult:
        yield FitTitle([Part("Runs", "bold")], id="runs-title", classes="title")
        yield LineTable(self._columns(), id="runs-table", empty="no runs in this store yet: "
                        "t2e import FILE, or t2e demo")
        yield TextLine(id="runs-info", classes="info")
        yield Static("", id="runs-note", classes="note")
        yield KeyBar()

    def _columns(self) -> list[Column]:
        # the id first and the names cut apart (fitting.cut_apart): runs made from one
        # another share the start or the end of their names ("ablate cross-order-v1 full" /
        # "-rule1"; "baseline transfer (mini-airline)" / "cross-order-v1 transfer (...)"). The other columns
        # fit their content (`fit`: "complete" needs 8 cells, not 11), so at 80 columns the
        # names keep the room (`_fill` sizes them)
        cols = [Column("", 1), Column("run", 0, cut="apart"), Column("model", 20, fit=24),
                Column("status", 11, fit=16)]
        if self.wide:
            cols += [Column("role", 11, fit=12), Column("source", 28),
                     Column("candidate", 10, fit=10)]
        cols += [Column("eps", 6, "right", fit=8), Column("reward", 6, "right", fit=6),
                 Column("pass", 5, "right", fit=5)]
        return cols

    def on_mount(self) -> None:
        # the marks of the last session on this store (the app checked they still exist)
        self.baseline, self.candidate = getattr(self.app, "restored_marks", (None, None))
        self.load()
        self._look = da.Look(getattr(self.app, "store_probe", None))
        interval = getattr(self.app, "poll_interval", 2.0)
        if interval:
            self.set_interval(interval, self._tick)

    def _tick(self) -> None:
        # a screen under another one draws nothing: its SQL would only compete with the keys
        # of the screen on top (at 100k episodes a signature read is ~25 ms); it catches up
        # when it is shown again (on_screen_resume)
        if self.app.screen is self:  # (is_current is also true under an opaque screen)
            self.poll()

    def on_resize(self, event) -> None:
        wide = event.size.width >= 140
        if wide != self.wide:
            self.wide = wide
            table = self.query_one(LineTable)
            table.columns = self._columns()
            self._fill()

    @work(thread=True, exclusive=True, group="runs-load", exit_on_error=False,
          description="loading runs")
    def load(self) -> None:
        conn = da.open_conn(self.app.store_path)
        try:
            runs = da.list_runs(conn)
            sig = da.runs_signature(conn)
        finally:
            conn.close()
        self.app.call_from_thread(self._loaded, runs, sig)

    @work(thread=True, exclusive=True, group="runs-poll", exit_on_error=False,
          description="watching for new runs and episodes")
    def poll(self) -> None:
        if not self._look.changed():  # nothing committed since the last look
            return
        conn = da.open_conn(self.app.store_path)
        try:
            sig = da.runs_signature(conn)
            if sig == self._signature:
                return
            runs = da.list_runs(conn)
        finally:
            conn.close()
        self.app.call_from_thread(self._loaded, runs, sig)

    def _loaded(self, runs: list[da.RunRow], sig: tuple) -> None:
        self.runs, self._signature = runs, sig
        self._fill()
        if "t2e_tui.gate" not in sys.modules:
            self.set_timer(WARM_AFTER_S, self._warm)

    def _warm(self) -> None:
        """The tasks screen names transitions by the gate's rule: import the gate (numpy and
        all, ~0.2 s of CPU) a moment after the runs are on screen (not while the first screen
        settles), rather than on the first tasks screen's way to its first paint."""
        if "t2e_tui.gate" not in sys.modules:
            self.run_worker(_import_gate, thread=True, group="runs-warm", exit_on_error=False,
                            description="loading the gate")

    def _fill(self) -> None:
        rows = []
        for r in self.runs:
            mark = ("B" if r.run_id == self.baseline else "") + (
                "C" if r.run_id == self.candidate else "")
            model = (f"{r.agent_model} (stand-in)" if r.scripted else r.agent_model) or "?"
            status = r.status + (f" +{r.running}" if r.running else "")
            row = [[(mark, "bold")], f"{r.run_id} {one_line(r.name, 200)}",
                   [(one_line(model, 40), "scripted" if r.scripted else "")],
                   [(status, "running" if r.status == "running" else "")]]
            if self.wide:
                row += [r.role, one_line(r.source or "rerun", 60),
                        (r.candidate_hash or "")[:8]]
            row += [str(r.episodes), _num(r.reward), _pct(r.pass_rate)]
            rows.append(row)
        table = self.query_one(LineTable)
        table.fit_columns(rows)
        table.set_rows(rows)
        self.refresh_title()
        note = SCRIPTED_NOTE if any(r.scripted for r in self.runs) else ""
        self.query_one("#runs-note", Static).update(Text(note, style="yellow"))
        self._info(table.cursor)

    def refresh_title(self) -> None:
        """The marked pair, then which store is open (its file name: `t2e open` was given the
        path), or that the store was replaced under the app. Fitted to the width (FitTitle):
        the labels shorten (`B`, `C`, as in the mark column), then the ids go (they are in the
        table) unless the two names are the same, then the names are cut apart; the store's
        name stays."""
        b, c = self._run(self.baseline), self._run(self.candidate)
        same = b is not None and c is not None and b.name == c.name
        parts = [Part("Runs", "bold"), Part("   ")]
        parts += run_parts(("baseline: ", "base ", "B "), *self._name_id(b, self.baseline),
                           keep_id=same)
        parts.append(Part(("   ", "  ")))
        parts += run_parts(("candidate: ", "cand ", "C "), *self._name_id(c, self.candidate),
                           keep_id=same)
        if getattr(self.app, "store_replaced", False):
            parts.append(Part("   STORE REPLACED: quit and reopen", "bold red"))
        else:
            name = one_line(Path(self.app.store_path).name, 80)
            parts += [Part(("   store ", "  store ", "  "), "dim", give=2),
                      Part(name, "dim", give=1, cut="middle", least=12)]
        self.query_one("#runs-title", FitTitle).set_lines(parts)

    def _run(self, run_id: str | None) -> da.RunRow | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    @staticmethod
    def _name_id(run: da.RunRow | None, run_id: str | None) -> tuple[str | None, str | None]:
        # a marked run not (yet) in the list shows its id alone
        return (None, run_id) if run is None else (run.name, run.run_id)

    @on(LineTable.Highlighted, "#runs-table")
    def _highlighted(self, event: LineTable.Highlighted) -> None:
        self._info(event.row)

    @on(LineTable.Selected, "#runs-table")
    def _selected(self) -> None:
        """Enter (or a second click) opens the run under the cursor: the marked pair when it
        is one of the pair, else that run on its own against the gold actions (never a pair
        the cursor is not on; `o` opens the marked pair)."""
        run = self._current()
        if run is None:
            return
        if self.baseline and self.candidate and run.run_id in (self.baseline, self.candidate):
            self.app.open_tasks(self.baseline, self.candidate)
        else:
            self.app.open_tasks(run.run_id, None)

    def _info(self, index: int) -> None:
        if not self.runs or index >= len(self.runs):
            self.query_one("#runs-info", TextLine).set(Text())
            return
        r = self.runs[index]
        # what tells runs apart first; an imported run's source is its file's name (the
        # folder is the same for a pair and would push the name out of an 80-column line)
        source = (r.source or "rerun").replace("\\", "/").rsplit("/", 1)[-1] or r.source
        # fitted by priority (F1 shows it whole): the id, role and size stay; what qualifies
        # the figures (not re-scorable here: rewards as recorded, or no gold; unscored and
        # infrastructure episodes left out) shortens but stays, and comes next, so the
        # line's last-resort end cut never takes it; the source file is cut in its middle
        # before those shorten; the stand-in (said below), the user model, the candidate,
        # then the domain give way first
        def part(forms, give=0, **kw) -> Part:
            return Part(forms, "dim", give=give, **kw)
        user, domain = one_line(r.user_model or "?", 80), one_line(r.domain or "?", 80)
        cand = (r.candidate_hash or "–")[:8]
        parts = [part(f"{r.run_id} · {one_line(r.role, 40)} · {r.tasks} tasks")]
        if caveat := r.rescore_caveat:
            parts.append(part(tuple(f" · {c}" for c in caveat), 1))
        if r.scored != r.episodes:  # the figures are over the scored episodes only
            parts.append(part((f" · {r.scored} of {r.episodes} episodes scored",
                               f" · {r.scored}/{r.episodes} scored"), 1))
        if r.infrastructure_errors:
            parts.append(part((f" · {r.infrastructure_errors} infrastructure errors "
                               "(excluded)", f" · {r.infrastructure_errors} infra errors"), 1))
        parts += [part(f" · from {one_line(source, 300)}", 2, cut="middle", least=16),
                  part((f" · user {user}", ""), 5),
                  part((f" · candidate {cand}", f" · cand {cand}", ""), 4),
                  part((f" · domain {domain}", f" · {domain}", ""), 3)]
        if r.scripted:
            parts.append(part((" · scripted stand-in", ""), 6))
        self.query_one("#runs-info", TextLine).set(parts)

    def _current(self) -> da.RunRow | None:
        table = self.query_one(LineTable)
        if not self.runs:
            return None
        return self.runs[min(table.cursor, len(self.runs) - 1)]

    def action_mark(self, which: str) -> None:
        run = self._current()
        if run is None:
            return
        setattr(self, which, run.run_id)
        other = "candidate" if which == "baseline" else "baseline"
        if getattr(self, other) == run.run_id:
            setattr(self, other, None)
        self._share_marks()
        self._fill()

    def _share_marks(self) -> None:
        # the workbench (gate, rerun) reads the pair from the app; the next session restores it
        self.app.baseline_run, self.app.candidate_run = self.baseline, self.candidate
        note = getattr(self.app, "note_marks", None)
        if note is not None:
            note(self.baseline, self.candidate)

    def on_screen_resume(self) -> None:
        note = getattr(self.app, "note_screen", None)
        if note is not None:
            note("runs")
        if self._signature is not None and getattr(self.app, "poll_interval", 0):
            self.poll()  # what changed while another screen was on top

    def action_unmark(self) -> None:
        self.baseline = self.candidate = None
        self._share_marks()
        self._fill()

    def action_open(self) -> None:
        """Open the marked pair; with no pair, the highlighted run on its own (vs gold)."""
        if self.baseline and self.candidate:
            self.app.open_tasks(self.baseline, self.candidate)
            return
        run = self._current()
        if run is None:
            self.notify("no runs yet", severity="warning")
            return
        if self.baseline and self.baseline != run.run_id:
            self.app.open_tasks(self.baseline, run.run_id)
        else:
            self.app.open_tasks(run.run_id, None)

    def action_failures(self) -> None:
        """Failures of the marked candidate against the marked baseline, else of the run
        under the cursor."""
        if self.candidate:
            self.app.open_failures(self.candidate, self.baseline)
            return
        r = self._current()
        if r is not None:
            self.app.open_failures(r.run_id)

    def action_reload(self) -> None:
        self.load()

    def action_jump(self) -> None:
        table = self.query_one(LineTable)
        cmds = [SimpleCommand(f"{r.name} {r.run_id} {r.agent_model or ''}",
                              (lambda i=i: table.move_to(i)), f"{r.episodes} episodes")
                for i, r in enumerate(self.runs)]
        self.app.search_commands(cmds, placeholder="Jump to run…")


WARM_AFTER_S = 1.5


def _import_gate() -> None:
    import t2e_tui.gate  # noqa: F401
