"""Chat inputs reach the spill as Tails (otel_history with tails=True: an earlier input's text
object and the part added, not joined). The spill's records are byte for byte those of the
lines decoded plainly, both where what an input adds is read off its Tail (it goes on from the
very input kept for its trace) and where the Tail is joined (another span's input in between,
a span that is no chat call, an input that does not extend the previous one)."""

from __future__ import annotations

import json

import pytest
from otel_fixture import request, spill_of
from test_import_otel_history import _chats

from store.importers import otel_history
from store.importers.otel_history import HistorySkip, Tail

TR = "1" * 32
INPUT = "gen_ai.input.messages"


def _input(sp: dict) -> dict:
    return next(kv["value"] for kv in sp["attributes"] if kv["key"] == INPUT)


def _spill(tmp_path, lines: list[dict], label: str) -> tuple[bytes, list]:
    """The record file's bytes and the sort rows of a spill of `lines` (JSON Lines)."""
    sp, path = spill_of(tmp_path, lines, label)
    rows = sp.db.execute("SELECT * FROM s ORDER BY seq").fetchall()
    with open(path + ".recs", "rb") as fh:
        return fh.read(), rows


def _compare(tmp_path, monkeypatch, lines: list[dict]) -> dict:
    """Spill `lines` with the history skip (Tails) and plainly: the same records. Returns how
    often a Tail's added part was read off (`added`) and how often one was joined."""
    seen = {"added": 0, "joined": 0}
    added, text = Tail.added, Tail.text

    def spy_added(self):
        out = added(self)
        seen["added"] += out is not None
        return out

    def spy_text(self):
        seen["joined"] += self.whole is None
        return text(self)

    with monkeypatch.context() as m:
        m.setattr(Tail, "added", spy_added)
        m.setattr(Tail, "text", spy_text)
        skipped = _spill(tmp_path, lines, "tails")
    with monkeypatch.context() as m:
        m.setattr(HistorySkip, "loads", lambda self, raw: None)
        plain = _spill(tmp_path, lines, "plain")
    assert skipped == plain
    return seen


def test_inputs_that_go_on_from_the_kept_one_are_not_joined(tmp_path, monkeypatch):
    """The usual file: each chat input extends the trace's previous one, in one line or over
    several (the later line's Tail goes on from the earlier line's)."""
    spans = _chats(TR, 5)
    assert _compare(tmp_path, monkeypatch, [request(spans)]) == {"added": 4, "joined": 0}
    got = _compare(tmp_path, monkeypatch, [request(spans[:3]), request(spans[3:])])
    assert got == {"added": 4, "joined": 0}


def test_an_input_on_a_span_that_is_no_chat_call_is_joined(tmp_path, monkeypatch):
    """An agent span carrying the last chat input again, between two chat calls: its Tail is
    joined (the spill keeps chat inputs only), and the next chat input, which goes on from
    the agent's, is joined and compared with the chat input kept for the trace (joined too);
    the one after reads its part off again."""
    spans = _chats(TR, 4)
    root, chats = spans[0], spans[1:]
    agent = json.loads(json.dumps(root))
    agent["spanId"] = "1111a2"
    agent["attributes"].append({"key": INPUT, "value": dict(_input(chats[1]))})
    lines = [request([root, chats[0], chats[1], agent, chats[2], chats[3]])]
    assert _compare(tmp_path, monkeypatch, lines) == {"added": 2, "joined": 3}


@pytest.mark.parametrize("rest", [" ]", "]"])
def test_an_input_that_does_not_extend_the_previous_one_is_joined(tmp_path, monkeypatch, rest):
    """An input that starts with the previous one's bytes less its `]` but adds no items: it
    is spilled whole, as when it is decoded plainly."""
    spans = _chats(TR, 3)
    v = _input(spans[3])
    v["stringValue"] = _input(spans[2])["stringValue"][:-1] + rest
    assert _compare(tmp_path, monkeypatch, [request(spans)]) == {"added": 1, "joined": 1}


def test_a_tail_joins_to_the_whole_text():
    """Chains of Tails join to the text they stand for, a joined link included; joining lets
    the chain go (its memory)."""
    a = Tail("[1]", ",2]")
    b = Tail(a, ",3]")
    c = Tail(b, ",4, 5]")
    assert len(c) == len("[1,2,3,4, 5]")
    assert b.text() == "[1,2,3]" and b.base is None
    assert c.text() == "[1,2,3,4, 5]" and Tail(c, "]").text() == "[1,2,3,4, 5]"
    assert Tail("[]", "1]").text() == "[1]" and Tail("[1]", "1]").added() is None
    assert Tail("[1]", ",x]").added() == "x]" and Tail("[1]", ",]").added() == "]"


def test_the_plain_value_is_joined_without_tails():
    """HistorySkip without tails (the default) gives the plain decoder's value: str inputs."""
    spans = _chats(TR, 3)
    raw = json.dumps(request(spans)).encode()
    got = HistorySkip(otel_history.FastObjects()).loads(raw)
    assert got == json.loads(raw)
    inputs = [kv["value"]["stringValue"] for sp in got["resourceSpans"][0]["scopeSpans"][0][
        "spans"] for kv in sp["attributes"] if kv["key"] == INPUT]
    assert len(inputs) == 3 and all(type(t) is str for t in inputs)
    tails = HistorySkip(otel_history.FastObjects(), tails=True).loads(raw)
    kept = [kv["value"]["stringValue"] for sp in tails["resourceSpans"][0]["scopeSpans"][0][
        "spans"] for kv in sp["attributes"] if kv["key"] == INPUT]
    assert [type(t) for t in kept] == [str, Tail, Tail]
    assert [t if type(t) is str else t.text() for t in kept] == inputs
