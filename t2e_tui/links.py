"""Deep links: the reference a colleague pastes to land on the same compare view.

    t2e open RUN:TASK[:TRIAL] --vs RUN:TASK[:TRIAL] [--step N]

`compare_link(conn, a, b, step)` writes it (RUN as the 8-character id prefix; the episode id
where the label would not resolve back to the same episode, e.g. a file repeating a task and
trial); `resolve_link(conn, ref, vs)` reads it with `store.queries.resolve_episode`, which also
takes ids, unique id prefixes and run names. No textual here: the CLI and the app share it.
"""

from __future__ import annotations

import shlex
from typing import Any

from store.queries import resolve_episode, typeable


def episode_link_ref(conn: Any, episode_id: int) -> str:
    """`RUN8:TASK:TRIAL` for an episode, or its id when that would not resolve back to it or
    the task id cannot be shown and typed as it is (`typeable`: a link is shown, copied to the
    clipboard and pasted into a shell, so it never carries a control character)."""
    row = conn.execute("SELECT run_id, task_id, trial FROM episodes WHERE episode_id = ?",
                       (int(episode_id),)).fetchone()
    if row is None or not typeable(row[1]):
        return str(episode_id)
    run_id, task_id, trial = row
    ref = f"{run_id[:8]}:{task_id}" + ("" if trial is None else f":{trial}")
    try:
        if resolve_episode(conn, ref) == int(episode_id):
            return ref
    except Exception:  # noqa: BLE001 - any failure to resolve means: use the id
        pass
    return str(episode_id)


def compare_link(conn: Any, episode_a: int, episode_b: int | None,
                 step: int | None = None) -> str:
    """The `t2e open ...` command line for a compare view (shell-quoted)."""
    parts = ["t2e", "open", episode_link_ref(conn, episode_a)]
    if episode_b is not None:
        parts += ["--vs", episode_link_ref(conn, episode_b)]
    if step is not None:
        parts += ["--step", str(int(step))]
    return " ".join(shlex.quote(p) for p in parts)


def resolve_link(conn: Any, ref: str, vs: str | None) -> tuple[int, int | None]:
    """Episode ids of a link's two references (StoreError names a bad one)."""
    a = resolve_episode(conn, ref)
    b = resolve_episode(conn, vs) if vs is not None else None
    return a, b
