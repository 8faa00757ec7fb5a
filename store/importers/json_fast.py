"""A fast JSON object decoder (orjson) that answers only where the strict reader would agree.

The strict reader (world/jsonstream.loads) is the reference: it refuses NaN/Infinity, numbers
beyond 64 bits, lone surrogates and nesting too deep for Python, and names the field. orjson
decodes 2-4x faster and refuses NaN, infinities, lone surrogates, invalid UTF-8 and control
characters itself; it accepts what the strict reader refuses in two ways:

* integers in [2^63, 2^64) (kept as ints) and integers beyond 64 bits (read as floats);
* nesting up to 1,024 levels, where the strict reader stops near the recursion limit.

`loads_object` returns None (the caller then uses the strict reader, for its value or its exact
message) for anything orjson refuses, for a line that may hold a number of 19 or more digits
outside a string, and for nesting deeper than the strict reader is sure to read.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import orjson

from world.jsonstream import INT_MAX, INT_MIN, JsonStreamError, find_bad
from world.jsonstream import loads as strict_loads

# A number token starts after one of `[ , :`, whitespace or its own minus sign. Mapped to ':'
# (digits to '0'), "19 digits after such a byte" becomes one substring test; digits right after
# a quote (nanosecond times, ids: strings) never match. A hit is checked exactly (_big_number).
_MAP = bytearray(range(256))
for _c in b"0123456789":
    _MAP[_c] = ord("0")
for _c in b"[,: \t\r\n-":
    _MAP[_c] = ord(":")
_MAP = bytes(_MAP)
_LONG = b":" + b"0" * 19
# a number is also a whole document ("12345678901234567890": a reward_info string)
_NUMBER = re.compile(rb"(?:^|[\[,:\s])(-?[0-9]{19,})")


def _big_number(raw: bytes) -> bool:
    """True when `raw` may hold an integer beyond the store's 64 bits outside a string (a long
    run of digits inside a string may also say True: the strict reader then decides)."""
    marks = raw.translate(_MAP)
    if _LONG not in marks and not marks.startswith(_LONG[1:]):
        return False
    # more than 19 digits is past 64 bits (JSON integers have no leading zeros) without int(),
    # which refuses runs of over 4,300 digits (such a run inside a string sent a valid line to
    # "not JSON")
    return any(len(m.group(1).lstrip(b"-")) > 19 or not INT_MIN <= int(m.group(1)) <= INT_MAX
               for m in _NUMBER.finditer(raw))


def _pad() -> int:
    """Levels of [ put around a line so that orjson (limit 1,024) refuses any nesting the
    strict reader might refuse: its limit is the recursion limit less the frames in use (a
    margin of 100 frames for the calls between here and the decoder)."""
    depth, f = 0, sys._getframe()
    while f is not None:
        depth, f = depth + 1, f.f_back
    return max(0, 1024 - (sys.getrecursionlimit() - depth - 100))


class FastObjects:
    """Decodes JSON Lines records (objects) with orjson where that gives what the strict reader
    would; made once per file (the nesting pad depends on the stack where it is made)."""

    def __init__(self) -> None:
        self.pad = _pad()
        self._open, self._close = b"[" * self.pad, b"]" * self.pad

    def loads_object(self, raw: bytes) -> Any:
        """The decoded object, or None: not an object, or one for the strict reader."""
        return self.loads_parts([raw])

    def loads_parts(self, parts: list) -> Any:
        """loads_object of the bytes `parts` (bytes-like) make together, joined once with
        the nesting pad."""
        if bytes(parts[0][:1]) != b"{":
            return None
        raw = b"".join([self._open, *parts, self._close]) if self.pad else b"".join(parts)
        if _big_number(raw):  # (the pad's brackets are no number)
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        for _ in range(self.pad):
            value = value[0]
        return value


# fewer [ and { than this cannot nest as deep as json.loads stops (the recursion limit less
# the frames in use), where orjson reads on to 1,024 levels
_SHALLOW = 500


def loads_text(text: str) -> Any:
    """The strict reader's value for JSON held in a string (GenAI message lists, tool
    arguments), by orjson where the result is the same: anything orjson refuses, any integer of
    19+ digits and text that may nest deep go to the strict reader. Like json.loads it raises
    ValueError for malformed text, and also for values the store cannot hold (NaN, numbers
    beyond 64 bits, lone surrogates): callers keep such text as the string it is."""
    # (a text no longer than the limit cannot hold more brackets: most are short, not counted)
    if len(text) > _SHALLOW and text.count("[") + text.count("{") > _SHALLOW:
        return strict_loads(text)  # may nest deeper than Python reads: the strict reader decides
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return strict_loads(text)
    if not _big_number(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return strict_loads(text)


def _keep_int(text: str) -> Any:
    if len(text) > 20:
        return text
    v = int(text)
    return v if INT_MIN <= v <= INT_MAX else text


def _keep_float(text: str) -> Any:
    v = float(text)
    return text if v - v != 0 else v  # (1e400 reads as infinity)


_KEEPING = json.JSONDecoder(parse_int=_keep_int, parse_float=_keep_float,
                            parse_constant=str)


def loads_keeping_numbers(text: str) -> Any:
    """loads_text, except that a number the store cannot hold (beyond 64 bits, 1e400, NaN,
    Infinity) is kept as its JSON text, a string: for content inside a GenAI message list,
    where the text says exactly what the number was. Lone surrogates (no UTF-8 text holds
    them) and nesting too deep still raise JsonStreamError naming the field; malformed JSON
    raises json.JSONDecodeError. (Called only where loads_text refused: no cost otherwise.)"""
    try:
        value = _KEEPING.decode(text)
    except RecursionError:
        raise JsonStreamError("nesting too deep (more levels of [ and { than can be read)") \
            from None
    bad = find_bad(value)
    if bad is not None:
        raise JsonStreamError(f"field {bad[0]}: {bad[1]}")
    return value
