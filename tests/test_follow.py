"""Follow mode (#14): two app instances on one store, one following the other through the
sessions table; take over, stop, and a dead leader that expires."""

from __future__ import annotations

import threading
import time

import pytest
from click.testing import CliRunner
from tui_fixture import build_store, settle, wait_for

import store
from store import sessions
from t2e_tui.cli.main import cli
from t2e_tui.ui.app import make_app
from t2e_tui.ui.follow import FollowBanner
from t2e_tui.ui.screens.compare import CompareScreen
from t2e_tui.ui.screens.tasks import TasksScreen
from t2e_tui.ui.widgets.lanes import AlignedLanes


@pytest.fixture
def fx(tmp_path):
    path = tmp_path / "fx.sqlite"
    return path, build_store(path)


def _banner(app) -> str:
    found = list(app.screen.query(FollowBanner))
    return str(found[0].render()) if found else ""


async def test_a_follower_goes_where_the_leader_goes(fx):
    path, ids = fx
    leader = make_app(path, load_config=False, poll_interval=0, session={"name": "alice"})
    async with leader.run_test(size=(80, 24)) as lp:
        await settle(lp)
        await wait_for(lp, lambda: leader.session_link.session_id is not None)
        conn = store.connect(path)
        row = sessions.find_leader(conn, "alice")
        conn.close()
        follower = make_app(path, load_config=False, poll_interval=0,
                            session={"follow": row["session_id"], "leader_name": "alice"})
        async with follower.run_test(size=(80, 24)) as fp:
            await settle(fp)
            await wait_for(fp, lambda: "following alice (read-only)" in _banner(follower))
            # the leader picks a pair and opens its tasks
            await lp.press("b", "down", "c", "enter")
            await wait_for(fp, lambda: isinstance(follower.screen, TasksScreen)
                           and follower.screen.candidate == "runcand")
            assert follower.screen.baseline == "runbase"
            await wait_for(fp, lambda: "following alice" in _banner(follower))
            # ... then a task, then a step
            await lp.press("down", "enter")
            await wait_for(lp, lambda: isinstance(leader.screen, CompareScreen)
                           and leader.screen.alignment is not None)
            lead_cmp = leader.screen
            await wait_for(fp, lambda: isinstance(follower.screen, CompareScreen)
                           and follower.screen.alignment is not None)
            assert (follower.screen.episode_a, follower.screen.episode_b) == \
                (lead_cmp.episode_a, lead_cmp.episode_b)
            await lp.press("end")
            lead_row = lead_cmp.query_one(AlignedLanes).cursor
            await wait_for(fp, lambda: follower.screen.query_one(AlignedLanes).cursor
                           == lead_row)
            # F10 stops following: the leader moves on, the follower stays
            await fp.press("f10")
            await wait_for(fp, lambda: follower.session_link.mode == "off")
            assert _banner(follower) == ""
            await lp.press("escape")
            await wait_for(lp, lambda: isinstance(leader.screen, TasksScreen))
            await fp.pause(0.5)
            assert isinstance(follower.screen, CompareScreen)


async def test_take_over_makes_the_follower_a_leader(fx, monkeypatch):
    path, _ = fx
    # bob never beats his heart here: on a loaded machine the app's start alone can take
    # longer than EXPIRE (3 s), and an expired bob is a different test (the one below)
    monkeypatch.setattr(sessions, "EXPIRE", 600.0)
    conn = store.connect(path)
    sid = sessions.register(conn, "bob", {"screen": "runs"})
    conn.close()
    follower = make_app(path, load_config=False, poll_interval=0,
                        session={"follow": sid, "leader_name": "bob"})
    async with follower.run_test(size=(80, 24)) as fp:
        await settle(fp)
        await fp.press("f9")
        await wait_for(fp, lambda: follower.session_link.session_id is not None)
        assert follower.session_link.mode == "lead" and _banner(follower) == ""
        conn = store.connect(path)
        names = {r["name"] for r in sessions.live(conn)}
        conn.close()
        assert len(names) == 2 and "bob" in names
    follower.session_link.close()
    conn = store.connect(path)
    assert [r["name"] for r in sessions.live(conn)] == ["bob"]
    conn.close()


async def test_take_over_while_a_follow_read_is_in_flight_still_registers(fx, monkeypatch):
    """F9 while the follower's read of the leader's row is still running: the register it
    asked for was skipped (one store call at a time) and the new leader never registered,
    so nobody could follow it (seen once under the full suite on a loaded machine)."""
    path, _ = fx
    monkeypatch.setattr(sessions, "EXPIRE", 600.0)
    conn = store.connect(path)
    sid = sessions.register(conn, "bob", {"screen": "runs"})
    conn.close()
    reading, release = threading.Event(), threading.Event()
    real_read = sessions.read

    def slow_read(*a, **kw):
        reading.set()
        release.wait(30)
        return real_read(*a, **kw)

    monkeypatch.setattr(sessions, "read", slow_read)
    follower = make_app(path, load_config=False, poll_interval=0,
                        session={"follow": sid, "leader_name": "bob"})
    async with follower.run_test(size=(80, 24)) as fp:
        await wait_for(fp, reading.is_set)       # a read holds the link's one call
        await fp.press("f9")
        release.set()
        await wait_for(fp, lambda: follower.session_link.session_id is not None, timeout=20)
        assert follower.session_link.mode == "lead"
    follower.session_link.close()


async def test_a_dead_leader_expires(fx, monkeypatch):
    """kill -9 leaves the leader's row; without heartbeats it expires and the follower
    says so and stops."""
    path, _ = fx
    monkeypatch.setattr(sessions, "EXPIRE", 0.6)
    conn = store.connect(path)
    sid = sessions.register(conn, "carol", {"screen": "runs"})
    conn.close()
    follower = make_app(path, load_config=False, poll_interval=0,
                        session={"follow": sid, "leader_name": "carol"})
    async with follower.run_test(size=(80, 24)) as fp:
        await settle(fp)
        assert follower.session_link.mode == "follow"
        await wait_for(fp, lambda: follower.session_link.mode == "off", timeout=10)
        assert "carol is gone" in _banner(follower)


def test_follow_cli_refuses_dead_or_missing_leaders_before_the_app(fx, monkeypatch):
    path, _ = fx
    import t2e_tui.ui.app as ui_app

    monkeypatch.setattr(ui_app, "make_app", lambda *a, **k: pytest.fail("the app started"))
    conn = store.connect(path)
    sessions.register(conn, "dave", {})
    conn.execute("UPDATE sessions SET heartbeat_at = ?", (time.time() - 60,))
    conn.close()
    r = CliRunner().invoke(cli, ["--store", str(path), "open", "--follow"])
    assert r.exit_code == 2 and "no live session to follow" in r.output
    conn = store.connect(path)
    sessions.register(conn, "erin", {})
    sessions.register(conn, "frank", {})
    assert sessions.purge(conn) == 1  # dave's dead row
    conn.close()
    r = CliRunner().invoke(cli, ["--store", str(path), "open", "--follow"])
    assert r.exit_code == 2 and "several live sessions" in r.output
