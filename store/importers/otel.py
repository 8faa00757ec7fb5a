"""OpenTelemetry GenAI traces in OTLP/JSON (what the collector's file exporter writes).

The file is read once, streamed: one `{"resourceSpans": [...]}` request per line (JSON Lines,
the collector's layout) or one such object for the whole file. Spans of one conversation can
be anywhere in the file, so each span is decoded once and spilled to a temporary SQLite file;
SQLite's sorter then hands back one conversation at a time, ordered by time. Memory stays near
one conversation whatever the file size.

An episode is a conversation: spans sharing `gen_ai.conversation.id` (OpenInference:
`session.id`), else a trace. Its root is the first `invoke_agent` span (else the first span
without a parent in the group). Messages come from chat spans (otel_spans.chat_io), tool calls
and results from `execute_tool` spans; messages missing because content capture was off are
stored as "(content not captured)" and counted in the run's warnings. Foreign traces carry no
gold: reward stays empty unless the root says `t2e.reward_info` (our own export) or the user
maps an outcome attribute at gate time (`t2e gate --reward-attr NAME`).
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from . import otel_spans as S
from .common import ImportContext, ImportFailure
from .episodes import RecordError, RowBuilder, next_ids, validate_sim
from .jsonstream import JsonStream, JsonStreamError
from .otel_episode import build_episode

FORMAT = "otel-genai"


def _ns(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _requests(ctx: ImportContext) -> Iterator[tuple[str, dict]]:
    """(where, request object) for each ExportTraceServiceRequest in the file, streamed."""
    with open(ctx.path, "rb") as fh:
        first = fh.readline()
        try:
            obj = json.loads(first) if first.strip() else None
        except ValueError:
            obj = None
        if isinstance(obj, dict):  # JSON Lines: one request per line
            yield "line 1", obj
            for n, raw in enumerate(fh, start=2):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as exc:
                    raise ImportFailure(f"line {n}: not JSON ({exc})") from None
                if not isinstance(obj, dict):
                    raise ImportFailure(f"line {n}: expected an object with resourceSpans")
                yield f"line {n}", obj
            return
        fh.seek(0)
        stream = JsonStream(fh)
        try:
            for key in stream.iter_object_keys():
                if key == "resourceSpans" and stream.peek() == "[":
                    for i, rs in enumerate(stream.iter_array()):
                        yield f"resourceSpans[{i}]", {"resourceSpans": [rs]}
                else:
                    stream.read_value()
        except JsonStreamError as exc:
            raise ImportFailure(str(exc)) from None


def _spill(ctx: ImportContext, db: sqlite3.Connection) -> tuple[int, Counter]:
    """Decode every span once and store it in the spill table; returns (spans, services)."""
    services: Counter = Counter()
    rows: list[tuple] = []
    n = 0
    for where, req in _requests(ctx):
        rss = req.get("resourceSpans")
        if not isinstance(rss, list):
            raise ImportFailure(f"{where}: no 'resourceSpans' list (found keys "
                                f"{', '.join(list(req)[:8]) or 'none'})")
        for i, rs in enumerate(rss):
            if not isinstance(rs, dict):
                raise ImportFailure(f"{where}, resourceSpans[{i}]: expected an object")
            res = S.attrs((rs.get("resource") or {}).get("attributes"))
            service = res.get("service.name")
            for j, ss in enumerate(rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans")
                                   or []):
                for k, sp in enumerate((ss or {}).get("spans") or []):
                    label = f"{where}, resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                    if not isinstance(sp, dict):
                        raise ImportFailure(f"{label}: expected an object")
                    trace, sid = sp.get("traceId"), sp.get("spanId")
                    if not isinstance(trace, str) or not trace or not isinstance(sid, str):
                        raise ImportFailure(f"{label}: a span needs string traceId and spanId")
                    a = S.attrs(sp.get("attributes"))
                    conv = a.get("gen_ai.conversation.id") or a.get("session.id")
                    start, end = _ns(sp.get("startTimeUnixNano")), _ns(sp.get("endTimeUnixNano"))
                    evs = sp.get("events")
                    events = [{"name": e.get("name"), "t": _ns(e.get("timeUnixNano")),
                               "attributes": S.attrs(e.get("attributes"))}
                              for e in evs if isinstance(e, dict)] if evs else []
                    status = (sp.get("status") or {}).get("code")
                    err = status in (2, "2", "STATUS_CODE_ERROR")
                    name = str(sp.get("name") or "")
                    rec = [name, a, events, err, start, end, sid,
                           sp.get("parentSpanId") or None, service, trace, S.kind(name, a)]
                    # pickle, not JSON: the record only lives in our own temporary file,
                    # and pickling big strings is a copy where JSON re-escapes them
                    rows.append((n, trace, None if conv is None else str(conv), start,
                                 pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL)))
                    services[service] += 1
                    n += 1
                    if len(rows) >= 5000:
                        _flush(db, rows)
    _flush(db, rows)
    return n, services


def _flush(db: sqlite3.Connection, rows: list[tuple]) -> None:
    # the sort key apart from the payload, so that sorting moves small rows only
    db.executemany("INSERT INTO s VALUES (?,?,?,?)", [r[:4] for r in rows])
    db.executemany("INSERT INTO r VALUES (?,?)", [(r[0], r[4]) for r in rows])
    rows.clear()


def _groups(db: sqlite3.Connection) -> Iterator[tuple[str, bool, list[list]]]:
    """(key, keyed by conversation?, spans) per episode, episodes in order of first span."""
    db.execute("CREATE TABLE g AS SELECT trace, max(conv) AS conv FROM s GROUP BY trace")
    db.execute("CREATE INDEX g_trace ON g(trace)")
    # sort the small key rows into a table, then walk it joined to the payloads by primary
    # key: one statement, the lookups stay in SQLite
    db.execute(
        "CREATE TABLE o AS SELECT k, conv IS NOT NULL AS bc, seq FROM (SELECT "
        "coalesce(g.conv, s.trace) AS k, g.conv, s.start, s.seq, min(s.start) OVER "
        "(PARTITION BY coalesce(g.conv, s.trace)) AS gs FROM s JOIN g ON g.trace = s.trace) "
        "ORDER BY gs, k, start, seq")
    cur = db.execute("SELECT o.k, o.bc, r.rec FROM o JOIN r ON r.seq = o.seq ORDER BY o.rowid")
    key, by_conv, spans = None, False, []
    loads = pickle.loads
    for k, bc, rec in cur:
        if k != key and spans:
            yield key, by_conv, spans
            spans = []
        key, by_conv = k, bool(bc)
        spans.append(loads(rec))
    if spans:
        yield key, by_conv, spans


def import_file(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """Import one OTLP/JSON trace file as one run (the caller holds the transaction). Big
    files are read and turned into rows in a worker process while this one writes (tau2.py)."""
    from . import tau2

    ctx.fmt = FORMAT
    run_id = tau2._free_run_id(conn)
    ids = next_ids(conn)
    mode = os.environ.get("T2E_IMPORT_WORKER", "")
    use_worker = mode == "1" or (mode != "0" and ctx.size >= tau2.WORKER_MIN_BYTES)
    events = (tau2._worker_events(ctx, run_id, ids, producer="otel") if use_worker
              else produce(str(ctx.path), ctx.display, run_id, ids))
    tau2.consume(conn, ctx, run_id, events)
    info = conn.execute("SELECT info_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
    top = ((json.loads(info) if info else {}).get("_t2e") or {}).get("top") or {}
    agent = (top.get("otel") or {}).get("agent_model")
    conn.execute("UPDATE runs SET grading = 'foreign', agent_model = coalesce(?, agent_model) "
                 "WHERE run_id = ?", (agent, run_id))


def produce(path: str, display: str, run_id: str, ids: tuple[int, int]) -> Iterator[tuple]:
    """Read the file into rows, as events for tau2.consume (no store access): ("head", ...)
    once the spans are read, ("batch", rows) per batch of episodes, ("done", ...)."""
    pctx = ImportContext(path=Path(path), display=display, sha256="", size=0, name="",
                         role="discovery")
    with tempfile.TemporaryDirectory(prefix="t2e-otel-") as tmp:
        spill = sqlite3.connect(os.path.join(tmp, "spans.sqlite"))
        try:
            spill.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                                "PRAGMA temp_store=FILE; PRAGMA cache_size=-65536; "
                                "CREATE TABLE s (seq INTEGER, trace TEXT, conv TEXT, "
                                "start INTEGER); CREATE TABLE r (seq INTEGER PRIMARY KEY, "
                                "rec BLOB)")
            n_spans, services = _spill(pctx, spill)
            if not n_spans:
                raise ImportFailure("no spans found (an OTLP/JSON export has resourceSpans → "
                                    "scopeSpans → spans)")
            service = next((s for s, _ in services.most_common() if s), None)
            top: dict[str, Any] = {"domain": service or "otel",
                                   "otel": {"spans": n_spans,
                                            "services": sorted(s for s in services if s)}}
            keys = ["domain", "otel", "simulations"]
            yield ("head", top, keys, FORMAT, [])
            builder = RowBuilder(run_id, *ids)
            models: Counter = Counter()
            not_captured = by_conv = skipped = ord_ = 0
            for key, conv, spans in _groups(spill):
                if all(sp[10] == "other" and not sp[2] for sp in spans):
                    skipped += 1  # no GenAI span at all (HTTP, database, health checks...)
                    continue
                sim, lat, nc = build_episode(key, conv, spans, models)
                label = f"episode #{ord_} ({'conversation' if conv else 'trace'} {key})"
                try:
                    validate_sim(sim, label)
                except RecordError as exc:
                    raise ImportFailure(str(exc)) from None
                batch = builder.add(sim, ord_, latencies=lat)
                if batch is not None:
                    yield ("batch", batch)
                not_captured += bool(nc)
                by_conv += conv
                ord_ += 1
            batch = builder.take()
            if batch is not None:
                yield ("batch", batch)
        finally:
            spill.close()
    warnings = []
    if not_captured:
        warnings.append(f"{not_captured} episode(s) have messages whose content was not "
                        "captured (GenAI content capture off): shown as \"(content not "
                        "captured)\"")
    if builder.episodes:
        warnings.append(f"{builder.episodes} episode(s): {by_conv} grouped by "
                        f"gen_ai.conversation.id, {builder.episodes - by_conv} by trace id; "
                        "foreign traces carry no gold (map an outcome attribute with "
                        "`t2e gate --reward-attr NAME`)")
    if skipped:
        warnings.append(f"{skipped} trace(s) without any GenAI span were not imported")
    if not builder.episodes:
        raise ImportFailure(f"no GenAI spans found among {n_spans} span(s) (expected "
                            "gen_ai.* or OpenInference attributes: chat, execute_tool or "
                            "invoke_agent spans)")
    top["otel"]["agent_model"] = models.most_common(1)[0][0] if models else None
    yield ("done", top, keys, FORMAT, warnings, builder.episodes, builder.messages)
