"""Migrations 9 and 10 of the evidence store (store/migrations.py runs them): search.

9 keeps a copy of the FTS size records for ranked search (store/fts_sizes.py); 10 makes
full-text search read the text as shown (store/hidden.py), its SQL then `_index_shown_text`.
Shipped migrations are append-only: never edit this SQL; add the next number.
"""

from __future__ import annotations

import sqlite3

FTS_SIZES_VERSION = 9  # the copy of the FTS size records (store/db.py takes it for an older store)
SHOWN_VERSION = 10

FTS_SIZES_SQL = r"""
-- Ranked search needs every matching message's token count; FTS5 keeps them one row per
-- message in steps_fts_docsize (a ~70 ms pass at 1M messages). The writers that change the
-- index leave a copy of that table here as one blob (store/fts_sizes.py), with FTS5's
-- averages and structure records as they were (`fingerprint`): a copy that differs from the
-- index's current records is ignored. One row at most.
CREATE TABLE fts_sizes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint BLOB NOT NULL,
    first_id INTEGER,
    last_id INTEGER,
    sizes BLOB NOT NULL
);
"""

SHOWN_SQL = r"""
-- Full-text search indexed the raw text, where `\x1b[31mREFUND\x1b[0m` is the word
-- `31mrefund`: what every display shows (REFUND) could not be searched for. A message whose
-- text holds an escape sequence or another hidden character (store/hidden.py) gets a row
-- here with its text as shown (store.hidden.shown: sequences removed whole, the other hidden
-- characters removed); NULL where that column has none. Rare: most messages have no row.
CREATE TABLE steps_shown (
    step_id INTEGER PRIMARY KEY REFERENCES steps(step_id) ON DELETE CASCADE,
    content TEXT,
    tool_calls TEXT
);
-- What steps_fts indexes and snippets: the shown text where there is one, else the stored.
CREATE VIEW steps_search AS
    SELECT s.step_id, s.episode_id, coalesce(h.content, s.content) AS content,
           coalesce(h.tool_calls, s.tool_calls) AS tool_calls
    FROM steps s LEFT JOIN steps_shown h ON h.step_id = s.step_id;
-- (then, in Python: _index_shown_text below fills steps_shown and indexes steps_fts again over
-- the view)
"""


def _index_shown_text(conn: sqlite3.Connection) -> None:
    """Migration 10's second half: the shown text of every message that holds hidden
    characters, then steps_fts made again over steps_search (external content cannot change
    its table in place) and indexed (a rebuild: ~tens of seconds at 1M messages, once)."""
    from .hidden import shown_row

    rows = []
    for step_id, content, calls in conn.execute("SELECT step_id, content, tool_calls FROM steps"):
        got = shown_row(content, calls)
        if got is not None:
            rows.append((step_id, *got))
    conn.executemany("INSERT INTO steps_shown (step_id, content, tool_calls) VALUES (?, ?, ?)",
                     rows)
    conn.execute("DROP TABLE steps_fts")
    conn.execute("CREATE VIRTUAL TABLE steps_fts USING fts5(content, tool_calls, "
                 "content='steps_search', content_rowid='step_id')")
    conn.execute("INSERT INTO steps_fts (steps_fts) VALUES ('rebuild')")

