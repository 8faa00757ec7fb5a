"""Harbor ATIF trajectories: steps, tool calls and observations, content parts, embedded
subagents, versions, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import store
from store.importers import ImportFailure, detect_format, import_path

FIX = Path(__file__).parent / "fixtures" / "atif"


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def steps(db, key):
    return db.conn.execute(
        "SELECT s.role, s.content, s.tool_calls, s.tool_call_id, s.tokens_in, s.extra_json "
        "FROM steps s JOIN episodes e USING (episode_id) WHERE e.episode_key = ? ORDER BY s.idx",
        (key,)).fetchall()


def test_v17_trajectory_with_subagent(db):
    p = FIX / "support_v17.json"
    assert detect_format(p) == "atif"
    entry = import_path(db, p)
    assert entry["episodes"] == 1  # the subagent is part of it (test_import_atif_subagents)
    main = steps(db, "traj-main")
    assert [(r[0], r[1]) for r in main] == [
        ("user", "Refund order #W7, it arrived broken."),
        ("assistant", "Let me look it up."), ("tool", '{"status": "delivered"}'),
        ("assistant", None), ("tool", "refunds allowed"),
        ("user", "check policy"), ("assistant", "refunds allowed"),
        ("assistant", "Your refund is on its way.")]
    assert json.loads(main[1][2]) == [{"id": "c1", "name": "get_order_details",
                                       "arguments": {"order_id": "#W7"},
                                       "requestor": "assistant", "extra": {"latency_ms": 12}}]
    assert main[2][3] == "c1" and main[1][4] == 120
    assert json.loads(main[1][5])["reasoning_content"] == "Need the order first."
    assert json.loads(main[0][5])["content_parts"][0]["type"] == "image"
    ep = db.conn.execute("SELECT task_id, extra_json FROM episodes WHERE episode_key = ?",
                         ("traj-main",)).fetchone()
    assert ep[0] == "refund-7"
    extra = json.loads(ep[1])["atif"]
    assert extra["system_prompt"] == ["You are a support agent."]
    assert extra["attributes"]["reward"] == 1.0 and extra["attributes"]["verifier_passed"]
    run = db.conn.execute("SELECT agent_model, grading FROM runs").fetchone()
    assert run == ("model-atif", "foreign")
    assert any("subagent" in w for w in entry["warnings"])


def test_v14_list_and_old_version_warning(db, tmp_path):
    t = {"schema_version": "ATIF-v1.4", "session_id": "s1", "agent": {"name": "a", "version": "1"},
         "steps": [{"step_id": 1, "source": "user", "message": "hi"},
                   {"step_id": 2, "source": "agent", "message": "hello"}]}
    old = dict(t, schema_version="ATIF-v1.2", session_id="s2")
    p = tmp_path / "many.json"
    p.write_text(json.dumps([t, old]))
    entry = import_path(db, p)
    assert entry["episodes"] == 2 and entry["messages"] == 4
    assert any("ATIF-v1.2" in w and "best-effort" in w for w in entry["warnings"])


def test_bad_step_is_named(db, tmp_path):
    t = json.loads((FIX / "support_v17.json").read_text())
    t["steps"][2]["tool_calls"] = [{"arguments": {}}]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(t))
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert "step #2 (step_id 3)" in str(exc.value) and "function_name" in str(exc.value)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize("value, said", [
    (float("nan"), r"field steps\[1\]\.message: NaN"),
    (10 ** 30, r"field steps\[1\]\.message: a 31-digit integer"),
    ("\ud800", r"field steps\[1\]\.message: a lone surrogate"),
], ids=["nan", "int-beyond-64-bits", "lone-surrogate"])
def test_values_the_store_cannot_hold_are_named(db, tmp_path, value, said):
    # before: json.load took them (NaN stored as invalid JSON, the others failed later with
    # a Python error)
    t = json.loads((FIX / "support_v17.json").read_text())
    t["steps"][1]["message"] = value
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(t), encoding="utf-8", errors="surrogatepass")
    with pytest.raises(ImportFailure, match=said):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_nesting_too_deep_is_named(db, tmp_path):
    p = tmp_path / "deep.json"
    p.write_text('{"schema_version": "ATIF-v1.7", "steps": ' + "[" * 100_000 + "]" * 100_000
                 + "}")
    with pytest.raises(ImportFailure, match="nesting too deep"):
        import_path(db, p)


@pytest.mark.parametrize("value", [True, 5, 1.5, "x", {"a": 1}])
def test_subagent_trajectories_of_the_wrong_type_are_named(tmp_path, value):
    """They were "cannot be imported (TypeError: 'bool' object is not iterable)", or (an
    object) walked key by key; now the field is named."""
    t = json.loads((FIX / "support_v17.json").read_text())
    t["subagent_trajectories"] = value
    p = tmp_path / "t.json"
    p.write_text(json.dumps(t))
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=r"'subagent_trajectories' should be a list, found "):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_text_part_that_is_not_text(tmp_path):
    """A content part's text of another type was stored as Python's repr ("None..." or
    "{'a': ...}"): null is an empty part, anything else is refused, named."""
    t = json.loads((FIX / "support_v17.json").read_text())
    step = next(s for s in t["steps"] if s.get("source") == "user")
    db = store.open_db(tmp_path / "s.sqlite")
    for n, first in enumerate((None, {"a": {"b": [1]}})):
        step["message"] = [{"type": "text", "text": first},
                           {"type": "text", "text": "it arrived broken."}]
        p = tmp_path / f"t{n}.json"
        p.write_text(json.dumps(t))
        if first is None:
            run = import_path(db, p)["run_id"]
            contents = [c for (c,) in db.conn.execute(
                "SELECT s.content FROM steps s JOIN episodes e USING (episode_id) "
                "WHERE e.run_id = ? AND s.role = 'user'", (run,))]
            assert "it arrived broken." in contents and not any("None" in (c or "")
                                                                for c in contents)
        else:
            with pytest.raises(ImportFailure, match=r"message\[0\]\.text should be a string, "
                                                    r"found dict"):
                import_path(db, p)


@pytest.mark.parametrize("version", ["ATIF-v1.7\n", "ATIF-v1.\u0667", "ATIF-v1.7 ", 1.5, None,
                                     "1.5"])
def test_a_schema_version_is_exact(tmp_path, version):
    """A trailing newline, or a digit of another script, was taken for a version. A version
    that is no ATIF text (a number, null, "1.5") made the file no ATIF at all ("found a JSON
    object with keys [...] and no 'simulations' list"): a trajectory without subagents (whose
    own versions the format sniff saw) is read as ATIF all the same and the field named."""
    t = _small("tr-1", "c1") if not isinstance(version, str) or version == "1.5" else \
        json.loads((FIX / "support_v17.json").read_text())
    t["schema_version"] = version
    p = tmp_path / "t.json"
    p.write_text(json.dumps(t))
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match="schema_version should be 'ATIF-v1.N'"):
        import_path(db, p)


def _small(tid, *results, calls=("c1",)):
    """A hand-made trajectory: a user turn, an agent step calling `calls`, then `results`
    (observation results answering the given call ids)."""
    step = {"step_id": 2, "source": "agent", "message": "checking",
            "tool_calls": [{"tool_call_id": c, "function_name": "lookup", "arguments": {}}
                           for c in calls]}
    if results:
        step["observation"] = {"results": [{"source_call_id": r, "content": f"for {r}"}
                                           for r in results]}
    return {"schema_version": "ATIF-v1.6", "trajectory_id": tid,
            "agent": {"name": "a", "version": "1"},
            "steps": [{"step_id": 1, "source": "user", "message": "hi"}, step]}


def test_a_repeated_trajectory_id_is_said(db, tmp_path):
    """Two trajectories with one id imported without a word (the tau2 importers warn when
    simulation ids repeat); both are kept, the second keyed by position, and the warning
    names the id."""
    p = tmp_path / "dup.json"
    p.write_text(json.dumps([_small("tr-1", "c1"), _small("tr-2", "c1"), _small("tr-1", "c1")]))
    entry = import_path(db, p)
    assert entry["episodes"] == 3
    said = [w for w in entry["warnings"] if "repeat" in w]
    assert said == ["1 trajectory id(s) repeat within the file (kept, keyed by position): "
                    "tr-1"], entry["warnings"]
    keys = [k for (k,) in db.conn.execute("SELECT episode_key FROM episodes ORDER BY ord")]
    assert keys == ["tr-1", "tr-2", "tr-1#2"]
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps([_small("tr-1", "c1"), _small("tr-2", "c1")]))
    assert not any("repeat" in w for w in import_path(db, clean)["warnings"])


def test_observations_answering_unknown_call_ids_are_counted(db, tmp_path):
    """An observation result naming a call id no earlier tool call of its trajectory has was
    stored without a word; it is kept (a tool step with no tool name) and counted per run,
    the first ones named by episode and step. A result with no source_call_id is not tied to
    a call, so it is not counted."""
    p = tmp_path / "t.json"
    p.write_text(json.dumps([_small("tr-1", "c1", "zz"), _small("tr-2", "c2", calls=("c1",)),
                             _small("tr-3", None)]))
    entry = import_path(db, p)
    said = [w for w in entry["warnings"] if "call id" in w]
    assert said == ["2 observation result(s) answer a call id that no earlier tool call in "
                    "their trajectory has (kept, with no tool name): tr-1 message #3 (call id "
                    "'zz'), tr-2 message #2 (call id 'c2')"], entry["warnings"]
    got = db.conn.execute("SELECT s.content, s.tool_call_id, s.tool_name FROM steps s JOIN "
                          "episodes e USING (episode_id) WHERE e.episode_key = 'tr-1' AND "
                          "s.role = 'tool' ORDER BY s.idx").fetchall()
    assert got == [("for c1", "c1", "lookup"), ("for zz", "zz", None)]
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps([_small("tr-1", "c1"), _small("tr-3", None)]))
    assert not any("call id" in w for w in import_path(db, clean)["warnings"])


def test_token_totals_beyond_64_bits_are_left_out_not_a_crash(db, tmp_path):
    """Two agent steps of 5e18 prompt tokens each (each within 64 bits): the episode's total
    overflowed SQLite ('cannot be imported (OverflowError ...)', naming no record). The total
    is left out, each message keeps its count, and a warning names the trajectory."""
    big = 5 * 10**18
    traj = {"schema_version": "ATIF-v1.6", "session_id": "s", "agent": {"name": "a",
                                                                        "version": "1"},
            "steps": [{"step_id": 1, "source": "user", "message": "hi"},
                      {"step_id": 2, "source": "agent", "message": "a",
                       "metrics": {"prompt_tokens": big, "completion_tokens": 3}},
                      {"step_id": 3, "source": "agent", "message": "b",
                       "metrics": {"prompt_tokens": big, "completion_tokens": 4}}]}
    p = tmp_path / "tok.json"
    p.write_text(json.dumps(traj))
    entry = import_path(db, p)
    assert db.conn.execute("SELECT tokens_in, tokens_out FROM episodes").fetchone() == (None, 7)
    assert db.conn.execute("SELECT tokens_in FROM steps WHERE tokens_in IS NOT NULL"
                           ).fetchall() == [(big,), (big,)]
    assert any("1 trajectory(s) have token totals beyond the store's 64-bit integers" in w
               and w.endswith(": s") for w in entry["warnings"])


@pytest.mark.parametrize("field, value, said", [
    ("task_id", ["list"], 'extra.task_id should be a string, found a list ["list"]'),
    ("task_name", True, "extra.task_name should be a string, found a boolean true"),
    ("task_id", 5, None)])
def test_a_task_id_that_is_no_text_is_refused_not_stored_as_a_repr(tmp_path, field, value,
                                                                    said):
    """`"extra": {"task_id": ["list"]}` was stored as Python's repr "['list']"."""
    t = json.loads((FIX / "support_v17.json").read_text())
    t["extra"] = {field: value}
    t.pop("subagent_trajectories", None)
    p = tmp_path / "t.json"
    p.write_text(json.dumps(t))
    db = store.open_db(tmp_path / "s.sqlite")
    if said is None:
        import_path(db, p)
        assert db.conn.execute("SELECT task_id FROM episodes").fetchone() == ("5",)
        return
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert str(exc.value).endswith(said)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def _import_one_observation(db, tmp_path, content) -> None:
    """An ATIF v1.6 trajectory whose one tool call's observation has `content`, imported."""
    traj = {"schema_version": "ATIF-v1.6", "session_id": "s", "agent": {"name": "a",
                                                                        "version": "1"},
            "steps": [{"step_id": 1, "source": "user", "message": "hi"},
                      {"step_id": 2, "source": "agent", "message": "",
                       "tool_calls": [{"tool_call_id": "c1", "function_name": "look",
                                       "arguments": {}}],
                       "observation": {"results": [{"source_call_id": "c1",
                                                    "content": content}]}}]}
    p = tmp_path / "obs.json"
    p.write_text(json.dumps(traj))
    import_path(db, p)


