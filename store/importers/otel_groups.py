"""The reading-back side of the OpenTelemetry import's spill (otel_spill.py writes it): the
spans grouped into episodes (a conversation, else a trace), sorted by SQLite, read back one
episode at a time in time order, repeated spans left out, and each episode built
(otel_episode.build_episode) and validated. Both processes' spills are read alongside."""

from __future__ import annotations

import marshal
import os
import sqlite3
from collections import Counter
from operator import itemgetter
from typing import Callable, Iterator

from . import otel_place
from . import otel_spans as S
from .common import ImportFailure
from .episodes import RecordError, validate_sim
from .otel_episode import build_episode
from .otel_inputs import Inputs
from .otel_spill import _problem

BAD_TIMES_NAMED = 3  # span times that are no fixed64: how many the run's warning names
ONE_READ = 8 << 20  # bytes: an episode's records read at once at most (_records)


def _groups(db: sqlite3.Connection, path: str,
            other: str | None) -> Iterator[tuple[str, bool, list]]:
    """(key, keyed by conversation?, spans) per episode, episodes in order of first span.
    `other`: the second process's spill, read alongside."""
    src = "main.s"
    if other:
        db.execute("ATTACH ? AS p", (other,))
        db.execute("CREATE TEMP VIEW sa AS SELECT * FROM main.s UNION ALL SELECT * FROM p.s")
        src = "temp.sa"
    # episode keys (a span's conversation id; without one, its trace's conversation when the
    # trace has exactly one, else its trace) numbered in episode order (first span's time,
    # then key); the spans are then sorted by those small integers (a window over text keys
    # and a second sort cost twice as much). Where no trace holds two conversations (the
    # usual file) that is a key per trace; else per (trace, conversation)
    db.execute(f"CREATE TABLE g0 AS SELECT trace, max(conv) AS conv, min(conv) AS c0, "
               f"min(start) AS ts FROM {src} GROUP BY trace")
    two = db.execute("SELECT 1 FROM g0 WHERE c0 < conv LIMIT 1").fetchone() is not None
    group, key, lone, rows = None, None, False, []
    with open(path + ".recs", "rb") as fm, open((other or path) + ".recs", "rb") as ft:
        fds, two_files = (fm.fileno(), ft.fileno()), other is not None

        def read(seq: int, off: int, n: int) -> list:
            return marshal.loads(os.pread(fds[seq & 1], n, off))

        keys, cur = (_by_pair if two else _by_trace)(db, src, read)
        whole = {seq for (seq,) in db.execute("SELECT seq FROM whole")} if two else ()
        for row in cur:  # (o, by conversation?, seq, off, len)
            if row[0] != group:
                if rows:
                    yield key, bool(rows[-1][1]), _records(rows, fds, two_files, whole, db), \
                        lone
                    rows = []
                group = row[0]
                _, key, lone = next(keys)  # both in o order, and every key has spans
            rows.append(row)
        if rows:
            yield key, bool(rows[-1][1]), _records(rows, fds, two_files, whole, db), lone


def _records(rows: list[tuple], fds: tuple[int, int], two_files: bool,
             whole: set | tuple, db: sqlite3.Connection) -> list[list]:
    """The span records at `rows` (_groups' cursor's: seq, offset and length last; in the
    record file of seq's process), in that order. An episode's records are usually one
    stretch of one file (its spans came in one request): then they are read with one pread,
    not one a span (a system call each: a tenth of the read-back's time), else one by one.
    The one read is at most twice the records' bytes and ONE_READ (a very long
    conversation's records are read one by one: no buffer of its size beside them). Not
    mapped: the mapped pages would count in the process's resident memory."""
    loads = marshal.loads
    first = min(rows, key=_OFF)
    last = max(rows, key=_OFF)
    lo, hi = first[3], last[3] + last[4]
    if hi - lo <= min(2 * sum(map(_LEN, rows)), ONE_READ) and not (two_files and len({
            row[2] & 1 for row in rows}) > 1):
        buf = memoryview(os.pread(fds[first[2] & 1], hi - lo, lo))
        spans = [loads(buf[off - lo:]) for off in map(_OFF, rows)]  # (loads: one object)
    else:
        pread = os.pread
        spans = [loads(pread(fds[seq & 1], n, off)) for _, _, seq, off, n in rows]
    if whole:
        for seq, sp in zip(map(_SEQ, rows), spans):
            if seq in whole:  # (its input went on from another episode's span)
                sp[1][S.INPUT], = db.execute("SELECT input FROM whole WHERE seq = ?", (seq,)
                                             ).fetchone()
                sp[12] = None
    return spans


_SEQ, _OFF, _LEN = itemgetter(2), itemgetter(3), itemgetter(4)


