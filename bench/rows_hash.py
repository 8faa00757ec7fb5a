"""A digest of every row an import stored, to check that an importer change stores exactly the
same rows (run it on a store made by main's code and one made by the branch). Prints figures;
not a test.

    .venv/bin/python bench/rows_hash.py STORE [STORE ...]

Per table (runs, sources, episodes, steps, tool_calls, checks, tasks) a SHA-256 over every row
in primary-key order, with the values that differ between two imports of the same file by
design replaced: the random run id, creation times and the source's path. The FTS index is
checked against its content table (FTS5 'integrity-check', which fails on any missing or
extra token) and its row count compared to the steps'. Two stores agree when every line
printed is the same.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys

TABLES = {
    "runs": "SELECT * FROM runs ORDER BY rowid",
    "sources": "SELECT * FROM sources ORDER BY source_id",
    "episodes": "SELECT * FROM episodes ORDER BY episode_id",
    "steps": "SELECT * FROM steps ORDER BY step_id",
    "tool_calls": "SELECT * FROM tool_calls ORDER BY rowid",
    "checks": "SELECT * FROM checks ORDER BY rowid",
    "tasks": "SELECT * FROM tasks",  # ordered below, by the run's place (run ids are random)
}
# tables whose rows are ordered after the run ids are replaced by the runs' order
_ORDER_AFTER = {"tasks"}
# columns that differ between two imports of one file by design (and any *_at time)
_VOLATILE = {"path"}


def digest(path: str) -> dict[str, str]:
    """{table: 'rows sha256'} plus 'fts': 'rows ok' for one store."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    run_ids = {r[0]: f"RUN{i}" for i, r in enumerate(
        db.execute("SELECT run_id FROM runs ORDER BY rowid"))}
    out = {}
    for table, sql in TABLES.items():
        cur = db.execute(sql)
        cols = [d[0] for d in cur.description]
        h, n = hashlib.sha256(), 0
        rows = ([repr(["<volatile>" if c in _VOLATILE or c.endswith("_at") else
                       run_ids.get(v, v) if c == "run_id" else v for c, v in zip(cols, row)])
                 for row in cur])
        for text in (sorted(rows) if table in _ORDER_AFTER else rows):
            h.update(text.encode("utf-8", "surrogatepass"))
            n += 1
        out[table] = f"{n} {h.hexdigest()[:16]}"
    db.close()
    rw = sqlite3.connect(path)  # integrity-check writes nothing, but FTS5 wants a writable db
    rw.execute("INSERT INTO steps_fts (steps_fts, rank) VALUES ('integrity-check', 1)")
    n = rw.execute("SELECT count(*) FROM steps_fts").fetchone()[0]
    docs = rw.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'the OR a'").fetchone()[0]
    out["fts"] = f"{n} rows, integrity ok, {docs} match 'the OR a'"
    rw.close()
    return out


def main() -> None:
    results = [digest(p) for p in sys.argv[1:]]
    for table in results[0]:
        vals = [r[table] for r in results]
        mark = "same" if len(set(vals)) == 1 else "DIFFERENT"
        print(f"{table:10} {mark:9} " + " | ".join(vals))
    sys.exit(0 if all(r == results[0] for r in results) else 1)


if __name__ == "__main__":
    main()
