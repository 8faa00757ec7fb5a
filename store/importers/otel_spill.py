"""The OTLP/JSON reading side of the OpenTelemetry import: spans -> a spill file -> episodes.

Spans of one conversation can be anywhere in a file, so each span is decoded once and spilled
to a temporary SQLite file; SQLite's sorter then hands back one conversation at a time, ordered
by time (`episodes`). Memory stays near one conversation whatever the file size.

The collector's layout (one ExportTraceServiceRequest per line) can be cut at any line break,
so a big file is spilled by two processes at once, each into its own spill file
(`spill_blocks`): the file is cut into blocks (each from a line start), and each process takes
the next block from a shared counter (`Tickets`) until none is left, so the two finish
together whatever their start-up or speed. Spans carry a sequence number (`seq`: the block,
the span's place in it, and which process spilled it) that keeps file order and names the
spill file that holds the span.
Chat spans carry the conversation so far in their input: an input that extends the last one
kept for its trace is spilled as the part it adds (`_history_ref`; otel_episode rebuilds the
whole text when it needs it), so the history is written and read back once, not once a call.
Anything else (one object for the whole file, pretty-printed, or several objects) is read
by the streaming reader in one process (`spill_stream`).
"""

from __future__ import annotations

import json
import marshal
import os
import re
import sqlite3
from collections import Counter
from typing import Any, BinaryIO, Callable, Iterator

from world.jsonstream import STRICT  # the strict decoder, without loads' text scan

from . import otel_spans as S
from .common import ImportFailure
from .episodes import RecordError, validate_sim
from .json_fast import FastObjects
from .jsonstream import JsonStream, JsonStreamError
from .jsonstream import loads as strict_loads
from .otel_episode import build_episode
from .otel_history import HistorySkip
from .otel_read import line_start, new_buffer, read_lines

# bytes of the file a block (otel.py's worker and this process take blocks in turn): at the
# end one process may wait for the other to finish its last block, so small enough for that
# wait to be short, and big enough for the ticket and the line search to cost nothing
SPILL_BLOCK = 2 << 20
# seq = block << _BLOCK_SHIFT | span's place in the block << 1 | which process (0: the worker,
# or this process alone; 1: the importing process beside a worker). A block holds far fewer
# than 2^32 spans (a span takes more than a byte); 2^30 blocks: far more than any file.
_BLOCK_SHIFT = 33
MAX_BLOCKS = 1 << 30
# characters of chat inputs a spilling process keeps to shorten later inputs of the same trace
# (at most ~4 bytes each: a bounded share of the import's memory whatever the file's size)
KEEP_INPUT_CHARS = 8 << 20
# a first line longer than this is not taken for a JSON Lines record (a whole file written
# on one line would otherwise be read into memory by readline)
MAX_LINE = 64 << 20
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


