"""`t2e export RUN --format otel` and the round trip through the OpenTelemetry importer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

import store
from store.exporters import export_run
from store.importers import import_path
from t2e_tui.cli import cli

FIX = Path(__file__).parent / "fixtures" / "tau2_1x"


def _messages(db, run_id):
    """Per episode (by simulation id: the import orders episodes by time): what must survive,
    message by message."""
    out = []
    for (eid,) in db.conn.execute("SELECT episode_id FROM episodes WHERE run_id = ? "
                                  "ORDER BY sim_id", (run_id,)).fetchall():
        steps = []
        for role, content, calls, cid, err in db.conn.execute(
                "SELECT role, content, tool_calls, tool_call_id, error FROM steps WHERE "
                "episode_id = ? ORDER BY idx", (eid,)):
            calls = [(c["id"], c["name"], c["arguments"], c.get("requestor"))
                     for c in json.loads(calls)] if calls else None
            steps.append((role, content, calls, cid, err))
        out.append(steps)
    return out


def _roundtrip(db, tmp_path, src_path):
    rid = import_path(db, src_path)["run_id"]
    out = tmp_path / "run.otel.jsonl"
    n = export_run(db, rid, "otel", out)
    first = json.loads(out.read_text().splitlines()[0])
    assert "resourceSpans" in first
    back = import_path(db, out)
    assert back["episodes"] == n
    assert _messages(db, back["run_id"]) == _messages(db, rid)
    assert _costs(db, back["run_id"]) == _costs(db, rid)
    return rid, back["run_id"]


def test_roundtrip_keeps_every_message_call_and_argument(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    src = make_results(6)
    src["simulations"][1] = make_results(2, error=True)["simulations"][1]
    rid, rid2 = _roundtrip(db, tmp_path, write_json(tmp_path / "r.json", src))
    # outcomes, labels and trials come back too
    q = "SELECT sim_id, task_id, trial, reward, termination_reason FROM episodes " \
        "WHERE run_id = ? ORDER BY sim_id"
    assert db.conn.execute(q, (rid2,)).fetchall() == db.conn.execute(q, (rid,)).fetchall()
    assert any(s[0] == "tool" and s[4] == 1 for ep in _messages(db, rid2) for s in ep)
    # reward_info comes back as the episode's, stored once: not a second time (its whole
    # text) among the root's attributes, where "reward" in its name had put it; a tau2 run's
    # episode had no trace attributes, and its re-import lists none (the root's are our
    # export's own)
    for ri, extra in db.conn.execute("SELECT reward_info_json, extra_json FROM episodes "
                                     "WHERE run_id = ?", (rid2,)):
        assert json.loads(ri)["reward"] in (0.0, 1.0)
        assert "attributes" not in json.loads(extra)["otel"]


def test_roundtrip_keeps_the_users_own_tool_calls_after_the_last_agent_turn(tmp_path):
    """tau2 dual-control: a user turn after the agent's last one, with tool calls of its own
    and their results. The root event carried only its text: the calls were lost and their
    results' spans made up an assistant turn to hold them."""
    db = store.open_db(tmp_path / "s.sqlite")
    src = make_results(2)
    msgs = src["simulations"][0]["messages"]
    msgs[-1] = {"role": "user", "content": "toggling it", "turn_idx": 5, "cost": 0.001,
                "tool_calls": [{"id": "u1", "name": "toggle_airplane_mode",
                                "arguments": {"on": False}, "requestor": "user"}]}
    msgs += [{"role": "tool", "id": "u1", "content": "airplane mode off", "requestor": "user",
              "error": False, "turn_idx": 6},
             {"role": "user", "content": "works now ###STOP###", "turn_idx": 7}]
    _, rid2 = _roundtrip(db, tmp_path, write_json(tmp_path / "r.json", src))
    steps = _messages(db, rid2)[0]
    assert [s[0] for s in steps[-3:]] == ["user", "tool", "user"]
    assert steps[-3][2] == [("u1", "toggle_airplane_mode", {"on": False}, "user")]


