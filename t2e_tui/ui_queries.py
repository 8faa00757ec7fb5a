"""Small reads the newer screens need (follow/restore, pair-debugging, rerun, failures), kept
below the UI so no screen runs SQL of its own (tests/test_layers.py). No textual here."""

from __future__ import annotations

import sqlite3


def run_candidate_hash(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute("SELECT candidate_hash FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return row[0] if row and row[0] else None


def run_ids(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT run_id FROM runs")}


def episode_exists(conn: sqlite3.Connection, episode_id: int) -> bool:
    return conn.execute("SELECT 1 FROM episodes WHERE episode_id = ?",
                        (int(episode_id),)).fetchone() is not None


def first_episode(conn: sqlite3.Connection, run_id: str) -> int | None:
    return conn.execute("SELECT min(episode_id) FROM episodes WHERE run_id = ?",
                        (run_id,)).fetchone()[0]


def noted_steps(conn: sqlite3.Connection, episode_ids: list) -> list[str]:
    """target_id ('EID:IDX') of step notes on these episodes."""
    ids = [e for e in episode_ids if e is not None]
    if not ids:
        return []
    where = " OR ".join("target_id LIKE ?" for _ in ids)
    return [r[0] for r in conn.execute(
        f"SELECT target_id FROM notes WHERE target_kind = 'step' AND ({where})",
        [f"{e}:%" for e in ids])]


def run_name_model(conn: sqlite3.Connection, run_id: str) -> tuple[str, str | None] | None:
    row = conn.execute("SELECT name, agent_model FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    return (row[0], row[1]) if row else None


def rerun_progress(conn: sqlite3.Connection, run_ids: list[str], tail: int) -> tuple[list, list]:
    """(episodes of these runs with their step counts, the newest `tail` steps) for the live
    task-rerun screen."""
    marks = ",".join("?" * len(run_ids))
    rows = conn.execute(
        f"SELECT e.episode_id, e.run_id, e.trial, e.status, e.success, e.reward, "
        f"e.termination_reason, (SELECT count(*) FROM steps s WHERE s.episode_id = "
        f"e.episode_id) FROM episodes e WHERE e.run_id IN ({marks}) "
        f"ORDER BY e.trial", run_ids).fetchall()
    steps = conn.execute(
        f"SELECT s.episode_id, s.idx, s.role, s.content, s.tool_calls FROM steps s "
        f"JOIN episodes e ON e.episode_id = s.episode_id WHERE e.run_id IN ({marks}) "
        f"ORDER BY s.step_id DESC LIMIT {int(tail)}", run_ids).fetchall()
    return rows, steps


def candidate_front_matter(conn: sqlite3.Connection, candidate_hash: str) -> tuple | None:
    """(front_matter_json,) of a saved candidate, or None."""
    return conn.execute("SELECT front_matter_json FROM candidates WHERE candidate_hash = ?",
                        (candidate_hash,)).fetchone()


def human_decisions(conn: sqlite3.Connection, row_id: int) -> list[tuple]:
    """(decision, override, reason) recorded on a scoreboard row, oldest first."""
    return conn.execute("SELECT decision, override, reason FROM human_decisions WHERE row_id = ?"
                        " ORDER BY decision_id", (row_id,)).fetchall()


def done_tasks(conn: sqlite3.Connection, run_id: str) -> set[str]:
    return {str(r[0]) for r in conn.execute(
        "SELECT DISTINCT task_id FROM episodes WHERE run_id = ? AND status = 'done'", (run_id,))}
