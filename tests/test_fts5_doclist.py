"""The index reader (store/fts5_doclist.py): a word's rows and occurrences read from FTS5's
own records equal what an fts5vocab instance walk lists, whatever the records' shape: many
segments, doclists over many pages (page size 64 bytes), position lists longer than a page,
big rowid gaps, a word only in a later column, three columns, deleted and rewritten rows,
merged segments; records it does not expect raise ValueError."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest

from store import fts5_doclist as fd

WORDS = [f"w{i}" for i in range(12)] + ["x", "order"]


def reference(conn: sqlite3.Connection, word: str) -> tuple[list[int], list[int]]:
    """Rows and occurrences from FTS5's own instance table: one row per occurrence."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.inst "
                 "USING fts5vocab(main, steps_fts, instance)")
    rows = conn.execute("SELECT doc, count(*) FROM temp.inst WHERE term = ? GROUP BY doc "
                        "ORDER BY doc", (word,)).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def read(conn: sqlite3.Connection, word: str) -> tuple[list[int], list[int]]:
    conn.execute("BEGIN")
    try:
        docs, tf = fd.term_rows(conn, word)
    finally:
        conn.execute("COMMIT")
    return docs.tolist(), tf.tolist()


def table(columns: str = "content, tool_calls", page: int = 64) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute(f"CREATE VIRTUAL TABLE steps_fts USING fts5({columns})")
    conn.execute("INSERT INTO steps_fts(steps_fts, rank) VALUES ('pgsz', ?)", (page,))
    return conn


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def agrees(conn: sqlite3.Connection, words=WORDS) -> int:
    """Checks every word; returns how many rows the words' doclists held in all."""
    fd.ensure_counts(conn)
    seen = 0
    for word in words:
        got = read(conn, word)
        assert got == reference(conn, word), word
        assert fd.counts(conn, word) == (len(got[0]), sum(got[1])), word
        seen += len(got[0])
    return seen


