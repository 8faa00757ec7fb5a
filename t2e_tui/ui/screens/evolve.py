"""The evolve screen: the live tree of a `t2e evolve` loop's proposals (per iteration: the
parent, each proposal with its dev reward, Pareto membership, the frozen one and its heldout
gate). `s` starts a loop from the current candidate with the offline stand-in proposer, `p`
pauses it after the current run, `e` edits the selected proposal by hand (the edit joins the
paused iteration as a proposal of its own), `c` continues. All store reads run in workers."""

from __future__ import annotations

import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...textsafe import one_line
from ..widgets.datatable import PlainDataTable
from ..widgets.keybar import KeyBar

STYLE = {"promote": "green", "discard": "red", "inconclusive": "yellow"}


class EvolveScreen(Screen):
    BINDINGS = [
        Binding("s", "start", "Start loop", id="evolve.start"),
        Binding("p", "pause", "Pause", id="evolve.pause"),
        Binding("c", "resume", "Continue", id="evolve.continue"),
        Binding("e", "edit", "Edit proposal", id="evolve.edit"),
        Binding("j", "cursor(1)", "Down", show=False, id="evolve.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="evolve.up"),
        Binding("escape", "app.pop_screen", "Back", id="evolve.back"),
    ]

    DEFAULT_CSS = """
    EvolveScreen #evo-status { height: auto; padding: 0 1; }
    EvolveScreen DataTable { height: 1fr; }
    EvolveScreen #evo-detail { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, loop_id: str | None = None):
        super().__init__()
        self.loop_id = loop_id
        self.state: dict = {"rows": [], "status": None}
        self.cancel: threading.Event | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("Evolve", "bold"), ("  · stand-in proposer + agent: proves "
                                                         "nothing about models", "dim")),
                     classes="title", id="evo-title")
        yield Static("", id="evo-status")
        yield PlainDataTable(id="evo-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="evo-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in (("it", 2), ("version", 28), ("dev", 5), ("P", 1),
                             ("heldout gate", 19), ("author", 10)):
            table.add_column(label, width=width)
        self.refresh_state()
        self.set_interval(0.5, self._tick)

    def _tick(self) -> None:
        if self.running:
            self.refresh_state()

    @work(thread=True, exclusive=True, group="evolve-read", description="reading the loop")
    def refresh_state(self) -> None:
        from store import connect

        from ...evolve.view import latest_loop, loop_state

        conn = connect(self.app.store_path)
        try:
            loop_id = self.loop_id or latest_loop(conn)
            state = loop_state(conn, loop_id) if loop_id else {"rows": [], "status": None,
                                                              "loop_id": None}
        finally:
            conn.close()
        self.app.call_from_thread(self._show, state)

    def _show(self, state: dict) -> None:
        self.state = state
        if state.get("loop_id"):
            self.loop_id = state["loop_id"]
        status = Text()
        if not state.get("loop_id"):
            status.append("no evolve loop in this store yet: s starts one from the current "
                          "candidate (offline stand-in proposer)", "dim")
        else:
            status.append(f"loop {state['loop_id'][:8]}: ", "bold")
            status.append(state["status"] + ("  (running)" if self.running else ""))
            if state.get("current"):
                status.append(f"  · last step {state['current']}", "dim")
        self.query_one("#evo-status", Static).update(status)
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for r in state["rows"]:
            name = one_line(r["name"] or "-")
            if r["kind"] == "parent":
                name = Text(f"parent {name}", "dim")
            elif r["kind"] == "skipped":
                name = Text(f"skipped: {one_line(r['error'] or '')}", "red")
            else:
                name = Text(("* " if r["frozen"] else "  ") + name)
            dev = "-" if r["dev"] is None else f"{r['dev']:.3f}"
            g = r.get("gate")
            gate = Text("") if not g else Text(f"{g['decision']} ({g['evidence_role']})",
                                               STYLE.get(g["decision"], ""))
            table.add_row(str(r["iteration"]), name, dev, "✓" if r["pareto"] else "", gate,
                          one_line(r["author"] or "")[:10])
        if state["rows"]:
            table.move_cursor(row=min(row, len(state["rows"]) - 1))
        self._detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def _selected(self) -> dict | None:
        rows = self.state.get("rows") or []
        i = self.query_one(DataTable).cursor_row
        return rows[i] if 0 <= i < len(rows) else None

    def _detail(self) -> None:
        r = self._selected()
        text = Text()
        if r and r["kind"] == "proposal":
            text.append("hypothesis: ", "bold")
            text.append(one_line(r["hypothesis"] or "-"))
            for m in r["motivations"][:2]:
                refs = ", ".join(f"{x['episode_id']}:{x.get('step')}" for x in m["refs"][:6])
                text.append(f"\nrule: {one_line(m['rule'])}  ← episodes:steps {refs}")
        self.query_one("#evo-detail", Static).update(text)

    def action_cursor(self, delta: int) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, table.cursor_row + delta))

    def action_start(self) -> None:
        if self.running:
            self.notify("a loop is already running here", severity="warning")
            return
        self._run(None)

    def action_resume(self) -> None:
        if self.running:
            return
        if not self.loop_id or self.state.get("status") not in ("paused", "stopped", "running"):
            self.notify("nothing to continue: s starts a loop", severity="warning")
            return
        self._run(self.loop_id)

    def action_pause(self) -> None:
        if self.running and self.cancel is not None:
            self.cancel.set()
            self.notify("pausing after the current run's episodes")

    def action_edit(self) -> None:
        from store import connect

        from ...candidate_versions import get_version
        from .workbench_editor import EditorScreen

        r = self._selected()
        if not r or r["kind"] != "proposal":
            self.notify("select a proposal to edit", severity="warning")
            return
        if self.running:
            self.notify("pause the loop (p) before editing a proposal", severity="warning")
            return
        conn = connect(self.app.store_path)
        try:
            v = get_version(conn, r["hash"])
        finally:
            conn.close()
        self.app.push_screen(EditorScreen(v))

    def _run(self, resume: str | None) -> None:
        self.cancel = threading.Event()
        self.running = True
        self._loop_worker(resume, self.cancel)

    @work(thread=True, exclusive=True, group="evolve-run", description="the evolve loop")
    def _loop_worker(self, resume: str | None, cancel: threading.Event) -> None:
        from store import connect

        from ...evolve import EvolveConfig, evolve
        from .workbench_context import candidates_dir_for, current_version

        try:
            cfg = None
            if resume is None:
                conn = connect(self.app.store_path)
                try:
                    v = current_version(self.app, conn)
                finally:
                    conn.close()
                cfg = EvolveConfig(start=v.hash if v else "baseline",
                                   candidates_dir=str(candidates_dir_for(self.app)))
            out = evolve(self.app.store_path, cfg, resume=resume, cancel=cancel)
            self.loop_id = out["loop_id"]
            self.app.call_from_thread(self.notify, f"evolve loop {out['loop_id'][:8]}: "
                                      f"{out['status']}")
        finally:
            self.running = False
            self.app.call_from_thread(self.refresh_state)
