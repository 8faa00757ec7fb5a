"""store.hidden.shown_rows (a batch of steps rows, looked at whole first) finds exactly the
rows shown_row finds one by one, wherever in the batch the hidden character is."""

from __future__ import annotations

import json

import pytest

from store.hidden import shown_row, shown_rows

PLAIN = [(1, "hello", None), (2, None, '[{"name": "f", "arguments": "{}"}]'),
         (3, "caf\u00e9 \u2019quoted\u2019", None), (4, "", ""), (5, "tab\tand\nnewline", None)]
ODD = ["esc \x1b[31mred", "bidi \u202e reversed", "c1 \x85 control", "lone \ud800 surrogate",
       "del \x7f char", json.dumps(["\x1b[0m"]), json.dumps({"k": "\u2066x"})]


def _one_by_one(rows):
    return [(r[0], *got) for r in rows if (got := shown_row(r[1], r[2])) is not None]


def test_a_batch_with_nothing_hidden_has_no_shown_rows():
    assert shown_rows(PLAIN, 0, 1, 2) == [] == _one_by_one(PLAIN)


@pytest.mark.parametrize("text", ODD)
@pytest.mark.parametrize("where", ["content", "tool_calls"])
@pytest.mark.parametrize("wide", [False, True])
def test_a_hidden_character_anywhere_is_found(text, where, wide):
    row = (9, text, None) if where == "content" else (9, None, text)
    rows = PLAIN[:2] + [row] + PLAIN[2:] if wide else PLAIN[:2] + [row]
    got = shown_rows(rows, 0, 1, 2)
    assert got == _one_by_one(rows)
    assert [r[0] for r in got] == [9]


def test_an_escape_split_across_two_texts_finds_nothing():
    rows = [(1, "ends with \\", None), (2, "u001b starts", None)]
    assert shown_rows(rows, 0, 1, 2) == [] == _one_by_one(rows)
