"""Live app sessions for follow mode (the `sessions` table, migration 4).

A leader `register`s, then `publish`es its state when it changes and `beat`s every second; a
follower `find_leader`s by name and `read`s the row. A session whose heartbeat is older than
EXPIRE seconds is dead (the app was killed): it is never followed and `purge` removes it.
Heartbeats are unix times (REAL) so expiry is one comparison.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import Any

from .db import StoreError, now_iso
from .writer import conn_of

EXPIRE = 3.0   # s without a heartbeat: the session is dead


def default_name() -> str:
    """user@host:pid, what a colleague types after --follow."""
    return f"{os.environ.get('USER') or 'user'}@{socket.gethostname()}:{os.getpid()}"


def register(db: Any, name: str | None = None, state: dict | None = None) -> str:
    """Create this process's session row; returns its id."""
    sid = secrets.token_hex(6)
    conn_of(db).execute(
        "INSERT INTO sessions (session_id, name, pid, host, started_at, heartbeat_at, seq, "
        "state_json) VALUES (?,?,?,?,?,?,?,?)",
        (sid, name or default_name(), os.getpid(), socket.gethostname(), now_iso(), time.time(),
         0, json.dumps(state or {})))
    return sid


def publish(db: Any, session_id: str, state: dict) -> None:
    """Write a new state (and a heartbeat)."""
    conn_of(db).execute("UPDATE sessions SET state_json = ?, seq = seq + 1, heartbeat_at = ? "
                        "WHERE session_id = ?", (json.dumps(state), time.time(), session_id))


def beat(db: Any, session_id: str) -> None:
    """A sign of life."""
    conn_of(db).execute("UPDATE sessions SET heartbeat_at = ? WHERE session_id = ?",
                        (time.time(), session_id))


def end(db: Any, session_id: str) -> None:
    """The app closes: its row goes."""
    conn_of(db).execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))


def purge(db: Any, now: float | None = None) -> int:
    """Remove dead sessions (no heartbeat for EXPIRE seconds); returns how many."""
    cutoff = (now or time.time()) - EXPIRE
    return conn_of(db).execute("DELETE FROM sessions WHERE heartbeat_at < ?",
                               (cutoff,)).rowcount


def live(db: Any, now: float | None = None) -> list[dict]:
    """Live sessions, most recently active first."""
    cutoff = (now or time.time()) - EXPIRE
    cur = conn_of(db).execute(
        "SELECT session_id, name, pid, host, started_at, heartbeat_at, seq, state_json "
        "FROM sessions WHERE heartbeat_at >= ? ORDER BY heartbeat_at DESC", (cutoff,))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def find_leader(db: Any, name: str | None, exclude: str | None = None) -> dict:
    """The live session to follow: by exact name, name prefix or id prefix; without a name
    the only live one. StoreError (one line) when none or several match."""
    rows = [r for r in live(db) if r["session_id"] != exclude]
    if name:
        hits = [r for r in rows if r["name"] == name] or \
            [r for r in rows if r["name"].startswith(name) or r["session_id"].startswith(name)]
    else:
        hits = rows
    if len(hits) == 1:
        return hits[0]
    names = ", ".join(r["name"] for r in (hits or rows)) or "none"
    if not hits:
        what = f"named {name!r} " if name else ""
        raise StoreError(f"no live session {what}to follow (live: {names}); the colleague "
                         "opens the same store with `t2e open`")
    raise StoreError(f"several live sessions ({names}): name one, `t2e open --follow NAME`")


def read(db: Any, session_id: str, now: float | None = None) -> dict | None:
    """The session's row (state decoded), or None when it ended or died."""
    row = conn_of(db).execute("SELECT name, seq, heartbeat_at, state_json FROM sessions WHERE "
                              "session_id = ?", (session_id,)).fetchone()
    if row is None or row[2] < (now or time.time()) - EXPIRE:
        return None
    return {"name": row[0], "seq": row[1], "state": json.loads(row[3] or "{}")}
