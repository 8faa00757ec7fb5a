"""Write the store's files out to disk while a big import runs, not all at its end.

A bulk import writes its pages to the WAL as the page cache spills, then at COMMIT the rest,
then the automatic checkpoint copies every frame into the store file. SQLite syncs the WAL
before that copy and the store file after it (synchronous = NORMAL), and with the default
dirty-page limits the kernel has written almost none of it yet: for the 300 MB bench file the two
syncs waited ~0.5 s, with both cores idle. A thread that asks for those writes as the import
goes (fdatasync on its own read-only descriptors, every FLUSH_EVERY s) leaves the final syncs
little to wait for.

Only *when* data reaches the disk changes: SQLite still syncs in its own order before anything
depends on it, so a crash at any point leaves what it left before (an extra sync of frames not
yet committed is ignored by recovery, like any unsynced frame).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

FLUSH_EVERY = 0.1  # seconds between two rounds (a round on files with nothing new is ~free)


@contextmanager
def flushing(db_file: str) -> Iterator[None]:
    """Flush `db_file` and its WAL in a background thread for the duration of the block."""
    if not db_file:  # an in-memory store
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(db_file, stop), name="t2e-import-flush",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run(db_file: str, stop: threading.Event) -> None:
    fds: dict[str, int] = {}
    try:
        while not stop.wait(FLUSH_EVERY):
            for path in (db_file + "-wal", db_file):
                try:
                    if path not in fds:
                        fds[path] = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                    os.fdatasync(fds[path])
                except OSError:
                    pass  # no WAL yet, or a file system that refuses: SQLite's own syncs remain
    finally:
        for fd in fds.values():
            os.close(fd)
