"""Decoding an OTLP/JSON line without decoding the chat histories it repeats.

A chat span's `gen_ai.input.messages` is the conversation so far, so most of a content-captured
export is the same history again and again (~65% of the bytes of the bench's file), and
decoding it was most of the spill's work. `HistorySkip.loads` gives the object the plain
decoder gives for the line (json_fast.FastObjects, else the strict reader), while decoding each
history's bytes once:

* each input value's string (found by its key: `"gen_ai.input.messages", "value":
  {"stringValue": "`) is cut into B + REST, where B is the bytes of an earlier input's body
  less its closing `]` (the same trace's last one, in this line or an earlier one) when the
  body starts with those very bytes, else empty;
* the line is decoded with each such string `"B REST"` replaced by the list
  `[-888888888888NNNNNN, "REST", -888888888888NNNNNN]` (two numbers unique to the cut);
* the string is put back as B's decoded text + REST's.

Why that is the line's value, whatever the bytes (a hostile file included): a number cannot be
written with escapes, so when no kept part of the line holds `888888888888` each marker number
comes from its cut alone; finding every cut's three-item list, each exactly once, in the
decoded object proves that its bytes read as one list of a number, one string and a number,
so REST's bytes are one whole string body (no quote ends it early, no escape is cut). B is an
earlier body's bytes up to its last token (`]` ends no escape), proven the same way when that
body was decoded, so `"B REST"` is one string token in the same place, whose text is B's text
followed by REST's. Everything else is the same bytes. Anything that does not check out (a
marker missing, a list of another shape, a decoding error, numbers beyond 64 bits...) returns
None, and the caller decodes the line as it always did (with the same errors).

For the spill (`tails=True`), an input that goes on from an earlier one is left as a `Tail`
(that earlier input's text object and the part added) instead of being joined into one
string: the spill keeps only the part an input adds to its trace's previous one
(otel_spill._history_ref), and when that previous one is the very object the Tail goes on
from, the part is the Tail's own, so the history is not joined, compared and cut again
(a tenth of the spill's time on the bench's file).
"""

from __future__ import annotations

import re
from typing import Any

from .json_fast import FastObjects, _big_number, padded
from .otel_spans import INPUT

_KEY = b'"%s"' % INPUT.encode()
_VALUE = re.compile(_KEY.replace(b".", rb"\.") + rb'\s*,\s*"value"\s*:\s*\{\s*"stringValue"\s*:\s*"')
# the trace id written before a span's attributes (a guess: only which earlier body to try)
_TRACE = re.compile(rb'"traceId"\s*:\s*"([^"\\]{0,128})"')
# what _VALUE matches as writers space it (Python's json, then Go's), tried first: a prefix
# test is cheaper than the pattern
_VALUE_AS_WRITTEN = tuple(_KEY + sep for sep in (b', "value": {"stringValue": "',
                                                 b',"value":{"stringValue":"'))
_MARK = b"888888888888"
_BASE = 888888888888 * 10**6  # markers -(_BASE + 2i) and -(_BASE + 2i + 1): 18 digits, so
# never a big number for json_fast; at most 500,000 cuts a line
_MAX_CUTS = 500_000
# bytes of earlier lines (each once, however many traces' bodies it holds) and of their decoded
# bodies, kept to shorten later lines' inputs
KEEP_BYTES = 32 << 20
# lines that did not check out before trying stops (a file in another layout pays no more)
_GIVE_UP = 8


class Tail:
    """A chat input's text, not yet joined: `base`'s text less its closing `]`, then `rest`.
    `base` is an earlier input's text (a str or a Tail, ending with `]`); `rest` ends with
    `]`. `text()` joins it (once: the joined text is kept and the chain let go)."""

    __slots__ = ("base", "rest", "whole", "n")

    def __init__(self, base: str | Tail, rest: str):
        self.base: str | Tail | None = base
        self.rest = rest
        self.whole: str | None = None
        self.n = len(base) - 1 + len(rest)

    def __len__(self) -> int:
        return self.n

    def text(self) -> str:
        if self.whole is None:
            rests = []
            t: str | Tail | None = self
            while type(t) is Tail and t.whole is None:
                rests.append(t.rest)
                t = t.base
            head = t.whole if type(t) is Tail else t
            rests.reverse()
            self.whole = "".join([head[:-1], *(r[:-1] for r in rests[:-1]), rests[-1]])
            self.base = None
        return self.whole

    def added(self) -> str | None:
        """What the text adds to `base`'s when it is base's list with items appended
        (otel_spans.extends(text, base's text)), else None."""
        r = self.rest
        return r[1:] if len(r) > 1 and r[0] == "," else None