def test_an_observation_given_as_content_parts_keeps_their_text(db, tmp_path):
    """Observation results whose content is a list of content parts were stored as the JSON
    of the parts; as a message's parts: the text, other parts kept beside it."""
    image = {"type": "image", "source": {"media_type": "image/png", "path": "a.png"}}
    _import_one_observation(db, tmp_path, [{"type": "text", "text": "It is "}, image,
                                           {"type": "text", "text": "sunny in München."}])
    (content, extra), = db.conn.execute("SELECT content, extra_json FROM steps "
                                        "WHERE role = 'tool'").fetchall()
    assert content == "It is sunny in München."
    assert json.loads(extra)["content_parts"] == [image]


@pytest.mark.parametrize("content", [[{"order_id": 1}, {"order_id": 2}], [1, 2], [],
                                     [{"type": "text", "text": "x"}, 5],
                                     [{"type": "flight", "number": "HAT001", "price": 100},
                                      {"type": "flight", "number": "HAT002", "price": 120}]])
def test_an_observation_whose_content_is_a_json_list_keeps_it(db, tmp_path, content):
    """A tool's JSON list (records, numbers) as an observation's content is the result
    itself, stored as its JSON text; only a list of content parts (objects with a type) is
    read for its text (it was stored empty)."""
    _import_one_observation(db, tmp_path, content)
    (stored,), = db.conn.execute("SELECT content FROM steps WHERE role = 'tool'").fetchall()
    assert json.loads(stored) == content


