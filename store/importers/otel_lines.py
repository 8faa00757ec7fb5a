"""Reading an OTLP/JSON file into spill files (otel_spill.Spiller): which layout it has, and
its requests decoded one by one.

The collector's layout (one ExportTraceServiceRequest per line) can be cut at any line break,
so a big file is spilled by two processes at once, each into its own spill file
(`spill_shared`): the file is cut into blocks (each from a line start), and each process takes
the next block from a shared counter (`Tickets`) until none is left, so the two finish
together whatever their start-up or speed. The earliest failing block's error is the one
reported. Anything else (one object for the whole file, pretty-printed, or several objects)
is read by the streaming reader in one process (otel_stream.spill_stream).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, BinaryIO, Callable, Iterator

from world.jsonstream import (
    STRICT,  # the strict decoder, without loads' text scan
    too_deep,
)

from .common import ImportFailure, without_bom
from .json_fast import FastObjects
from .jsonstream import JsonStreamError
from .jsonstream import loads as strict_loads
from .otel_history import HistorySkip
from .otel_read import line_number, line_start, new_buffer, read_lines
from .otel_spill import MAX_BLOCKS, Spiller

# bytes of the file a block (otel.py's worker and this process take blocks in turn): at the
# end one process may wait for the other to finish its last block, so small enough for that
# wait to be short, and big enough for the ticket and the line search to cost nothing
SPILL_BLOCK = 2 << 20
# a first line longer than this is not taken for a JSON Lines record (a whole file written
# on one line would otherwise be read into memory by readline)
MAX_LINE = 64 << 20


def layout(fh: BinaryIO) -> str:
    """'lines' when the first line is a whole JSON object (the collector's JSON Lines), else
    'stream' (one object for the file, pretty-printed...). Leaves fh at the start."""
    fh.seek(0)
    first = fh.readline(MAX_LINE)
    fh.seek(0)
    if len(first) >= MAX_LINE or not first.strip():
        return "stream"
    try:
        return "lines" if isinstance(json.loads(first), dict) else "stream"
    except RecursionError:
        return "lines"  # one whole value on the line: spill_lines names the problem
    except ValueError:
        return "stream"


def spill_lines(sp: Spiller, fh: BinaryIO, start: int, end: int,
                first_line: Callable[[], int]) -> None:
    """Spill the JSON Lines records in bytes [start, end) (start at a line start; end: the
    file's size), as block 0. `first_line()` gives the number of the line at `start`, asked
    only for an error. NotLines when the file turns out not to be JSON Lines."""
    try:
        _Lines().spill(sp, fh, start, end, first_line, end)
    finally:
        sp.close()


class NotLines(ImportFailure):
    """A line that is the start of a longer JSON value, with more than blanks after it: the
    file is no JSON Lines after all but objects one after another, pretty-printed after the
    first (store/formats.md), and is read again by the stream reader (otel.py). Decided on
    the first failing line, so the JSON Lines path costs nothing more; a last line cut short
    (a collector stopped mid-write) stays that line's error. `line`: the line's number."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


class Tickets:
    """A counter the two spilling processes share: a file each appends a byte to (O_APPEND
    makes each append atomic); the file's size after one's own byte, less one, is one's
    ticket. Each ticket is taken once, in increasing order."""

    def __init__(self, folder: str):
        self.fd = os.open(os.path.join(folder, "tickets"),
                          os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.stop_path = os.path.join(folder, "stop")

    def take(self) -> int | None:
        """The next block, or None when the other process has failed (its error is earlier in
        the file than any block not yet taken)."""
        if os.path.exists(self.stop_path):
            return None
        os.write(self.fd, b".")
        return os.lseek(self.fd, 0, os.SEEK_CUR) - 1

    def stop(self) -> None:
        """This process has failed: the other takes no more blocks."""
        with open(self.stop_path, "wb"):
            pass

    def close(self) -> None:
        os.close(self.fd)


class BlockFailure(ImportFailure):
    """A spilling process's error, with the block it is in (the earliest block's wins);
    `line`: NotLines's, when it is one."""

    def __init__(self, message: str, block: int, line: int | None = None):
        super().__init__(message)
        self.block = block
        self.line = line


def spill_shared(sp: Spiller, fh: BinaryIO, path: str, size: int, folder: str,
                 block_bytes: int) -> None:
    """Spill this process's blocks of the JSON Lines file at `path` (its first `size` bytes:
    the size the import began with, the same in both processes), taking them from the
    counter in `folder` that the other process shares. Errors are BlockFailures."""
    tickets = Tickets(folder)
    try:
        spill_blocks(sp, fh, size, tickets, block_bytes, lambda at: line_number(path, at))
    finally:
        tickets.close()


def spill_blocks(sp: Spiller, fh: BinaryIO, size: int, tickets: Tickets, block_bytes: int,
                 first_line: Callable[[int], int]) -> None:
    """Spill blocks of the file (JSON Lines) until none is left: block k holds the lines that
    start in bytes [k * block_bytes, (k + 1) * block_bytes). `first_line(offset)` gives the
    number of the line at a byte offset, asked only for an error. An error is raised as a
    BlockFailure, after telling the other process to stop."""
    lines = _Lines()
    # the first line start at or after known[0] is known[1] (so is any offset in between's):
    # a line longer than many blocks is scanned for its end once, not once a block
    known = [0, 0]

    def start_of(at: int) -> int:
        if not known[0] <= at <= known[1]:
            known[:] = [at, line_start(fh, at, size)]
        return known[1]

    try:
        while (k := tickets.take()) is not None and k * block_bytes < size:
            if k >= MAX_BLOCKS:
                raise BlockFailure("the file is too big to import", k)
            start = start_of(k * block_bytes)
            end = start_of((k + 1) * block_bytes)
            if start >= end:
                continue  # no line starts in this block (a long line runs through it)
            sp.start_block(k)
            try:
                lines.spill(sp, fh, start, end, lambda: first_line(start), size)
            except ImportFailure as exc:
                tickets.stop()
                raise BlockFailure(str(exc), k, exc.line if isinstance(exc, NotLines)
                                   else None) from None
    finally:
        sp.close()


class _Lines:
    """Spills lines, one range after another (blocks), with one decoder, one history of chat
    inputs and one read buffer for all of them."""

    def __init__(self) -> None:
        self.fast = FastObjects()
        self.hist = HistorySkip(self.fast, tails=True)  # (Spiller.add reads Tails)
        self.buf = new_buffer()

    def spill(self, sp: Spiller, fh: BinaryIO, start: int, end: int,
              first_line: Callable[[], int], size: int) -> None:
        """The lines of bytes [start, end) of a file of `size` bytes."""
        k = 0
        fast, hist = self.fast, self.hist
        lines = read_lines(fh, start, end, self.buf)
        for raw in lines:
            k += 1
            raw = without_bom(raw)
            if not raw.strip():
                continue
            try:
                # the repeated chat histories decoded once (otel_history); else orjson where it
                # agrees with the strict reader; else the store's limits (numbers SQLite can
                # hold, no lone surrogates, nesting), named by field
                obj = hist.loads(raw)
                if obj is None:
                    obj = fast.loads_object(raw)
                if obj is None:
                    obj = _decode(raw)
            except JsonStreamError as exc:
                raise ImportFailure(f"line {first_line() + k - 1}: {exc}") from None
            except ValueError as exc:  # malformed JSON, invalid UTF-8
                n = first_line() + k - 1
                if _cut_short(exc) and _text_follows(lines, fh, end, size):
                    raise NotLines(f"line {n}: not JSON ({exc})", n) from None
                raise ImportFailure(f"line {n}: not JSON ({exc})") from None
            if type(obj) is not dict:
                raise ImportFailure(f"line {first_line() + k - 1}: expected an object with "
                                    "resourceSpans")
            try:
                sp.add("", obj)
            except ImportFailure as exc:
                raise ImportFailure(f"line {first_line() + k - 1}{exc}") from None


def _cut_short(exc: ValueError) -> bool:
    """Whether a line's JSON error is at its very end (the value goes on past the line)."""
    return isinstance(exc, json.JSONDecodeError) and exc.pos >= len(exc.doc.rstrip())


def _text_follows(rest: Iterator[bytes], fh: BinaryIO, end: int, size: int) -> bool:
    """Whether anything but blanks follows a line: in `rest`, the range's lines after it,
    else in the file from `end` to `size`."""
    if any(without_bom(line).strip() for line in rest):
        return True
    fh.seek(end)
    left = size - end
    while left > 0:
        chunk = fh.read(min(left, 1 << 16))
        if not chunk:
            return False
        if chunk.strip():
            return True
        left -= len(chunk)
    return False


# as jsonstream's check, on the bytes: the pattern is ASCII, which UTF-8 never uses inside a
# multi-byte character, and a bytes regex runs twice as fast as one over wide text
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _decode(raw: bytes) -> Any:
    """One line's JSON with the store's limits (jsonstream.loads). A line without any
    surrogate escape cannot hold a lone surrogate, so the strict decoder and the nesting
    check will do (loads scans the decoded text for them: a tenth of the spill). Lines with
    one, and any failure, go through loads for its checks and exact messages."""
    text = raw.decode("utf-8")
    if not _SURROGATE_ESCAPE.search(raw):
        try:
            value = STRICT.decode(text)
        except (ValueError, RecursionError):
            pass
        else:
            if not too_deep(text):
                return value
    return strict_loads(text)