class HistorySkip:
    """Per file and process: the last input body of each trace (its line, offset and length,
    and its decoded text), bounded by KEEP_BYTES. `tails`: inputs that go on from an earlier
    one are left as Tails (for Spiller.add, which reads them); else the plain decoder's
    value."""

    def __init__(self, fast: FastObjects, tails: bool = False):
        self.fast = fast
        self.tails = tails
        # trace -> (line, offset, length, the decoded body: a str or a Tail)
        self.last: dict[bytes, tuple[bytes, int, int, str | Tail]] = {}
        self.lines: dict[int, list] = {}  # id of a kept line -> [line, its traces kept]
        self.kept = 0  # bytes: each kept line once, and each kept text
        self.failed = 0
        self.skipped = 0  # bytes not decoded (tests, figures)

    def loads(self, raw: bytes) -> Any:
        """The decoded line, or None: nothing to skip, or not proven (the caller decodes)."""
        if self.failed >= _GIVE_UP:
            return None
        k = raw.find(_KEY)
        if k < 0:
            return None
        cuts = self._cuts(raw, k)
        if not cuts:
            return None
        obj = self._decode(raw, cuts)
        if obj is None:
            self.failed += 1
        return obj

    def _cuts(self, raw: bytes, k: int) -> list[tuple]:
        """(start, end, trace guess, prefix source, skip) per input string: the body is
        raw[start:end], end being the quote after the first `]"` past the skipped prefix (the
        shape check of `_found` proves it is the string's end); the source is the cut index or
        the kept entry whose body (less its `]`) the body starts with, or None; skip: that
        prefix's length in bytes."""
        cuts: list[tuple] = []
        line_last: dict[bytes, int] = {}  # trace guess -> its last cut in this line
        at = 0
        while k >= 0 and len(cuts) < _MAX_CUTS:
            if raw.startswith(_VALUE_AS_WRITTEN[0], k):
                s = k + len(_VALUE_AS_WRITTEN[0])
            elif raw.startswith(_VALUE_AS_WRITTEN[1], k):
                s = k + len(_VALUE_AS_WRITTEN[1])
            else:
                m = _VALUE.match(raw, k)
                if m is None:
                    k = raw.find(_KEY, k + 1)
                    continue
                s = m.end()
            t = raw.rfind(b'"traceId"', at, k)
            tm = _TRACE.match(raw, t) if t >= 0 else None
            trace = tm.group(1) if tm else b""
            src: Any = None
            skip = 0
            j = line_last.get(trace)
            if j is not None:
                js, je = cuts[j][0], cuts[j][1]
                if raw.startswith(memoryview(raw)[js:je - 1], s):
                    src, skip = j, je - 1 - js
            elif trace in self.last:
                line, ls, n, _ = entry = self.last[trace]
                if raw.startswith(memoryview(line)[ls:ls + n], s):
                    src, skip = entry, n
            e = raw.find(b']"', s + skip)
            if e < 0:
                break
            cuts.append((s, e + 1, trace, src, skip))
            line_last[trace] = len(cuts) - 1
            at = e + 2
            k = raw.find(_KEY, at)
        return cuts

    def _decode(self, raw: bytes, cuts: list[tuple]) -> Any:
        mv = memoryview(raw)
        parts: list[Any] = []
        at = 0
        marks = _marks(len(cuts))
        for i, (s, e, _, _, skip) in enumerate(cuts):
            parts.append(mv[at:s - 1])
            parts.append(marks[2 * i])
            parts.append(mv[s + skip:e])
            parts.append(marks[2 * i + 1])
            at = e + 1
        parts.append(mv[at:])
        if raw[:1] != b"{":
            return None
        text = padded(parts)
        # each marker holds _MARK once, delimited by non-digits (no occurrence runs across the
        # joins: a marker starts `[-` and ends `,"`, `",-...]`): any other occurrence (in a
        # kept part or a REST) is a number or text that might pass for a marker
        if text.count(_MARK) != 2 * len(cuts):
            return None
        obj = self.fast.loads_padded(text)
        if type(obj) is not dict:
            return None
        found = _found(obj, len(cuts))
        if found is None:
            return None
        # found: every REST is a string's body, so a number past 64 bits (refused by the
        # strict reader) can only be in the rest of the line: that line, each input string
        # emptied (`""`: its quotes, as around it), is scanned (not the RESTs, a third of it)
        if _big_number(b'""'.join(parts[0::4])):
            return None
        texts: list[str | Tail] = []
        for i, (s, e, trace, src, skip) in enumerate(cuts):
            value = found[i][0]
            rest = value["stringValue"][1]
            if not rest.endswith("]"):  # REST's bytes end with `]`, which is no escape's end
                return None
            base = texts[src] if type(src) is int else src[3] if src is not None else None
            text = rest if base is None else Tail(base, rest)
            texts.append(text)
            value["stringValue"] = text if self.tails or type(text) is str else text.text()
            self.skipped += skip
        self._keep(raw, cuts, texts, found)
        return obj

    def _keep(self, raw: bytes, cuts: list[tuple], texts: list[str], found: list) -> None:
        """Remember each trace's last body (by the trace id of the span it was found in, the
        same as the guess made from the bytes: else the next line's guess would not find it)."""
        last = self.last
        final = {cuts[i][2]: i for i in range(len(cuts))}  # each trace's last cut
        for trace, i in final.items():
            s, e = cuts[i][0], cuts[i][1]
            if found[i][1] != trace.decode("utf-8", "replace"):
                continue
            old = last.pop(trace, None)
            if old is not None:
                self._drop(old)
            last[trace] = entry = (raw, s, e - 1 - s, texts[i])
            held = self.lines.setdefault(id(raw), [raw, 0])
            if not held[1]:  # a line holding several traces' bodies is counted once
                self.kept += len(raw)
            held[1] += 1
            self.kept += len(entry[3]) - 1  # (the text less its `]`, as the bound counts it)
        while self.kept > KEEP_BYTES and last:
            self._drop(last.pop(next(iter(last))))

    def _drop(self, entry: tuple) -> None:
        self.kept -= len(entry[3]) - 1
        held = self.lines[id(entry[0])]
        held[1] -= 1
        if not held[1]:
            del self.lines[id(entry[0])]
            self.kept -= len(entry[0])