@pytest.mark.parametrize("seed", range(6))
def test_random_tables_with_every_kind_of_write(seed):
    """Rows in many small transactions (a segment each, merged as FTS5 merges), deletes,
    rewrites, some huge rows, rowids with gaps: after each phase every word agrees."""
    rng = random.Random(seed)
    conn = table(page=rng.choice([64, 100, 4050]))
    rowid = 0
    for batch in range(rng.randint(5, 25)):
        conn.execute("BEGIN")
        for _ in range(rng.randint(1, 30)):
            rowid += rng.choice([1, 1, 1, 2, 130, 20_000, 3_000_000])  # 1- to 4-byte deltas
            big = rng.random() < 0.03
            conn.execute("INSERT INTO steps_fts(rowid, content, tool_calls) VALUES (?, ?, ?)",
                         (rowid, text(rng, rng.randint(1, 2000 if big else 40)),
                          text(rng, rng.randint(0, 6)) if rng.random() < 0.5 else None))
        conn.execute("COMMIT")
    assert len(fd.segments(conn)) > 1 and agrees(conn) > 100
    ids = [r[0] for r in conn.execute("SELECT rowid FROM steps_fts")]
    for victim in rng.sample(ids, len(ids) // 5):
        if rng.random() < 0.5:
            conn.execute("DELETE FROM steps_fts WHERE rowid = ?", (victim,))
        else:
            conn.execute("UPDATE steps_fts SET content = ? WHERE rowid = ?",
                         (text(rng, rng.randint(1, 30)), victim))
    agrees(conn)
    conn.execute("INSERT INTO steps_fts(steps_fts) VALUES ('optimize')")  # one segment
    assert len(fd.segments(conn)) == 1
    agrees(conn)


def test_the_shapes_named_in_the_format():
    conn = table()
    rows = [
        (1, "order", None),
        (2, "x " * 3000, "order"),  # a position list of ~3 KB over ~50 pages, then column 1
        (3, None, "order order"),  # only in column 1: the list starts with a column marker
        (200, "order w1 order", "w1 order"),
        (70_000, "w2", None),  # a 3-byte delta; the word absent
        (5_000_000_000, "order", "order"),  # a 5-byte rowid
    ]
    conn.executemany("INSERT INTO steps_fts(rowid, content, tool_calls) VALUES (?, ?, ?)", rows)
    agrees(conn, ["order", "x", "w1", "w2", "absent"])
    assert read(conn, "order") == ([1, 2, 3, 200, 5_000_000_000], [1, 1, 2, 3, 2])
    assert read(conn, "x") == ([2], [3000])


def test_three_columns():
    conn = table("a, b, c")
    rng = random.Random(7)
    for i in range(1, 300):
        conn.execute("INSERT INTO steps_fts(rowid, a, b, c) VALUES (?, ?, ?, ?)",
                     (i, *(text(rng, rng.randint(0, 8)) or None for _ in range(3))))
    assert agrees(conn) > 300


def test_a_real_sized_store(tmp_path):
    """An imported store (the real importer's FTS writes and automerge settings)."""
    from test_search_tf import build

    from store import queries

    db, _ = build(tmp_path, (1, 2, 3))
    assert agrees(queries.conn_of(db), ["order", "user", "the", "status", "id"]) > 50


def test_records_it_does_not_expect():
    conn = table()
    conn.execute("INSERT INTO steps_fts(content) VALUES ('order')")
    structure = conn.execute("SELECT block FROM steps_fts_data WHERE id = 10").fetchone()[0]
    for bad in (structure + b"\x01", structure[:6], structure[:4] + b"\xff\x00\x00\x01" +
                structure[8:]):
        conn.execute("UPDATE steps_fts_data SET block = ? WHERE id = 10", (bad,))
        with pytest.raises(ValueError):
            fd.segments(conn)
    conn.execute("UPDATE steps_fts_data SET block = ? WHERE id = 10", (structure,))
    assert read(conn, "order") == ([1], [1])
    (sid, first, _), = fd.segments(conn)
    page_id = (sid << fd.SEGMENT_SHIFT) + first
    page = conn.execute("SELECT block FROM steps_fts_data WHERE id = ?", (page_id,)).fetchone()[0]
    conn.execute("UPDATE steps_fts_data SET block = ? WHERE id = ?",
                 (page[:4] + b"\x00" * (len(page) - 4), page_id))  # the doclist gone
    try:  # refused, or an answer the caller's check against FTS5's count refuses
        got = read(conn, "order")
    except (ValueError, IndexError):
        got = None
    assert got is None or (len(got[0]), sum(got[1])) != (1, 1)


def test_a_walk_that_does_not_land_is_refused():
    """Entries that end past the next page's first rowid: not what the format says."""
    b = np.frombuffer(bytes([1, 4, 2, 2, 9, 2, 2, 2]) + bytes(16), dtype=np.uint8)
    with pytest.raises(ValueError):
        fd._walk(bytes(b), b, np.array([0, 3], np.int32), 8)
    # landing exactly: entries (1: size 2 -> 1 byte) and (9: size 2 -> 1 byte)
    good = bytes([1, 2, 5, 9, 2, 7]) + bytes(16)
    arr = np.frombuffer(good, dtype=np.uint8)
    assert fd._walk(good, arr, np.array([0, 3], np.int32), 6).tolist() == [0, 3]


def test_varint():
    blob = bytes([5, 0x81, 0x00, 0xFF, 0x7F] + [0xFF] * 8 + [0x01])
    assert fd.varint(blob, 0) == (5, 1)
    assert fd.varint(blob, 1) == (128, 3)
    assert fd.varint(blob, 3) == (16383, 5)
    assert fd.varint(blob, 5)[1] == 14  # nine bytes: the last one whole
    b = np.frombuffer(blob + bytes(16), dtype=np.uint8)
    vals, lens = fd.varints_at(b, np.array([0, 1, 3]))
    assert vals.tolist() == [5, 128, 16383] and lens.tolist() == [1, 2, 2]
    with pytest.raises(ValueError):
        fd.varints_at(b, np.array([5]))
