"""An idle screen reads nothing: the runs and tasks screens poll the store every 2 s for live
runs, and each poll used to read a signature that scans the runs' episodes (30-55 ms at 100k
episodes, ~2% of a core while the app sat untouched). Now a poll first asks SQLite whether
anything was committed since its last look (`PRAGMA data_version`, data_access.ChangeProbe)
and reads the signature only then; a commit by any other connection is still seen. The app's
own session heartbeat (a commit every second, follow mode) goes through the probe's
connection, so it does not count: with a probe alone, it made every poll read."""

from __future__ import annotations

import sqlite3
import threading

from tui_fixture import add_live_episode, build_store, wait_for

from store import sessions
from t2e_tui import data_access as da
from t2e_tui.ui.app import make_app
from t2e_tui.ui.screens.runs import RunsScreen
from t2e_tui.ui.screens.tasks import TasksScreen


def test_probe_changes_only_when_another_connection_commits(tmp_path):
    path = tmp_path / "fx.sqlite"
    build_store(path)
    probe = da.ChangeProbe(str(path))
    look = da.Look(probe)
    assert look.changed() is True           # the first look: the caller reads
    assert look.changed() is False
    assert look.changed() is False
    add_live_episode(path, "2")             # another connection commits
    assert look.changed() is True
    assert look.changed() is False
    conn = sqlite3.connect(path)            # a read alone is no change
    conn.execute("SELECT count(*) FROM episodes").fetchone()
    conn.close()
    assert look.changed() is False
    # the app's own bookkeeping (the session heartbeat) goes through the probe: no change
    sid = probe.write(lambda c: sessions.register(c, "me"))
    probe.write(lambda c: sessions.beat(c, sid))
    assert look.changed() is False
    other = da.Look(probe)                  # each screen has its own last look
    assert other.changed() is True and other.changed() is False
    probe.close()


def test_a_look_while_a_write_holds_the_probe_reads_the_signature(tmp_path):
    """A heartbeat waiting on a long import's lock holds the probe: a poll then can't tell
    and says changed (reads its signature) rather than wait behind it for long."""
    path = tmp_path / "fx.sqlite"
    build_store(path)
    probe = da.ChangeProbe(str(path))
    look = da.Look(probe)
    look.changed()
    assert look.changed() is False
    held, release = threading.Event(), threading.Event()

    def slow_write(conn):
        held.set()
        release.wait(10)

    t = threading.Thread(target=probe.write, args=(slow_write,))
    t.start()
    assert held.wait(10)
    try:
        assert probe.version() is None and look.changed() is True
    finally:
        release.set()
        t.join(10)
    assert look.changed() is False          # the version seen before: nothing since
    add_live_episode(path, "2")
    assert look.changed() is True


def test_probe_of_a_missing_store_says_changed_and_creates_nothing(tmp_path):
    path = tmp_path / "gone.sqlite"
    look = da.Look(da.ChangeProbe(str(path)))
    assert look.changed() is True and look.changed() is True
    assert not path.exists()


def _counting(monkeypatch, owner, name):
    """Calls of owner.name from here on (the real one still runs)."""
    calls = []
    real = getattr(owner, name)

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, counted)
    return calls


def _idle_app(monkeypatch, path, signature, screen_class):
    """The app on `path` polling every 20 ms with a leading session (the app's default),
    counting the screen's signature reads, its poll ticks and the session's heartbeats (a
    commit every second while nothing moves)."""
    counts = (_counting(monkeypatch, da, signature), _counting(monkeypatch, screen_class, "_tick"),
              _counting(monkeypatch, sessions, "beat"))
    _patient(monkeypatch)
    app = make_app(path, load_config=False, poll_interval=0.02, session={"name": "me"})
    return app, counts


def _patient(monkeypatch):
    """Looks wait for a heartbeat however slow (a loaded CI machine): a look that gives up
    reads the signature by design (tested above), which is not what these tests count."""
    monkeypatch.setattr(da, "WRITE_WAIT_S", 30.0)


async def _first_look_done(pilot, screen, ticks):
    """The screen's first look (a version seen; it read its signature once), and the tick
    after it: from here an idle screen reads nothing."""
    await wait_for(pilot, lambda: screen._look.seen is not None)
    seen = len(ticks)
    await wait_for(pilot, lambda: len(ticks) >= seen + 2)


async def test_idle_tasks_screen_reads_no_signature_until_a_commit(tmp_path, monkeypatch):
    path = tmp_path / "fx.sqlite"
    ids = build_store(path)
    app, (reads, looks, beats) = _idle_app(monkeypatch, path, "run_signature", TasksScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        # (settle would wait on polls that never stop coming at this interval)
        await wait_for(pilot, lambda: app.screen.runs)
        app.open_tasks(ids["live"], None)
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen) and app.screen.loaded)
        screen = app.screen
        await _first_look_done(pilot, screen, looks)
        before, ticked, beat = len(reads), len(looks), len(beats)
        # polls ran while idle, and the session's heartbeat committed meanwhile
        await wait_for(pilot, lambda: len(looks) >= ticked + 15 and len(beats) >= beat + 3)
        assert len(reads) == before, f"{len(reads) - before} signature reads while idle"
        add_live_episode(path, "2")
        await wait_for(pilot, lambda: len(screen.all_rows) == 2)
        assert len(reads) > before


async def test_idle_runs_screen_reads_no_signature_until_a_commit(tmp_path, monkeypatch):
    path = tmp_path / "fx.sqlite"
    build_store(path)
    app, (reads, looks, beats) = _idle_app(monkeypatch, path, "runs_signature", RunsScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(pilot, lambda: screen.runs)
        await _first_look_done(pilot, screen, looks)
        start, ticked, beat = len(reads), len(looks), len(beats)
        await wait_for(pilot, lambda: len(looks) >= ticked + 15 and len(beats) >= beat + 3)
        assert len(reads) == start, f"{len(reads) - start} signature reads while idle"
        add_live_episode(path, "2")
        await wait_for(pilot, lambda: next(
            r for r in screen.runs if r.run_id == "runlive").episodes == 2)


def test_the_probes_connection_has_the_stores_settings_and_never_makes_a_store(tmp_path):
    """The probe's connection (the follow heartbeat commits through it every second) opens
    the way every store connection does (synchronous NORMAL: no WAL fsync a commit; foreign
    keys on), and a store that vanished is reported, not made again."""
    import os

    import store
    from t2e_tui.data_access import ChangeProbe

    path = tmp_path / "s.sqlite"
    store.open_db(path).close()
    probe = ChangeProbe(str(path))
    assert probe.version() is not None
    assert probe.write(lambda c: (c.execute("PRAGMA synchronous").fetchone()[0],
                                  c.execute("PRAGMA foreign_keys").fetchone()[0])) == (1, 1)
    probe._close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    assert probe.version() is None and not path.exists()