_MARKS: list[bytes] = []  # cut i's markers: _MARKS[2i], _MARKS[2i + 1], made as needed,
_MARKS_KEPT = 4096  # for the first cuts of a line (a longer line's are made for it alone)


def _marks(n: int) -> list[bytes]:
    """The markers of n cuts (opening `[-N,"` and closing `",-M]`)."""
    marks = _MARKS if n <= _MARKS_KEPT else list(_MARKS)
    while len(marks) < 2 * n:
        i = len(marks) // 2
        marks.extend((b'[-%d,"' % (_BASE + 2 * i), b'",-%d]' % (_BASE + 2 * i + 1)))
    return marks


def _found(obj: dict, n: int) -> list | None:
    """Per cut, (the value dict holding its marker list, the span's traceId): every cut found
    exactly once as [-(BASE+2i), str, -(BASE+2i+1)] under a span attribute
    gen_ai.input.messages; None when not (a marker elsewhere, or lost to a repeated key)."""
    found: list = [None] * n
    left = n
    rss = obj.get("resourceSpans")
    if type(rss) is not list:
        return None
    for rs in rss:
        if type(rs) is not dict:
            continue
        for key in ("scopeSpans", "instrumentationLibrarySpans"):
            scopes = rs.get(key)
            if type(scopes) is not list:
                continue
            for ss in scopes:
                spans = ss.get("spans") if type(ss) is dict else None
                if type(spans) is not list:
                    continue
                for sp in spans:
                    try:
                        attrs = sp["attributes"]
                    except (KeyError, TypeError):
                        continue
                    if type(attrs) is not list:
                        continue
                    for kv in attrs:
                        try:  # (a subscript: cheaper than kv.get, and this runs for every
                            if kv["key"] != INPUT:  # attribute of the line)
                                continue
                        except (KeyError, TypeError):  # (no key, or no object)
                            continue
                        v = kv.get("value")
                        lst = v.get("stringValue") if type(v) is dict else None
                        if type(lst) is not list:
                            continue
                        i = _index(lst, n)
                        if i is None or found[i] is not None:
                            return None
                        tr = sp.get("traceId")
                        found[i] = (v, tr if type(tr) is str else None)
                        left -= 1
    return found if left == 0 else None


def _index(lst: list, n: int) -> int | None:
    """The cut a marker list stands for, when it has that exact shape."""
    if len(lst) != 3 or type(lst[0]) is not int or type(lst[2]) is not int \
            or type(lst[1]) is not str:
        return None
    i2 = -lst[0] - _BASE
    if i2 < 0 or i2 % 2 or i2 // 2 >= n or -lst[2] - _BASE != i2 + 1:
        return None
    return i2 // 2
