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
import sys
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

from .errors import describe_json_error  # one wording for import and score

_WS = re.compile(r"[ \t\n\r]*")
_NUM_TAIL = re.compile(r"[0-9.eE+-]*")
CHUNK = 1 << 20


class JsonStreamError(ValueError):
    """Malformed or truncated JSON; the message names the position (character offset, line)."""


# -- nesting ----------------------------------------------------------------------------------
# One limit for every JSON reader of the import (this module's, and orjson's where json_fast
# and fastsims use it): levels of [ and { counted from the document's root (a JSON Lines line,
# a whole file, a JSON text held in a string). A constant, so the verdict on a file never
# depends on the process, the layout or the call site; the stdlib decoder's own limit (the
# recursion limit less the frames in use, one per level) is not. 500 leaves the decoder half of
# Python's default 1,000: a call site with fewer than ~490 frames reads 500 levels as it is,
# and a deeper one is given the frames it needs (_more_recursion) instead of a verdict of its own.
MAX_DEPTH = 500
TOO_DEEP = f"nesting too deep (more than {MAX_DEPTH} levels of [ and {{)"


class TooDeep(JsonStreamError):
    """A value nested deeper than MAX_DEPTH (the message says so, and where when known)."""


_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PARENS = str.maketrans("[]{}", "()()")


def too_deep(text: str, limit: int = MAX_DEPTH, start: int = 0, end: int | None = None) -> bool:
    """Whether JSON text[start:end] nests more than `limit` levels of [ and { (brackets inside
    strings do not count). Costs two counts unless the text holds more than `limit` of them."""
    if end is None:
        end = len(text)
    if text.count("[", start, end) + text.count("{", start, end) <= limit:
        return False
    if start or end != len(text):
        text = text[start:end]
    if "\\" in text:  # escaped backslashes, then escaped quotes: no quote left inside a string
        text = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(text.split('"')[::2])  # (every other part is a string's body)
    if outside.count("[") + outside.count("{") <= limit:
        return False
    return _nests_over(_NOT_BRACKET.sub("", outside).translate(_PARENS), limit)


def _nests_over(s: str, limit: int) -> bool:
    """Whether a string of ( and ) opens more than `limit` at once. Balanced (the usual case):
    each round of removing every () removes the innermost pairs, so a string that is empty
    after `limit` rounds nests no deeper (a usual document: a dozen rounds). Anything else is
    counted one character at a time."""
    t = s
    for _ in range(limit):
        if not t:
            return False
        u = t.replace("()", "")
        if len(u) == len(t):
            break  # no pair left, not empty: unbalanced (malformed JSON)
        t = u
    else:
        if "()" in t:  # a pair still there after `limit` rounds encloses `limit` levels
            return True
        if not t:
            return False
    d = 0
    for c in s:
        if c == "(":
            d += 1
            if d > limit:
                return True
        elif d:
            d -= 1
    return False


def _stack_depth() -> int:
    d, f = 0, sys._getframe()
    while f is not None:
        d, f = d + 1, f.f_back
    return d


