"""A chat input's added part read with the previous call's output already decoded
(store/importers/otel_inputs.py): the items the output had are taken as read, only the text
after them is decoded, and the list is the one the plain decoding of the whole part gives;
anything else falls back to the plain decoding."""

from __future__ import annotations

import json

import pytest

from store.importers import otel_inputs
from store.importers.otel_inputs import output_items, parse_added

_OUT = [{"role": "assistant", "parts": [{"type": "text", "content": "Hi, 12"}]}]
_USER = {"role": "user", "parts": [{"type": "text", "content": "book it"}]}


def _decoded(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = otel_inputs.loads_text

    def spy(text):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(otel_inputs, "loads_text", spy)
    return seen


def test_the_output_s_items_are_not_decoded_again(monkeypatch):
    out_text = json.dumps(_OUT)
    out = output_items(out_text)
    rest = " " + out_text[1:-1] + ", " + json.dumps(_USER) + "]"
    seen = _decoded(monkeypatch)
    got = parse_added(rest, out)
    assert got == _OUT + [_USER] == json.loads("[" + rest)
    assert got[0] is out[1][0]  # (taken as read)
    assert seen == ["[ " + json.dumps(_USER) + "]"]  # only the text after them


@pytest.mark.parametrize("rest", [
    " {out}]",  # the output alone, then the end
    "{out} ,\n{user}]",  # other whitespace around the comma
    " {out}, {user}, {user}]",
])
def test_the_fast_path_gives_the_plain_list(monkeypatch, rest):
    out_text = json.dumps(_OUT)
    rest = rest.replace("{out}", out_text[1:-1]).replace("{user}", json.dumps(_USER))
    seen = _decoded(monkeypatch)
    got = parse_added(rest, output_items(out_text))
    assert got == json.loads("[" + rest)
    assert all(out_text[1:-1] not in t for t in seen[1:])  # (never decoded again)


@pytest.mark.parametrize("rest", [
    ' {"role": "assistant", "parts": []}, {user}]',  # the input does not repeat the output
    " {out}12, {user}]",  # the output's text, then more of the same value: not its end
    " {out}, ]",  # a comma and no value: no JSON
    " {out}] x",  # text after the closing bracket: no JSON
    " {out}, {user}",  # no closing bracket
    " {out} {user}]",  # no comma
])
def test_anything_else_is_decoded_plainly(monkeypatch, rest):
    out_text = json.dumps(_OUT)
    rest = rest.replace("{out}", out_text[1:-1]).replace("{user}", json.dumps(_USER))
    try:
        want = json.loads("[" + rest)
    except ValueError:
        want = None
    seen = _decoded(monkeypatch)
    assert parse_added(rest, output_items(out_text)) == want
    assert seen[-1] == "[" + rest  # (the whole part, as without the output)


def test_an_output_that_is_no_plain_list_is_not_taken():
    assert output_items('{"role": "assistant"}') is None  # (one message: message_list's)
    assert output_items("[1, 2") is None
    assert output_items("[1, 99999999999999999999]") is None  # (past 64 bits: kept as text)
    assert output_items(None) is None
    assert output_items(" [1] ") == (" [1] ", [1])
    # an empty output: the input's next item is not it
    assert parse_added(' {"a": 1}]', output_items("[]")) == [{"a": 1}]


def test_a_value_that_only_starts_like_the_output_is_not_taken():
    # "[1]" then an input going on with 12: the 1 is not an item of its own
    assert parse_added(" 12, 3]", output_items("[1]")) == [12, 3]
    assert parse_added(' "ab", 3]', output_items('["a"]')) == ["ab", 3]
    assert parse_added(' "a", 3]', output_items('["a"]')) == ["a", 3]