def _every_field_trajectory() -> dict:
    """A v1.7 trajectory using every optional field the spec defines (and one it does not)."""
    return {
        "schema_version": "ATIF-v1.7", "session_id": "s1", "trajectory_id": "t1",
        "agent": {"name": "a", "version": "1", "extra": {"strategy": "react"}},
        "continued_trajectory_ref": "t0.json", "extra": {"nested": {"k": [1, 2]}},
        "steps": [
            {"step_id": 1, "source": "system", "message": "You are helpful.",
             "timestamp": "2025-10-11T10:29:59Z", "extra": {"k": "sys-extra"},
             "observation": {"results": [{"content": "context compacted: 40k tokens dropped"}]}},
            {"step_id": 2, "source": "user", "message": "price of GOOGL?",
             "timestamp": "2025-10-11T10:30:00Z", "is_copied_context": True},
            {"step_id": 3, "source": "agent", "message": "final", "llm_call_count": 1,
             "timestamp": "2025-10-11T10:30:05Z", "reasoning_effort": 0.5,
             "tool_calls": [{"tool_call_id": "c1", "function_name": "quote",
                             "arguments": {"t": "GOOGL"}, "extra": {"latency_ms": 12}}],
             "observation": {"results": [{"source_call_id": "c1", "content": "185.35",
                                          "extra": {"cached": True}}]},
             "metrics": {"prompt_tokens": 600, "completion_tokens": 3, "cost_usd": 0.001,
                         "completion_token_ids": [1, 2, 3], "prompt_token_ids": [9, 9],
                         "logprobs": [-0.1, -0.2, -0.3], "extra": {"reasoning_tokens": 2}},
             "vendor_field": {"x": 1}}]}


