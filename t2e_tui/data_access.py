"""Read queries the explorer needs, straight on the store schema (store/migrations.py).

Index first, bodies on demand: list queries return ids and summary columns only; a trajectory's
steps are read when an episode is opened. No textual import (the CLI twin uses this too).
Every function takes a sqlite3 connection; callers keep one connection per thread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Callable

from store.db import INFRA, StoreError, connect  # noqa: F401 (INFRA: the screens read it here)
from store.grader import foreign_runs, rescore_caveat

from . import reviews
from .standin import SCRIPTED, is_stand_in  # noqa: F401 (SCRIPTED: the screens read it here)
from .textsafe import one_line


def open_conn(path: str) -> sqlite3.Connection:
    """A connection for one thread, migrated, with rows addressable by name."""
    conn = connect(path)
    conn.row_factory = sqlite3.Row
    return conn


@dataclass
class RunRow:
    """One run, summarised for the runs screen."""

    run_id: str
    name: str
    role: str
    status: str
    domain: str | None
    agent_model: str | None
    user_model: str | None
    candidate_hash: str | None
    source: str | None
    created_at: str | None
    episodes: int = 0
    running: int = 0
    reward: float | None = None
    pass_rate: float | None = None
    tasks: int = 0
    scored: int = 0                 # finished, not infrastructure_error: what the figures use
    infrastructure_errors: int = 0
    foreign: bool = False           # imported without gold (OpenTelemetry, ATIF)

    @property
    def scripted(self) -> bool:
        """True when the agent is the deterministic stand-in (its figures prove nothing)."""
        return is_stand_in(self.agent_model)

    @property
    def rescore_caveat(self) -> tuple[str, ...] | None:
        """The "not re-scorable here" words, longest first, or None (`store.grader`)."""
        return rescore_caveat(self.domain, imported=self.source not in (None, "rerun"),
                              foreign=self.foreign, rewarded=self.reward is not None)


def list_runs(conn: sqlite3.Connection) -> list[RunRow]:
    """Every run as the runs screen shows it: `store.queries.list_runs`, the query behind
    `t2e runs`, so the app and the CLI show the same figures."""
    from store import queries
    foreign = foreign_runs(conn)
    return [RunRow(r["run_id"], r["name"], r["role"], r["status"], r["domain"],
                   r["agent_model"], r["user_model"], r["candidate_hash"], r["source"],
                   r["created_at"], episodes=r["episodes"], running=r["running"],
                   reward=r["reward"], pass_rate=r["pass_rate"], tasks=r["tasks"],
                   scored=r["scored"], infrastructure_errors=r["infrastructure_errors"],
                   foreign=r["run_id"] in foreign)
            for r in queries.list_runs(conn)]


def runs_signature(conn: sqlite3.Connection) -> tuple:
    """Cheap fingerprint of the store's runs/episodes; changes when a live run progresses."""
    return tuple(conn.execute(
        "SELECT (SELECT count(*) FROM runs), (SELECT max(episode_id) FROM episodes), "
        "(SELECT count(*) FROM episodes WHERE status = 'running'), "
        "(SELECT group_concat(status) FROM runs)").fetchone())


WRITE_WAIT_S = 0.25  # a heartbeat commits in ~1 ms (30 ms on a loaded machine); one
#                      waiting on an import's lock takes longer