def _ns(v: Any) -> int:
    try:
        n = int(v)
        return n if 0 <= n < 1 << 63 else 0  # the sort table holds 64-bit integers
    except (TypeError, ValueError):
        return 0


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
        # per trace, the last chat span's input (its seq, the text), oldest trace first, across
        # requests: a conversation's calls are often exported in different batches (lines)
        self._inputs: dict[str, tuple[int, str]] = {}
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

    def add(self, where: str, req: Any) -> None:
        """Spill every span of one ExportTraceServiceRequest; `where` names it in errors."""
        if not isinstance(req, dict):
            raise ImportFailure(f"{where}: expected an object with resourceSpans")
        rss = req.get("resourceSpans")
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
        try:
            for i, rs in enumerate(rss):
                if not isinstance(rs, dict):
                    raise ImportFailure(f"{where}, resourceSpans[{i}]: expected an object")
                service = attrs((rs.get("resource") or {}).get("attributes")).get("service.name")
                scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []
                if type(scopes) is not list:
                    raise ImportFailure(f"{where}, resourceSpans[{i}]: scopeSpans should be a "
                                        "list")
                for j, ss in enumerate(scopes):
                    spans = ss.get("spans") if type(ss) is dict else None
                    if (ss is not None and type(ss) is not dict) or (spans is not None
                                                                     and type(spans) is not list):
                        raise ImportFailure(f"{where}, resourceSpans[{i}].scopeSpans[{j}]: "
                                            "expected an object with a 'spans' list")
                    first = seq
                    for k, sp in enumerate(spans or ()):
                        if type(sp) is not dict:
                            raise ImportFailure(f"{where}, resourceSpans[{i}].scopeSpans[{j}]."
                                                f"spans[{k}]: expected an object")
                        trace, sid = sp.get("traceId"), sp.get("spanId")
                        if type(trace) is not str or not trace or type(sid) is not str:
                            raise ImportFailure(f"{where}, resourceSpans[{i}].scopeSpans[{j}]."
                                                f"spans[{k}]: a span needs string traceId and "
                                                "spanId")
                        a = attrs(sp.get("attributes"))
                        conv = a.get("gen_ai.conversation.id") or a.get("session.id")
                        start = _ns(sp.get("startTimeUnixNano"))
                        end = _ns(sp.get("endTimeUnixNano"))
                        evs = sp.get("events")
                        events = [{"name": e.get("name"), "t": _ns(e.get("timeUnixNano")),
                                   "attributes": attrs(e.get("attributes"))}
                                  for e in evs if isinstance(e, dict)] if evs else []
                        status = (sp.get("status") or {}).get("code")
                        name = str(sp.get("name") or "")
                        k_ = kind(name, a)
                        ref = None
                        if k_ == "chat" and type(text := a.get(S.INPUT)) is str:
                            prev = last_input.pop(trace, None)  # re-added: newest last
                            ref = _history_ref(a, text, prev)
                            last_input[trace] = (seq, text)
                            self._kept += len(text) - (0 if prev is None else len(prev[1]))
                            if self._kept > KEEP_INPUT_CHARS:
                                self._forget()
                        # marshal, not JSON: the record only lives in our own temporary file,
                        # and marshalling big strings is a copy where JSON re-escapes them
                        blob = dumps([name, a, events, status in (2, "2", "STATUS_CODE_ERROR"),
                                      start, end, sid, sp.get("parentSpanId") or None, service,
                                      trace, k_, seq, ref])
                        write(blob)
                        n = len(blob)
                        append((seq, trace, None if conv is None else str(conv), start, off, n))
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

    def flush(self) -> None:
        """Write the queued sort keys (the record file is written as spans come)."""
        self.db.executemany("INSERT INTO s VALUES (?,?,?,?,?,?)", self._keys)
        self.db.commit()  # the other process reads this file (journal off: commit is cheap)
        self._keys.clear()

    def close(self) -> None:
        """Flush and close (the spans are read back by `episodes`)."""
        self.flush()
        self.out.close()


def _history_ref(a: dict, text: str, prev: tuple[int, str] | None) -> int | None:
    """When a chat span's input repeats the previous chat input spilled for its trace (the
    conversation so far) with items appended, keep only what it adds (in `a`, in place) and
    return that span's seq; the record then holds the added part, not the history again
    (otel_episode._Inputs puts it back together). None (nothing changed) otherwise."""
    if prev is None or not S.extends(text, prev[1]):
        return None
    a[S.INPUT] = text[len(prev[1]):]
    return prev[0]


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
    """Spill the JSON Lines records in bytes [start, end) (start at a line start), as block 0.
    `first_line()` gives the number of the line at `start`, asked only for an error."""
    try:
        _Lines().spill(sp, fh, start, end, first_line)
    finally:
        sp.close()


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
    """A spilling process's error, with the block it is in (the earliest block's wins)."""

    def __init__(self, message: str, block: int):
        super().__init__(message)
        self.block = block


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
                lines.spill(sp, fh, start, end, lambda: first_line(start))
            except ImportFailure as exc:
                tickets.stop()
                raise BlockFailure(str(exc), k) from None
    finally:
        sp.close()


class _Lines:
    """Spills lines, one range after another (blocks), with one decoder, one history of chat
    inputs and one read buffer for all of them."""

    def __init__(self) -> None:
        self.fast = FastObjects()
        self.hist = HistorySkip(self.fast)
        self.buf = new_buffer()

    def spill(self, sp: Spiller, fh: BinaryIO, start: int, end: int,
              first_line: Callable[[], int]) -> None:
        k = 0
        fast, hist = self.fast, self.hist
        for raw in read_lines(fh, start, end, self.buf):
            k += 1
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
                raise ImportFailure(f"line {first_line() + k - 1}: not JSON ({exc})") from None
            if type(obj) is not dict:
                raise ImportFailure(f"line {first_line() + k - 1}: expected an object with "
                                    "resourceSpans")
            try:
                sp.add("", obj)
            except ImportFailure as exc:
                raise ImportFailure(f"line {first_line() + k - 1}{exc}") from None


# as jsonstream's check, on the bytes: the pattern is ASCII, which UTF-8 never uses inside a
# multi-byte character, and a bytes regex runs twice as fast as one over wide text
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _decode(raw: bytes) -> Any:
    """One line's JSON with the store's limits (jsonstream.loads). A line without any
    surrogate escape cannot hold a lone surrogate, so the strict decoder alone will do (loads
    scans the decoded text for them: a tenth of the spill). Lines with one, and any failure,
    go through loads for its checks and exact messages."""
    text = raw.decode("utf-8")
    if not _SURROGATE_ESCAPE.search(raw):
        try:
            return STRICT.decode(text)
        except (ValueError, RecursionError):
            pass
    return strict_loads(text)


