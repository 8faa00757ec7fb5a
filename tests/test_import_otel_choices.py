"""A chat call that returned several choices (n > 1: several assistant messages in its output)
keeps every input item: only the choice that went on (the one the next chat input carries)
is a step and counts as part of the conversation; the others are kept on that step as
`unchosen_choices` (with their index) and the run's warnings say so. Where no later input
tells, the first choice is the step. In the one- and the two-process import alike."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers import import_path

T = "a" * 32


@pytest.fixture(params=["0", "1"], ids=["one-process", "two-process"])
def worker(request, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", request.param)


def _chat(sid, inp, out, start, attrs=None):
    return span(T, sid.ljust(16, "0"), "chat m", {
        "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(*inp),
        "gen_ai.output.messages": msgs(*out), **(attrs or {})}, start=start, end=start + 1)


def _import(tmp_path, spans):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    res = import_path(db, p)
    rows = db.conn.execute("SELECT role, content, extra_json FROM steps ORDER BY idx").fetchall()
    return res, [(r, c) for r, c, _ in rows], [json.loads(x) if x else {} for _, _, x in rows]


PICK, WHY = text("user", "pick a number"), text("user", "why?")
SEVEN, THREE = text("assistant", "7"), text("assistant", "3")


@pytest.mark.parametrize("chosen", [0, 1])
def test_the_choice_the_next_input_carries_is_the_step(tmp_path, worker, chosen):
    went_on = [SEVEN, THREE][chosen]
    res, steps, extra = _import(tmp_path, [
        _chat("c1", [PICK], [SEVEN, THREE], 1, {"gen_ai.usage.output_tokens": 2}),
        _chat("c2", [PICK, went_on, WHY], [text("assistant", "lucky")], 5)])
    said = ["7", "3"][chosen]
    assert steps == [("user", "pick a number"), ("assistant", said), ("user", "why?"),
                     ("assistant", "lucky")]
    other = {"index": 1 - chosen, "role": "assistant", "content": ["7", "3"][1 - chosen]}
    assert extra[1]["unchosen_choices"] == [other]
    assert extra[1]["usage"]["completion_tokens"] == 2  # (the call's, on its step)
    assert "unchosen_choices" not in extra[3]
    assert any("several choices" in w for w in res["warnings"])


def test_without_a_later_input_the_first_choice_is_the_step(tmp_path, worker):
    _, steps, extra = _import(tmp_path, [_chat("c1", [PICK], [SEVEN, THREE], 1)])
    assert steps == [("user", "pick a number"), ("assistant", "7")]
    assert extra[1]["unchosen_choices"] == [{"index": 1, "role": "assistant", "content": "3"}]


def test_an_input_that_carries_no_choice_loses_nothing(tmp_path, worker):
    # the application rewrote the answer before sending it back: every input item is a step
    _, steps, _ = _import(tmp_path, [
        _chat("c1", [PICK], [SEVEN, THREE], 1),
        _chat("c2", [PICK, text("assistant", "seven"), WHY], [text("assistant", "ok")], 5)])
    assert steps == [("user", "pick a number"), ("assistant", "7"), ("assistant", "seven"),
                     ("user", "why?"), ("assistant", "ok")]


def test_one_output_message_is_unchanged(tmp_path, worker):
    _, steps, extra = _import(tmp_path, [
        _chat("c1", [PICK], [SEVEN], 1),
        _chat("c2", [PICK, SEVEN, WHY], [text("assistant", "lucky")], 5)])
    assert steps == [("user", "pick a number"), ("assistant", "7"), ("user", "why?"),
                     ("assistant", "lucky")]
    assert all("unchosen_choices" not in e for e in extra)


def test_show_prints_the_unchosen_choices(tmp_path):
    from click.testing import CliRunner

    from t2e_tui.cli import cli

    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request([_chat("c1", [PICK], [SEVEN, THREE], 1)])) + "\n")
    st = str(tmp_path / "s.sqlite")
    assert CliRunner().invoke(cli, ["--store", st, "import", str(p)]).exit_code == 0
    res = CliRunner().invoke(cli, ["--store", st, "show", "1"])
    assert res.exit_code == 0, res.output
    assert 'unchosen_choices: [{"index": 1, "role": "assistant", "content": "3"}]' in res.output


def test_the_same_input_again_after_choices_is_a_second_sample(tmp_path, worker):
    # as after a call of one output message (test_import_otel_shapes): the input is emitted
    # whole again, not taken for a continuation that carries none of the choices
    _, steps, _ = _import(tmp_path, [_chat("c1", [PICK], [SEVEN, THREE], 1),
                                     _chat("c2", [PICK], [text("assistant", "5")], 5)])
    assert steps == [("user", "pick a number"), ("assistant", "7"), ("user", "pick a number"),
                     ("assistant", "5")]
