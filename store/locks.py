"""Advisory locks between processes sharing a store: one player per run, one importer per file.

SQLite serialises writes but not intentions: two `t2e run --resume X` at once, or two imports of
one file, each began the same work and one died on a raw UNIQUE constraint. These locks are
`flock`s on small files (in the temp dir, see `_lock_path`) holding the owner's pid: the kernel drops them when the
process ends (even on kill -9), so a crash never leaves a stale lock.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process guard
    fcntl = None  # type: ignore[assignment]


class Held(Exception):
    """The lock is held by another live process (`pid`, when it wrote one)."""

    def __init__(self, pid: str):
        super().__init__(pid)
        self.pid = pid


def _lock_path(store_path: str | os.PathLike, name: str) -> Path:
    """The lock file: in a per-user directory of the temp dir, named by the store's real path
    (so two spellings of one store share locks, and nothing is added beside the store)."""
    real = os.path.realpath(store_path)
    key = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    d = Path(tempfile.gettempdir()) / f"t2e-locks-{os.getuid()}"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d / f"{key}-{name}"


class Lock:
    """A held lock; `release()` (or the process ending) lets it go."""

    def __init__(self, fh):
        self._fh = fh

    @classmethod
    def take(cls, store_path: str | os.PathLike, name: str) -> "Lock":
        """Take the lock `name` of the store, or raise Held at once if another process has
        it (never waits)."""
        if fcntl is None or str(store_path) in ("", ":memory:"):
            return cls(None)
        fh = open(_lock_path(store_path, name), "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise Held(pid) from None
        except BaseException:
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return cls(fh)

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


@contextmanager
def hold(store_path: str | os.PathLike, name: str) -> Iterator[None]:
    """Hold the lock `name` of the store for the block (raises Held, see Lock.take)."""
    lock = Lock.take(store_path, name)
    try:
        yield
    finally:
        lock.release()
