"""An incremental JSON reader for files too large to hold as Python objects.

tau2 results files put nearly all their bulk in one array (`simulations`). This reader walks the
top-level object key by key and yields that array's items one at a time, using the C scanner
(`json.JSONDecoder.raw_decode`) on a bounded text buffer, so memory stays near the size of one
simulation and parsing runs at `json.load` speed. No third-party dependency.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, BinaryIO, Iterator

from .errors import describe_json_error  # one wording for import and score
from .jsondecode import (  # the whole-text decoding and checks, re-exported for importers
    _LENIENT,
    _SURROGATE_ESCAPE,
    _WS,
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    STRICT,
    TOO_DEEP,
    JsonStreamError,
    TooDeep,
    _bad_message,
    _BadValue,
    bad_position,
    decode_whole,
    find_bad,
    loads,
    raw_decode,
    too_deep,
)

__all__ = ["CHUNK", "INT_MAX", "INT_MIN", "MAX_DEPTH", "STRICT", "TOO_DEEP", "JsonStream",
           "JsonStreamError", "TooDeep", "decode_whole", "describe_json_error", "find_bad",
           "loads", "raw_decode", "too_deep"]


_NUM_TAIL = re.compile(r"[0-9.eE+-]*")
CHUNK = 1 << 20


class JsonStream:
    """Reads JSON values from a binary file one at a time, with positions for error messages."""

    def __init__(self, fh: BinaryIO, *, chunk: int = CHUNK):
        self._fh = fh
        # the arrays and objects the cursor is inside (iter_array, iter_object_keys): a value
        # read may nest MAX_DEPTH less these, as in the file read whole
        self.depth = 0
        self._chunk = chunk
        # utf-8-sig: a leading BOM is tolerated (json.load on a text file would choke on it)
        self._dec = codecs.getincrementaldecoder("utf-8-sig")()
        self._decoder = STRICT
        self.buf = ""
        self.pos = 0
        self._base = 0        # characters consumed before buf[0]
        self._base_lines = 1  # line number of buf[0]
        self._bytes = 0
        self.eof = False
        try:  # where the file was (rewind seeks from there)
            self._origin: int | None = fh.tell()
        except (OSError, AttributeError, ValueError):
            self._origin = None  # (a pipe: no rewind)

    # -- positions -------------------------------------------------------------------------
    def where(self, pos: int | None = None) -> str:
        """'character N (line L)' for a buffer position (default: the cursor)."""
        p = self.pos if pos is None else pos
        line = self._base_lines + self.buf.count("\n", 0, p)
        return f"character {self._base + p} (line {line})"

    def byte_offset(self) -> int:
        """The cursor as a byte offset from where this stream started reading."""
        pending = len(self._dec.getstate()[0])  # bytes of a character not yet complete
        return self._bytes - pending - len(self.buf[self.pos:].encode("utf-8", "surrogatepass"))

    @property
    def chars_read(self) -> int:
        """Characters of the file before the cursor (a value's size is the difference)."""
        return self._base + self.pos

    def mark(self) -> tuple:
        """The cursor, for `rewind`. Cheap: the byte offset is worked out only on a rewind
        (the mark holds the buffer of the moment: one buffer's memory while it is kept)."""
        return (self.buf, self.pos, self._base, self._base_lines, self._bytes,
                len(self._dec.getstate()[0]), self.depth)

    def rewind(self, mark: tuple) -> None:
        """Put the cursor back where `mark` was taken (the file is read again from there)."""
        if self._origin is None:
            raise JsonStreamError("cannot read this input again (it cannot be rewound)")
        buf, pos, base, lines, nbytes, pending, depth = mark
        offset = nbytes - pending - len(buf[pos:].encode("utf-8", "surrogatepass"))
        self._fh.seek(self._origin + offset)
        # (a BOM is skipped only at the very start, as the first read did)
        self._dec = codecs.getincrementaldecoder("utf-8-sig" if offset == 0 else "utf-8")()
        self.buf, self.pos, self._base = "", 0, base + pos
        self._base_lines = lines + buf.count("\n", 0, pos)
        self._bytes, self.eof, self.depth = offset, False, depth

    def _fill(self) -> bool:
        """Read more text into the buffer (at least doubling it, so big values cost O(n))."""
        if self.eof:
            return False
        if self.pos:
            self._base_lines += self.buf.count("\n", 0, self.pos)
            self._base += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        data = self._fh.read(max(self._chunk, len(self.buf)))
        try:
            text = self._dec.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise JsonStreamError(
                f"invalid UTF-8 near byte {self._bytes + max(exc.start, 0)}: {exc.reason}"
            ) from None
        self._bytes += len(data)
        if not data:
            self.eof = True
        self.buf += text
        return bool(data) or bool(text)

    # -- primitives ------------------------------------------------------------------------
    def peek(self) -> str:
        """The next non-whitespace character ('' at end of file), without consuming it."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, chars: str, what: str) -> str:
        """Consume one of `chars` or fail saying what was expected and what was found."""
        c = self.peek()
        if not c:
            raise JsonStreamError(f"truncated JSON: the file ends at {self.where()} where "
                                  f"{what} was expected")
        if c not in chars:
            raise JsonStreamError(f"invalid JSON at {self.where()}: expected {what}, "
                                  f"found {c!r}")
        self.pos += 1
        return c

    def read_value(self) -> Any:
        """Parse one complete JSON value at the cursor. Numbers the store can't hold, lone
        surrogates and nesting deeper than MAX_DEPTH (counted from the file's root) raise
        JsonStreamError naming the field."""
        self.peek()
        value, end = self._decode(self._decoder)
        if too_deep(self.buf, MAX_DEPTH - self.depth, self.pos, end):
            raise self._too_deep()
        if _SURROGATE_ESCAPE.search(self.buf, self.pos, end):
            bad = find_bad(value)
            if bad is not None:
                raise JsonStreamError(_bad_message(bad, self._at_bad(self.pos, end)))
        self.pos = end
        return value

    def _at_bad(self, start: int, end: int) -> str:
        """Where the bad value inside the value at buffer[start:end] is, for its message: the
        bad number's or string's own position (the value's start said "character 0 (line 1)"
        for a NaN on line 12 of a simulation file), else the value's."""
        at = bad_position(self.buf, start, end)
        return f" (at {self.where(at)})" if at is not None \
            else f" (in the value at {self.where(start)})"

    def _too_deep(self) -> TooDeep:
        return TooDeep(f"{TOO_DEEP} in the value at {self.where()}")

    def _decode(self, decoder: json.JSONDecoder) -> tuple[Any, int]:
        limit = MAX_DEPTH - self.depth
        while True:
            try:
                value, end = raw_decode(decoder, self.buf, self.pos)
            except _BadValue:
                # find the field: decode the same value again with markers for bad numbers
                # (a JsonStreamError here, malformed JSON after the number, is the real error)
                bad_value, bad_end = self._decode(_LENIENT)
                if too_deep(self.buf, limit, self.pos, bad_end):
                    raise self._too_deep() from None
                bad = find_bad(bad_value)
                raise JsonStreamError(_bad_message(bad, self._at_bad(self.pos, bad_end))) \
                    from None
            except TooDeep:
                raise self._too_deep() from None
            except json.JSONDecodeError as exc:
                # An error near the end of the buffer (or an unterminated string) may just
                # mean the value continues in the next chunk; anything else is real.
                near_end = exc.pos >= len(self.buf) - 64 or exc.msg.startswith("Unterminated")
                if near_end and not self.eof:
                    # read on and decode again: the error is raised (with its position, which
                    # costs a count of the buffer's lines) only once the file is exhausted
                    self._fill()
                    continue
                if too_deep(self.buf, limit, self.pos, exc.pos):  # judged first, as loads
                    raise self._too_deep() from None
                at_end = exc.pos >= len(self.buf.rstrip())  # nothing but blanks after it
                raise JsonStreamError(describe_json_error(
                    exc.msg, self.where(exc.pos), self.eof and at_end)) from None
            if (not self.eof and isinstance(value, (int, float))
                    and _NUM_TAIL.fullmatch(self.buf, end)):
                # a number touching the buffer end ("3" of "3.25") may continue in the next
                # chunk; objects, arrays, strings and literals are complete once parsed
                if self._fill():
                    continue
            return value, end

    def iter_array(self) -> Iterator[Any]:
        """Yield the items of the array at the cursor, one parsed value at a time."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self.pos += 1
            return
        self.depth += 1
        while True:
            yield self.read_value()
            if self.expect(",]", "',' or ']' after an array item") == "]":
                self.depth -= 1
                return

    def iter_items(self) -> Iterator[int]:
        """Yield the index of each item of the array at the cursor, the cursor at the item;
        the caller must consume each item (read_value, iter_items, iter_object_keys) before
        asking for the next: an array of big items is walked without reading one whole."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self.pos += 1
            return
        self.depth += 1
        i = 0
        while True:
            yield i
            if self.expect(",]", "',' or ']' after an array item") == "]":
                self.depth -= 1
                return
            i += 1

    def iter_object_keys(self) -> Iterator[str]:
        """Yield the keys of the object at the cursor; the caller must consume each value
        (read_value or iter_array) before asking for the next key."""
        self.expect("{", "'{'")
        if self.peek() == "}":
            self.pos += 1
            return
        self.depth += 1
        while True:
            if self.peek() != '"':
                raise JsonStreamError(f"expected a key string at {self.where()}")
            key = self.read_value()
            self.expect(":", "':' after a key")
            yield key
            if self.expect(",}", "',' or '}' after a value") == "}":
                self.depth -= 1
                return

    def at_end(self) -> bool:
        """True when only whitespace remains."""
        return self.peek() == ""
