"""A fast JSON object decoder (orjson) that answers only where the strict reader would agree.

The strict reader (world/jsonstream.loads) is the reference: it refuses NaN/Infinity, numbers
beyond 64 bits, lone surrogates and nesting deeper than MAX_DEPTH (500 levels, a constant), and
names the field. orjson decodes 2-4x faster and refuses NaN, infinities, lone surrogates,
invalid UTF-8 and control characters itself; it accepts what the strict reader refuses in two
ways:

* integers in [2^63, 2^64) (kept as ints) and integers beyond 64 bits (read as floats);
* nesting up to 1,024 levels. A text is given to orjson inside PAD levels of `[` (a constant:
  1,024 - MAX_DEPTH), so that orjson refuses exactly what nests deeper than MAX_DEPTH, at no
  extra pass over the bytes.

`loads_object` returns None (the caller then uses the strict reader, for its value or its exact
message) for anything orjson refuses (nesting past MAX_DEPTH included), and for a line that may
hold a number of 19 or more digits outside a string.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from world.jsonstream import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    JsonStreamError,
    decode_whole,
    find_bad,
)
from world.jsonstream import loads as strict_loads

# orjson reads 1,024 levels and refuses the 1,025th: inside PAD levels of [ it reads MAX_DEPTH
ORJSON_DEPTH = 1024
PAD = ORJSON_DEPTH - MAX_DEPTH
_OPEN, _CLOSE = b"[" * PAD, b"]" * PAD

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
    return _big_in(raw)


def _big_in(raw: bytes) -> bool:
    """The exact test behind a look at the marks: an integer token beyond 64 bits."""
    # more than 19 digits is past 64 bits (JSON integers have no leading zeros) without int(),
    # which refuses runs of over 4,300 digits (such a run inside a string sent a valid line to
    # "not JSON")
    return any(len(m.group(1).lstrip(b"-")) > 19 or not INT_MIN <= int(m.group(1)) <= INT_MAX
               for m in _NUMBER.finditer(raw))


# loads_text's one pass over a text's bytes (a GenAI message list: mostly long strings), for
# both of its questions: _MAP's marks, except that the brackets that open a level, `[` and
# `{`, are '[' (so one count gives the levels at most), and that a run of 19 digits is looked
# for alone (_long_run): a text seldom holds one (times and ids are on the OTLP line, not in
# its messages), and that search is many times faster than one for ':' and 19 digits, ':'
# being most of a JSON text's punctuation (_MAP's test and two counts: 10.7 M instructions
# more for the 10 MB bench file's import, callgrind)
_TEXT_MAP = bytearray(_MAP)
_TEXT_MAP[ord("[")] = _TEXT_MAP[ord("{")] = ord("[")
_TEXT_MAP = bytes(_TEXT_MAP)
_RUN = _LONG[1:]
_AFTER = frozenset(b":[")  # (a `{` before a number is no JSON: orjson refuses it anyway)


def _long_run(marks: bytes) -> bool:
    """Whether _TEXT_MAP's marks have 19 digits at the start or after a byte a number may
    follow: _big_number's look at the marks, with `{` also taken for such a byte."""
    i = marks.find(_RUN)
    for _ in _RUNS_LOOKED_AT:
        if i < 0:
            return False
        if i == 0 or marks[i - 1] in _AFTER:
            return True
        # (this run's start is not after one; the next run starts past its first 19 digits)
        i = marks.find(_RUN, i + 19)
    # a text of many such runs (times or ids written as text): one look for the pairs
    return i >= 0 and (_LONG in marks or _OPEN_LONG in marks)


_RUNS_LOOKED_AT = range(8)
_OPEN_LONG = b"[" + _RUN


_EIGHTHS = range(PAD // 8)
assert PAD % 8 == 4


def _unpad(value: Any) -> Any:
    """The value inside PAD levels of one-item lists, eight levels a step (a step a level
    cost 2% of the spill: the loop, not the indexing; functools.reduce cost as much)."""
    for _ in _EIGHTHS:
        value = value[0][0][0][0][0][0][0][0]
    return value[0][0][0][0]  # (PAD % 8)


class FastObjects:
    """Decodes JSON Lines records (objects) with orjson where that gives what the strict reader
    would."""

    def loads_object(self, raw: bytes) -> Any:
        """The decoded object, or None: not an object, or one for the strict reader."""
        return self.loads_parts([raw])

    def loads_parts(self, parts: list) -> Any:
        """loads_object of the bytes `parts` (bytes-like) make together, joined once with
        the nesting pad."""
        if bytes(parts[0][:1]) != b"{":
            return None
        raw = padded(parts)
        if _big_number(raw):  # (the pad's brackets are no number)
            return None
        return self.loads_padded(raw)

    def loads_padded(self, raw: bytes) -> Any:
        """orjson's value of a text inside the nesting pad (`padded`), or None where orjson
        refuses it. Numbers beyond 64 bits are the caller's to rule out (_big_number, on
        every byte outside a string)."""
        try:
            return _unpad(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return None


def padded(parts: list) -> bytes:
    """The bytes `parts` (bytes-like) make together, inside PAD levels of `[` (one join)."""
    return b"".join([_OPEN, *parts, _CLOSE])


def loads_text(text: str) -> Any:
    """The strict reader's value for JSON held in a string (GenAI message lists, tool
    arguments), by orjson where the result is the same: anything orjson refuses (nesting past
    MAX_DEPTH included) and any integer of 19+ digits go to the strict reader. Like json.loads
    it raises ValueError for malformed text, and also for values the store cannot hold (NaN,
    numbers beyond 64 bits, lone surrogates, nesting deeper than MAX_DEPTH: TooDeep): callers
    keep such text as the string it is, or name the field."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return strict_loads(text)
    marks = raw.translate(_TEXT_MAP)
    if not (_long_run(marks) and _big_in(raw)):  # (_big_number's test, on these marks)
        # fewer [ and { than MAX_DEPTH cannot nest deeper (most texts: not padded, and a text
        # no longer than the limit cannot hold more, so most are not counted)
        deep = len(raw) > MAX_DEPTH and marks.count(b"[") > MAX_DEPTH
        try:
            return _unpad(orjson.loads(b"".join((_OPEN, raw, _CLOSE)))) if deep \
                else orjson.loads(raw)
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
    them) and nesting deeper than MAX_DEPTH still raise JsonStreamError naming the field (as
    the strict reader judges nesting: first); malformed JSON raises json.JSONDecodeError.
    (Called only where loads_text refused: no cost otherwise.)"""
    value = decode_whole(_KEEPING, text)
    bad = find_bad(value)
    if bad is not None:
        raise JsonStreamError(f"field {bad[0]}: {bad[1]}")
    return value