def _by_trace(db: sqlite3.Connection, src: str,
              read: Callable) -> tuple[sqlite3.Cursor, sqlite3.Cursor]:
    """(episode keys in order: (o, key, 0), the spans' (o, by conversation?, seq, off, len)
    in episode and time order) where each trace has at most one conversation (g0: one row
    per trace). `read` (a span's record by seq, offset and length) is _by_pair's."""
    db.execute("CREATE TABLE ko AS SELECT key, row_number() OVER (ORDER BY gs, key) AS o FROM "
               "(SELECT coalesce(conv, trace) AS key, min(ts) AS gs FROM g0 GROUP BY 1)")
    db.execute("CREATE INDEX ko_key ON ko(key)")
    db.execute("CREATE TABLE g (trace TEXT PRIMARY KEY, conv TEXT, o INTEGER) WITHOUT ROWID")
    db.execute("INSERT INTO g SELECT g0.trace, g0.conv, ko.o FROM g0 JOIN ko ON "
               "ko.key = coalesce(g0.conv, g0.trace)")
    keys = db.cursor().execute("SELECT o, key, 0 FROM ko ORDER BY o")
    # sort the small key rows; the spans are then read from the record files in that order
    return keys, db.execute(f"SELECT g.o, g.conv IS NOT NULL, x.seq, x.off, x.len FROM {src} "
                            "AS x JOIN g ON g.trace = x.trace ORDER BY g.o, x.start, x.seq")


def _by_pair(db: sqlite3.Connection, src: str,
             read: Callable) -> tuple[sqlite3.Cursor, sqlite3.Cursor]:
    """`_by_trace` for a file where a trace holds two conversations (or more): keys per
    (trace, conversation) pair ('' for no conversation: the spill keeps none empty); a trace's
    spans without one go with its conversation when it has one; in a trace of several, with
    the one `otel_place` finds for them (table a), else they are the trace's own (`lone` in
    the keys: an episode only where they hold messages). Fills `whole` (otel_place)."""
    otel_place.place(db, src, read)
    db.execute(f"CREATE TABLE p0 AS SELECT x.trace, coalesce(x.conv, a.conv, '') AS conv, "
               f"min(x.start) AS ts FROM {src} AS x LEFT JOIN a ON a.seq = x.seq GROUP BY 1, 2")
    db.execute("CREATE TABLE p1 AS SELECT p0.trace, p0.conv, p0.ts, CASE WHEN p0.conv <> '' "
               "THEN p0.conv WHEN g0.c0 = g0.conv THEN g0.conv ELSE p0.trace END AS key, "
               "p0.conv <> '' OR g0.c0 = g0.conv AS bc, p0.conv = '' AND g0.c0 < g0.conv AS "
               "lone FROM p0 JOIN g0 ON g0.trace = p0.trace")
    db.execute("CREATE TABLE ko AS SELECT key, bc, lone, row_number() OVER (ORDER BY gs, key) "
               "AS o FROM (SELECT key, max(bc) AS bc, min(lone) AS lone, min(ts) AS gs FROM p1 "
               "GROUP BY 1)")
    db.execute("CREATE INDEX ko_key ON ko(key)")
    db.execute("CREATE TABLE g (trace TEXT, conv TEXT, o INTEGER, bc INTEGER, "
               "PRIMARY KEY (trace, conv)) WITHOUT ROWID")
    db.execute("INSERT INTO g SELECT p1.trace, p1.conv, ko.o, ko.bc FROM p1 JOIN ko ON "
               "ko.key = p1.key")
    keys = db.cursor().execute("SELECT o, key, coalesce(lone, 0) FROM ko ORDER BY o")
    return keys, db.execute(f"SELECT g.o, g.bc, x.seq, x.off, x.len FROM {src} AS x LEFT JOIN "
                            "a ON a.seq = x.seq JOIN g ON g.trace = x.trace AND "
                            "g.conv = coalesce(x.conv, a.conv, '') ORDER BY g.o, x.start, x.seq")


