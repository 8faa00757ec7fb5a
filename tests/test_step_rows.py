"""store/messages.step_row: the row a message becomes, alike in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from store.messages import message_from_step, step_row

_STEP_COLUMNS = ("episode_id", "idx", "role", "content", "tool_calls", "tool_call_id",
                 "tool_name", "error", "requestor", "timestamp", "latency_ms", "tokens_in",
                 "tokens_out", "cost", "huge", "extra_json")

# the usual assistant keys, two of whose values no column can give back
ODD = {"role": "assistant", "content": "hi", "tool_calls": None, "turn_idx": 9,
       "timestamp": 5, "cost": "0.1", "usage": {"prompt_tokens": 3}}


def test_raw_values_noted_in_message_order_whatever_the_hash_seed():
    """The note of values kept raw followed a set's order, which changes with the process's
    string-hash seed: the same file stored different extra_json text in different runs."""
    code = ("import json, sys; from store.messages import step_row; "
            f"print(step_row(1, 2, {ODD!r})[0][-1])")
    texts = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        texts.add(out.stdout.strip())
    assert len(texts) == 1
    (text,) = texts
    assert list(json.loads(text)["_t2e"]["raw"]) == ["turn_idx", "timestamp", "cost"]


def test_odd_shapes_round_trip():
    """Key sets and orders other than tau2's usual ones (each shape is worked out once and
    remembered): the message comes back as it was."""
    shapes = [ODD, {"content": "x", "role": "user"}, {"role": "tool", "id": 5, "content": "r"},
              {"role": "tool", "id": "c1", "content": "r", "requestor": "assistant",
               "error": False, "turn_idx": 2, "timestamp": None},
              {"role": 3, "content": {"a": 1}}, {}, {"extra": [1, 2]},
              {"role": "assistant", "turn_idx": True, "cost": 2, "error": 1}]
    for msg in shapes * 2:  # the second time from the remembered shape
        row, _, _ = step_row(1, 2, msg)
        assert message_from_step(dict(zip(_STEP_COLUMNS, row))) == msg


# extra_json's `_t2e` key note: the usual one (the shape's key list alone) is spliced from
# text made once per shape; a note with raw values, or a message holding a `_t2e` key of its
# own, is built whole. Both must give json.dumps's text of the same dict.
NOTED = [
    ({"role": "tool", "id": "c1", "content": "r", "requestor": "assistant", "error": False},
     '{"_t2e": {"keys": ["role", "id", "content", "requestor", "error"]}}'),
    ({"role": "user", "content": "a", "cost": 0.5, "usage": {"prompt_tokens": 3},
      "model": "m\u00e9"},
     '{"usage": {"prompt_tokens": 3}, "model": "m\u00e9", '
     '"_t2e": {"keys": ["role", "content", "cost"]}}'),
    ({"role": "user", "content": "a", "cost": "x", "model": "m"},
     '{"model": "m", "_t2e": {"keys": ["role", "content", "cost"], "raw": {"cost": "x"}}}'),
    ({"role": "user", "content": "a", "turn_idx": 0, "timestamp": "t", "cost": 1.0,
      "tool_calls": None, "model": "m"}, '{"model": "m"}'),  # the usual keys: no note
]


def test_the_key_note_spliced_from_its_shape_is_the_whole_notes_text():
    from store import messages

    for msg, text in NOTED * 2:  # the second time from the remembered shape
        row, _, _ = step_row(1, 0, msg)
        assert row[-1] == text
        assert message_from_step(dict(zip(_STEP_COLUMNS, row))) == msg
    # every message whose note is spliced gives the text the whole note's path gives
    spliced = 0
    for msg in [m for m, _ in NOTED] + [ODD, {"role": "user", "content": "x", "z": [1, {}]},
                                         {"role": "assistant", "_t2e": 1, "content": "a"}]:
        extra_keys, keys_note, _, note_text = messages._shape(msg.get("role"), msg)
        row, _, _ = step_row(1, 9, msg)
        whole = messages._extra_text(msg, extra_keys, keys_note, None, None)
        if note_text is not None and "raw" not in (json.loads(row[-1]) or {}).get("_t2e", {}):
            spliced += 1
            assert row[-1] == whole
    assert spliced == 3
