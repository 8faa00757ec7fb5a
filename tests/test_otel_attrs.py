"""otel_spans.attrs reads the common AnyValue forms inline (a string, an integer or its
decimal text, a double): each gives any_value's result, the same value or the same error
naming the attribute, whichever path it takes."""

from __future__ import annotations

import pytest

from store.importers.otel_spans import any_value, attrs

FORMS = [
    # inline
    {"stringValue": "x"}, {"stringValue": None}, {"intValue": 5}, {"intValue": "123"},
    {"intValue": "000123"}, {"intValue": "123456789012345678"}, {"doubleValue": 1.5},
    {"doubleValue": "text"}, {"intValue": "7", "doubleValue": 2.0},
    {"stringValue": "s", "intValue": 1},
    # any_value's
    {"intValue": " 12"}, {"intValue": "+12"}, {"intValue": "-12"},
    {"intValue": "1234567890123456789"}, {"intValue": "9999999999999999999"},
    {"intValue": "123456789012345678901234"}, {"intValue": 1.5}, {"intValue": None},
    {"intValue": "\u0663"}, {"intValue": "\u00b2"}, {"intValue": "1_000"}, {"intValue": ""},
    {"boolValue": True}, {"bytesValue": "AAE="}, {}, None,
    {"arrayValue": {"values": [{"intValue": "3"}, {"doubleValue": 0.5}]}},
    {"kvlistValue": {"values": [{"key": "n", "value": {"intValue": "4"}}]}},
    "text", [1],
]


def _any(v):
    try:
        return "value", any_value(v)
    except ValueError as exc:
        return "error", f"attribute 'k': {exc}"


@pytest.mark.parametrize("v", FORMS, ids=[repr(v)[:40] for v in FORMS])
def test_each_form_reads_as_any_value_reads_it(v):
    kind, want = _any(v)
    if kind == "value":
        got = attrs([{"key": "k", "value": v}])
        assert got == {"k": want} and type(got["k"]) is type(want)
    else:
        with pytest.raises(ValueError) as exc:
            attrs([{"key": "k", "value": v}])
        assert str(exc.value) == want
