"""Rerun this task (#14): the baseline (A) and the draft (B), k trials each, fresh seeds.

The runs play in a worker thread (engine/task_rerun.py) and stream into the store; this screen
polls the store every POLL seconds for both runs' episodes and the newest steps, and draws:
the per-trial outcome strip (`A ✓✓✗  B ✓✓✓`, `·` still running), each side's flip rate
(discordant trial pairs, gate/stats.py), one row per trial (Enter opens it in the lanes against
the other side's same trial), and the live tail of the newest steps. Development evidence only.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from store.termination import reward_text, termination_text

from ... import data_access as da
from ...gate.stats import flip_rate
from ...textsafe import one_line
from ..widgets.keybar import KeyBar
from ..widgets.linetable import Column, LineTable
from .base import ExplorerScreen

POLL = 0.015  # s between store reads while the runs play (first step on screen <= 100 ms)
TAIL = 5     # newest steps shown live


def outcome_strip(sides: list[tuple[str, list[bool | None]]]) -> Text:
    """`A ✓✓✗  B ✓✓·` (· = not finished) with each side's flip rate."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, (name, outs) in enumerate(sides):
        if i:
            t.append("  ")
        t.append(f"{name} ", style="bold")
        for o in outs:
            t.append("·" if o is None else "✓" if o else "✗",
                     style="dim" if o is None else "green" if o else "red")
    for name, outs in sides:
        done = [o for o in outs if o is not None]
        fr = flip_rate(done)
        t.append(f"  flip {name} " + ("–" if fr is None else f"{fr:.2f}"), style="dim")
    return t