def episodes(db: sqlite3.Connection, path: str, other: str | None,
             stats: dict) -> Iterator[tuple[dict, list, int, bool]]:
    """(simulation, latencies, messages not captured, grouped by conversation?) per episode,
    validated. `stats` gets "skipped" (traces with no GenAI span) and "models" (a Counter)."""
    models: Counter = stats.setdefault("models", Counter())
    stats.setdefault("skipped", 0)
    ord_ = 0
    for key, conv, spans, lone in _groups(db, path, other):
        if all(sp[10] == "other" and not sp[2] for sp in spans):
            stats["skipped"] += 1  # no GenAI span at all (HTTP, database, health checks...)
            continue
        if len({sp[6] for sp in spans}) < len(spans):  # (span ids: unique within a trace)
            spans = _once_each(spans, stats)
        label = f"episode #{ord_} ({'conversation' if conv else 'trace'} {key})"
        try:
            sim, lat, nc, check = build_episode(key, conv, spans, models)
        except S.BadContent as exc:  # the file's: its span, attribute and what is wrong
            raise ImportFailure(f"{label}, {exc}") from None
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            # a message or attribute of a shape no reader foresaw (or a fault of the builder's
            # own): named with its episode, not taken for anything else
            raise ImportFailure(f"{label}: cannot be built ({_problem(exc)})") from None
        if lone and not sim["messages"]:  # (a root over two conversations: no episode)
            stats["outside"] = stats.get("outside", 0) + len(spans)
            continue
        try:
            validate_sim(sim, label, messages=check)  # (the builder's own: see build_episode)
        except RecordError as exc:
            raise ImportFailure(str(exc)) from None
        for sp in spans:
            if len(sp) > 13 and sp[13]:  # times that were no fixed64 (otel_spill._bad_times)
                _bad_times(stats, label, sp)
        ord_ += 1
        if "failed_calls" in sim["otel"]:
            stats["failed"] = stats.get("failed", 0) + 1
        if "several_choices" in sim["otel"]:
            stats["choices"] = stats.get("choices", 0) + 1
        for k in ("spans_ending_before_start", "spans_without_start"):
            if k in sim["otel"]:
                stats[k] = stats.get(k, 0) + sim["otel"][k]
        if conv and spans[0][9] != spans[-1][9] and _overlap(spans):
            stats["overlapping"] = stats.get("overlapping", 0) + 1
        yield sim, lat, nc, conv


def _overlap(spans: list[list]) -> bool:
    """Whether two traces of one conversation run at the same time (their first start to
    last end overlap): one conversation id given to concurrent traces, say, whose spans are
    then read as one conversation in time order. Traces one after another (a conversation's
    turns, each its own trace) do not."""
    span_of: dict[str, list] = {}
    for sp in spans:
        if sp[4] is not None:
            t = span_of.get(sp[9])
            if t is None:
                span_of[sp[9]] = [sp[4], sp[5] if sp[5] is not None else sp[4]]
            else:
                t[1] = max(t[1], sp[5] if sp[5] is not None else sp[4])
    runs = sorted(span_of.values())
    return any(b[0] < a[1] for a, b in zip(runs, runs[1:]))


def _bad_times(stats: dict, label: str, sp: list) -> None:
    """Count a span's times that were no fixed64 in stats["bad_times"], the first few named
    (episode, span, field, value) in stats["bad_times_seen"]."""
    stats["bad_times"] = stats.get("bad_times", 0) + len(sp[13])
    seen = stats.setdefault("bad_times_seen", [])
    for field, value in sp[13][:BAD_TIMES_NAMED - len(seen)]:
        seen.append(f"{label}, span {str(sp[6])[:40]} ({str(sp[0])[:80]!r}): {field} {value}")


def _once_each(spans: list[list], stats: dict) -> list[list]:
    """Spans that repeat an earlier one (a collector's retry writes a batch twice; its copies
    would repeat the conversation) left out and counted in stats["duplicates"]. A copy has the
    same trace and span id and the same record (name, times, parent, status, events,
    attributes, the whole input text); a span id reused with other content, or no id at all
    ("" or zeros), is not a copy."""
    first: dict[tuple, list] = {}  # (trace, span id) -> its first span
    alias: dict[int, int] = {}  # a copy's seq -> the kept span's
    inputs = Inputs(spans)
    out = []
    for sp in spans:
        key = (sp[9], sp[6])
        kept = first.setdefault(key, sp) if sp[6].strip("0") else sp
        if kept is not sp and _same_span(kept, sp, inputs, alias):
            alias[sp[11]] = kept[11]
            stats["duplicates"] = stats.get("duplicates", 0) + 1
            continue
        out.append(sp)
    for sp in out:  # an input spilled as the part it adds to a copy's: to the kept span's
        if sp[12] in alias:
            sp[12] = alias[sp[12]]
    return out


def _same_span(a: list, b: list, inputs: Inputs, alias: dict) -> bool:
    """Whether two span records say the same (all but their seq and input reference)."""
    if a[:1] + a[2:11] != b[:1] + b[2:11]:
        return False
    ia, ib = a[1].get(S.INPUT), b[1].get(S.INPUT)
    if {k: v for k, v in a[1].items() if k != S.INPUT} != \
            {k: v for k, v in b[1].items() if k != S.INPUT}:
        return False
    ra, rb = a[12], b[12]
    if ra is None and rb is None:
        return ia == ib
    if ra is not None and rb is not None and ia == ib and alias.get(rb, rb) == alias.get(ra, ra):
        return True  # the same part added to the same input (most copies after the first)
    return inputs.input(a, keep=False) == inputs.input(b, keep=False)
