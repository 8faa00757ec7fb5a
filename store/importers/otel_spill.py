"""The OTLP/JSON reading side of the OpenTelemetry import: spans -> a spill file -> episodes.

Spans of one conversation can be anywhere in a file, so each span is decoded once and spilled
to a temporary SQLite file; SQLite's sorter then hands back one conversation at a time, ordered
by time (otel_groups.episodes). Memory stays near one conversation whatever the file size.

Two processes may spill one file, block by block (otel_lines.py), each into its own spill
file: spans carry a sequence number (`seq`: the block, the span's place in it, and which
process spilled it) that keeps file order and names the spill file that holds the span.
Chat spans carry the conversation so far in their input: an input that extends the last one
kept for its trace is spilled as the part it adds (`_history_ref`; otel_inputs rebuilds the
whole text when it needs it), so the history is written and read back once, not once a call.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
from collections import Counter
from typing import Any

from ..messages import short_json
from . import otel_spans as S
from .common import ImportFailure
from .otel_history import Tail

# seq = block << _BLOCK_SHIFT | span's place in the block << 1 | which process (0: the worker,
# or this process alone; 1: the importing process beside a worker). A block holds far fewer
# than 2^32 spans (a span takes more than a byte); 2^30 blocks: far more than any file.
_BLOCK_SHIFT = 33
MAX_BLOCKS = 1 << 30
# characters of chat inputs a spilling process keeps to shorten later inputs of the same trace
# (at most ~4 bytes each: a bounded share of the import's memory whatever the file's size)
KEEP_INPUT_CHARS = 8 << 20
_BATCH = 5000


def open_spill(path: str) -> sqlite3.Connection:
    """A new spill: sort keys in SQLite (s), the decoded spans appended to a plain file beside
    it (PATH.recs; s holds each one's offset and length), so sorting moves small rows only and
    the payloads are written once, sequentially."""
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                     "PRAGMA temp_store=FILE; PRAGMA cache_size=-65536; "
                     "CREATE TABLE s (seq INTEGER, trace TEXT, conv TEXT, start INTEGER, "
                     "off INTEGER, len INTEGER)")
    return db


def _ns(v: Any) -> int | float | None:
    """A span or event time (OTLP fixed64 nanoseconds, 0 to 2^64 - 1, a JSON number or its
    decimal text); 0 when absent (unknown, as OTLP's 0 is), None when present but no
    fixed64 (text that is no number, a negative, a fraction, a boolean, past 2^64 - 1, an
    object): the caller reads it as no time and notes it (_bad_times). The sort table holds
    signed 64-bit integers: a time from 2^63 (2262-04-11 on) is a float, which SQLite and
    Python compare with integers by value, so such times sort after every earlier one (to
    within the float's 2-4 us: times that close keep file order) and stay times for the
    episode (its start, end and latencies)."""
    t = type(v)
    if t is str:  # (what the collector writes: runs for every span, hence the order)
        try:
            n = int(v)
        except ValueError:
            return None
    elif v is None:
        return 0
    elif t is int:
        n = v
    elif t is float and v.is_integer():  # (int() cut 1.5 to 1, and read True as 1 ns)
        n = int(v)
    else:
        return None
    if 0 <= n < 1 << 63:
        return n
    return float(n) if 1 << 63 <= n < 1 << 64 else None


def _bad_times(sp: dict, start: Any, end: Any, events: list) -> tuple[list, Any, Any]:
    """The times of a span that are no fixed64 (_ns gave None), as (field, value as JSON)
    for the run's warnings (otel_groups names them with their episode and span), and the
    span's start and end with those read as no time (0). The events' are set to 0 in place."""
    bad = []
    if start is None:
        bad.append(("startTimeUnixNano", short_json(sp.get("startTimeUnixNano"))))
        start = 0
    if end is None:
        bad.append(("endTimeUnixNano", short_json(sp.get("endTimeUnixNano"))))
        end = 0
    for n, e in enumerate(events):
        if e["t"] is None:
            bad.append((f"events[{n}].timeUnixNano", short_json(sp["events"][n]["timeUnixNano"])))
            e["t"] = 0
    return bad, start, end


class Spiller:
    """Decodes requests into spill rows: span count and service names as it goes."""

    def __init__(self, db: sqlite3.Connection, path: str, which: int = 0):
        """`which`: the process's bit in seq (see _BLOCK_SHIFT)."""
        self.db = db
        self.out = open(path + ".recs", "wb", buffering=1 << 20)
        self.off = 0
        self.which = which
        self.seq = which  # the next span's (block 0 until start_block says otherwise)
        self.count = 0  # spans spilled
        self.services: Counter = Counter()
        self._keys: list[tuple] = []
        # per trace, the last chat span's input (its seq, the text: a str, or the Tail it was
        # given as), oldest trace first, across requests: a conversation's calls are often
        # exported in different batches (lines)
        self._inputs: dict[str, tuple[int, str | Tail]] = {}
        self._kept = 0  # characters held there, at most KEEP_INPUT_CHARS

    def _forget(self) -> None:
        """Drop the oldest traces' inputs until the kept text is within its bound (a later
        input of such a trace is then spilled whole: correct, only larger)."""
        inputs = self._inputs
        while self._kept > KEEP_INPUT_CHARS and inputs:
            _, text = inputs.pop(next(iter(inputs)))
            self._kept -= len(text)

    @property
    def spans(self) -> int:
        return self.count

    def start_block(self, block: int) -> None:
        """The spans that follow are block `block`'s (their seq says so)."""
        self.seq = block << _BLOCK_SHIFT | self.which

    def add(self, where: str, req: Any, at: tuple[int, int, int] = (0, 0, 0)) -> None:
        """Spill every span of one ExportTraceServiceRequest; `where` names it in errors.
        `at`: the file's indexes of its first resourceSpans item, scopeSpans item and span,
        for the names of places in errors (the streamed layout hands over part of one scope's
        spans: otel_stream.spill_stream)."""
        if not isinstance(req, dict):
            raise ImportFailure(f"{where}: expected an object with resourceSpans")
        rss = req.get("resourceSpans")
        if not isinstance(rss, list) and "resourceSpans" in req:  # (null too: the key is there)
            raise ImportFailure(f"{where}: resourceSpans should be a list, found "
                                f"{_kind(rss)}")
        if not isinstance(rss, list):
            raise ImportFailure(f"{where}: no 'resourceSpans' list (found keys "
                                f"{', '.join(list(req)[:8]) or 'none'})")
        attrs, kind, dumps, write = S.attrs, S.kind, marshal.dumps, self.out.write
        keys, services = self._keys, self.services
        append = keys.append
        last_input = self._inputs
        # the counters live in locals while the loop runs (this runs for every span); written
        # back on the way out, errors included (the spans before one stay spilled)
        seq, off = self.seq, self.off
        i0, j0, k0 = at
        try:
            for i, rs in enumerate(rss):
                if not isinstance(rs, dict):
                    raise ImportFailure(f"{where}, {place(i + i0)}: expected an object")
                service = resource_service(rs.get("resource"), where, i + i0)
                scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []
                if type(scopes) is not list:
                    raise ImportFailure(f"{where}, {place(i + i0)}: scopeSpans should be a list")
                for j, ss in enumerate(scopes):
                    spans = ss.get("spans") if type(ss) is dict else None
                    if (ss is not None and type(ss) is not dict) or (spans is not None
                                                                     and type(spans) is not list):
                        raise ImportFailure(f"{where}, {place(i + i0, j + j0)}: expected an "
                                            "object with a 'spans' list")
                    first = seq
                    for k, sp in enumerate(spans or ()):
                        if type(sp) is not dict:
                            raise ImportFailure(f"{where}, {place(i + i0, j + j0, k + k0)}: "
                                                "expected an object")
                        trace, sid = sp.get("traceId"), sp.get("spanId")
                        if type(trace) is not str or not trace or type(sid) is not str:
                            raise ImportFailure(f"{where}, {place(i + i0, j + j0, k + k0)}: a "
                                                "span needs string traceId and spanId")
                        try:  # the span's fields, of whatever types the file has
                            a = attrs(sp.get("attributes"))
                            start = _ns(sp.get("startTimeUnixNano"))
                            end = _ns(sp.get("endTimeUnixNano"))
                            evs = sp.get("events")
                            if evs and type(evs) is not list:
                                raise TypeError("events")  # (named by _span_problem)
                            events = [{"name": e.get("name"), "t": _ns(e.get("timeUnixNano")),
                                       "attributes": attrs(e.get("attributes"))}
                                      for e in evs if isinstance(e, dict)] if evs else []
                            status = (sp.get("status") or {}).get("code")
                            name = sp.get("name") or ""
                            parent = sp.get("parentSpanId") or None
                            if type(name) is not str or (parent is not None
                                                         and type(parent) is not str) \
                                    or evs and (len(events) < len(evs) or any(
                                        type(e["name"]) is not str and e["name"] is not None
                                        for e in events)):
                                raise TypeError("a field")  # (named by _span_problem)
                            k_ = kind(name, a)
                            bad = None
                            if start is None or end is None or events and None in [
                                    e["t"] for e in events]:
                                bad, start, end = _bad_times(sp, start, end, events)
                        except (AttributeError, TypeError, ValueError) as exc:
                            raise ImportFailure(f"{where}, {place(i + i0, j + j0, k + k0)}: "
                                                f"{_span_problem(sp, exc)}") from None
                        conv = a.get("gen_ai.conversation.id") or a.get("session.id")
                        if conv is not None and type(conv) is not str:
                            if (bad := S.bad_id(conv)) is not None:  # (str() stored its repr)
                                raise ImportFailure(
                                    f"{where}, {place(i + i0, j + j0, k + k0)}: "
                                    + ("gen_ai.conversation.id" if a.get("gen_ai.conversation.id")
                                       else "session.id") + f" {bad}")
                        ref = None
                        text = a.get(S.INPUT)  # (a Tail: otel_history's, not joined yet)
                        if k_ == "chat" and (type(text) is str or type(text) is Tail):
                            prev = last_input.pop(trace, None)  # re-added: newest last
                            ref = _history_ref(a, text, prev)
                            last_input[trace] = (seq, text)
                            self._kept += len(text) - (0 if prev is None else len(prev[1]))
                            if self._kept > KEEP_INPUT_CHARS:
                                self._forget()
                        if type(a.get(S.INPUT)) is Tail:  # (kept whole: joined now)
                            a[S.INPUT] = text.text()
                        # marshal, not JSON: the record only lives in our own temporary file,
                        # and marshalling big strings is a copy where JSON re-escapes them.
                        # Last: the times that were no fixed64 (otel_groups counts them)
                        blob = dumps([name, a, events, status in (2, "2", "STATUS_CODE_ERROR"),
                                      start, end, sid, parent, service,
                                      trace, k_, seq, ref, bad])
                        write(blob)
                        n = len(blob)
                        append((seq, trace, str(conv) if conv else None, start, off, n))
                        off += n
                        seq += 2
                    if seq > first:
                        services[service] += (seq - first) >> 1
                        self.count += (seq - first) >> 1
                    if len(keys) >= _BATCH:
                        self.seq, self.off = seq, off
                        self.flush()
        finally:
            self.seq, self.off = seq, off

    def mark(self) -> tuple:
        """Where the spill is now, for `rollback` (the streamed layout: a key given twice, whose
        last value counts as in a decoded object; a resource after its spans). Cheap: the
        streamed layout takes one for each resourceSpans item."""
        return (self.seq, self.off, self.count, Counter(self.services))

    def rollback(self, mark: tuple) -> None:
        """Undo every span spilled since `mark`. The chat inputs kept to shorten later ones
        are forgotten (some may be spans undone): later inputs are spilled whole, as after
        _forget (correct, only larger; a rollback is rare)."""
        seq, self.off, self.count, self.services = mark
        self.seq = seq
        self._inputs.clear()
        self._kept = 0
        self._keys[:] = [k for k in self._keys if k[0] < seq]
        self.db.execute("DELETE FROM s WHERE seq >= ?", (seq,))
        self.out.seek(self.off)
        self.out.truncate()

    def flush(self) -> None:
        """Write the queued sort keys (the record file is written as spans come)."""
        self.db.executemany("INSERT INTO s VALUES (?,?,?,?,?,?)", self._keys)
        self.db.commit()  # the other process reads this file (journal off: commit is cheap)
        self._keys.clear()

    def close(self) -> None:
        """Flush and close (the spans are read back by `episodes`)."""
        self.flush()
        self.out.close()


def place(i: int, j: int | None = None, k: int | None = None) -> str:
    """A place in a request, as errors name it: resourceSpans[i].scopeSpans[j].spans[k]."""
    out = f"resourceSpans[{i}]"
    if j is not None:
        out += f".scopeSpans[{j}]"
    if k is not None:
        out += f".spans[{k}]"
    return out


def resource_service(res: Any, where: str, i: int) -> str | None:
    """The service.name of resourceSpans[i]'s resource (None without one); a resource of the
    wrong shape is an ImportFailure naming it after `where`."""
    if res is not None and type(res) is not dict:
        raise ImportFailure(f"{where}, {place(i)}.resource should be an object, found "
                            f"{_kind(res)}")
    try:
        service = S.attrs(res.get("attributes")).get("service.name") if res else None
    except (TypeError, ValueError) as exc:
        raise ImportFailure(f"{where}, {place(i)}.resource: {exc}") from None
    if service is not None and type(service) is not str:
        raise ImportFailure(f"{where}, {place(i)}.resource: service.name should be a string, "
                            f"found {type(service).__name__}")
    return service


def _kind(v: Any) -> str:
    """A JSON value's kind, for messages."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")


def _problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _span_problem(sp: dict, exc: BaseException) -> str:
    """What is wrong with a span whose reading failed: the field, when it is one of the
    span's own (else what Python said, with the span's place named by the caller)."""
    for field, want in (("status", dict), ("events", list), ("attributes", list)):
        v = sp.get(field)
        if v is not None and type(v) is not want:
            return (f"{field} should be {'an object' if want is dict else 'a list'}, found "
                    f"{_kind(v)}")
    for n, e in enumerate(sp.get("events") or ()):
        if not isinstance(e, dict):
            return f"events[{n}] should be an object, found {_kind(e)}"
        if e.get("attributes") is not None and type(e.get("attributes")) is not list:
            return f"events[{n}].attributes should be a list, found {_kind(e['attributes'])}"
        if e.get("name") is not None and type(e["name"]) is not str:
            return f"events[{n}].name should be a string, found {_kind(e['name'])}"
    for field in ("name", "parentSpanId"):  # (falsy values: no name, no parent)
        if sp.get(field) and type(sp[field]) is not str:
            return f"{field} should be a string, found {_kind(sp[field])}"
    if isinstance(exc, ValueError) and str(exc).startswith("attribute "):
        return str(exc)  # (otel_spans.attrs names the attribute)
    return f"a value of an unexpected shape ({_problem(exc)})"


def _history_ref(a: dict, text: str | Tail, prev: tuple[int, str | Tail] | None) -> int | None:
    """When a chat span's input repeats the previous chat input spilled for its trace (the
    conversation so far) with items appended, keep only what it adds (in `a`, in place) and
    return that span's seq; the record then holds the added part, not the history again
    (otel_inputs.Inputs puts it back together). None (nothing changed) otherwise. A Tail
    that goes on from that very input (the same object) is the input less its `]` and the
    Tail's part: what it adds is read off that part, the history never joined."""
    if prev is None:
        return None
    old = prev[1]
    if type(text) is Tail and text.base is old:
        added = text.added()
    else:
        text, old = _whole(text), _whole(old)
        added = text[len(old):] if S.extends(text, old) else None
    if added is None:
        return None
    a[S.INPUT] = added
    return prev[0]


def _whole(text: str | Tail) -> str:
    return text if type(text) is str else text.text()


def spill_path(tmp: str, which: str) -> str:
    return os.path.join(tmp, f"spans-{which}.sqlite")
