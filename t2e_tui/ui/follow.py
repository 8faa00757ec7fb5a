"""Follow mode (#14): one app leads, others follow it read-only, through the store.

A leading app (`t2e open`) keeps a row in the `sessions` table (store/sessions.py): every TICK
it compares what it shows (screen, run pair, episodes, the step or task under the cursor) with
what it last wrote and writes only a change, plus a heartbeat every BEAT seconds. A following
app (`t2e open --follow NAME`) reads that row every TICK and goes where the leader is (within
~2 ticks, well under 500 ms), under a banner naming whom it follows. F9 takes over (stop
following and lead from here: the colleague can follow back), F10 stops following. When the
leader's row is gone or its heartbeat older than sessions.EXPIRE (the app was killed), the
banner says so and following stops.

Store I/O runs in short daemon threads (one at a time), never on the UI thread, so a store
locked by a long import can't freeze the keys; results come back with `call_from_thread`.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from rich.text import Text
from textual.screen import ModalScreen
from textual.widgets import Static

from store import sessions

from .. import data_access as da
from ..textsafe import one_line

TICK = 0.15   # s between state checks (leader) and polls (follower)
BEAT = 1.0    # s between heartbeats of an unchanged leader


class FollowBanner(Static):
    """The line on top of a following app's screen."""

    DEFAULT_CSS = """
    FollowBanner { dock: top; height: 1; background: $warning 40%; color: $text;
        text-style: bold; }
    """


def snapshot(app: Any) -> dict:
    """What the app shows, as the leader publishes it (the top non-modal screen)."""
    from .screens.compare import CompareScreen
    from .screens.tasks import TasksScreen
    from .widgets.linetable import LineTable

    screen = next((s for s in reversed(app.screen_stack) if not isinstance(s, ModalScreen)),
                  app.screen)
    if isinstance(screen, CompareScreen):
        eid, step = screen._cursor_step()
        return {"screen": "compare", "episode_a": screen.episode_a,
                "episode_b": screen.episode_b, "step": step, "step_episode": eid,
                "task": screen.a.task_id if screen.a else None}
    if isinstance(screen, TasksScreen):
        task = None
        try:
            cur = screen.query_one(LineTable).cursor
            task = screen.shown[cur].task_id if screen.shown and cur < len(screen.shown) else None
        except Exception:  # noqa: BLE001 - still composing
            pass
        return {"screen": "tasks", "baseline": screen.baseline, "candidate": screen.candidate,
                "task": task}
    return {"screen": "runs"}


