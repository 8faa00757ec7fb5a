"""How the writers' values reach SQLite: None is bound as NULL through a registered adapter,
not through sqlite3's failing attribute lookups (store/writer.py)."""

from __future__ import annotations

import sqlite3

from store import writer


def test_none_has_an_adapter_and_is_still_stored_as_null():
    """sqlite3 sends every value that is not an int, float or str through its adapter search;
    for None that search fails two attribute lookups (one raising an AttributeError it then
    clears), ~3,300 instructions for each of the ~6 NULLs of every message an import writes.
    With an adapter registered for None the search is one dict lookup and a call; the stored
    value must still be NULL (not the text 'None', not an error)."""
    adapter = sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol))
    assert adapter is writer._null
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), (2, None)])
    conn.execute("INSERT INTO t VALUES (?, ?)", (None, None))
    rows = conn.execute("SELECT a, typeof(a), b, typeof(b) FROM t ORDER BY rowid").fetchall()
    assert rows == [(None, "null", 1, "integer"), (2, "integer", None, "null"),
                    (None, "null", None, "null")]