@contextmanager
def _more_recursion() -> Iterator[None]:
    """Room for the stdlib decoder to read MAX_DEPTH levels (one frame each) from here, however
    deep the caller's stack is (asked only after a RecursionError)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _stack_depth() + MAX_DEPTH + 100))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int = 0) -> tuple[Any, int]:
    """decoder.raw_decode, where a RecursionError means more than MAX_DEPTH levels whatever
    the stack (TooDeep); the caller checks the depth of what it accepts (too_deep)."""
    try:
        return decoder.raw_decode(text, pos)
    except RecursionError:
        pass
    with _more_recursion():
        try:
            return decoder.raw_decode(text, pos)
        except RecursionError:
            raise TooDeep(TOO_DEEP) from None


# -- values the store cannot hold -------------------------------------------------------------
# Python's json accepts NaN/Infinity, 1e999 (= inf), integers of any size and lone surrogate
# escapes ("\ud800"); SQLite holds none of them (64-bit integers, UTF-8 text) and exports would
# write invalid JSON. The strict decoder refuses the numbers as they are parsed (hooks cost a
# call per number, nothing per string); lone surrogates are looked for only when the value's
# text holds a surrogate escape at all.
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _BadValue(ValueError):
    pass


class _Marker:
    """Stands in for a bad number while the lenient decoder finds where it sits."""

    def __init__(self, what: str):
        self.what = what


def _strict_int(text: str) -> int:
    if len(text) > 20:
        raise _BadValue(f"a {len(text.lstrip('-'))}-digit integer (the store holds 64-bit "
                        "integers)")
    v = int(text)
    if not INT_MIN <= v <= INT_MAX:
        raise _BadValue(f"the integer {text} (beyond the store's 64-bit range)")
    return v


def _strict_float(text: str) -> float:
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise _BadValue(f"the number {text[:40]} (too large: it reads as infinity)")
    return v


def _strict_constant(text: str) -> Any:
    raise _BadValue(f"{text} (not a number JSON allows)")


def _lenient_int(text: str) -> Any:
    try:
        return _strict_int(text)
    except _BadValue as exc:
        return _Marker(str(exc))


def _lenient_float(text: str) -> Any:
    try:
        return _strict_float(text)
    except _BadValue as exc:
        return _Marker(str(exc))


def _lenient_constant(text: str) -> Any:
    return _Marker(f"{text} (not a number JSON allows)")


STRICT = json.JSONDecoder(parse_int=_strict_int, parse_float=_strict_float,
                          parse_constant=_strict_constant)
_LENIENT = json.JSONDecoder(parse_int=_lenient_int, parse_float=_lenient_float,
                            parse_constant=_lenient_constant)


def find_bad(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, what) of the first marker or lone surrogate in a decoded value, else None.
    Paths read like `messages[2].content`."""
    stack = [(value, path)]
    while stack:  # iterative: the value may be nested deep
        v, p = stack.pop()
        if isinstance(v, _Marker):
            return p or "(the value)", v.what
        if isinstance(v, str):
            if _has_lone_surrogate(v):
                return p or "(the value)", "a lone surrogate (\\ud800-\\udfff) in the text"
        elif isinstance(v, dict):
            for k in reversed(list(v)):
                if isinstance(k, str) and _has_lone_surrogate(k):
                    return f"{p}.{k!a}".lstrip("."), "a lone surrogate in a key"
                stack.append((v[k], f"{p}.{k}".lstrip(".")))
        elif isinstance(v, list):
            stack.extend((x, f"{p}[{i}]") for i, x in reversed(list(enumerate(v))))
    return None


def _has_lone_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def decode_whole(decoder: json.JSONDecoder, text: str, limit: int = MAX_DEPTH) -> Any:
    """The one JSON value `text` holds, read with `decoder`: nesting deeper than `limit` is
    TooDeep, judged first on the text read (malformed JSON too: the same verdict wherever this
    is called from); malformed JSON or text after the value is json.JSONDecodeError. What the
    decoder itself raises otherwise (the strict one's _BadValue) passes through."""
    try:
        value, end = raw_decode(decoder, text, _WS.match(text, 0).end())
    except json.JSONDecodeError as exc:
        if too_deep(text, limit, 0, exc.pos):
            raise TooDeep(TOO_DEEP) from None
        raise
    if too_deep(text, limit, 0, end):
        raise TooDeep(TOO_DEEP)
    if _WS.match(text, end).end() != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def loads(text: str, limit: int = MAX_DEPTH) -> Any:
    """json.loads with the store's limits: bad numbers, lone surrogates and nesting deeper than
    `limit` (MAX_DEPTH) raise JsonStreamError naming the field (json.JSONDecodeError for
    malformed JSON, as json.loads). Nesting is judged first, on the text read: the same
    verdict wherever this is called from."""
    try:
        value = decode_whole(STRICT, text, limit)
    except _BadValue:
        if too_deep(text, limit):
            raise TooDeep(TOO_DEEP) from None
        bad = find_bad(raw_decode(_LENIENT, text, _WS.match(text, 0).end())[0])
        raise JsonStreamError(_bad_message(bad)) from None
    if _SURROGATE_ESCAPE.search(text):
        bad = find_bad(value)
        if bad is not None:
            raise JsonStreamError(_bad_message(bad))
    return value


def _bad_message(bad: tuple[str, str] | None, where: str = "") -> str:
    if bad is None:
        return f"a value the store cannot hold{where}"
    path, what = bad
    return f"field {path}: {what}{where}"


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
                raise JsonStreamError(_bad_message(bad, f" (in the value at {self.where()})"))
        self.pos = end
        return value

    def _too_deep(self) -> TooDeep:
        return TooDeep(f"{TOO_DEEP} in the value at {self.where()}")

    def _decode(self, decoder: json.JSONDecoder) -> tuple[Any, int]:
        limit = MAX_DEPTH - self.depth
        while True:
            try:
                value, end = raw_decode(decoder, self.buf, self.pos)
            except _BadValue:
                # find the field: decode the same value again with markers for bad numbers
                where = self.where()
                # (a JsonStreamError here, malformed JSON after the number, is the real error)
                bad_value, bad_end = self._decode(_LENIENT)
                if too_deep(self.buf, limit, self.pos, bad_end):
                    raise self._too_deep() from None
                bad = find_bad(bad_value)
                raise JsonStreamError(_bad_message(bad, f" (in the value at {where})")) \
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