class SessionLink:
    """The app's side of follow mode: lead (publish) or follow (poll and apply)."""

    def __init__(self, app: Any, *, name: str | None = None, follow: str | None = None,
                 leader_name: str | None = None, clock: Callable[[], float] = time.time):
        self.app = app
        self.name = name
        self.mode = "follow" if follow else "lead"
        self.leader_id, self.leader_name = follow, leader_name or follow
        self.session_id: str | None = None
        self.last_state: dict | None = None
        self.last_seq = -1
        self.last_beat = 0.0
        self.applied = 0          # states applied (tests wait on it)
        self._busy = False
        self._clock = clock
        self._timer = None

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self.mode == "lead":
            self._bg(self._register)
        self._timer = self.app.set_interval(TICK, self._tick)
        self.app.bind("f9", "follow_take_over", description="Take over", show=False)
        self.app.bind("f10", "follow_stop", description="Stop following", show=False)
        if self.mode == "follow":
            self._banner(f"following {self.leader_name} (read-only) · F9 take over · "
                         "F10 stop")

    def close(self) -> None:
        """The app is closing: remove this session's row (synchronously)."""
        if self._timer is not None:
            self._timer.stop()
        if self.session_id:
            conn = da.open_conn(self.app.store_path)
            try:
                sessions.end(conn, self.session_id)
            finally:
                conn.close()
            self.session_id = None

    def _bg(self, fn: Callable[[Any], Any], then: Callable[[Any], None] | None = None) -> None:
        """Run fn(conn) in a daemon thread (skipped while one is running), on the app's
        ChangeProbe connection: the heartbeat and cursor moves it commits are not changes
        the screens' polls should read the store for."""
        if self._busy:
            return
        self._busy = True
        probe = self.app.store_probe  # its commits are bookkeeping, not a change to show

        def run() -> None:
            result = None
            try:
                result = probe.write(fn)
            except Exception:  # noqa: BLE001 - a busy store: try again next tick
                result = None
            finally:
                self._busy = False
            if then is not None:
                try:
                    self.app.call_from_thread(then, result)
                except RuntimeError:  # the app has stopped meanwhile
                    pass
        threading.Thread(target=run, daemon=True, name="t2e-session").start()

    def _register(self, conn: Any) -> None:
        sessions.purge(conn)
        self.session_id = sessions.register(conn, self.name, snapshot_safe(self.app))

    # -- the tick --------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.mode == "lead" and not self.session_id:
            # not registered yet: a take-over (F9) whose register was skipped because a
            # follow read was in flight, or a register the busy store refused; again until
            # it lands (one at a time, so never twice)
            self._bg(self._register)
        elif self.mode == "lead" and self.session_id:
            state = snapshot_safe(self.app)
            now = self._clock()
            if state != self.last_state:
                self.last_state, self.last_beat = state, now
                sid = self.session_id
                self._bg(lambda c: sessions.publish(c, sid, state))
            elif now - self.last_beat >= BEAT:
                self.last_beat = now
                sid = self.session_id
                self._bg(lambda c: sessions.beat(c, sid))
        elif self.mode == "follow":
            self._banner_again()  # a screen pushed since the last tick gets it too
            lid = self.leader_id
            self._bg(lambda c: sessions.read(c, lid),
                     self._apply)

    def _apply(self, row: dict | None) -> None:
        if self.mode != "follow":
            return
        if row is None:
            self.mode = "off"
            self._banner(f"{self.leader_name} is gone (closed or no heartbeat): not following",
                         style="bold red")
            return
        if row["seq"] == self.last_seq:
            return
        self.last_seq = row["seq"]
        self.go_to(row["state"])
        self.applied += 1

    def go_to(self, state: dict) -> None:
        """Show what the leader shows."""
        from .screens.compare import CompareScreen
        from .screens.tasks import TasksScreen
        from .widgets.lanes import AlignedLanes
        from .widgets.linetable import LineTable

        app, kind = self.app, state.get("screen")
        cur = app.screen
        if kind == "compare" and state.get("episode_a") is not None:
            a, b = state["episode_a"], state.get("episode_b")
            if isinstance(cur, CompareScreen) and (cur.episode_a, cur.episode_b) == (a, b):
                cur.target_step, cur.target_episode = state.get("step"), state.get(
                    "step_episode")
                if cur.alignment is not None:
                    cur.query_one(AlignedLanes).move_to(cur._start_row())
            else:
                app.open_runs()
                app.open_compare(a, b, step=state.get("step"),
                                 step_episode=state.get("step_episode"))
        elif kind == "tasks" and state.get("baseline"):
            pair = (state["baseline"], state.get("candidate"))
            if not (isinstance(cur, TasksScreen) and (cur.baseline, cur.candidate) == pair):
                app.open_runs()
                app.open_tasks(*pair)
                cur = app.screen
            task = state.get("task")
            if task is not None and isinstance(cur, TasksScreen):
                idx = next((i for i, r in enumerate(cur.shown) if r.task_id == task), None)
                if idx is not None:
                    cur.query_one(LineTable).move_to(idx)
        elif kind == "runs":
            app.open_runs()
        self.app.call_after_refresh(self._banner_again)

    # -- banner and keys -----------------------------------------------------------------------
    def _banner(self, text: str, style: str = "") -> None:
        self._banner_text = Text(one_line(text, 300), style=style)
        self._banner_again()

    def _banner_again(self) -> None:
        text = getattr(self, "_banner_text", None)
        screen = self.app.screen
        found = list(screen.query(FollowBanner))
        if text is None:
            for w in found:
                w.remove()
            return
        if found:
            if str(found[0].render()) != text.plain:
                found[0].update(text)
        else:
            screen.mount(FollowBanner(text))

    def take_over(self) -> None:
        """Stop following and lead from the current view."""
        if self.mode == "lead":
            return
        self.mode = "lead"
        self._banner_text = None
        self._banner_again()
        if self.session_id is None:
            self._bg(self._register)
        self.app.notify("you lead now: a colleague can follow this session", timeout=4)

    def stop(self) -> None:
        """Stop following; keep the current view."""
        if self.mode == "follow":
            self.mode = "off"
            self._banner_text = None
            self._banner_again()
            self.app.notify("stopped following", timeout=3)


def snapshot_safe(app: Any) -> dict:
    """`snapshot`, or the runs screen while a screen is still composing."""
    try:
        return snapshot(app)
    except Exception:  # noqa: BLE001
        return {"screen": "runs"}
