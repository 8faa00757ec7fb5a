"""store/messages.step_row writes small extra values (text, integers, objects of counts)
without the JSON encoder: the text must be the encoder's, for every value and key."""

from __future__ import annotations

import json

import pytest

from store.messages import message_from_step, step_row

_STEP_COLUMNS = ("episode_id", "idx", "role", "content", "tool_calls", "tool_call_id",
                 "tool_name", "error", "requestor", "timestamp", "latency_ms", "tokens_in",
                 "tokens_out", "cost", "huge", "extra_json")

VALUES = ["gpt-4.1", 'quote " backslash \\ tab \t nl \n', "caf\u00e9 \u2019 \x1b \ud800", "100%",
          "%s %d", 7, -(1 << 70), True, None, 1.5, float("nan"), [1, "a"], {},
          {"prompt_tokens": 12, "completion_tokens": 3}, {"a": 1, "b%": 2, "c\"": 3},
          {"n": True}, {"n": 1.0}, {"n": 1, "m": None}, {"n": {"x": 1}},
          {"caf\u00e9": 1 << 65}]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
@pytest.mark.parametrize("role", ["assistant", "user", "tool", "system"])
def test_extra_text_is_the_encoders(value, role):
    for msg in ({"role": role, "content": "x", "model": value},  # a key note beside it
                {"role": role, "content": "x", "tool_calls": None, "turn_idx": 0,
                 "timestamp": "t", "cost": 1.0, "id": "c", "requestor": "user",
                 "error": False, "usage": value, "odd%key": value},
                {"role": role, "content": "x", "usage": value, "_t2e": value}):
        for _ in range(2):  # the second time through the remembered templates
            row, _, _ = step_row(1, 0, msg)
            extra = {k: v for k, v in msg.items()
                     if k not in ("role", "content", "tool_calls", "turn_idx", "timestamp",
                                  "cost", "id", "requestor", "error", "_t2e")}
            text = row[-1]
            assert text.startswith(json.dumps(extra, ensure_ascii=False)[:-1])
            if "_t2e" in msg:
                continue  # (the note takes the key's place: not given back)
            back = message_from_step(dict(zip(_STEP_COLUMNS, row)))
            assert json.dumps(back, ensure_ascii=False) == json.dumps(msg, ensure_ascii=False)