class TaskRerunScreen(ExplorerScreen):
    """Live view of a task rerun; Enter on a trial opens it in the lanes."""

    DEFAULT_CSS = """
    TaskRerunScreen #rerun-trials { height: auto; max-height: 14; }
    TaskRerunScreen #rerun-live { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis;
        color: $text-muted; }
    """
    BINDINGS = [Binding("ctrl+c,f8", "cancel_rerun", "Stop", id="rerun.cancel",
                        priority=True)]

    def __init__(self, task_id: str, episode_id: int, labels: tuple[str, str],
                 plans: list[Any] | None = None, *, plan_kwargs: dict | None = None) -> None:
        super().__init__()
        self.task_id, self.episode_id, self.labels = task_id, episode_id, labels
        self.plans, self.plan_kwargs = plans, plan_kwargs or {}
        self.run_ids: list[str | None] = [None, None]
        self.rows: list[dict] = []
        self.finished = False
        self.error: str | None = None
        self.started_at = time.perf_counter()
        self._shown_t0: float | None = None   # app.clock() at begin (snapshots fix the clock)
        self._app_ref: Any = None
        self.first_step_at: float | None = None   # bench: when the first new step was drawn
        self.finished_at: float | None = None
        self._cancel = threading.Event()
        self._timer = None
        self._began = False

    def compose(self) -> ComposeResult:
        yield Static(self._head(), id="rerun-title", classes="title")
        yield Static(outcome_strip([("A", []), ("B", [])]), id="rerun-strip")
        yield LineTable([Column("side", 4), Column("trial", 5), Column("", 2),
                         Column("reward", 6, "right"), Column("steps", 5, "right"),
                         Column("termination", 0)], id="rerun-trials",
                        empty="starting…")
        yield Static("", id="rerun-live")
        yield KeyBar()

    def _head(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("Rerun task ", style="bold")
        t.append(one_line(self.task_id, 24))
        t.append(f" · A {one_line(self.labels[0], 24)} · B {one_line(self.labels[1], 24)}")
        t.append("\ndevelopment evidence only (never heldout) · fresh seeds", style="dim")
        if "scripted" in " ".join(self.labels) or not self.plans or any(
                p.agent.kind == "scripted" for p in self.plans):
            t.append(" · scripted stand-in: proves nothing about models",
                     style="yellow italic")
        return t

    def begin(self, app: Any) -> None:
        """Start playing before the screen is even composed (the first step is then on
        screen sooner); `on_mount` starts it if the caller did not."""
        if self._began:
            return
        self._began = True
        self._app_ref = app
        self._shown_t0 = app.clock() if hasattr(app, "clock") else time.perf_counter()
        app.run_worker(self._play, thread=True, group="task-rerun", exit_on_error=False,
                       description="rerunning the task")

    def on_mount(self) -> None:
        self.query_one(LineTable).focus()
        self.begin(self.app)
        self._timer = self.set_interval(POLL, self._poll)
        self._poll()

    def _play(self) -> None:
        from ...engine.task_rerun import execute_task_rerun, plan_task_rerun
        store_path = self._app_ref.store_path
        try:
            plans = self.plans
            if plans is None:
                conn = da.open_conn(store_path)
                try:
                    plans = plan_task_rerun(conn, self.episode_id, **self.plan_kwargs)
                finally:
                    conn.close()
                self.plans = plans

            def started(i: int, run_id: str) -> None:
                self.run_ids[i] = run_id
            execute_task_rerun(plans, store_path, on_start=started, cancel=self._cancel)
        except Exception as exc:  # noqa: BLE001 - shown on the screen, one line
            from ...errors import error_text

            self.error = error_text(exc)
        finally:
            self.finished = True

    def _poll(self) -> None:
        # read `finished` before the store: the last rows are then surely in this read
        finished = self.finished
        ids = [r for r in self.run_ids if r]
        if not ids:
            if finished:
                self._finish()
            return
        conn = da.open_conn(self.app.store_path)
        try:
            from ...ui_queries import rerun_progress

            rows, tail = rerun_progress(conn, list(ids), TAIL)
        finally:
            conn.close()
        side = {rid: "AB"[i] for i, rid in enumerate(self.run_ids) if rid}
        self.rows = [{"episode_id": r[0], "side": side[r[1]], "trial": r[2], "done":
                      r[3] == "done", "success": r[4], "reward": r[5], "term": r[6],
                      "steps": r[7]} for r in rows]
        self.rows.sort(key=lambda r: (r["side"], r["trial"]))
        self._draw(tail, finished)
        if finished:
            self._finish()

    def _draw(self, tail: list, finished: bool = False) -> None:
        k = [len(p.task_ids) * p.trials for p in (self.plans or [])]
        sides = []
        for i, name in enumerate("AB"):
            outs: list[bool | None] = [bool(r["success"]) if r["done"] else None
                                       for r in self.rows if r["side"] == name]
            want = k[i] if len(k) > i else len(outs)
            sides.append((name, outs + [None] * max(0, want - len(outs))))
        strip = outcome_strip(sides)
        done = sum(1 for r in self.rows if r["done"])
        strip.append(f"  {done}/{sum(len(o) for _n, o in sides)} done", style="dim")
        if finished and self.finished_at is None:
            clock = getattr(self.app, "clock", time.perf_counter)
            strip.append(f" in {clock() - (self._shown_t0 or 0.0):.2f} s", style="dim")
        self.query_one("#rerun-strip", Static).update(strip)
        table = self.query_one(LineTable)
        table.set_rows([[r["side"], str(r["trial"]),
                         [("✓", "pass")] if r["done"] and r["success"] else
                         [("✗", "fail")] if r["done"] else [("·", "running")],
                         reward_text(r["reward"], r["term"], missing="–"), str(r["steps"]),
                         termination_text(r["term"], "done" if r["done"] else "running")]
                        for r in self.rows])
        if tail:
            live = Text(no_wrap=True, overflow="ellipsis")
            for eid, idx, role, content, calls in reversed(tail):
                who = next((f"{r['side']}{r['trial']}" for r in self.rows
                            if r["episode_id"] == eid), "?")
                text = content if content else (calls or "")
                live.append(f"{who} {idx:>3} {role[:4]:<4} ", style="dim")
                live.append(one_line(text, 200) + "\n")
            self.query_one("#rerun-live", Static).update(live)
            # the tail shows the reruns' steps word for word: evidence views of their episodes
            self.record_views([t[0] for t in tail], "tui-rerun")
            if self.first_step_at is None:
                self.first_step_at = time.perf_counter()

    def _finish(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.finished_at = time.perf_counter()
        if self.error:
            self.query_one("#rerun-strip", Static).update(
                Text("rerun failed: " + one_line(self.error, 300), style="bold red"))
            self.notify(one_line(self.error, 300), severity="error", timeout=10)

    @on(LineTable.Selected, "#rerun-trials")
    def open_trial(self, event: LineTable.Selected) -> None:
        """Enter on a trial: its lanes against the other side's same trial."""
        if event.row >= len(self.rows):
            return
        row = self.rows[event.row]
        other = next((r["episode_id"] for r in self.rows if r["side"] != row["side"]
                      and r["trial"] == row["trial"]), None)
        a, b = (row["episode_id"], other) if row["side"] == "A" else (other, row["episode_id"])
        if a is None:
            a, b = b, None
        self.app.open_compare(a, b)

    def action_cancel_rerun(self) -> None:
        if not self.finished:
            self._cancel.set()
            self.notify("stopping the rerun (finished trials stay)", timeout=3)

    def on_unmount(self) -> None:
        self._cancel.set()
