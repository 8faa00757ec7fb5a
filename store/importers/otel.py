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
import re
import sqlite3
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from . import otel_spans as S
from .common import ImportContext, ImportFailure
from .episodes import RecordError, RowBuilder, next_ids, validate_sim
from .jsonstream import JsonStream, JsonStreamError

FORMAT = "otel-genai"
# root attributes kept per episode: what a user may map to an outcome (`--reward-attr`)
_KEEP_SCALARS = (str, int, float, bool)
_OUTCOME = re.compile(r"gen_ai\.evaluation\.|reward|score|feedback|outcome")


def _ns(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _iso(ns: int) -> str | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


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
            not_captured = by_conv = 0
            for ord_, (key, conv, spans) in enumerate(_groups(spill)):
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
    top["otel"]["agent_model"] = models.most_common(1)[0][0] if models else None
    yield ("done", top, keys, FORMAT, warnings, builder.episodes, builder.messages)


def build_episode(key: str, by_conv: bool, spans: list[list],
                  models: Counter | None = None) -> tuple[dict, list, int]:
    """One conversation's spans (time order) -> (tau2-shaped simulation, per-message latency
    in ms, count of messages whose content was not captured)."""
    ids = {sp[6] for sp in spans}
    root = next((sp for sp in spans if sp[10] == "agent"), None) \
        or next((sp for sp in spans if sp[7] not in ids), spans[0])
    msgs: list[dict] = []
    lat: list[float | None] = []
    consumed = 0
    prev: tuple[str, int] | None = None  # the last chat input as text, and its length
    tool_ids: set[str] = set()
    call_ids: set[str] = set()
    system: list[Any] = []
    nc = 0

    def emit(m: dict, ms: float | None = None) -> None:
        msgs.append(m)
        lat.append(ms)
        for c in m.get("tool_calls") or []:
            if c.get("id"):
                call_ids.add(c["id"])

    items: list[tuple[int, int, Any]] = []
    for i, sp in enumerate(spans):
        items.append((sp[4], i, sp))
        if sp[10] != "chat" and sp[2]:
            for ev in sp[2]:  # transcript events on non-chat spans (e.g. a last user turn)
                if ev.get("name") in ("gen_ai.user.message", "gen_ai.assistant.message"):
                    items.append((ev["t"] or sp[5], i, ev))
    items.sort(key=lambda t: (t[0], t[1]))
    for _, _, it in items:
        if isinstance(it, dict):  # an event
            role = "user" if it["name"] == "gen_ai.user.message" else "assistant"
            m = S.message({**it["attributes"], "role": role})
            if m:
                emit(m)
            continue
        name, a, events, err, start, end = it[:6]
        k = it[10]
        ms = (end - start) / 1e6 if end and start else None
        if k == "chat":
            text = a.get("gen_ai.input.messages")
            tail = _tail(text, prev) if prev else None
            if tail is not None:  # only the new messages were parsed
                inp, out = None, S.chat_io({**a, "gen_ai.input.messages": None}, events)[1]
                fresh, n_inp = tail[max(consumed - prev[1], 0):], prev[1] + len(tail)
            else:
                inp, out = S.chat_io(a, events)
                n_inp = len(inp) if inp is not None else 0
                fresh = (inp[consumed:] if n_inp >= consumed else inp) if inp is not None \
                    else None
            prev = (text, n_inp) if isinstance(text, str) and (inp is not None
                                                                or tail is not None) else None
            if fresh is None:
                if not msgs:
                    emit({"role": "user", "content": S.NOT_CAPTURED})
                    nc += 1
            else:
                # the input repeats the conversation so far: convert only what is new
                for raw in fresh:
                    m = S.message(raw)
                    if m is None:
                        continue
                    if m["role"] == "system":
                        system.append(m.get("content"))
                    elif not (m["role"] == "tool" and m.get("id") in tool_ids):
                        emit(m)
                consumed = n_inp
            u = S.usage(a)
            extra = {"usage": u} if u else {}
            mod, prov = S.model(a), S.provider(a)
            if mod:
                extra["model"] = mod
                if models is not None:
                    models[mod] += 1
            if prov:
                extra["provider"] = prov
            if out is None:
                emit({"role": "assistant", "content": S.NOT_CAPTURED, **extra}, ms)
                nc += 1
            else:
                for j, m in enumerate(out):
                    emit({**m, **extra} if j == 0 else m, ms)
                consumed += len(out)
        elif k == "tool":
            call, result, captured = S.tool_call(a, name)
            if not (call["id"] and call["id"] in call_ids):
                # the assistant turn this call belongs to: the last assistant message, past
                # the results of its earlier calls, when its content was not captured
                j = len(msgs) - 1
                while j >= 0 and msgs[j]["role"] == "tool":
                    j -= 1
                last = msgs[j] if j >= 0 and msgs[j]["role"] == "assistant" else None
                same = last is not None and any(
                    c.get("name") == call["name"] and c.get("arguments") == call["arguments"]
                    for c in last.get("tool_calls") or [])
                if last is not None and same and not call["id"]:
                    pass  # an id-less span of a call the chat output already listed
                elif last is not None and last.get("content") in (None, S.NOT_CAPTURED):
                    last.setdefault("tool_calls", []).append(call)
                    if call["id"]:
                        call_ids.add(call["id"])
                else:
                    emit({"role": "assistant", "content": None, "tool_calls": [call]})
            if not captured:
                nc += 1
            emit({"role": "tool", "id": call["id"],
                  "content": result if result is not None else S.NOT_CAPTURED,
                  "requestor": call["requestor"], "error": bool(err)}, ms)
            tool_ids.add(call["id"])
    return _sim(key, by_conv, spans, root, msgs, system, nc), lat, nc


def _tail(text: Any, prev: tuple[str, int]) -> list | None:
    """The messages a chat input adds to the previous one, parsing only the added part:
    instrumentations serialise the growing conversation the same way each call, so the new
    input is the old one with items appended. None when that does not hold."""
    old = prev[0]
    if not (isinstance(text, str) and len(text) > len(old) and old.endswith("]")
            and text.startswith(old[:-1]) and text[len(old) - 1] == ","):
        return None
    try:
        tail = json.loads("[" + text[len(old):])
    except ValueError:
        return None
    return tail if isinstance(tail, list) else None


def _sim(key: str, by_conv: bool, spans: list[list], root: list, msgs: list[dict],
         system: list, nc: int) -> dict:
    ra = root[1]
    start = min(sp[4] for sp in spans if sp[4]) if any(sp[4] for sp in spans) else 0
    end = max(sp[5] for sp in spans)
    trial = ra.get("t2e.trial")
    task = ra.get("t2e.task_id", ra.get("task.id"))
    keep = {k: v for k, v in ra.items() if isinstance(v, _KEEP_SCALARS)
            and not k.startswith(("gen_ai.input.", "gen_ai.output.", "gen_ai.prompt",
                                  "gen_ai.completion", "llm.input_messages",
                                  "llm.output_messages", "t2e.reward_info"))}
    for sp in spans:  # outcomes elsewhere: evaluation events, evaluator or feedback spans
        found = [ev["attributes"] for ev in sp[2]
                 if str(ev.get("name") or "").startswith("gen_ai.evaluation")]
        if sp[10] in ("agent", "other"):
            found.append(sp[1])
        for attrs in found:
            for k, v in attrs.items():
                if k not in keep and isinstance(v, _KEEP_SCALARS) and _OUTCOME.search(k):
                    keep[k] = v
    ri = ra.get("t2e.reward_info")
    try:
        ri = json.loads(ri) if isinstance(ri, str) else None
    except ValueError:
        ri = None
    sim: dict[str, Any] = {
        "id": str(ra.get("t2e.sim_id") or key), "task_id": str(task if task is not None else key),
        "start_time": _iso(start), "end_time": _iso(end),
        "duration": (end - start) / 1e9 if end and start else None,
        "termination_reason": ra.get("t2e.termination_reason")
        or ("agent_error" if root[3] else None),
        "reward_info": ri if isinstance(ri, dict) else None,
        "messages": msgs, "trial": trial if isinstance(trial, int) else 0,
        "otel": {"trace_ids": sorted({sp[9] for sp in spans if len(sp) > 9}) or None,
                 "group": "conversation" if by_conv else "trace", "key": key,
                 "root_span": root[0], "service": root[8], "attributes": keep},
    }
    if system:
        sim["otel"]["system_instructions"] = system
    if nc:
        sim["otel"]["content_not_captured"] = nc
    if not isinstance(sim["termination_reason"], str):
        sim["termination_reason"] = None
    return sim
