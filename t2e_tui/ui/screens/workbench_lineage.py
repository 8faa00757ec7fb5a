"""The lineage view: saved candidate versions as a tree, each with its latest reward, gate
verdict and human decision, plus a sparkline of reward across versions.

Enter edits the selected version (its child will be the next save); d diffs it against its
parent; a runs its ablation (one rerun per left-out rule line).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...candidate_versions import get_version, lineage, sparkline
from ...textsafe import strip_controls
from ..widgets.keybar import KeyBar

DECISION_STYLE = {"promote": "green", "discard": "red", "inconclusive": "yellow"}


class LineageScreen(Screen):
    """Versions in tree order; the data is small (one row per saved version)."""

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="lineage-edit"),
        Binding("d", "diff", "Diff vs parent", id="lineage-diff"),
        Binding("a", "ablate", "Ablate rules", id="lineage-ablate"),
        Binding("escape", "app.pop_screen", "Back", id="lineage-back"),
    ]

    DEFAULT_CSS = """
    LineageScreen #lin-spark { height: 1; padding: 0 1; }
    LineageScreen DataTable { height: 1fr; }
    LineageScreen #lin-hyp { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Candidate lineage", classes="title", id="lin-title")
        yield Static("", id="lin-spark")
        yield DataTable(id="lin-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="lin-hyp")
        yield KeyBar()

    def on_mount(self) -> None:
        from .workbench_hooks import candidates_dir_for

        # where saved versions' files go (a demo store has its own folder): said, not guessed
        title = Text("Candidate lineage", "bold")
        title.append(f"  · files in {candidates_dir_for(self.app)}", "dim")
        self.query_one("#lin-title", Static).update(title)

    def on_screen_resume(self) -> None:
        # also the first show (Textual resumes a screen when it is pushed, after its mount)
        self.reload()

    def reload(self) -> None:
        from store import connect

        conn = connect(self.app.store_path)
        try:
            self.rows = lineage(conn)
        finally:
            conn.close()
        # reward across the versions people saved (ablation variants are experiments on one)
        spark = sparkline([r["reward"] for r in self.rows if not r.get("ablation")])
        self.query_one("#lin-spark", Static).update(
            Text.assemble(("reward by version ", "dim"), (spark or "-", "bold"),
                          ("   (· = no run yet)", "dim")))
        table = self.query_one(DataTable)
        table.clear(columns=True)
        # fixed widths: auto-width columns are sized before the rows arrive after a clear
        for label, width in (("version", 26), ("hash", 10), ("reward", 6), ("gate", 20),
                             ("human", 16), ("transfer", 10), ("saved UTC", 11)):
            table.add_column(label, width=width)
        for r in self.rows:
            name = "  " * r["depth"] + ("└ " if r["depth"] else "") + strip_controls(r["name"])
            if r.get("ablation"):
                name = Text(name, "dim")
            reward = "-" if r["reward"] is None else f"{r['reward']:.3f}"
            g = r.get("gate")
            gate = Text("-", "dim") if not g else Text(
                f"{g['decision']} ({g['evidence_role']})", DECISION_STYLE.get(g["decision"], ""))
            if (r.get("transfer") or {}).get("flagged"):
                gate.append(" ✗T", "bold red")  # rejected on transfer (column "transfer")
            h = (g or {}).get("human")
            human = Text("-", "dim") if not h else Text(
                h["decision"] + (" override" if h["override"] else ""),
                DECISION_STYLE.get(h["decision"], ""))
            table.add_row(name, r["short"], reward, gate, human, _transfer_cell(r),
                          r["saved_at"][5:16].replace("T", " "))  # MM-DD HH:MM UTC
        if not self.rows:
            table.add_row(Text("no saved versions yet: e edits, ctrl+s saves", "dim"),
                          "", "", "", "", "", "")
        self._show_hyp()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # DataTable takes Enter itself (select_cursor), so the screen listens here
        event.stop()
        self.action_edit()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_hyp()

    def _selected(self) -> dict | None:
        table = self.query_one(DataTable)
        if not getattr(self, "rows", None) or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _show_hyp(self) -> None:
        r = self._selected()
        text = Text()
        if r:
            text.append("hypothesis: ", "bold")
            text.append(strip_controls(r.get("hypothesis") or "-"))
        self.query_one("#lin-hyp", Static).update(text)

    def action_edit(self) -> None:
        from store import connect

        from .workbench_editor import EditorScreen

        r = self._selected()
        if not r:
            return
        conn = connect(self.app.store_path)
        try:
            v = get_version(conn, r["hash"])
        finally:
            conn.close()
        self.app.push_screen(EditorScreen(v))

    def action_diff(self) -> None:
        from store import connect

        from .workbench_editor import DiffScreen

        r = self._selected()
        if not r:
            return
        conn = connect(self.app.store_path)
        try:
            v = get_version(conn, r["hash"])
            p = get_version(conn, v.parent_hash) if v and v.parent_hash else None
        finally:
            conn.close()
        if p is None:
            self.notify(f"{r['name']} has no saved parent to diff against", severity="warning")
            return
        title = Text.assemble("Diff  ", (p.name, "bold"), f" {p.short}  →  ", (v.name, "bold"),
                              f" {v.short}")
        self.app.push_screen(DiffScreen(p.body, v.body, title))

    def action_ablate(self) -> None:
        from .workbench_ablation import AblationScreen

        r = self._selected()
        if not r:
            return
        self.app.push_screen(AblationScreen(r["hash"], r["name"]))


def _transfer_cell(r: dict) -> Text:
    """The transfer verdict beside the heldout one: ✗ rejected / ✓ held / unchecked / -."""
    st = r.get("transfer") or {}
    tr, home = st.get("transfer"), st.get("home")
    if tr:
        bad = (tr.get("human") or tr.get("decision")) == "discard"
        return Text("✗ rejected" if bad else "✓ held", "bold red" if bad else "green")
    if home and (home.get("human") or home.get("decision")) == "promote":
        return Text("unchecked", "yellow")
    return Text("-", "dim")