def test_roundtrip_of_a_users_own_tool_call_mid_conversation_and_a_stray_result(tmp_path):
    """A user's own tool call in mid-conversation (tau2 dual-control): its result's span comes
    before the chat input that holds the user's message, so the import made up an assistant
    turn to hold the call, and every user turn's cost after it went one message off (they
    were keyed by position). A tool result that answers no call comes back where it was, no
    assistant turn made up for it (it rides in the next chat input), and the user turns' costs
    stay on their turns."""
    db = store.open_db(tmp_path / "s.sqlite")
    src = make_results(2)
    dual = src["simulations"][0]["messages"]
    dual[2:2] = [
        {"role": "user", "content": "let me check", "cost": 0.11, "turn_idx": 2,
         "timestamp": "2025-08-01T10:00:01.2",
         "tool_calls": [{"id": "u9", "name": "check_status_bar", "arguments": {},
                         "requestor": "user"}]},
        {"role": "tool", "id": "u9", "content": "4G", "requestor": "user", "error": False,
         "turn_idx": 3, "timestamp": "2025-08-01T10:00:01.4"},
        {"role": "user", "content": "it says 4G", "cost": 0.22, "turn_idx": 4,
         "timestamp": "2025-08-01T10:00:01.6"}]
    stray = src["simulations"][1]["messages"]
    stray.insert(1, {"role": "tool", "id": "ghost", "content": "stray", "requestor": "assistant",
                     "error": False, "timestamp": "2025-08-01T10:00:00.5"})
    rid = import_path(db, write_json(tmp_path / "r.json", src))["run_id"]
    export_run(db, rid, "otel", tmp_path / "run.otel.jsonl")
    rid2 = import_path(db, tmp_path / "run.otel.jsonl")["run_id"]
    first, second = _messages(db, rid2)
    assert [s[0] for s in first] == [s[0] for s in _messages(db, rid)[0]]  # none made up
    assert first[2][2] == [("u9", "check_status_bar", {}, "user")]
    assert [c for c in _costs(db, rid2)[0][1] if c[0] == "user"] == \
        [c for c in _costs(db, rid)[0][1] if c[0] == "user"]
    assert [c for c in _costs(db, rid2)[1][1] if c[0] == "user"] == \
        [c for c in _costs(db, rid)[1][1] if c[0] == "user"]
    assert second == _messages(db, rid)[1]


@pytest.mark.parametrize("case", ["a stray user result", "results in reverse order",
                                  "a result before its call"])
def test_roundtrip_of_the_users_own_results_keeps_their_place(tmp_path, case):
    """A user's tool result whose span comes before the chat input that holds it: a result
    with no call was stored twice (where the input put it, and again at the end with a
    made-up call); two results of one user message came back in the calls' order."""
    db = store.open_db(tmp_path / "s.sqlite")
    src = make_results(1)
    msgs = src["simulations"][0]["messages"]
    for m in msgs:
        m.pop("timestamp", None)

    def result(cid, text):
        return {"role": "tool", "id": cid, "content": text, "requestor": "user", "error": False}

    def calls(*cids):
        return {"role": "user", "content": "checking",
                "tool_calls": [{"id": c, "name": "check_status_bar", "arguments": {"n": c},
                                "requestor": "user"} for c in cids]}

    if case == "a stray user result":
        msgs.insert(2, result("ghost", "stray"))
    elif case == "results in reverse order":
        msgs[2:2] = [calls("u1", "u2"), result("u2", "two"), result("u1", "one")]
    else:
        msgs[2:2] = [result("u1", "one"), calls("u1")]
    _roundtrip(db, tmp_path, write_json(tmp_path / "r.json", src))  # (messages equal)


def test_roundtrip_of_a_ticks_only_voice_run(tmp_path):
    db = store.open_db(tmp_path / "s.sqlite")
    _roundtrip(db, tmp_path, FIX / "voice_run")


def test_roundtrip_shared_results(tmp_path, shared_results):
    db = store.open_db(tmp_path / "s.sqlite")
    _roundtrip(db, tmp_path, shared_results[0])


