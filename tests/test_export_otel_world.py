"""Round trips through `t2e export --format otel` and the OTLP import, the run's world: its
tasks (gold), policy and system messages come back, so the re-import is the same world (the
gate compares the two, the scorer re-scores it); damaged run fields are refused, two runs'
exports joined keep neither world, a foreign file's system messages stay its instructions.

The episodes' messages, tool calls and arguments: test_export_otel_roundtrip.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_export_otel_roundtrip import A, U, _ep, _jsonl, _roundtrip

import store
from store.exporters import export_dict, export_run, run_header
from store.importers import import_path
from t2e_tui.cli import cli

_HOSTILE = "[bold]not markup[/bold] \x1b[31mnot a colour\x1b[0m \u202e"


def _tau2_source(tmp_path: Path, policy: str = "# Policy\nbe nice ") -> Path:
    """A tau2 results file whose policy and a task carry text no output may interpret, with
    system messages: one first, one in mid-conversation, one after the agent's last turn."""
    from test_store_data import make_results, write_json

    src = make_results(4)
    src["info"]["environment_info"]["policy"] = policy + _HOSTILE
    src["tasks"][1]["description"]["notes"] = _HOSTILE
    src["simulations"][0]["messages"].insert(0, {"role": "system",
                                                 "content": "You are an agent. " + _HOSTILE})
    m1 = src["simulations"][1]["messages"]
    m1.insert(2, {"role": "system", "content": "mid-conversation note"})
    m1.append({"role": "system", "content": "after the agent's last turn"})
    return write_json(tmp_path / "tau2.json", src)


def _world(db, run_id: str) -> dict:
    """What a run's world is and what re-scores it: its domain, world id and grading, the tau2
    info block (the policy is in it) and its tasks (id, order, split, class, definition)."""
    _, top = run_header(db, run_id, provenance=False)
    domain, world, grading = db.conn.execute(
        "SELECT domain, world_id, grading FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    tasks = [(t, o, s, f, json.loads(j)) for t, o, s, f, j in db.conn.execute(
        "SELECT task_id, ord, split, failure_class, task_json FROM tasks WHERE run_id = ? "
        "ORDER BY ord", (run_id,))]
    return {"domain": domain, "world_id": world, "grading": grading, "info": top["info"],
            "tasks": tasks}


def test_roundtrip_of_a_tau2_run_keeps_its_world_tasks_policy_and_system_messages(tmp_path):
    """The export left out the run's tasks (their gold actions), its policy and every system
    message: the re-import was another world (the gate refused it), could not be re-scored
    (no task embedded) and had lost its system messages."""
    before, after, back = _roundtrip(tmp_path, _tau2_source(tmp_path))
    assert after == before
    assert sum(s[0] == "system" for _, _, steps in before for s in steps) == 3
    a, b = store.open_db(tmp_path / "a.sqlite"), store.open_db(tmp_path / "b.sqlite")
    orig = _world(a, a.conn.execute("SELECT run_id FROM runs").fetchone()[0])
    assert len(orig["tasks"]) == 3 and orig["domain"] == "retail"
    assert orig["info"]["environment_info"]["policy"].endswith(_HOSTILE)
    assert _world(b, back["run_id"]) == orig
    keys = list(export_dict(b, back["run_id"]))  # (a streamed scorer reads tasks first)
    assert keys.index("info") < keys.index("tasks") < keys.index("simulations")


@pytest.mark.parametrize("source", ["tau2", "jsonl without a header"])
def test_otel_roundtrip_is_the_world_of_the_tau2_roundtrip(tmp_path, source):
    """Whatever the run, the OTel export carries the world the tau2 export does: both
    re-imports have one world id, domain, info block (policy) and tasks."""
    src = _tau2_source(tmp_path) if source == "tau2" else _jsonl(tmp_path / "r.jsonl", [
        _ep("t1", [{"role": "system", "content": "sys"}, U("q"), A("a")], reward=1.0)])
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, src)["run_id"]
    worlds = []
    for fmt in ("tau2", "otel"):
        export_run(db, rid, fmt, tmp_path / f"out.{fmt}")
        w = _world(db, import_path(db, tmp_path / f"out.{fmt}")["run_id"])
        worlds.append({k: v for k, v in w.items() if k != "grading"})
    assert worlds[1] == worlds[0]


