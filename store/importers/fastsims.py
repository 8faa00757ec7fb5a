"""The items of a tau2 file's `simulations` array decoded by orjson, with the strict stdlib
reader (world/jsonstream.py) as the judge of anything unusual.

orjson decodes a simulation several times faster than the stdlib decoder with the store's hooks,
and gives the same values for everything it accepts, with three exceptions handled here:
integers beyond 64 bits (orjson gives a float, or an unsigned int up to 2^64, where the strict
reader refuses), nesting orjson allows (1024 levels) beyond the strict reader's limit
(jsonstream.MAX_DEPTH), and items that are not objects (left to the strict reader). orjson
refuses NaN/Infinity, numbers that read as infinity, lone surrogates, bad UTF-8 and malformed JSON; each of those, and
every item this module cannot vouch for, is read by the strict reader instead, so the error
message (file, simulation, position) is exactly the one the strict path gives.

How: the strict stream stays at the array's `[`. This module reads the same file from that byte
offset in its own buffer. For each item, orjson parses a window of bytes once to find where the
item ends (it reports "unexpected content after document" at the first byte after the value),
then decodes exactly those bytes. An item it cannot vouch for is taken from the strict stream's
own `iter_array`, advanced lazily to that item (the strict reader parses the items before it
once, only then), and the fast reader resumes after it. When the array ends the file (`]`, then
the closing `}` of the top-level object, then blanks), the strict stream is simply abandoned;
otherwise it catches up and reads what follows, as before.

`T2E_IMPORT_ORJSON=0` turns the fast path off (the tests compare both paths row by row).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import orjson

from .common import open_regular
from .jsonstream import JsonStream

WINDOW = 1 << 17  # first probe window; most simulations are 5-60 KB
CHUNK = 1 << 20
GUESS_AHEAD = 16 << 20  # how far past an item's start its end is looked for by pattern
# Below the strict reader's limit for an item (jsonstream.MAX_DEPTH, 500 levels from the file's
# root, less the top-level object and the array): deeper items are left to the strict reader,
# which accepts or refuses them.
MAX_DEPTH = 400
_WS = re.compile(rb"[ \t\n\r]*")
_SEPARATOR = re.compile(rb"[ \t\n\r]*,[ \t\n\r]*(?=\{)")

# digits -> '0', '.' kept, `{` and `[` -> '(', every other byte -> 'x'. Every integer beyond
# the signed 64-bit range has 19 or more digits: a run of nineteen '0' not preceded by '.' (a
# float's fraction, as in 0.0012959999999999998, is) marks one. Digits inside strings may match
# too (that item is then read by the strict reader: slower, never different). The count of '('
# bounds the item's depth. bytes.translate and find run at ~1 GB/s, where a regular expression
# over the same bytes took 3-7 s for the 300 MB bench file.
_MARKS = bytes(ord("0") if chr(c) in "0123456789" else c if c == ord(".")
               else ord("(") if chr(c) in "{[" else ord("x") for c in range(256))
_RUN = b"0" * 19
_DIGITS_FROM = re.compile(rb"0*")
_AFTER_DOC = "unexpected content after document"


def enabled() -> bool:
    """Whether the orjson fast path is on (T2E_IMPORT_ORJSON=0 turns it off)."""
    return os.environ.get("T2E_IMPORT_ORJSON", "") != "0"


class FastArray:
    """Iterate the JSON array at `stream`'s cursor (which must sit on its `[`), the same items
    `stream.iter_array()` would give, or the same error. `closing` is what must follow the
    array for the file to end there (b"}" for the top-level object's key, b"" for a bare list);
    after iterating, `file_done` says the file was read to its end (the caller must not read
    `stream` any further), otherwise `stream` sits after the array, as iter_array leaves it."""

    def __init__(self, stream: JsonStream, path: str | os.PathLike, *, closing: bytes):
        self.stream = stream
        self.path = Path(path)
        self.closing = closing
        self.file_done = False
        self.fast_items = 0    # decoded by orjson
        self.strict_items = 0  # read by the strict stream (caught up or judged)
        self._strict = stream.iter_array()

    def __iter__(self) -> Iterator[Any]:
        start = self.stream.byte_offset()
        with open_regular(self.path) as fh:
            r = _Bytes(fh, start)
            if r.byte() != ord("["):  # not where we thought: the strict reader does it all
                yield from self._strict_rest(0)
                return
            r.p += 1
            r.skip_ws()
            n = 0
            if r.byte() == ord("]"):
                r.p += 1
                yield from self._end(r, 0)
                return
            judge = False  # True: the strict reader decides what comes next
            while True:
                value = None if judge else r.item()
                if value is None:
                    value, more = self._strict_item(n)
                    if not more:
                        return  # the strict stream read the array's end: it carries on
                    r.seek(self.stream.byte_offset())
                else:
                    self.fast_items += 1
                judge = False
                yield value
                n += 1
                r.skip_ws()
                b = r.byte()
                if b == ord(","):
                    r.p += 1
                    r.skip_ws()
                elif b == ord("]"):
                    r.p += 1
                    yield from self._end(r, n)
                    return
                else:  # a missing comma, the file's end...: the strict reader says what
                    judge = True

    def _end(self, r: _Bytes, n: int) -> Iterator[Any]:
        """After the array's `]`: done when only `closing` and blanks remain, else let the
        strict stream catch up (it reads the array's end and what follows)."""
        r.skip_ws()
        if self.closing:
            if r.byte() != self.closing[0]:
                yield from self._strict_rest(n)
                return
            r.p += 1
            r.skip_ws()
        if r.byte() is None:
            self.file_done = True
            return
        yield from self._strict_rest(n)

    def _catch_up(self, n: int) -> None:
        while self.strict_items < n:  # items the fast path gave already: parse and drop
            next(self._strict)
            self.strict_items += 1

    def _strict_item(self, n: int) -> tuple[Any, bool]:
        """Item `n` from the strict stream (raising its error), or (None, False) at the end."""
        self._catch_up(n)
        try:
            value = next(self._strict)
        except StopIteration:
            return None, False
        self.strict_items += 1
        return value, True

    def _strict_rest(self, n: int) -> Iterator[Any]:
        self._catch_up(n)
        for value in self._strict:
            self.strict_items += 1
            yield value


class _Bytes:
    """A byte buffer over the file from a given offset, with the cursor `p`."""

    def __init__(self, fh: Any, offset: int):
        self.fh = fh
        self.seek(offset)

        self.boundary: bytes | None = None  # None: not learnt yet; b"": none usable
        self.misses = 0

    def seek(self, offset: int) -> None:
        self.fh.seek(offset)
        self.buf = self.marks = b""
        self.p = 0
        self.eof = False

    def fill(self) -> bool:
        """Read more (at least doubling what is buffered); False at the end of the file."""
        if self.eof:
            return False
        if self.p:
            self.buf = self.buf[self.p:]
            self.p = 0
        data = self.fh.read(max(CHUNK, len(self.buf)))
        if not data:
            self.eof = True
            return False
        self.buf += data
        self.marks = self.buf.translate(_MARKS)  # one pass per read, not one copy per item
        return True

    def byte(self) -> int | None:
        """The byte at the cursor (None at the end of the file)."""
        while self.p >= len(self.buf):
            if not self.fill():
                return None
        return self.buf[self.p]

    def skip_ws(self) -> None:
        while True:
            self.p = _WS.match(self.buf, self.p).end()
            if self.p < len(self.buf) or not self.fill():
                return

    def item(self) -> Any | None:
        """The object at the cursor decoded by orjson (cursor moved past it), or None when the
        strict reader must read it (not an object, malformed, a value orjson reads differently
        or refuses, nested deeper than MAX_DEPTH)."""
        if self.byte() != ord("{"):
            return None
        value, end = self._guess()
        if end is None:
            end = self._probe_end()
            if end is None:
                return None
            if self.boundary is None:
                end = self._learn_boundary(end)  # it may refill: the buffer moves
            value = orjson.loads(memoryview(self.buf)[self.p:end])  # parsed whole just before
        if self._long_int(end):
            return None
        if self.marks.count(b"(", self.p, end) > MAX_DEPTH and _too_deep(value):
            return None
        self.p = end
        return value

    def _long_int(self, end: int) -> bool:
        """Whether the item's bytes hold a run of 19+ digits that is not a float's fraction."""
        marks, i = self.marks, self.p
        while (i := marks.find(_RUN, i, end)) >= 0:
            if marks[i - 1] != ord("."):
                return True
            i = _DIGITS_FROM.match(marks, i).end()  # past this fraction's digits
        return False

    def _guess(self) -> tuple[Any, int | None]:
        """The item and its end, from the separator seen between the first two items (an indented
        or one-per-line file: `},` newline, indentation, `{`). A raw newline never occurs inside
        a JSON string, and orjson parsing exactly the bytes up to the guess proves it (an object
        parsed whole from an item's start ends where the item ends), so a wrong guess only
        costs a failed parse."""
        if not self.boundary:
            return None, None
        while True:
            c = self.buf.find(self.boundary, self.p)
            # a file whose later separators differ must not be read whole looking for one
            if c >= 0 or len(self.buf) - self.p > GUESS_AHEAD or not self.fill():
                break
        if c < 0:
            return None, None
        try:
            return orjson.loads(memoryview(self.buf)[self.p:c + 1]), c + 1
        except orjson.JSONDecodeError:
            self.misses += 1
            if self.misses > 16:  # the pattern occurs inside items: stop guessing
                self.boundary = b""
            return None, None

    def _probe_end(self) -> int | None:
        """The item's end from orjson's complaint about what follows it in a window."""
        w = WINDOW
        while True:
            if len(self.buf) - self.p < w and self.fill():
                continue
            p, buf = self.p, self.buf
            lim = min(p + w, len(buf))
            while lim < len(buf) and lim > p and buf[lim] & 0xC0 == 0x80:
                lim -= 1  # never cut a UTF-8 character: orjson checks the window's encoding
            try:
                orjson.loads(memoryview(buf)[p:lim])
                return lim  # an object that closes exactly at the window's edge
            except orjson.JSONDecodeError as exc:
                if exc.msg.startswith(_AFTER_DOC):
                    return p + _byte_pos(exc)
                if (lim < len(buf) or not self.eof) and exc.doc \
                        and exc.pos >= len(exc.doc) - 8:
                    w *= 2  # an error at the window's edge: maybe only cut short
                    continue
                return None  # an error inside the window (bad UTF-8 has no doc)

    def _learn_boundary(self, end: int) -> int:
        """Remember `}` + separator + `{` when the separator holds a newline; returns the
        item's end in the buffer as it now is (fill() moves the buffer and the cursor to the
        front)."""
        off = end - self.p
        while len(self.buf) - self.p - off < 256 and self.fill():
            pass
        end = self.p + off
        m = _SEPARATOR.match(self.buf, end)
        self.boundary = b"}" + m.group() + b"{" if m and b"\n" in m.group() else b""
        return end


def _byte_pos(exc: orjson.JSONDecodeError) -> int:
    """orjson's error position (characters of the decoded window) as a byte offset."""
    doc: str = exc.doc
    return exc.pos if doc.isascii() else len(doc[:exc.pos].encode("utf-8"))


def _too_deep(value: Any) -> bool:
    """Whether containers nest more than MAX_DEPTH levels."""
    try:
        orjson.dumps(value)  # refuses more than 254 levels, in C: most items end here
        return False
    except orjson.JSONEncodeError:
        pass
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > MAX_DEPTH:
            return True
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values() if isinstance(x, (dict, list)))
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return False
