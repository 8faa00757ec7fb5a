"""The lineage view: saved candidate versions as a tree, each with its reward on its home
evidence (the run below the table names it), gate verdict and human decision, plus a sparkline
of reward across versions on one domain and role (lineage_evidence.reward_line, as `t2e
candidate log` prints it).

Enter edits the selected version (its child will be the next save); d diffs it against its
parent; a runs its ablation (one rerun per left-out rule line).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...candidate_versions import get_version, lineage
from ...lineage_evidence import figure_text, on_axis, reward_line, transfers_text
from ...textsafe import strip_controls
from ..plain import plain
from ..widgets.datatable import KeyedDataTable
from ..widgets.keybar import KeyBar

DECISION_STYLE = {"promote": "green", "discard": "red", "inconclusive": "yellow"}


class LineageScreen(Screen):
    """Versions in tree order; the data is small (one row per saved version)."""

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="lineage.edit"),
        Binding("d", "diff", "Diff vs parent", id="lineage.diff"),
        Binding("a", "ablate", "Ablate rules", id="lineage.ablate"),
        Binding("escape", "app.pop_screen", "Back", id="lineage.back"),
    ]

    DEFAULT_CSS = """
    LineageScreen #lin-spark { height: auto; padding: 0 1; }  /* 2 lines at 80 */
    LineageScreen DataTable { height: 1fr; }
    LineageScreen #lin-hyp { height: auto; max-height: 5; padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Candidate lineage", classes="title", id="lin-title")
        yield Static("", id="lin-spark")
        yield KeyedDataTable(id="lin-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="lin-hyp")
        yield KeyBar()

    def on_mount(self) -> None:
        from .workbench_context import shown_candidates_dir

        # where saved versions' files go (a demo store has its own folder): said, not guessed
        title = Text("Candidate lineage", "bold")
        title.append(f"  · files in {shown_candidates_dir(self.app)}", "dim")
        self.query_one("#lin-title", Static).update(title)

    def on_screen_resume(self) -> None:
        # also the first show (Textual resumes a screen when it is pushed, after its mount)
        self.reload()

    def reload(self) -> None:
        """Read the lineage again (in a worker); the cursor stays on the version it was on."""
        self._load()

    @work(thread=True, exclusive=True, group="lineage-load", exit_on_error=False,
          description="loading the candidate lineage")
    def _load(self) -> None:
        from store import connect

        conn = connect(self.app.store_path)
        try:
            rows = lineage(conn)
        finally:
            conn.close()
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[dict]) -> None:
        table = self.query_one(DataTable)
        was = self._selected()
        old_cursor = table.cursor_row
        self.rows = rows
        # reward across the versions people saved, on one domain and role: the CLI's words
        self.line = line = reward_line(self.rows)
        caption = Text(line["caption"], "dim")
        at = line["caption"].find(line["sparkline"]) if line["sparkline"] else -1
        if at >= 0:
            caption.stylize("bold", at, at + len(line["sparkline"]))
        self.query_one("#lin-spark", Static).update(caption)
        table.clear(columns=True)
        # fixed widths: auto-width columns are sized before the rows arrive after a clear
        # at 80 columns the verdict must show whole ("inconclusive (heldout)"); the version
        # names are indented by depth and end in their own text
        for label, width in (("version", 22), ("hash", 10), ("reward", 6), ("gate", 24),
                             ("human", 9), ("transfer", 10), ("saved UTC", 11)):
            table.add_column(label, width=width)
        for r in self.rows:
            # the indent is kept as typed here (a str cell is one_line'd, which trims it)
            name = Text("  " * r["depth"] + ("└ " if r["depth"] else ""), end="")
            name.append_text(plain(r["name"], width=200))
            if r.get("ablation"):
                name.stylize("dim")
            reward: str | Text = "-" if r["reward"] is None else f"{r['reward']:.3f}"
            if r["reward"] is not None and not on_axis(r, line):
                reward = Text(reward + "†", "dim")  # another domain or role: see below
            g = r.get("gate")
            role = {"development": "dev"}.get(g["evidence_role"], g["evidence_role"]) if g \
                else ""
            gate = Text("-", "dim") if not g else Text(
                f"{g['decision']} ({role})", DECISION_STYLE.get(g["decision"], ""))
            if (r.get("transfer") or {}).get("rejected"):
                # rejected on transfer, whatever heldout said: the column "transfer" and the
                # detail line say so too (TransferStatus.rejected, the one test of it)
                gate.append(" ✗T", "bold red")
            h = (g or {}).get("human")
            human = Text("-", "dim") if not h else Text(
                h["decision"] + ("*" if h["override"] else ""),  # * = override
                DECISION_STYLE.get(h["decision"], ""))
            table.add_row(name, r["short"], reward, gate, human, _transfer_cell(r),
                          r["saved_at"][5:16].replace("T", " "))  # MM-DD HH:MM UTC
        if not self.rows:
            table.add_row(Text("no saved versions", "dim"), "", "", "", "", "", "")
        # back from a diff, an edit or an ablation: the same version, not the top row
        keep = next((i for i, r in enumerate(self.rows) if was and r["hash"] == was["hash"]),
                    min(max(old_cursor, 0), max(len(self.rows) - 1, 0)))
        table.move_cursor(row=keep, animate=False)
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
            text.append("reward: ", "bold")
            text.append(strip_controls(figure_text(r.get("evidence"))))
            if r.get("evidence") and not on_axis(r, self.line):
                text.append("  († not on the sparkline)", "dim")
            more = transfers_text(r)
            if more:
                text.append(" · " + strip_controls(more))
            text.append("\nhypothesis: ", "bold")
            text.append(strip_controls(r.get("hypothesis") or "-"))
        elif not getattr(self, "rows", None):  # full width: the table cell would cut it
            text = Text("No saved versions yet: e opens the editor on the candidate, ctrl+s "
                        "saves a version with its hypothesis; R reruns it, G gates it.",
                        "yellow")
        self.query_one("#lin-hyp", Static).update(text)

    def action_edit(self) -> None:
        r = self._selected()
        if r:
            self._read_version("edit", r)

    def action_diff(self) -> None:
        r = self._selected()
        if r:
            self._read_version("diff", r)

    @work(thread=True, group="lineage-open", exit_on_error=False,
          description="reading a candidate version")
    def _read_version(self, what: str, r: dict) -> None:
        from store import connect

        conn = connect(self.app.store_path)
        try:
            v = get_version(conn, r["hash"])
            p = get_version(conn, v.parent_hash) if v and v.parent_hash else None
        finally:
            conn.close()
        self.app.call_from_thread(self._open_version, what, r, v, p)

    def _open_version(self, what: str, r: dict, v, p) -> None:
        from .workbench_editor import DiffScreen, EditorScreen

        if what == "edit":
            self.app.push_screen(EditorScreen(v))
            return
        if p is None:
            self.notify(f"{r['name']} has no saved parent to diff against", severity="warning")
            return
        title = Text.assemble("Diff  ", plain(p.name, "bold", 80), f" {p.short}  →  ",
                              plain(v.name, "bold", 80), f" {v.short}")
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
        bad = bool(st.get("rejected"))
        return Text("✗ rejected" if bad else "✓ held", "bold red" if bad else "green")
    if home and (home.get("human") or home.get("decision")) == "promote":
        return Text("unchecked", "yellow")
    return Text("-", "dim")