def test_gate_compares_a_run_with_its_otel_roundtrip(tmp_path):
    """As a user runs it: the original and its re-import, in one store, are one world, so
    `t2e gate` compares them task by task (it refused: "graded in different worlds")."""
    st = str(tmp_path / "s.sqlite")
    run = CliRunner()
    r = run.invoke(cli, ["--store", st, "import", str(_tau2_source(tmp_path)), "--name", "orig",
                         "--json"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "o.jsonl"
    r = run.invoke(cli, ["--store", st, "export", "orig", "--format", "otel", "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["--store", st, "import", str(out), "--name", "back", "--json"])
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["--store", st, "gate", "orig", "back", "--json"])
    assert r.exit_code in (0, 1, 3, 4), r.output
    verdict = json.loads(r.output)
    assert verdict["tasks"] == ["0", "1", "2"]
    assert [(t["task_id"], t["baseline"], t["candidate"]) for t in verdict["transitions"]] == [
        ("0", [1.0, 0.0], [1.0, 0.0]), ("1", [1.0], [1.0]), ("2", [1.0], [1.0])]
    m = verdict["metrics"]  # the gold actions are the same: so are the action matches
    assert m["candidate"]["action_match"] == m["baseline"]["action_match"]
    assert m["baseline"]["action_counts"]["overall"] == [8, 8]


def test_rescore_of_a_roundtripped_tau2_run(tmp_path, shared_results, tau2_dir):
    """The re-import, exported as tau2 results, scores as its original does (it scored 0/40:
    "task '9' is not embedded in the file")."""
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, shared_results[0])["run_id"]
    export_run(db, rid, "otel", tmp_path / "o.jsonl")
    back = import_path(db, tmp_path / "o.jsonl")["run_id"]
    reports = []
    for r, name in ((rid, "orig.json"), (back, "back.json")):
        export_run(db, r, "tau2", tmp_path / name)
        res = CliRunner().invoke(cli, ["score", str(tmp_path / name), "--data", str(tau2_dir),
                                       "--json"])
        assert res.exit_code == 0, res.output
        (rep,) = json.loads(res.output)["files"]
        reports.append({k: v for k, v in rep.items() if k != "file"})
    assert reports[0]["agree"] == 40
    assert reports[1] == reports[0]


def _attrs(sp: dict) -> dict:
    return {a["key"]: a["value"] for a in sp["attributes"]}


def test_export_writes_the_runs_world_once_and_system_messages_in_the_history(tmp_path):
    """What goes on the wire: the first episode's root carries the run's tau2 info block
    (`t2e.run.info`, its policy taken out), its policy as text (`t2e.run.policy`) and its
    tasks (`t2e.run.tasks`), compact JSON, once per file; system messages are in the chat
    inputs where they stand (role system, as the GenAI conventions put instructions that are
    part of the chat history), after the agent's last turn `gen_ai.system.message` events on
    the root, and the root says how many the episode has (`t2e.system_turns`)."""
    db = store.open_db(tmp_path / "a.sqlite")
    rid = import_path(db, _tau2_source(tmp_path))["run_id"]
    out = tmp_path / "o.jsonl"
    export_run(db, rid, "otel", out)
    reqs = [json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
            for line in out.read_text().splitlines()]
    roots = [_attrs(spans[0]) for spans in reqs]
    assert not [k for r in roots[1:] for k in r if k.startswith("t2e.run.")]
    _, top = run_header(db, rid, provenance=False)
    info = top["info"]
    del info["environment_info"]["policy"]
    first = roots[0]
    assert json.loads(first["t2e.run.info"]["stringValue"]) == info
    assert first["t2e.run.policy"] == {"stringValue": "# Policy\nbe nice " + _HOSTILE}
    assert first["t2e.run.tasks"] == {"stringValue": json.dumps(
        top["tasks"], ensure_ascii=False, separators=(",", ":"))}
    # episode 0: a system message first, in every chat input
    assert first["t2e.system_turns"] == {"intValue": "1"}
    greet = _attrs(reqs[0][1])
    assert json.loads(greet["gen_ai.input.messages"]["stringValue"]) == [
        {"role": "system", "parts": [{"type": "text",
                                      "content": "You are an agent. " + _HOSTILE}]}]
    # episode 1: one in mid-conversation (chat inputs), one after the last agent turn (event)
    assert roots[1]["t2e.system_turns"] == {"intValue": "2"}
    call = _attrs(reqs[1][2])
    assert [m["role"] for m in json.loads(call["gen_ai.input.messages"]["stringValue"])] == [
        "assistant", "user", "system"]
    assert [(e["name"], _attrs(e)) for e in reqs[1][0]["events"]] == [
        ("gen_ai.user.message", {"content": {"stringValue": "Thanks! ###STOP###"}}),
        ("gen_ai.system.message", {"content": {"stringValue": "after the agent's last turn"}})]
    assert "t2e.system_turns" not in roots[2]


def _export_lines(tmp_path: Path, policy: str = "# Policy\nbe nice ") -> list[dict]:
    """The OTLP requests of a run imported from _tau2_source(policy), exported."""
    tmp_path.mkdir(exist_ok=True)
    db = store.open_db(tmp_path / "x.sqlite")
    rid = import_path(db, _tau2_source(tmp_path, policy))["run_id"]
    out = tmp_path / "x.jsonl"
    export_run(db, rid, "otel", out)
    return [json.loads(line) for line in out.read_text().splitlines()]


def _set_root_attr(req: dict, key: str, value: dict) -> None:
    root = req["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    root["attributes"] = [a for a in root["attributes"] if a["key"] != key] + [
        {"key": key, "value": value}]


@pytest.mark.parametrize("key, value, what", [
    ("t2e.run.tasks", {"stringValue": '[{"id": "0"'}, "t2e.run.tasks: not JSON"),
    ("t2e.run.tasks", {"stringValue": "[1, 2]"}, "t2e.run.tasks should be a JSON list of task "
                                                 "objects"),
    ("t2e.run.tasks", {"stringValue": '[{"id": "a"}, {"id": "a"}]'},
     "t2e.run.tasks holds the same task id twice (['a'])"),
    ("t2e.run.info", {"stringValue": "[]"}, "t2e.run.info should be a JSON object"),
    ("t2e.run.info", {"stringValue": '{"environment_info": 3}'},
     "t2e.run.info: environment_info should be an object"),
    ("t2e.run.policy", {"intValue": "7"}, "t2e.run.policy should be a string, found a number"),
])
def test_import_refuses_damaged_run_fields(tmp_path, key, value, what):
    """Our own run fields, damaged: refused naming the file, the episode's root span and the
    attribute, nothing written (left out, the run would be another world without a word)."""
    reqs = _export_lines(tmp_path)
    _set_root_attr(reqs[0], key, value)
    bad = _jsonl(tmp_path / "bad.jsonl", reqs)
    st = tmp_path / "b.sqlite"
    r = CliRunner().invoke(cli, ["--store", str(st), "import", str(bad), "--json"])
    assert r.exit_code == 2, r.output
    err = json.loads(r.output)["rejected"][0]["error"]
    conv = _attrs(reqs[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0])[
        "gen_ai.conversation.id"]["stringValue"]
    assert err.startswith(f"{bad}: the root span of conversation {conv}: ")
    assert err.endswith(what) or what + " (" in err, err
    assert store.open_db(st).conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_import_of_two_runs_exports_joined_keeps_neither_runs_world(tmp_path):
    """Two runs' exports in one file (cat a b > ab): their run fields differ, so the file is no
    one run's world: neither is kept (a warning says so), the episodes import as before."""
    a = _export_lines(tmp_path / "a")
    b = _export_lines(tmp_path / "b", policy="# Another policy\n")
    for req in b:  # (other conversation and trace ids: the episodes stay apart)
        for sp in req["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            sp["traceId"] = "f" + sp["traceId"][1:]
            for at in sp["attributes"]:
                if at["key"] == "gen_ai.conversation.id":
                    at["value"]["stringValue"] += "-b"
    db = store.open_db(tmp_path / "s.sqlite")
    res = import_path(db, _jsonl(tmp_path / "ab.jsonl", a + b))
    assert res["episodes"] == 8
    assert any("t2e.run." in w and "differ" in w for w in res["warnings"]), res["warnings"]
    w = _world(db, res["run_id"])
    assert (w["tasks"], w["grading"]) == ([], "foreign")


def test_a_foreign_files_system_messages_stay_its_instructions(tmp_path):
    """A foreign file (no t2e fields on its root): its chat inputs' system messages are the
    episode's instructions, not turns, and a `gen_ai.system.message` event on its root is not
    read: as before."""
    from otel_fixture import msgs, request, span, text

    spans = [span("a" * 32, "r" * 16, "invoke_agent bot", {"gen_ai.operation.name":
                                                          "invoke_agent"}, end=5,
                  events=[(4, "gen_ai.system.message", {"content": "late"})]),
             span("a" * 32, "c" * 16, "chat m", {
                 "gen_ai.operation.name": "chat",
                 "gen_ai.input.messages": msgs(text("system", "Be brief."), text("user", "hi")),
                 "gen_ai.output.messages": msgs(text("assistant", "hello"))},
                  parent="r" * 16, start=1, end=2)]
    db = store.open_db(tmp_path / "s.sqlite")
    rid = import_path(db, _jsonl(tmp_path / "f.jsonl", [request(spans)]))["run_id"]
    (eid, extra), = db.conn.execute("SELECT episode_id, extra_json FROM episodes WHERE "
                                    "run_id = ?", (rid,))
    assert db.conn.execute("SELECT role, content FROM steps WHERE episode_id = ? ORDER BY idx",
                           (eid,)).fetchall() == [("user", "hi"), ("assistant", "hello")]
    assert json.loads(extra)["otel"]["system_instructions"] == ["Be brief."]
    assert _world(db, rid)["grading"] == "foreign"
