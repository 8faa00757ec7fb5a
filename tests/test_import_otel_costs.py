"""Costs, seed and per-turn usage in OpenTelemetry files: what our export writes (a chat span's
`t2e.cost`; on the root `t2e.user_turns` for the turns without a span of their own, and
`t2e.agent_cost|user_cost|seed`) is read back; the same keys of the wrong type in a foreign file are ignored, never
stored and never a refused import; files without them import as before."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, new_convention_file, request, span, text

import store
from store.exporters import messages
from store.importers import import_path

A = "a" * 32


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def _episode(db, run_id):
    (eid, ac, uc, seed, trial, extra), = db.conn.execute(
        "SELECT episode_id, agent_cost, user_cost, seed, trial, extra_json FROM episodes "
        "WHERE run_id = ?", (run_id,)).fetchall()
    steps = [(m["role"], m.get("content"), m.get("cost"), m.get("usage"))
             for m in messages(db.conn, eid)]
    costs = db.conn.execute("SELECT cost FROM steps WHERE episode_id = ? ORDER BY idx",
                            (eid,)).fetchall()
    return (ac, uc, seed, trial), steps, [c for (c,) in costs], json.loads(extra)


def _write(path, root_attrs, user, chat_attrs):
    spans = [
        span(A, "a1", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                           **root_attrs}, start=0, end=100,
             events=[(50, "gen_ai.user.message", {"content": "bye"})]),
        span(A, "a2", "chat m", {"gen_ai.operation.name": "chat",
                                 "gen_ai.input.messages": msgs(*user),
                                 "gen_ai.output.messages": msgs(text("assistant", "ok")),
                                 **chat_attrs}, parent="a1", start=1, end=20),
    ]
    path.write_text(json.dumps(request(spans)) + "\n")
    return path


def test_costs_seed_and_usage_of_every_turn_are_read(db, tmp_path):
    turns = [[0, 0.5, {"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2,
                       "gen_ai.usage.cache_read.input_tokens": 1}],
             [1, 0.25, {"gen_ai.usage.input_tokens": 8, "gen_ai.usage.output_tokens": 1}]]
    p = _write(tmp_path / "t.jsonl",
               {"t2e.agent_cost": 1.25, "t2e.user_cost": 2, "t2e.seed": 42, "t2e.trial": 3,
                "t2e.user_turns": json.dumps(turns)},
               [text("user", "hi")], {"t2e.cost": 0.75, "gen_ai.usage.input_tokens": 9,
                                      "gen_ai.usage.output_tokens": 4,
                                      "gen_ai.usage.cache_creation.input_tokens": 6})
    cols, steps, _, _ = _episode(db, import_path(db, p)["run_id"])
    assert cols == (1.25, 2, 42, 3)
    assert steps == [
        ("user", "hi", 0.5, {"prompt_tokens": 3, "completion_tokens": 2,
                             "cache_read_tokens": 1}),
        ("assistant", "ok", 0.75, {"prompt_tokens": 9, "completion_tokens": 4,
                                   "cache_write_tokens": 6}),
        ("user", "bye", 0.25, {"prompt_tokens": 8, "completion_tokens": 1})]


def test_values_of_the_wrong_type_are_ignored_not_stored_nor_refused(db, tmp_path):
    """A string cost, an object seed, a boolean trial or cost, a usage that is not an object
    or whose counts are text, lists or fractions: the import goes on, those values are left
    out (their columns empty); the counts of the right type beside them are kept."""
    user = [text("user", "hi"), text("user", "again"), text("user", "more")]
    turns = [[0, "0.5", {"gen_ai.usage.input_tokens": "3", "gen_ai.usage.output_tokens": [2],
                         "gen_ai.usage.cache_read.input_tokens": 1.5}],
             [1, {"usd": 1}, "lots"],
             [2, True, {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": True}],
             "junk", [4, 1.0, None], [99, 1.0, None], [-1, 1.0, None], [3, 1.0],
             [True, 1.0, None]]
    p = _write(tmp_path / "t.jsonl",
               {"t2e.agent_cost": "1.25", "t2e.user_cost": True, "t2e.seed": {"n": 42},
                "t2e.trial": True, "t2e.user_turns": json.dumps(turns)},
               user, {"t2e.cost": "cheap", "gen_ai.usage.input_tokens": 9.5,
                      "gen_ai.usage.output_tokens": False,
                      "gen_ai.usage.cache_read.input_tokens": 1e300})
    cols, steps, costs, extra = _episode(db, import_path(db, p)["run_id"])
    assert cols == (None, None, None, None)  # (the trial too: a task's only episode has none)
    assert steps == [("user", "hi", None, None), ("user", "again", None, None),
                     ("user", "more", None, {"prompt_tokens": 5}),
                     ("assistant", "ok", None, None), ("user", "bye", None, None)]
    assert costs == [None] * 5
    # no cost, usage or seed key of the episode holds them either
    assert not {"agent_cost", "user_cost", "seed"} & set(extra)


def test_integral_token_counts_written_as_doubles_are_counts(db, tmp_path):
    """A count written as a double (12.0) is the count: such a file was refused ("usage.
    prompt_tokens should be an integer, found float 12.0")."""
    p = _write(tmp_path / "t.jsonl", {}, [text("user", "hi")],
               {"gen_ai.usage.input_tokens": 12.0, "gen_ai.usage.output_tokens": 3})
    _, steps, _, _ = _episode(db, import_path(db, p)["run_id"])
    assert steps[1][3] == {"prompt_tokens": 12, "completion_tokens": 3}
    assert type(steps[1][3]["prompt_tokens"]) is int


def test_foreign_files_without_them_carry_no_costs_or_seed(db, tmp_path):
    rid = import_path(db, new_convention_file(tmp_path / "t.jsonl"))["run_id"]
    assert db.conn.execute("SELECT count(*) FROM episodes WHERE run_id = ? AND (agent_cost IS "
                           "NOT NULL OR user_cost IS NOT NULL OR seed IS NOT NULL)",
                           (rid,)).fetchone() == (0,)
    for eid, extra in db.conn.execute("SELECT episode_id, extra_json FROM episodes WHERE "
                                      "run_id = ?", (rid,)).fetchall():
        assert not {"agent_cost", "user_cost", "seed"} & set(json.loads(extra)["_t2e"]["keys"])
        for m in messages(db.conn, eid):
            assert "cost" not in m and (m["role"] == "assistant" or "usage" not in m)


@pytest.mark.parametrize("turns", ["not json", "{}", "3", "[[0, 1.5, {]]"])
def test_user_turns_that_are_no_list_are_ignored(db, tmp_path, turns):
    p = _write(tmp_path / "t.jsonl", {"t2e.user_turns": turns}, [text("user", "hi")], {})
    _, steps, _, extra = _episode(db, import_path(db, p)["run_id"])
    assert [s[2:] for s in steps] == [(None, None)] * 3
    assert "t2e.user_turns" not in extra["otel"]["attributes"]  # (read, not kept as an outcome)
