"""Native JSONL: import, export, round trip, conversions and bad lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_store_data import make_results, write_json

import store
from store.exporters import export_dict, write_jsonl
from store.importers import detect_format, import_path, import_paths


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def write_lines(path, objs):
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_minimal_lines_without_header(db, tmp_path):
    lines = [{"run": "my-agent", "task_id": "7", "trial": t, "termination_reason": "user_stop",
              "reward": float(t), "messages": [
                  {"role": "user", "content": "where is my order?"},
                  {"role": "assistant", "content": "It shipped."}]} for t in (0, 1)]
    entry = import_path(db, write_lines(tmp_path / "mine.jsonl", lines))
    assert (entry["episodes"], entry["messages"]) == (2, 4)
    assert any("no run header" in w for w in entry["warnings"])
    assert db.conn.execute("SELECT name FROM runs").fetchone() == ("my-agent",)
    rows = db.conn.execute("SELECT task_id, trial, reward, success FROM episodes ORDER BY ord"
                           ).fetchall()
    assert rows == [("7", 0, 0.0, 0), ("7", 1, 1.0, 1)]
    # exported and re-read: same messages
    buf = io.StringIO()
    write_jsonl(db, entry["run_id"], buf)
    out = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert out[0]["type"] == "run" and out[0]["name"] == "my-agent"
    assert [o["messages"] for o in out[1:]] == [ln["messages"] for ln in lines]
    assert [o["reward"] for o in out[1:]] == [0.0, 1.0]


def test_tau2_to_jsonl_to_tau2_roundtrip(db, tmp_path):
    src = make_results(5)
    entry = import_path(db, write_json(tmp_path / "r.json", src))
    jl = tmp_path / "r.jsonl"
    with open(jl, "w") as fh:
        assert write_jsonl(db, entry["run_id"], fh) == 5
    db2 = store.open_db(tmp_path / "s2.sqlite")
    again = import_path(db2, jl)
    assert again["warnings"] == [] and again["episodes"] == 5
    assert export_dict(db2, again["run_id"]) == src
    assert db2.conn.execute("SELECT name FROM runs").fetchone() == ("r",)


def test_shared_file_jsonl_roundtrip(db, tmp_path, shared_results):
    path = shared_results[0]
    entry = import_path(db, path)
    jl = tmp_path / "x.jsonl"
    with open(jl, "w") as fh:
        write_jsonl(db, entry["run_id"], fh)
    db2 = store.open_db(tmp_path / "s2.sqlite")
    again = import_path(db2, jl)
    assert export_dict(db2, again["run_id"]) == json.loads(path.read_text())


def test_openai_style_messages_converted(db, tmp_path):
    line = {"task_id": "1", "messages": [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "get_order_details", "arguments": '{"order_id": "#W1"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{}"}]}
    entry = import_path(db, write_lines(tmp_path / "oa.jsonl", [line]))
    assert any("OpenAI-style" in w for w in entry["warnings"])
    call = db.conn.execute("SELECT name, arguments FROM tool_calls").fetchone()
    assert call == ("get_order_details", '{"order_id": "#W1"}')
    assert db.conn.execute("SELECT tool_call_id, tool_name FROM steps WHERE role = 'tool'"
                           ).fetchone() == ("c1", "get_order_details")


def test_header_with_tasks_and_relabel_inputs(db, tmp_path):
    src = make_results(2)
    header = {"type": "run", "name": "hdr", "timestamp": src["timestamp"], "info": src["info"],
              "tasks": src["tasks"]}
    entry = import_path(db, write_lines(tmp_path / "h.jsonl", [header, *src["simulations"]]))
    assert entry["warnings"] == []
    assert db.conn.execute("SELECT count(*) FROM tasks").fetchone() == (3,)
    assert export_dict(db, entry["run_id"]) == src


@pytest.mark.parametrize("lines, needle", [
    (['{"task_id": "1", "messages": []}', '{"task_id": "2", "messages": [}'],
     "line 2: invalid JSON at column 31: expecting value"),
    (['{"task_id": "1", "messages": []}', '{"task_id": "2", "mess'],
     "line 2: truncated JSON: the line ends inside a string that starts at column 18"),
    (['{"task_id": "1", "messages": []}', '[1, 2]'], "line 2: expected a JSON object"),
    (['{"run": "a", "messages": []}', '{"run": "b", "messages": []}'], "line 2: run 'b'"),
    (['{"messages": []}', '{"type": "run"}'], "line 2: a run header must be the first line"),
    (['{"type": "weird"}'], "unknown record type"),
    (['{"messages": "nope"}'], "line 1: simulation #0"),
    (['{"messages": [], "reward": "high"}'], "'reward' should be a number"),
    (['{"messages": [], "reward": 1.0, "reward_info": {"reward": 0.0}}'], "disagrees"),
    ([], "holds no records"),
])
def test_bad_lines_rejected(db, tmp_path, lines, needle):
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + ("\n" if lines else ""))
    res = import_paths(db, [str(p)])
    assert res["imported"] == [] and needle in res["rejected"][0]["error"]
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize("info", [{"db_check": {"db_match": True, "db_reward": 1.0}},
                                  {"reward": None, "db_check": {"db_match": True,
                                                                "db_reward": 1.0}},
                                  {"reward": 1, "db_check": {"db_match": True,
                                                             "db_reward": 1.0}}],
                         ids=["no-reward", "null-reward", "same-reward"])
def test_reward_fills_a_reward_info_without_one(db, tmp_path, info):
    """`"reward": 1.0` with a reward_info that has no reward was refused ("'reward' 1.0
    disagrees with reward_info.reward None"): the two must agree only when both are given.
    The missing reward_info.reward takes the given reward; the rest of reward_info is kept."""
    line = {"run": "r", "task_id": "1", "reward": 1.0, "reward_info": info,
            "messages": [{"role": "user", "content": "hi"}]}
    import_path(db, write_lines(tmp_path / "r.jsonl", [line]))
    reward, success, db_match, ri = db.conn.execute(
        "SELECT reward, success, db_match, reward_info_json FROM episodes").fetchone()
    assert (reward, success, db_match) == (1.0, 1, 1)
    assert json.loads(ri)["reward"] == 1.0
    assert json.loads(ri)["db_check"] == {"db_match": True, "db_reward": 1.0}


def test_invalid_utf8_line(db, tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_bytes(b'{"messages": []}\n{"messages": [{"role": "user", "content": "\xc3("}]}\n')
    res = import_paths(db, [str(p)])
    assert "line 2: invalid UTF-8" in res["rejected"][0]["error"]


def test_format_detection(tmp_path):
    a = write_lines(tmp_path / "a.txt", [{"messages": []}, {"messages": []}])
    b = write_json(tmp_path / "b.json", make_results(1))
    c = tmp_path / "c.json"
    c.write_text(json.dumps(make_results(1)))  # one line, no newline
    assert detect_format(a) == "t2e-jsonl"
    assert detect_format(b) == "tau2"
    assert detect_format(c) == "tau2"
    assert detect_format(tmp_path) == "tau2-dir"


def test_documented_example_imports(db, tmp_path):
    """The minimal example in store/formats.md is valid JSONL that imports as documented."""
    doc = (Path(store.__file__).parent / "formats.md").read_text(encoding="utf-8")
    block = doc.split("Minimal example")[1].split("```json\n")[1].split("```")[0]
    p = tmp_path / "example.jsonl"
    p.write_text(block, encoding="utf-8")
    entry = import_path(db, p)
    assert (entry["episodes"], entry["messages"]) == (2, 6)
    assert db.conn.execute("SELECT name FROM runs").fetchone() == ("my-agent",)
    assert db.conn.execute("SELECT tool_name FROM steps WHERE role = 'tool'").fetchone() == (
        "get_order_details",)


@pytest.mark.parametrize("args", ["[" * 501 + "]" * 501, "[" * 3000 + "]" * 3000,
                                  "[NaN, 1e999, 123456789012345678901234567890]"],
                         ids=["501-deep", "3000-deep", "nan-inf-big"])
def test_openai_style_arguments_the_store_cannot_hold_are_kept_as_text(tmp_path, args):
    """OpenAI-style `function.arguments` text was decoded with json.loads: nesting past the one
    limit imported (3,000 levels: a RecursionError, named nowhere), NaN and infinities were
    stored as invalid JSON that the export then wrote and the import refused. The import's one
    reader decides: what it refuses stays the text it is."""
    import store
    from store.importers import import_path

    p = tmp_path / "args.jsonl"
    p.write_text(json.dumps({"run": "r", "id": "s0", "task_id": "t", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": args}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, p)["run_id"]
    (stored,), = db.conn.execute("SELECT arguments FROM tool_calls").fetchall()
    assert stored == args
    out = tmp_path / "out.jsonl"
    from store.exporters import export_run

    export_run(db, rid, "jsonl", out)
    import_path(store.open_db(tmp_path / "b.sqlite"), out)  # the export imports back


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_byte_order_marks_before_lines_are_skipped(db, tmp_path, newline):
    """Files joined with cat, each with a BOM (an editor's): a BOM before line 2 was "line 2:
    invalid JSON at column 1: expecting value", never naming it. Skipped before any line, as
    the OTLP reader skips it; a BOM alone on a line is a blank line."""
    lines = [json.dumps({"run": "r", "task_id": str(i), "messages": [
        {"role": "user", "content": f"caf\u00e9 {i}"}]}).encode() for i in (1, 2)]
    p = tmp_path / "joined.jsonl"
    bom = b"\xef\xbb\xbf"
    p.write_bytes(bom + lines[0] + newline + bom + lines[1] + newline + bom + newline)
    entry = import_path(db, p)
    assert (entry["episodes"], entry["messages"]) == (2, 2)
    assert db.conn.execute("SELECT content FROM steps ORDER BY step_id").fetchall() == \
        [("caf\u00e9 1",), ("caf\u00e9 2",)]
    # known for JSON Lines by its first line, as without the BOM (it was taken for tau2 JSON)
    txt = tmp_path / "joined.txt"
    txt.write_bytes(p.read_bytes())
    assert detect_format(txt) == "t2e-jsonl"


def _int_id_episode() -> dict:
    return {"run": "r", "id": "s0", "task_id": "t", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": 1, "name": "get", "arguments": {"a": 1}, "requestor": "assistant"},
            {"id": "c2", "name": "put", "arguments": {}, "requestor": "assistant"}]},
        {"role": "tool", "id": 1, "content": "r1", "requestor": "assistant", "error": False},
        {"role": "tool", "id": "c2", "content": "r2", "requestor": "assistant", "error": False},
        {"role": "assistant", "content": "done"}]}


def test_an_integer_call_id_is_the_id_its_text_says(db, tmp_path):
    """A call id given as an integer (1) was stored as no call id: the result was tied to no
    call (no tool name, a warning that it answers an unknown call) and the call had no id.
    It is the id "1" in the store, as ATIF's and OpenTelemetry's integer ids are, and the
    file's own integer comes back in the JSON Lines export."""
    ep = _int_id_episode()
    entry = import_path(db, write_lines(tmp_path / "int.jsonl", [ep]))
    assert not any("answer a call id" in w for w in entry["warnings"]), entry["warnings"]
    assert db.conn.execute("SELECT call_id, name FROM tool_calls ORDER BY pos").fetchall() == [
        ("1", "get"), ("c2", "put")]
    assert db.conn.execute("SELECT tool_call_id, tool_name FROM steps WHERE role = 'tool' "
                           "ORDER BY idx").fetchall() == [("1", "get"), ("c2", "put")]
    (calls,), = db.conn.execute("SELECT tool_calls FROM steps WHERE idx = 1").fetchall()
    assert [c["id"] for c in json.loads(calls)] == ["1", "c2"]  # (as the result's column)
    buf = io.StringIO()
    write_jsonl(db, entry["run_id"], buf)
    assert json.loads(buf.getvalue().splitlines()[1])["messages"] == ep["messages"]
