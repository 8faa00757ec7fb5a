"""A file hashed beside its import (importers/__init__._import_hashing), in the moments the
importing process would otherwise wait."""

from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .common import open_regular


class BackgroundHash:
    """The sha256 of a file's first `limit` bytes (the bytes the import reads: a file still
    being written to is stored as the part imported), made by a thread that reads and hashes
    only while the import waits for its worker (`waiting`: a core would be idle then), once
    the worker is done, or once the import needs the result (`result`). hashlib hashes
    without the GIL; the reads are 256 kB (0.2 ms of hashing), so the thread is done with a
    step soon after the wait ends."""

    _READ = 256 << 10

    def __init__(self, p: Path, shown: str, limit: int, done: Any = None):
        """`done()`: whether the worker has built every episode (it only waits for this
        process to read them: its core is free), asked every 5 ms; then hash on to the end.
        The file is opened here (`shown` names it in the error if it can't be)."""
        self.fh = open_regular(p, shown)
        self.limit, self.check = limit, done
        self.out: tuple[str, int] | BaseException | None = None
        self.go = threading.Event()  # set while the importer waits, and from result() on
        self.hurried = False
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            h = hashlib.sha256()
            buf = bytearray(self._READ)
            view = memoryview(buf)
            size = 0
            with self.fh as fh:
                while size < self.limit:
                    self._gate()
                    if self.stopped:
                        return
                    n = fh.readinto(view[:min(self._READ, self.limit - size)])
                    if not n:
                        break  # shorter than when the import began: result() says so
                    h.update(view[:n])
                    size += n
            self.out = (h.hexdigest(), size)
        except BaseException as exc:  # noqa: BLE001 - handed to result()
            self.out = exc

    def _gate(self) -> None:
        while not self.go.wait(None if self.check is None else 0.005):
            if self.check():
                self.hurry()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """The importer waits for its worker meanwhile: hash."""
        self.go.set()
        try:
            yield
        finally:
            if self.out is None and not self.hurried:
                self.go.clear()

    def hurry(self) -> None:
        """Hash on to the end now (the worker is done: its core is free)."""
        self.hurried = True
        self.go.set()

    def result(self) -> tuple[str, int]:
        """(sha256, size); raises what the reading raised."""
        self.hurry()
        self.thread.join()
        if isinstance(self.out, BaseException):
            raise self.out
        assert self.out is not None
        return self.out

    def close(self) -> None:
        """Stop (if not done) and wait for the thread."""
        self.stopped = True
        self.go.set()
        self.thread.join()
        self.fh.close()  # (the thread closes it, unless it never ran)
