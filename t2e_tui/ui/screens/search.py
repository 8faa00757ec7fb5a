"""Full-text search over the store (`/`); a result opens the compare screen at its step."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from ... import data_access as da
from ...textsafe import one_line, strip_controls
from ..widgets.fittitle import Part
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LineTable
from ..widgets.textline import TextLine, watched_part
from .base import ExplorerScreen

OPEN, CLOSE = "\u00ab", "\u00bb"  # store.queries marks matches with « »
RUN_MAX = 28   # widest run-name column (names like "cross-order-v1 heldout" are 22)
TASK_MAX = 20  # widest task-id column (tau2 ids are short, mini-retail "crossorder-01")


def _flat(text: str, limit: int) -> str:
    # keep the spaces at the edges: segments are joined, so they separate words
    return strip_controls(text[: limit * 2]).replace("\n", " ⏎ ")[:limit]


LEAD = 16  # context kept before the first match, so a narrow column still shows the match


def snippet_cell(snippet: str) -> list[tuple[str, str]]:
    """FTS snippet with «…» around matches → highlighted segments (cleaned text). The cell
    is cut on the right, so long context before the first match is shortened to its tail."""
    out: list[tuple[str, str]] = []
    rest = strip_controls(snippet or "")  # before cutting, so no sequence is cut in half
    first = rest.find(OPEN)
    if first > LEAD:
        rest = "…" + rest[first - LEAD:].lstrip("…")
    while rest:
        start = rest.find(OPEN)
        if start < 0:
            out.append((_flat(rest, 400), ""))
            break
        if start:
            out.append((_flat(rest[:start], 400), ""))
        end = rest.find(CLOSE, start)
        end = len(rest) if end < 0 else end
        out.append((_flat(rest[start + 1:end], 200), "hit"))
        rest = rest[end + 1:]
    return out


class SearchScreen(ExplorerScreen):
    """Type words (all must match); Enter runs the search, Enter on a hit opens it. Hits come
    in storage order, or ranked by relevance (bm25, as `t2e search --rank`) after ctrl+o."""

    HELP_TITLE = "Search"

    BINDINGS = [
        Binding("down", "focus_results", "Results", show=False, id="search.results"),
        Binding("ctrl+o", "toggle_rank", "Rank", id="search.rank"),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()  # no fixed id: the same screen type may be stacked twice
        self.initial = query
        self.hits: list[da.Hit] = []
        self.ranked = False
        self.last = ""  # the words of the hits shown

    def compose(self) -> ComposeResult:
        yield Static(Text("Search: full text over messages, tool arguments and results",
                          style="bold"), classes="title")
        yield Input(value=self.initial, placeholder="words to find…", id="search-input")
        # run and task fit their longest name in the hits (capped so the match keeps room);
        # the snippet takes the rest and is the part cut
        yield LineTable([Column("run", 14, fit=RUN_MAX), Column("task", 6, fit=TASK_MAX),
                         Column("step", 5, "right", fit=6), Column("role", 9, fit=9),
                         Column("match", 0)], id="search-results",
                        empty="type words and press Enter")
        yield TextLine(id="search-status", classes="info")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        from store.heldout import list_sets

        conn = da.open_conn(self.app.store_path)
        try:
            sets = {s["name"]: s for s in list_sets(conn)}   # a few rows
        finally:
            conn.close()
        if sets:   # said before a search shows any trace text (hits are views)
            roles = "/".join(sorted({s["role"] for s in sets.values()}))
            self.query_one("#search-status", TextLine).set(
                [Part((f"⚠ hits of {roles} tasks count as views: a candidate saved after "
                       "is graded development", f"⚠ hits of {roles} tasks count as views"),
                      "bold yellow", give=1, cut="end", least=20)])
        if self.initial:
            self.run_search(self.initial)

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.run_search(event.value)

    def action_toggle_rank(self) -> None:
        """Storage order <-> ranked by relevance; the words shown are searched again."""
        self.ranked = not self.ranked
        text = self.query_one(Input).value.strip() or self.last
        if text:
            self.run_search(text)
        else:
            self.query_one("#search-status", TextLine).set(Text(
                f"hits will come in {self._order()}", style="dim"))

    def _order(self) -> str:
        return "ranked (bm25)" if self.ranked else "storage order"

    @work(thread=True, exclusive=True, group="search", exit_on_error=False,
          description="searching the store")
    def run_search(self, text: str) -> None:
        clock = self.app.clock
        conn = da.open_conn(self.app.store_path)
        try:
            t0 = clock()
            hits = da.search(conn, text, rank=self.ranked)
            ms = (clock() - t0) * 1000
            from store.heldout import watched_tasks
            watched = watched_tasks(conn, episode_ids=[h.episode_id for h in hits])
            # the hits show trace text: views for the gate's leakage guard
            da.record_views(conn, [h.episode_id for h in hits], via="tui-search",
                            drafting_candidate=getattr(self.app, "drafting_candidate", None))
        finally:
            conn.close()
        self.app.call_from_thread(self._show, text, hits, ms, watched)

    def _show(self, text: str, hits: list[da.Hit], ms: float, watched: dict | None = None
              ) -> None:
        self.hits, self.last = hits, text
        table = self.query_one(LineTable)
        rows = [[one_line(h.run_name, 40), one_line(h.task_id, 40), str(h.idx),
                 h.role, snippet_cell(h.snippet)] for h in hits]
        table.fit_columns(rows)
        table.set_rows(rows, keep_cursor=False)
        more = " (first 200)" if len(hits) >= 200 else ""
        table.empty = f"no step contains {one_line(text, 60)!r}: try fewer or other words"
        # fitted (F1 shows it whole): the count and the key stay, the words searched for are
        # cut in their middle last
        said = one_line(text, 60)
        warn = [watched_part(watched, "hits")] if watched else []
        self.query_one("#search-status", TextLine).set(warn + (
            [Part(f"{len(hits)} hit(s){more}", "dim"),
             Part(f" for {said!r}", "dim", give=1, cut="middle", least=12),
             Part((f" in {ms:.0f} ms", ""), "dim", give=3),
             Part((f" · {self._order()}", ""), "dim", give=2),
             Part(" · Enter opens", "dim")] if hits else
            [Part("no hits for ", "yellow"),
             Part(f"{said!r}", "yellow", give=1, cut="middle", least=12),
             Part((f" ({ms:.0f} ms)", ""), "yellow", give=2)]))
        if hits:
            table.focus()

    def action_focus_results(self) -> None:
        self.query_one(LineTable).focus()

    @on(LineTable.Selected, "#search-results")
    def _open(self, event: LineTable.Selected) -> None:
        if event.row < len(self.hits):
            self.app.open_hit(self.hits[event.row])