def spill_stream(sp: Spiller, fh: BinaryIO) -> None:
    """Spill a file that is not one request per line: objects one after the other (one for
    the whole file, most often), each streamed resourceSpans item by item."""
    fh.seek(0)
    stream = JsonStream(fh)
    try:
        n = 0
        while not stream.at_end():
            n += 1
            at = "" if n == 1 else f"object #{n}, "
            for key in stream.iter_object_keys():
                if key == "resourceSpans" and stream.peek() == "[":
                    for i, rs in enumerate(stream.iter_array()):
                        sp.add(f"{at}resourceSpans[{i}]", {"resourceSpans": [rs]})
                else:
                    stream.read_value()
    except JsonStreamError as exc:
        raise ImportFailure(str(exc)) from None
    finally:
        sp.close()


def _groups(db: sqlite3.Connection, path: str,
            other: str | None) -> Iterator[tuple[str, bool, list]]:
    """(key, keyed by conversation?, spans) per episode, episodes in order of first span.
    `other`: the second process's spill, read alongside."""
    src = "main.s"
    if other:
        db.execute("ATTACH ? AS p", (other,))
        db.execute("CREATE TEMP VIEW sa AS SELECT * FROM main.s UNION ALL SELECT * FROM p.s")
        src = "temp.sa"
    # episode keys (conversation, else trace) numbered in episode order (first span's time,
    # then key), that number put on each trace: the spans are then sorted by small integers
    # (a window over text keys and a second sort cost twice as much)
    db.execute(f"CREATE TABLE g0 AS SELECT trace, max(conv) AS conv, min(start) AS ts FROM {src} "
               "GROUP BY trace")
    db.execute("CREATE TABLE ko AS SELECT key, row_number() OVER (ORDER BY gs, key) AS o FROM "
               "(SELECT coalesce(conv, trace) AS key, min(ts) AS gs FROM g0 GROUP BY 1)")
    db.execute("CREATE INDEX ko_key ON ko(key)")
    db.execute("CREATE TABLE g (trace TEXT PRIMARY KEY, conv TEXT, o INTEGER) WITHOUT ROWID")
    db.execute("INSERT INTO g SELECT g0.trace, g0.conv, ko.o FROM g0 JOIN ko ON "
               "ko.key = coalesce(g0.conv, g0.trace)")
    keys = db.cursor().execute("SELECT o, key FROM ko ORDER BY o")
    # sort the small key rows; the spans are then read from the record files in that order
    cur = db.execute(f"SELECT g.o, g.conv IS NOT NULL, x.seq, x.off, x.len FROM {src} AS x "
                     "JOIN g ON g.trace = x.trace ORDER BY g.o, x.start, x.seq")
    group, key, by_conv, spans = None, None, False, []
    loads = marshal.loads
    # one pread per span (a seek and a read were two system calls, and a buffer refill each);
    # not mapped: the mapped pages would count in the process's resident memory
    pread = os.pread
    with open(path + ".recs", "rb") as fm, open((other or path) + ".recs", "rb") as ft:
        mine, theirs = fm.fileno(), ft.fileno()
        for o, bc, seq, off, n in cur:
            if o != group:
                if spans:
                    yield key, by_conv, spans
                    spans = []
                group = o
                _, key = next(keys)  # both in o order, and every key has spans
            by_conv = bool(bc)
            spans.append(loads(pread(theirs if seq & 1 else mine, n, off)))
    if spans:
        yield key, by_conv, spans


def episodes(db: sqlite3.Connection, path: str, other: str | None,
             stats: dict) -> Iterator[tuple[dict, list, int, bool]]:
    """(simulation, latencies, messages not captured, grouped by conversation?) per episode,
    validated. `stats` gets "skipped" (traces with no GenAI span) and "models" (a Counter)."""
    models: Counter = stats.setdefault("models", Counter())
    stats.setdefault("skipped", 0)
    ord_ = 0
    for key, conv, spans in _groups(db, path, other):
        if all(sp[10] == "other" and not sp[2] for sp in spans):
            stats["skipped"] += 1  # no GenAI span at all (HTTP, database, health checks...)
            continue
        sim, lat, nc = build_episode(key, conv, spans, models)
        try:
            validate_sim(sim, f"episode #{ord_} ({'conversation' if conv else 'trace'} {key})")
        except RecordError as exc:
            raise ImportFailure(str(exc)) from None
        ord_ += 1
        yield sim, lat, nc, conv


def spill_path(tmp: str, which: str) -> str:
    return os.path.join(tmp, f"spans-{which}.sqlite")
