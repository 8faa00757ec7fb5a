"""Whole JSON texts with the store's limits, and the checks the streaming reader shares.

`loads` (json.loads refusing what the store cannot hold) and `decode_whole` read one JSON value
held whole; the nesting limit (MAX_DEPTH, `too_deep`, `raw_decode`), the strict decoder
(STRICT: numbers SQLite cannot hold) and `find_bad` (the field holding a bad value) are used
by these and by the streaming reader (jsonstream.py, which re-exports the public names).
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator

_WS = re.compile(r"[ \t\n\r]*")


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


def int64_problem(text: str) -> str | None:
    """Why the integer written as `text` (decimal digits, a sign allowed) does not fit the
    store's 64-bit integers, in every format's words; None when it fits."""
    if len(text) > 20:
        return f"a {len(text.lstrip('+-'))}-digit integer (the store holds 64-bit integers)"
    if not INT_MIN <= int(text) <= INT_MAX:
        return f"the integer {text} (beyond the store's 64-bit range)"
    return None


def _strict_int(text: str) -> int:
    if (problem := int64_problem(text)) is not None:
        raise _BadValue(problem)
    return int(text)


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


# the tokens of a JSON text a bad value can be: a string (for a lone surrogate), a number or a
# constant JSON does not allow; anything else (punctuation, true/false/null) is skipped
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:Infinity|[0-9][0-9eE.+-]*)|NaN')


def bad_position(text: str, start: int, end: int) -> int | None:
    """Where in `text[start:end]` (one JSON value) the first value the store cannot hold
    starts (a number out of range or not JSON's, a string with a lone surrogate), for an
    error that points at it rather than at the value's start; None when none is found.
    Only called on the error path: a scan of the value's tokens."""
    for m in _TOKEN.finditer(text, start, end):
        tok = m.group()
        try:
            if tok[0] == '"':
                if _SURROGATE_ESCAPE.search(tok) and _has_lone_surrogate(json.loads(tok)):
                    return m.start()
            elif tok[-1] in "yN":  # Infinity, -Infinity, NaN
                return m.start()
            elif any(c in tok for c in ".eE"):
                _strict_float(tok)
            else:
                _strict_int(tok)
        except _BadValue:
            return m.start()
        except ValueError:
            continue  # (not a whole token: the decoder named what was wrong)
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