def test_cli_export_otel(tmp_path):
    st = str(tmp_path / "s.sqlite")
    src = write_json(tmp_path / "r.json", make_results(2))
    r = CliRunner().invoke(cli, ["--store", st, "import", str(src), "--json"])
    rid = json.loads(r.output)["imported"][0]["run_id"]
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(cli, ["--store", st, "export", rid, "--format", "otel", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 2
    with pytest.raises(store.StoreError):
        export_run(store.open_db(st), rid, "zipkin", tmp_path / "x")


def test_export_keeps_the_messages_times_and_the_runs_domain(tmp_path):
    """Spans end at their messages' timestamps (they all lasted 1 ms, and an episode of 6 s
    came back as one of 0.03 s), the root spans the episode, and service.name is the run's
    domain (it was "t2e", which the import then took for the domain)."""
    from datetime import datetime, timezone

    def ns(text):
        return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1e9)

    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, write_json(tmp_path / "r.json", make_results(2)))["run_id"]
    out = tmp_path / "run.otel.jsonl"
    export_run(db, rid, "otel", out)
    req = json.loads(out.read_text().splitlines()[0])
    res = req["resourceSpans"][0]
    assert {"key": "service.name", "value": {"stringValue": "retail"}} in \
        res["resource"]["attributes"]
    spans = res["scopeSpans"][0]["spans"]
    root, greet, chat_call, tool, chat_last = spans
    # the greeting's time is the episode's start: no earlier time, so 1 ms from there
    assert int(greet["endTimeUnixNano"]) - int(greet["startTimeUnixNano"]) == 1_000_000
    assert (int(root["startTimeUnixNano"]), int(root["endTimeUnixNano"])) == (
        ns("2025-08-01T10:00:00"), ns("2025-08-01T10:00:06"))
    assert int(chat_call["endTimeUnixNano"]) == ns("2025-08-01T10:00:02")
    assert int(chat_call["startTimeUnixNano"]) == ns("2025-08-01T10:00:01") + 1000
    assert int(tool["endTimeUnixNano"]) == ns("2025-08-01T10:00:03")
    assert int(chat_last["endTimeUnixNano"]) == ns("2025-08-01T10:00:04")
    # the last user message, after the last assistant one: an event at its own time
    assert [int(e["timeUnixNano"]) for e in root["events"]] == [ns("2025-08-01T10:00:05")]
    back = import_path(db, out)["run_id"]
    assert db.conn.execute("SELECT domain FROM runs WHERE run_id = ?", (back,)).fetchone() == \
        ("retail",)
    # the stored duration (tau2's figure, 6.5 s; the messages span 6 s) comes back as it was
    # (t2e.simulation_fields), not as the root span's length
    assert {d for (d,) in db.conn.execute("SELECT duration FROM episodes WHERE run_id = ?",
                                          (back,))} == {6.5}


