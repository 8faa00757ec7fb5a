"""Reading an OTLP/JSON file's bytes for the spill (otel_lines.py): its lines in large blocks,
a byte offset's line number (error messages)."""

from __future__ import annotations

from typing import BinaryIO, Iterator

_BLOCK = 4 << 20


def read_lines(fh: BinaryIO, start: int, end: int,
               buf: bytearray | None = None) -> Iterator[bytes]:
    """The lines of bytes [start, end), read in large blocks into one reused buffer (readline
    on the file's small buffer cost as much as a third of the parsing on long lines; a new
    block each read, then split, cost two copies and fresh pages for every byte). `buf`: a
    buffer of at least _BLOCK bytes to read into (one per file, however many ranges it
    reads; see new_buffer), else one made here."""
    fh.seek(start)
    if buf is None:
        buf = new_buffer()
    view = memoryview(buf)
    find = buf.find
    left, parts = end - start, []  # parts: the line being read, so far (kept, not re-joined)
    while left > 0:
        n = fh.readinto(view[:min(_BLOCK, left)])
        if not n:
            break
        left -= n
        nl = find(b"\n", 0, n)
        if nl < 0:
            parts.append(bytes(view[:n]))
            continue
        if parts:
            parts.append(view[:nl])
            yield b"".join(parts)
            parts = []
        else:
            yield bytes(view[:nl])
        pos = nl + 1
        while (nl := find(b"\n", pos, n)) >= 0:
            yield bytes(view[pos:nl])
            pos = nl + 1
        if pos < n:
            parts.append(bytes(view[pos:n]))
    if parts:
        yield b"".join(parts)


def new_buffer() -> bytearray:
    """A read buffer for read_lines."""
    return bytearray(_BLOCK)


def line_start(fh: BinaryIO, at: int, size: int) -> int:
    """The first line start at or after byte `at` (size when none): where a block of the
    file begins (otel_lines.spill_blocks). Reads up to the next line break, in small reads."""
    if at <= 0:
        return 0
    if at >= size:
        return size
    fh.seek(at - 1)
    pos = at - 1
    while True:
        chunk = fh.read(1 << 16)
        if not chunk:
            return size
        nl = chunk.find(b"\n")
        if nl >= 0:
            return min(pos + nl + 1, size)
        pos += len(chunk)


def line_number(path: str, offset: int) -> int:
    """1-based number of the line starting at byte `offset` (error messages only)."""
    n = 1
    with open(path, "rb") as fh:
        left = offset
        while left > 0:
            chunk = fh.read(min(left, 1 << 20))
            if not chunk:
                break
            n += chunk.count(b"\n")
            left -= len(chunk)
    return n
