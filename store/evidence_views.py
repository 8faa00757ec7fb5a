"""Evidence views: the rows saying an episode's content was shown (`record_views`, the one
writer; `record_view` for one episode), and what a view is a view of (`VIEWED_FROM`). The
gate's leakage guard reads them.

Split from queries.py, which re-exports every name here.
"""

from __future__ import annotations

from typing import Any

from . import clock
from .db import StoreError
from .writer import conn_of


def record_view(db: Any, episode_id: int, via: str, drafting_candidate: str | None = None) -> int:
    """Note that an episode was opened (one episode: `record_views`); returns the view's id.
    Raises StoreError for an episode not in the store."""
    if not record_views(db, [episode_id], via, drafting_candidate):
        raise StoreError(f"no episode {episode_id} in this store")
    return int(conn_of(db).execute("SELECT last_insert_rowid()").fetchone()[0])


# what a view of an episode is a view of (its run's domain, the task whose trace was seen, a
# synthetic variant's base task): record_views writes it, heldout.watched_tasks warns of it
VIEWED_FROM = ("FROM episodes e LEFT JOIN runs r ON r.run_id = e.run_id LEFT JOIN tasks t "
               "ON t.run_id = e.run_id AND t.task_id = coalesce(e.likely_task_id, e.task_id)")


def record_views(db: Any, episode_ids: Any, via: str,
                 drafting_candidate: str | None = None) -> int:
    """Note that these episodes' content was shown: message text, tool arguments or results,
    or words drawn from them (a finding's explanation, a snippet, a cluster's shared words),
    on a screen, on stdout or in a file. The gate's leakage guard reads these rows; this is
    the one function that writes them, for every command and screen. One view per distinct
    episode, in one statement per 500. The task stored is the likely task when the label was
    found wrong: that is the task whose trace was seen; a synthetic variant's view carries its
    base task too (`store/variants.py`). Returns how many were recorded."""
    ids = sorted({int(e) for e in episode_ids})
    if not ids:
        return 0
    conn = conn_of(db)
    now = clock.stamp(conn)   # the store's clock: the gate orders views by it
    n = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        cur = conn.execute(
            "INSERT INTO evidence_views (episode_id, run_id, domain, task_id, viewed_at, via, "
            "drafting_candidate, base_task_id) SELECT e.episode_id, e.run_id, r.domain, "
            f"coalesce(e.likely_task_id, e.task_id), ?, ?, ?, t.base_task_id {VIEWED_FROM} "
            f"WHERE e.episode_id IN ({marks})",
            (now, via, drafting_candidate, *chunk))
        n += cur.rowcount
    return n
