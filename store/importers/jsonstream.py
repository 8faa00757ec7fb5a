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

from world.errors import describe_json_error  # one wording for import and score

_WS = re.compile(r"[ \t\n\r]*")
_NUM_TAIL = re.compile(r"[0-9.eE+-]*")
CHUNK = 1 << 20


class JsonStreamError(ValueError):
    """Malformed or truncated JSON; the message names the position (character offset, line)."""


class JsonStream:
    """Reads JSON values from a binary file one at a time, with positions for error messages."""

    def __init__(self, fh: BinaryIO, *, chunk: int = CHUNK):
        self._fh = fh
        self._chunk = chunk
        # utf-8-sig: a leading BOM is tolerated (json.load on a text file would choke on it)
        self._dec = codecs.getincrementaldecoder("utf-8-sig")()
        self._decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self._base = 0        # characters consumed before buf[0]
        self._base_lines = 1  # line number of buf[0]
        self._bytes = 0
        self.eof = False

    # -- positions -------------------------------------------------------------------------
    def where(self, pos: int | None = None) -> str:
        """'character N (line L)' for a buffer position (default: the cursor)."""
        p = self.pos if pos is None else pos
        line = self._base_lines + self.buf.count("\n", 0, p)
        return f"character {self._base + p} (line {line})"

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
        """Parse one complete JSON value at the cursor."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # An error near the end of the buffer (or an unterminated string) may just
                # mean the value continues in the next chunk; anything else is real.
                near_end = exc.pos >= len(self.buf) - 64 or exc.msg.startswith("Unterminated")
                # before _fill, which shifts the buffer under exc.pos
                where = self.where(exc.pos)
                at_end = exc.pos >= len(self.buf.rstrip())  # nothing but blanks after it
                if near_end and self._fill():
                    continue
                raise JsonStreamError(describe_json_error(
                    exc.msg, where, self.eof and at_end)) from None
            if (not self.eof and isinstance(value, (int, float))
                    and _NUM_TAIL.fullmatch(self.buf, end)):
                # a number touching the buffer end ("3" of "3.25") may continue in the next
                # chunk; objects, arrays, strings and literals are complete once parsed
                if self._fill():
                    continue
            self.pos = end
            return value

    def iter_array(self) -> Iterator[Any]:
        """Yield the items of the array at the cursor, one parsed value at a time."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.read_value()
            if self.expect(",]", "',' or ']' after an array item") == "]":
                return

    def iter_object_keys(self) -> Iterator[str]:
        """Yield the keys of the object at the cursor; the caller must consume each value
        (read_value or iter_array) before asking for the next key."""
        self.expect("{", "'{'")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                raise JsonStreamError(f"expected a key string at {self.where()}")
            key = self.read_value()
            self.expect(":", "':' after a key")
            yield key
            if self.expect(",}", "',' or '}' after a value") == "}":
                return

    def at_end(self) -> bool:
        """True when only whitespace remains."""
        return self.peek() == ""
