"""Hand-made OTLP/JSON GenAI spans for the OpenTelemetry import tests (no real export copied).

`span(...)` builds one span as the collector's file exporter writes it (hex ids, nanosecond
strings, typed AnyValue attributes); `request(spans, service)` wraps spans in one
ExportTraceServiceRequest."""

from __future__ import annotations

import json

T0 = 1_767_000_000_000_000_000  # ns


def val(v):
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [val(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": val(x)} for k, x in v.items()]}}
    return {"stringValue": str(v)}


def span(trace, sid, name, attrs, *, parent=None, start=0, end=1, events=(), error=False):
    out = {"traceId": trace, "spanId": sid, "name": name, "kind": 3,
           "startTimeUnixNano": str(T0 + start * 1_000_000),
           "endTimeUnixNano": str(T0 + end * 1_000_000),
           "attributes": [{"key": k, "value": val(v)} for k, v in attrs.items()],
           "status": {"code": 2 if error else 1}}
    if parent:
        out["parentSpanId"] = parent
    if events:
        out["events"] = [{"timeUnixNano": str(T0 + t * 1_000_000), "name": n,
                          "attributes": [{"key": k, "value": val(v)} for k, v in a.items()]}
                         for t, n, a in events]
    return out


def request(spans, service="support-bot"):
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "hand-made"}, "spans": spans}]}]}


def write_spans(path, spans):
    """One OTLP request holding `spans`, as a one-line file at `path`."""
    path.write_text(json.dumps(request(spans)) + "\n")
    return path


def stored_steps(db):
    """Every stored step: (role, content, tool_calls, tool_call_id), in episode order."""
    return db.conn.execute("SELECT role, content, tool_calls, tool_call_id FROM steps "
                           "ORDER BY episode_id, idx").fetchall()


def assert_store_empty(db):
    """Nothing landed: no run, source, episode or step."""
    for table in ("runs", "sources", "episodes", "steps"):
        assert db.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def msgs(*items):
    """GenAI parts-form messages as the JSON string attribute value."""
    return json.dumps(list(items))