class ChangeProbe:
    """Whether anything was committed to the store since a screen last looked, for the
    screens' polls of live runs. SQLite's `PRAGMA data_version` on one connection changes
    when any *other* connection commits (this process's included); it costs microseconds
    whatever the store's size, where a signature read scans the runs' episodes (30-55 ms at
    100k episodes, every 2 s while a screen sat idle).

    The app keeps one probe, and its follow-mode session link writes its heartbeat (every
    second) and cursor moves through the probe's own connection (`write`): those commits are
    the app's bookkeeping and do not change what a screen shows, so they do not count as a
    change (a probe on a connection of its own would see one every second). The version is
    None when it can't be read, or while such a write holds the connection longer than
    WRITE_WAIT_S (a heartbeat can wait on a long import's lock): the caller then reads its
    signature, as before. Polls run in worker threads, so the short wait is off the keys."""

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:  # a store that vanished is not made again
            conn = connect(self.path, migrate_schema=False, must_exist=True)
            conn.row_factory = sqlite3.Row
            self._conn = conn
        return self._conn

    def version(self) -> int | None:
        """The store's data version as this connection sees it; None: can't tell now."""
        if not self._lock.acquire(timeout=WRITE_WAIT_S):
            return None
        try:
            return self._connection().execute("PRAGMA data_version").fetchone()[0]
        except (sqlite3.Error, StoreError):  # (StoreError: the store is gone)
            self._close()
            return None
        finally:
            self._lock.release()

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """fn(connection), alone on the probe's connection: commits made here are not
        changes to the probe (the app's own session bookkeeping)."""
        with self._lock:
            try:
                return fn(self._connection())
            except sqlite3.Error:
                self._close()  # a broken connection is opened again next time
                raise

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Close the connection, unless a write holds it (never wait on a busy store: the
        connection then goes with the probe)."""
        if self._lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._lock.release()


class Look:
    """One screen's view of a ChangeProbe: `changed()` is True unless nothing was committed
    since this screen's last look. The first look, and a look without a version, say True
    (the screen reads its signature); a look without a version keeps the last one seen (the
    read it caused saw every commit up to then, so the next look compares with that)."""

    def __init__(self, probe: ChangeProbe | None) -> None:
        self.probe = probe
        self.seen: int | None = None

    def changed(self) -> bool:
        version = self.probe.version() if self.probe is not None else None
        if version is None:  # can't tell now: read, and compare with the last version next
            return True
        if version == self.seen:
            return False
        self.seen = version
        return True


def run_signature(conn: sqlite3.Connection, run_ids: list[str]) -> tuple:
    """Fingerprint of some runs' episodes (finished count, newest id)."""
    marks = ",".join("?" * len(run_ids))
    return tuple(conn.execute(
        f"SELECT count(*), max(episode_id), sum(status = 'done') FROM episodes "
        f"WHERE run_id IN ({marks})", run_ids).fetchone())


# the tasks screen's rows live in task_rows.py (one indexed read per run, grouped once)
from .task_rows import (  # noqa: E402,F401
    TaskRow,
    Trial,
    fill_hints,
    first_task_rows,
    read_task_rows,
    task_rows,
    transition_of,
)


@dataclass
class Episode:
    """One episode opened in full: metadata, steps (tau2 message dicts + columns), checks."""

    episode_id: int
    run_id: str
    run_name: str
    agent_model: str | None
    task_id: str | None
    trial: int | None
    meta: dict
    steps: list[dict]
    checks: list[dict]
    task: dict | None

    @property
    def label(self) -> str:
        """RUN:TASK/tTRIAL for display (names come from files: cleaned here)."""
        trial = "" if self.trial is None else f"/t{self.trial}"
        return f"{one_line(self.run_name, 80)}:{one_line(self.task_id, 60)}{trial}"

    @property
    def scripted(self) -> bool:
        return is_stand_in(self.agent_model)


def load_episode(conn: sqlite3.Connection, episode_id: int) -> Episode:
    """An episode with every step and check (bodies included). Works whatever the
    connection's row_factory (the CLI's connection returns tuples)."""
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    e = cur.execute(
        "SELECT e.*, r.name AS run_name, r.agent_model AS agent_model, r.domain AS run_domain "
        "FROM episodes e JOIN runs r ON r.run_id = e.run_id WHERE e.episode_id = ?",
        (episode_id,)).fetchone()
    if e is None:
        raise LookupError(f"episode {episode_id} is not in the store")
    meta = dict(e)
    steps = [dict(r) for r in cur.execute(
        "SELECT step_id, idx, role, content, tool_calls, tool_call_id, tool_name, error, "
        "requestor, latency_ms, tokens_in, tokens_out, cost, huge, extra_json FROM steps "
        "WHERE episode_id = ? ORDER BY idx", (episode_id,))]
    for s in steps:
        calls = s.get("tool_calls")
        if calls:
            try:
                s["tool_calls"] = json.loads(calls)
            except ValueError:
                s["tool_calls"] = []
    reviews.annotate(meta, steps)  # tau2 1.x review errors, at the step they point at
    checks = [dict(r) for r in cur.execute(
        "SELECT kind, pos, action_id, name, arguments, tool_kind, text, met, reward, "
        "judge_dependent FROM checks WHERE episode_id = ? ORDER BY kind, pos", (episode_id,))]
    task = None
    tid = meta.get("likely_task_id") or meta.get("task_id")
    if tid is not None:
        t = conn.execute("SELECT task_json FROM tasks WHERE run_id = ? AND task_id = ?",
                         (meta["run_id"], str(tid))).fetchone()
        if t is None and meta.get("likely_task_id"):
            t = conn.execute("SELECT task_json FROM tasks WHERE run_id = ? AND task_id = ?",
                             (meta["run_id"], str(meta["task_id"]))).fetchone()
        if t is not None:
            try:
                task = json.loads(t[0])
            except ValueError:
                task = None
    return Episode(episode_id, meta["run_id"], meta["run_name"], meta["agent_model"],
                   meta.get("task_id"), meta.get("trial"), meta, steps, checks, task)