def test_export_times_out_of_order_or_early_are_laid_out_in_order(tmp_path):
    """A message stamped before the one before it (or before the episode's start) cannot
    end its span there: it follows the one before, so no span runs backwards."""
    src = make_results(1)
    msgs = src["simulations"][0]["messages"]
    msgs[2]["timestamp"] = "2025-08-01T09:59:00"  # before the start, and before message 1
    msgs[3]["timestamp"] = "2025-08-01T10:00:01"  # before message 1's 10:00:01 plus 1 µs
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, write_json(tmp_path / "r.json", src))["run_id"]
    out = tmp_path / "run.otel.jsonl"
    export_run(db, rid, "otel", out)
    spans = json.loads(out.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    times = [(int(sp["startTimeUnixNano"]), int(sp["endTimeUnixNano"])) for sp in spans[1:]]
    assert all(a < b for a, b in times)  # none runs backwards or is empty
    assert all(prev[1] < nxt[0] for prev, nxt in zip(times, times[1:]))  # in order
    root = spans[0]
    assert int(root["startTimeUnixNano"]) <= times[0][0] and \
        int(root["endTimeUnixNano"]) >= times[-1][1]


def _costs(db, run_id):
    """Per episode (by simulation id): its costs and seed, then each message's role, cost
    and usage, and the token columns."""
    from store.exporters import messages

    out = []
    for eid, ac, uc, seed, tin, tout in db.conn.execute(
            "SELECT episode_id, agent_cost, user_cost, seed, tokens_in, tokens_out FROM episodes "
            "WHERE run_id = ? ORDER BY sim_id", (run_id,)).fetchall():
        steps = [(m["role"], m.get("cost"), m.get("usage")) for m in messages(db.conn, eid)]
        out.append(((ac, uc, seed, tin, tout), steps))
    return out


def test_roundtrip_keeps_costs_usage_of_every_turn_and_the_seed(tmp_path):
    """A round trip lost each message's cost, the user turns' usage, the cache read/write
    tokens and the simulation's agent_cost, user_cost and seed: all come back now."""
    src = make_results(2)
    for k, sim in enumerate(src["simulations"]):
        msgs = sim["messages"]
        msgs[1]["usage"] = {"prompt_tokens": 10 + k, "completion_tokens": 5,
                            "cache_read_tokens": 4}  # a user turn (inside a chat input)
        msgs[2]["usage"].update(cache_read_tokens=60, cache_write_tokens=30 + k)
        msgs[5]["usage"] = {"prompt_tokens": 7, "completion_tokens": 2,
                            "cache_write_tokens": 1}  # the last user turn (a root event)
        msgs[5]["cost"] = 0.0015 + k
        sim["agent_cost"], sim["user_cost"] = 0.25 + k, 0.125
    db = store.open_db(tmp_path / "s.sqlite")
    rid, rid2 = _roundtrip(db, tmp_path, write_json(tmp_path / "r.json", src))
    before = _costs(db, rid)
    assert before[0][0] == (0.25, 0.125, 1000, 237, 39)  # (what the source says)
    assert before[1][1][2] == ("assistant", 0.002, {"prompt_tokens": 100, "completion_tokens":
                                                     20, "cache_read_tokens": 60,
                                                     "cache_write_tokens": 31})
    assert _costs(db, rid2) == before


def test_export_writes_usage_under_the_genai_names_and_costs_under_t2e():
    """What goes on the wire: token counts under gen_ai.usage.* (ATIF's cached_tokens as the
    cache read count), costs and the seed under t2e.*; the user turns' on the root (they have
    no span of its own: as keys of the message objects, every later chat input repeated
    them); values that are not numbers are not written."""
    from store.export_otel import episode_request

    user = {"role": "user", "content": "hi", "cost": 0.5,
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "cached_tokens": 2}}
    bot = {"role": "assistant", "content": "ok", "cost": "n/a",
           "usage": {"prompt_tokens": 9, "completion_tokens": 4, "cache_read_tokens": 5,
                     "cached_tokens": 99, "cache_write_tokens": 6, "total_tokens": 13}}
    sim = {"id": "s1", "task_id": "t", "trial": 0, "seed": 7, "agent_cost": 1.5,
           "user_cost": float("inf"), "messages": [user, bot]}
    req = episode_request({"run_id": "r", "name": "n", "agent_model": "m", "domain": "d"},
                          sim, [])
    root, chat = req["resourceSpans"][0]["scopeSpans"][0]["spans"]
    ra = {a["key"]: a["value"] for a in root["attributes"]}
    assert (ra["t2e.seed"], ra["t2e.agent_cost"]) == ({"intValue": "7"}, {"doubleValue": 1.5})
    assert "t2e.user_cost" not in ra
    ca = {a["key"]: a["value"] for a in chat["attributes"]}
    assert {k: v for k, v in ca.items() if k.startswith(("gen_ai.usage.", "t2e."))} == {
        "gen_ai.usage.input_tokens": {"intValue": "9"},
        "gen_ai.usage.output_tokens": {"intValue": "4"},
        "gen_ai.usage.cache_read.input_tokens": {"intValue": "5"},
        "gen_ai.usage.cache_creation.input_tokens": {"intValue": "6"}}
    assert json.loads(ca["gen_ai.input.messages"]["stringValue"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert json.loads(ra["t2e.user_turns"]["stringValue"]) == [
        [0, 0.5, {"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 1,
                  "gen_ai.usage.cache_read.input_tokens": 2}]]
