"""The trace attributes `t2e show` lists (and compare notes, `show --json`) are the ones that
tell the user something about the trace: not what kind of span the root is (every GenAI span
carries gen_ai.operation.name) nor t2e's own export's fields (read back into their places)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from otel_fixture import msgs, request, span, text

from store.outcomes import shown_trace_attributes, trace_attributes
from t2e_tui.cli.main import cli


def _run(store, *args):
    res = CliRunner().invoke(cli, ["--store", str(store), *args])
    assert res.exit_code == 0, res.output
    return res.output


def _file(path, root_attrs):
    tr = "1" * 32
    path.write_text(json.dumps(request([
        span(tr, "r0", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                            "gen_ai.conversation.id": "conv-7",
                                            "task.id": "t0", **root_attrs}, end=5),
        span(tr, "c0", "chat m", {"gen_ai.operation.name": "chat",
                                  "gen_ai.conversation.id": "conv-7",
                                  "gen_ai.input.messages": msgs(text("user", "hi")),
                                  "gen_ai.output.messages": msgs(text("assistant", "hello"))},
             parent="r0", start=1, end=2)])) + "\n")
    return path


def test_show_leaves_out_what_every_span_of_a_kind_carries(tmp_path):
    store = tmp_path / "s.sqlite"
    _run(store, "import", str(_file(tmp_path / "a.jsonl", {
        "app.passed": True, "gen_ai.agent.name": "helper",
        "openinference.span.kind": "AGENT"})))
    out = " ".join(_run(store, "show", "1").split())
    line = next(x for x in out.split("trace attributes: ")[1:])
    assert "gen_ai.operation.name" not in out and "openinference.span.kind" not in out
    assert line.startswith("gen_ai.conversation.id conv-7 · task.id t0 · app.passed true · "
                           "gen_ai.agent.name helper (")
    doc = json.loads(_run(store, "show", "1", "--json"))
    assert doc["trace_attributes"] == {"gen_ai.conversation.id": "conv-7", "task.id": "t0",
                                       "app.passed": True, "gen_ai.agent.name": "helper"}
    # --reward-attr still reads every attribute the trace kept (a user names what they like)
    ex = {"otel": {"attributes": {"gen_ai.operation.name": "invoke_agent", "score": 1}}}
    assert trace_attributes(ex) == ex["otel"]["attributes"]
    assert shown_trace_attributes(ex) == {"score": 1}


def test_our_own_exports_fields_are_not_listed_again(tmp_path):
    """A run exported by t2e and imported back: its task, trial, seed, termination and reward
    are the episode's own columns; the line listed them again as t2e.* attributes."""
    store = tmp_path / "s.sqlite"
    _run(store, "import", str(_file(tmp_path / "b.jsonl", {
        "t2e.sim_id": "s-1", "t2e.trial": 0, "t2e.seed": 7, "t2e.termination_reason":
        "user_stop", "app.rating": "good"})))
    out = " ".join(_run(store, "show", "1").split())
    assert "t2e." not in out and "app.rating good" in out


def test_no_line_when_nothing_is_left(tmp_path):
    store = tmp_path / "s.sqlite"
    tr = "2" * 32
    (tmp_path / "c.jsonl").write_text(json.dumps(request([
        span(tr, "r0", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"}, end=5),
        span(tr, "c0", "chat m", {"gen_ai.operation.name": "chat",
                                  "gen_ai.input.messages": msgs(text("user", "hi"))},
             parent="r0", start=1, end=2)])) + "\n")
    _run(store, "import", str(tmp_path / "c.jsonl"))
    assert "trace attributes" not in _run(store, "show", "1")
    assert "trace_attributes" not in json.loads(_run(store, "show", "1", "--json"))