def find_episode(conn: sqlite3.Connection, run_id: str, task_id: str,
                 trial: int | None = None) -> int | None:
    """The episode of a task in a run (the given trial, else the first)."""
    if trial is not None:
        r = conn.execute("SELECT episode_id FROM episodes WHERE run_id = ? AND task_id = ? "
                         "AND trial = ? ORDER BY ord LIMIT 1", (run_id, task_id, trial)).fetchone()
        if r:
            return r[0]
    r = conn.execute("SELECT episode_id FROM episodes WHERE run_id = ? AND task_id = ? "
                     "ORDER BY trial, ord LIMIT 1", (run_id, task_id)).fetchone()
    return r[0] if r else None


def step_count(conn: sqlite3.Connection, episode_ids: list[int]) -> int:
    """Steps stored for these episodes (the (episode_id, idx) index answers it)."""
    marks = ",".join("?" * len(episode_ids))
    return conn.execute(f"SELECT count(*) FROM steps WHERE episode_id IN ({marks})",
                        list(episode_ids)).fetchone()[0] if episode_ids else 0


def trial_episodes(conn: sqlite3.Connection, run_id: str, task_id: str | None
                   ) -> list[tuple[int, int | None, int | None]]:
    """(episode_id, trial, success) of every episode of a task in a run, in trial order."""
    return [tuple(r) for r in conn.execute(
        "SELECT episode_id, trial, success FROM episodes WHERE run_id = ? AND task_id IS ? "
        "ORDER BY trial, ord, episode_id", (run_id, task_id))]


def resolve_episode(conn: sqlite3.Connection, ref: str | int) -> int:
    """An episode id from `123`, `RUN:TASK[:TRIAL]` or `RUN:TASK/tTRIAL` (the store's lookup,
    `store.queries.resolve_episode`, so the app and the CLI read references alike);
    LookupError naming the reference otherwise."""
    from store import StoreError, queries

    try:
        return queries.resolve_episode(conn, ref)
    except StoreError as exc:
        raise LookupError(str(exc)) from None


@dataclass
class Hit:
    """One full-text search hit: where it is and a snippet."""

    step_id: int
    episode_id: int
    idx: int
    role: str
    run_id: str
    run_name: str
    task_id: str | None
    trial: int | None
    snippet: str


def search(conn: sqlite3.Connection, text: str, limit: int = 200, rank: bool = False
           ) -> list[Hit]:
    """Full-text search (store.queries.search: the same index and query rules as
    `t2e search`; `rank`: by relevance, as `--rank`), with run names attached. Snippets mark
    matches with « »."""
    from store import queries

    hits = queries.search(conn, text, limit=limit, rank=rank)
    if not hits:
        return []
    eps = {h["episode_id"] for h in hits}
    marks = ",".join("?" * len(eps))
    meta = {r[0]: (r[1], r[2]) for r in conn.execute(
        f"SELECT e.episode_id, r.name, e.trial FROM episodes e JOIN runs r ON r.run_id = "
        f"e.run_id WHERE e.episode_id IN ({marks})", list(eps))}
    return [Hit(h["step_id"], h["episode_id"], h["idx"], h["role"], h["run_id"],
                meta.get(h["episode_id"], (h["run_id"], None))[0], h["task_id"],
                meta.get(h["episode_id"], (None, None))[1], h["snippet"] or "")
            for h in hits]


def record_view(conn: sqlite3.Connection, episode_id: int, *, via: str = "tui",
                drafting_candidate: str | None = None) -> None:
    """Record that an episode's trajectory was opened (the gate's leakage guard reads this)."""
    record_views(conn, [episode_id], via=via, drafting_candidate=drafting_candidate)


def record_views(conn: sqlite3.Connection, episode_ids: list, *, via: str,
                 drafting_candidate: str | None = None) -> None:
    """Record that these episodes' content was shown (a trajectory, search hits, a finding's
    explanation, cluster words, a live tail): `store.queries.record_views`, the one writer of
    views, read by the gate's leakage guard."""
    from store import queries

    queries.record_views(conn, episode_ids, via, drafting_candidate)
