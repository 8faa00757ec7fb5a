"""Episodes are conversations: spans are grouped by `gen_ai.conversation.id` where they carry
one; a span without one goes with its trace's conversation when the trace has exactly one,
else with its trace. A trace holding two conversations was one episode (its key the larger
id) holding both. The spans of each line spilled by either process (small blocks: both take
some), the same episodes in the one- and the two-process import."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text
from test_import_otel import episodes

import store
from store.importers import import_path, otel_lines

A, B = "a" * 32, "b" * 32


def _chat(tr, sid, conv, said, start, parent=None):
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(text("user", said)),
             "gen_ai.output.messages": msgs(text("assistant", "re " + said))}
    if conv:
        attrs["gen_ai.conversation.id"] = conv
    return span(tr, sid, "chat m", attrs, parent=parent, start=start, end=start + 1)


def _tool(tr, sid, start, parent=None):
    return span(tr, sid, "execute_tool look", {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "look",
        "gen_ai.tool.call.id": "call_" + sid, "gen_ai.tool.call.arguments": "{}",
        "gen_ai.tool.call.result": "seen"}, parent=parent, start=start, end=start + 1)


def _run(tmp_path, monkeypatch, mode, lines):
    monkeypatch.setenv("T2E_IMPORT_WORKER", mode)
    monkeypatch.setattr(otel_lines, "SPILL_BLOCK", 512)  # small files: many blocks
    p = tmp_path / "t.jsonl"
    p.write_text("".join(json.dumps(request(spans)) + "\n" for spans in lines))
    db = store.open_db(tmp_path / f"s{mode}.sqlite")
    entry = import_path(db, p)
    return [(e["key"], [s[1] for s in e["steps"]]) for e in episodes(db, entry["run_id"])], \
        entry["warnings"]


@pytest.mark.parametrize("mode", ["0", "1"])
def test_two_conversations_in_one_trace_are_two_episodes(tmp_path, monkeypatch, mode):
    got, warnings = _run(tmp_path, monkeypatch, mode, [
        [_chat(A, "c1", "convA", "hello from A", 1)], [_chat(A, "c2", "convB", "hello from B", 5)]])
    assert got == [("convA", ["hello from A", "re hello from A"]),
                   ("convB", ["hello from B", "re hello from B"])]
    assert any("2 episode(s): 2 grouped by gen_ai.conversation.id" in w for w in warnings)


@pytest.mark.parametrize("mode", ["0", "1"])
def test_spans_without_a_conversation_id(tmp_path, monkeypatch, mode):
    got, _ = _run(tmp_path, monkeypatch, mode, [
        # trace A: one conversation, over two traces (A and B); A's tool span has no id
        [_chat(A, "a1", "conv1", "q1", 1)], [_tool(A, "a2", 2)],
        [_chat(B, "b1", "conv1", "q2", 10)],
        # trace C: two conversations and a span with none: that span is the trace's own
        [_chat("c" * 32, "c1", "x", "qx", 20), _chat("c" * 32, "c2", "y", "qy", 22),
         _chat("c" * 32, "c3", None, "qz", 24)]])
    assert got == [("conv1", ["q1", "re q1", None, "seen", "q2", "re q2"]),
                   ("x", ["qx", "re qx"]), ("y", ["qy", "re qy"]),
                   ("c" * 32, ["qz", "re qz"])]


def test_the_grouping_per_pair_is_the_grouping_per_trace_where_traces_hold_one(
        tmp_path, monkeypatch):
    """A file where no trace holds two conversations is grouped per trace (the usual file: the
    cheaper query); per (trace, conversation) pair it gives the same episodes."""
    from otel_fixture import new_convention_file, old_convention_file, openinference_file

    from store.importers import otel_groups

    monkeypatch.setenv("T2E_IMPORT_WORKER", "0")
    for make in (new_convention_file, old_convention_file, openinference_file):
        p = make(tmp_path / f"{make.__name__}.jsonl")
        got = []
        for force in (False, True):
            if force:
                monkeypatch.setattr(otel_groups, "_by_trace", otel_groups._by_pair)
            db = store.open_db(tmp_path / f"{make.__name__}{force}.sqlite")
            entry = import_path(db, p)
            got.append(([(e["key"], e["steps"]) for e in episodes(db, entry["run_id"])],
                        entry["warnings"]))
        monkeypatch.undo()
        monkeypatch.setenv("T2E_IMPORT_WORKER", "0")
        assert got[0] == got[1]


R = "r" * 16


def _root(tr=A, conv=None, **attrs):
    a = {"gen_ai.operation.name": "invoke_agent", **attrs}
    if conv:
        a["gen_ai.conversation.id"] = conv
    return span(tr, R, "invoke_agent boss", a, start=0, end=100)


def _agent(tr, sid, conv, start, end, parent=R):
    return span(tr, sid, "invoke_agent helper", {"gen_ai.operation.name": "invoke_agent",
                                                 "gen_ai.conversation.id": conv},
                parent=parent, start=start, end=end)


@pytest.mark.parametrize("mode", ["0", "1"])
def test_a_root_over_two_conversations_is_no_episode_of_its_own(tmp_path, monkeypatch, mode):
    """A trace whose root invoke_agent span (no conversation id) parents two conversations:
    the root formed a third episode, empty (no message, no outcome). Spans without an id
    that belong to neither conversation and hold no messages are no episode; a warning
    counts them."""
    got, warnings = _run(tmp_path, monkeypatch, mode, [
        [_root(), _chat(A, "c1", "convA", "hello from A", 1, parent=R),
         _chat(A, "c2", "convB", "hello from B", 5, parent=R)]])
    assert got == [("convA", ["hello from A", "re hello from A"]),
                   ("convB", ["hello from B", "re hello from B"])]
    assert any(w.startswith("1 span(s) without a conversation id") for w in warnings), warnings


@pytest.mark.parametrize("mode", ["0", "1"])
def test_spans_join_the_conversation_of_the_span_above_them(tmp_path, monkeypatch, mode):
    """The conversation ids only on the agent spans (the chat and tool spans under them carry
    none, as many instrumentations write them): every chat and tool span went to a third
    episode, the trace's, and the two conversations were empty. A span without an id is in
    the conversation of the nearest span above it that has one; else in the one the spans
    below it are in, when that is one (a workflow step over one agent)."""
    ag_a, ag_b, step = "aa" * 8, "bb" * 8, "ss" * 8
    got, warnings = _run(tmp_path, monkeypatch, mode, [
        [_root(), _agent(A, ag_a, "convA", 1, 40),
         _chat(A, "c1", None, "qa", 2, parent=ag_a), _tool(A, "t1", 5, parent=ag_a)],
        [span(A, step, "workflow step", {"step": "b"}, parent=R, start=49, end=95),
         _agent(A, ag_b, "convB", 50, 90, parent=step),
         _chat(A, "c2", None, "qb", 52, parent=ag_b)]])
    assert got == [("convA", ["qa", "re qa", None, "seen"]), ("convB", ["qb", "re qb"])]
    assert any(w.startswith("1 span(s) without a conversation id") for w in warnings), warnings


@pytest.mark.parametrize("mode", ["0", "1"])
def test_a_conversation_whose_input_repeats_another_conversations(tmp_path, monkeypatch,
                                                                  mode):
    """A second conversation in the trace whose first input goes on from the first
    conversation's (a hand-off: the history, then the task): the spill keeps only what an
    input adds to the previous one of its trace, so the second conversation's span pointed
    at a span of another episode: "cannot be built (KeyError: ...)"."""
    def chat(sid, conv, said, start):
        return span(A, sid, "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.conversation.id": conv,
            "gen_ai.input.messages": msgs(*said),
            "gen_ai.output.messages": msgs(text("assistant", "re " + said[-1]["parts"][0][
                "content"]))}, parent=R, start=start, end=start + 1)
    qa, ra = text("user", "qa"), text("assistant", "re qa")
    got, _ = _run(tmp_path, monkeypatch, mode, [
        [_root(), chat("c1", "convA", [qa], 1), chat("c2", "convB", [qa, ra, text("user", "qb")],
                                                    5),
         chat("c3", "convA", [qa, ra, text("user", "qa2")], 9)]])
    assert got == [("convA", ["qa", "re qa", "qa2", "re qa2"]),
                   ("convB", ["qa", "re qa", "qb", "re qb"])]