def text(role, content):
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def new_convention_file(path):
    """Semconv >= 1.37 names: one conversation over two traces (batches on two lines), plus a
    trace recorded with content capture off."""
    A, B, C = "a" * 32, "b" * 32, "c" * 32
    call = {"type": "tool_call", "id": "call_1", "name": "get_order_details",
            "arguments": {"order_id": "#W100"}}
    u1 = text("user", "Where is order #W100?")
    a1 = {"role": "assistant", "parts": [call]}
    t1 = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                     "response": "shipped"}]}
    a2 = text("assistant", "It has shipped.")
    common = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "model-new",
              "gen_ai.conversation.id": "conv-1"}
    line1 = request([
        span(A, "a1", "invoke_agent support", {"gen_ai.operation.name": "invoke_agent",
             "gen_ai.conversation.id": "conv-1", "gen_ai.agent.name": "support",
             "app.outcome.score": 1.0}, start=0, end=100),
        span(A, "a2", "chat model-new", {**common, "gen_ai.operation.name": "chat",
             "gen_ai.input.messages": msgs(text("system", "Be brief."), u1),
             "gen_ai.output.messages": msgs(a1), "gen_ai.usage.input_tokens": 50,
             "gen_ai.usage.output_tokens": 7, "gen_ai.usage.cache_creation.input_tokens": 40,
             "gen_ai.usage.cache_read.input_tokens": 3}, parent="a1", start=1, end=21),
        span(A, "a3", "execute_tool get_order_details", {"gen_ai.operation.name": "execute_tool",
             "gen_ai.tool.name": "get_order_details", "gen_ai.tool.call.id": "call_1",
             "gen_ai.tool.call.arguments": json.dumps({"order_id": "#W100"}),
             "gen_ai.tool.call.result": "shipped"}, parent="a1", start=22, end=30),
    ])
    line2 = request([
        span(A, "a4", "chat model-new", {**common, "gen_ai.operation.name": "chat",
             "gen_ai.input.messages": msgs(text("system", "Be brief."), u1, a1, t1),
             "gen_ai.output.messages": msgs(a2), "gen_ai.usage.input_tokens": 80,
             "gen_ai.usage.output_tokens": 5}, parent="a1", start=31, end=50),
        # the next turn of the same conversation is another trace
        span(B, "b1", "invoke_agent support", {"gen_ai.operation.name": "invoke_agent",
             "gen_ai.conversation.id": "conv-1"}, start=200, end=260),
        span(B, "b2", "chat model-new", {**common, "gen_ai.operation.name": "chat",
             "gen_ai.input.messages": msgs(text("system", "Be brief."), u1, a1, t1, a2,
                                           text("user", "Thanks, bye")),
             "gen_ai.output.messages": msgs(text("assistant", "Bye!"))},
             parent="b1", start=201, end=220),
        # content capture off: no messages, no tool arguments or results
        span(C, "c1", "invoke_agent support", {"gen_ai.operation.name": "invoke_agent"},
             start=300, end=400, error=True),
        span(C, "c2", "chat model-new", {"gen_ai.operation.name": "chat",
             "gen_ai.provider.name": "openai", "gen_ai.request.model": "model-new",
             "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 4},
             parent="c1", start=301, end=320),
        span(C, "c3", "execute_tool cancel_order", {"gen_ai.operation.name": "execute_tool",
             "gen_ai.tool.name": "cancel_order", "gen_ai.tool.call.id": "call_9"},
             parent="c1", start=321, end=330, error=True),
        span(C, "c4", "chat model-new", {"gen_ai.operation.name": "chat",
             "gen_ai.request.model": "model-new"}, parent="c1", start=331, end=350),
    ])
    path.write_text(json.dumps(line1) + "\n" + json.dumps(line2) + "\n")
    return path


def old_convention_file(path):
    """Older names in one pretty-printed object: gen_ai.system, prompt/completion tokens, the
    event form and the flattened gen_ai.prompt.N / gen_ai.completion.N attributes."""
    D, E = "d" * 32, "e" * 32
    old = {"gen_ai.system": "anthropic", "gen_ai.request.model": "model-old",
           "gen_ai.usage.prompt_tokens": 20, "gen_ai.usage.completion_tokens": 6,
           "gen_ai.usage.cache_creation_input_tokens": 11}
    spans = [
        span(D, "d1", "agent run", {}, start=0, end=100),
        span(D, "d2", "chat model-old", {**old, "gen_ai.operation.name": "chat"}, parent="d1",
             start=1, end=10, events=[
                 (1, "gen_ai.user.message", {"content": "Cancel order #W7"}),
                 (9, "gen_ai.choice", {"message": {"role": "assistant", "tool_calls": [
                     {"id": "call_7", "type": "function", "function": {
                         "name": "cancel_order",
                         "arguments": json.dumps({"order_id": "#W7", "reason": "no longer needed"})}}]}}),
             ]),
        span(D, "d3", "execute_tool cancel_order", {"gen_ai.operation.name": "execute_tool",
             "gen_ai.tool.name": "cancel_order", "gen_ai.tool.call.id": "call_7",
             "gen_ai.tool.call.result": "cancelled"}, parent="d1", start=11, end=12),
        span(E, "e1", "openai.chat", {**old, "gen_ai.prompt.0.role": "user",
             "gen_ai.prompt.0.content": "Hi there",
             "gen_ai.completion.0.role": "assistant",
             "gen_ai.completion.0.content": "Hello! How can I help?"}, start=200, end=210),
    ]
    path.write_text(json.dumps(request(spans, service="legacy-bot"), indent=2))
    return path


def openinference_file(path):
    """OpenInference (Phoenix, TensorZero): span kinds and llm.*_messages attributes."""
    F = "f" * 32
    spans = [
        span(F, "f1", "Agent", {"openinference.span.kind": "AGENT", "session.id": "sess-9",
             "input.value": "Change my address"}, start=0, end=50),
        span(F, "f2", "ChatCompletion", {"openinference.span.kind": "LLM",
             "llm.model_name": "model-oi", "llm.provider": "openai",
             "llm.input_messages.0.message.role": "user",
             "llm.input_messages.0.message.content": "Change my address",
             "llm.output_messages.0.message.role": "assistant",
             "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_a",
             "llm.output_messages.0.message.tool_calls.0.tool_call.function.name":
                 "modify_user_address",
             "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments":
                 json.dumps({"user_id": "u1", "city": "Oslo"}),
             "llm.token_count.prompt": 12, "llm.token_count.completion": 9},
             parent="f1", start=1, end=10),
        span(F, "f3", "modify_user_address", {"openinference.span.kind": "TOOL",
             "tool.name": "modify_user_address", "tool_call.id": "call_a",
             "input.value": json.dumps({"user_id": "u1", "city": "Oslo"}),
             "output.value": "ok"}, parent="f1", start=11, end=12),
    ]
    path.write_text(json.dumps(request(spans, service="phoenix-app")))
    return path


def spill_of(tmp_path, lines: list[dict], label: str = "s"):
    """A spill (otel_spill.Spiller, closed) of `lines` written as a JSON Lines file, and the
    spill's path (each call its own files in tmp_path)."""
    from store.importers import otel_lines, otel_spill

    label += str(len(list(tmp_path.glob("*.jsonl"))))
    src = tmp_path / f"{label}.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    path = str(tmp_path / f"{label}.sqlite")
    sp = otel_spill.Spiller(otel_spill.open_spill(path), path)
    with open(src, "rb") as fh:
        otel_lines.spill_lines(sp, fh, 0, src.stat().st_size, lambda: 1)
    return sp, path


def exported_and_back(tmp_path, src):
    """`src` imported into a store, exported as OTLP/JSON and imported into a second store:
    (first store, its run id, second store, the re-import's summary). The re-import holds as
    many episodes as the export wrote."""
    import store
    from store.exporters import export_run
    from store.importers import import_path

    a = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(a, src)["run_id"]
    out = tmp_path / "run.otel.jsonl"
    n = export_run(a, rid, "otel", out)
    b = store.open_db(tmp_path / "b.sqlite")
    back = import_path(b, out)
    assert back["episodes"] == n
    return a, rid, b, back