def test_every_field_of_the_spec_is_kept(db, tmp_path):
    """A system step's observation, extra and timestamp, an agent step's logprobs and token
    ids, a tool call's extra (the fixture's latency_ms), llm_call_count, is_copied_context,
    step ids, the root extra's non-scalar values and continued_trajectory_ref were dropped on
    import. Each is in the store now: the message's extra fields or the episode's."""
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_every_field_trajectory()))
    import_path(db, p)
    user, agent, tool = steps(db, "t1")
    assert json.loads(user[5])["is_copied_context"] is True
    assert json.loads(user[5])["step_id"] == 2
    ex = json.loads(agent[5])
    assert ex["metrics"] == {"completion_token_ids": [1, 2, 3], "prompt_token_ids": [9, 9],
                             "logprobs": [-0.1, -0.2, -0.3], "extra": {"reasoning_tokens": 2}}
    assert ex["usage"] == {"prompt_tokens": 600, "completion_tokens": 3}
    assert ex["llm_call_count"] == 1 and ex["reasoning_effort"] == 0.5 and ex["step_id"] == 3
    assert ex["vendor_field"] == {"x": 1}
    assert json.loads(agent[2])[0]["extra"] == {"latency_ms": 12}
    assert json.loads(tool[5])["extra"] == {"cached": True}
    (ep, start), = db.conn.execute("SELECT extra_json, start_time FROM episodes").fetchall()
    assert start == "2025-10-11T10:29:59Z"  # the system step's time
    atif = json.loads(ep)["atif"]
    assert atif["system_prompt"] == ["You are helpful."]
    assert atif["system_steps"] == [{"at_message": 0, "step": {
        "step_id": 1, "source": "system", "message": "You are helpful.",
        "timestamp": "2025-10-11T10:29:59Z", "extra": {"k": "sys-extra"},
        "observation": {"results": [{"content": "context compacted: 40k tokens dropped"}]}}}]
    assert atif["extra"] == {"nested": {"k": [1, 2]}}
    assert atif["continued_trajectory_ref"] == "t0.json"
    assert atif["agent"]["extra"] == {"strategy": "react"}


