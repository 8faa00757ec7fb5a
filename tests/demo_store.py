"""Demo stores for tests without building one per test.

`build_demo` plays ~280 scripted episodes and gates three pairs (~1.2 s of CPU, several seconds
on a loaded 2-core runner); ~50 tests and modules each built their own. The session builds one
template per test process (conftest's `demo_template`), and `copy_demo` gives a test its own
copy at the path it names: the store file and its candidates folder, with the candidates' file
paths (the only place the store names its folder) pointed at the copy. The copy holds what
`build_demo(path)` would build there, run ids aside (tests/test_demo.py compares the two).
"""

from __future__ import annotations

import copy
import shutil
import sqlite3
from pathlib import Path


def seal_template(demo: dict) -> dict:
    """Fold the template's WAL into its main file, so copying that one file copies the store."""
    conn = sqlite3.connect(demo["store"])
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
    return demo


def copy_demo(template: dict, dest: str | Path) -> dict:
    """`build_demo(dest)`'s result, copied from a sealed template (see the module docstring)."""
    from t2e_tui.demo import demo_candidates_dir

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        if Path(str(dest) + suffix).exists():
            raise FileExistsError(f"{dest}{suffix}: copy_demo writes a new store only")
    src_dir, dst_dir = Path(template["candidates_dir"]), demo_candidates_dir(dest)
    shutil.copyfile(template["store"], dest)
    shutil.copytree(src_dir, dst_dir, dirs_exist_ok=False)
    conn = sqlite3.connect(dest)
    try:
        with conn:
            conn.execute("UPDATE candidates SET path = ? || substr(path, ?) WHERE "
                         "substr(path, 1, ?) = ?", (str(dst_dir), len(str(src_dir)) + 1,
                                                    len(str(src_dir)), str(src_dir)))
        # the demo's record of what it made names the candidates' rows (paths included):
        # made again for the copy, as the build there would have made it
        from t2e_tui.demo_work import RECORD_TABLE, record

        conn.execute(f"DROP TABLE {RECORD_TABLE}")
        record(conn, dst_dir)
    finally:
        conn.close()
    return dict(copy.deepcopy(template), store=str(dest), candidates_dir=str(dst_dir))