def test_the_fixture_tool_call_extra_is_kept(db):
    """support_v17.json's step 3 has tool_calls[0].extra = {"latency_ms": 12}: it was not in
    the store after import."""
    import_path(db, FIX / "support_v17.json")
    calls = json.loads(steps(db, "traj-main")[1][2])
    assert calls[0]["extra"] == {"latency_ms": 12}


def test_show_bounds_large_token_id_lists(tmp_path):
    """Token id lists are stored whole but `t2e show` never writes them out."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli

    t = _every_field_trajectory()
    ids = list(range(100_000, 400_000))
    t["steps"][2]["metrics"]["prompt_token_ids"] = ids
    p = tmp_path / "big.json"
    p.write_text(json.dumps(t))
    s = str(tmp_path / "s.sqlite")
    assert CliRunner().invoke(cli, ["--store", s, "import", str(p)]).exit_code == 0
    db = store.open_db(s)
    assert json.loads(steps(db, "t1")[1][5])["metrics"]["prompt_token_ids"] == ids
    for args in (["show", "1"], ["show", "1", "--full"]):
        res = CliRunner().invoke(cli, ["--store", s, *args])
        assert res.exit_code == 0, res.output
        assert "final" in res.output and len(res.output) < 5_000, len(res.output)


def test_a_file_cut_short_is_said_as_every_reader_says_it(tmp_path):
    """An ATIF file cut inside a string said "not JSON: Unterminated string starting at at
    line 1" (the message's own trailing "at", glued to ours, and no position)."""
    p = tmp_path / "cut.json"
    whole = json.dumps(_small("tr-1", "c1"))
    p.write_text(whole[:whole.index('"hi"') + 2])
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    said = str(exc.value)
    assert "at at" not in said
    assert "truncated JSON: the file ends inside a string that starts at character " in said

