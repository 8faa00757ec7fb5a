"""Full-duplex ticks: a speaker's chunks of different utterances are different messages, and
a tick's `user_transcript` is shown with the step (review s15 M6).

Before: "Hello." (u1), "My phone has no data" (u2) and "uh-huh" (u3, said during the agent's
"Let me check") were one user message, "Hello. My phone has no data uh-huh": the backchannel
glued to the user's earlier turn. And `user_transcript` (what the agent heard) appeared
nowhere but in the raw ticks.
"""

from __future__ import annotations

import json

from store.importers.tau2_ticks import messages_from_ticks
from t2e_tui.reviews import step_lines


def _chunk(role: str, text: str, utt: str | None) -> dict:
    c = {"role": role, "content": text, "contains_speech": True, "is_audio": True}
    if utt is not None:
        c["utterance_ids"] = [utt]
    return c


def test_utterances_are_messages_of_their_own():
    ticks = [
        {"tick_id": 0, "user_chunk": _chunk("user", "Hello.", "u1")},
        {"tick_id": 1, "user_chunk": _chunk("user", "My phone has no data", "u2")},
        {"tick_id": 2, "agent_chunk": _chunk("assistant", "Let me check", "a1"),
         "user_chunk": _chunk("user", "uh-huh", "u3")},
        {"tick_id": 3, "agent_chunk": _chunk("assistant", " your line.", "a1"),
         "user_chunk": _chunk("user", "ok", "u3")},
        {"tick_id": 4},  # silence
        # chunks without utterance ids are one utterance, as before
        {"tick_id": 5, "user_chunk": _chunk("user", "Thanks", None)},
        {"tick_id": 6, "user_chunk": _chunk("user", " a lot.", None)},
    ]
    msgs = messages_from_ticks(ticks)
    assert [(m["role"], m["content"], m["ticks"]["start"], m["ticks"]["end"]) for m in msgs] \
        == [("user", "Hello.", 0, 0), ("user", "My phone has no data", 1, 1),
            ("assistant", "Let me check your line.", 2, 3), ("user", "uh-huh" + "ok", 2, 3),
            ("user", "Thanks a lot.", 5, 6)]


def test_user_transcript_goes_to_the_user_message_of_its_tick_and_is_shown():
    ticks = [
        {"tick_id": 0, "user_transcript": "hullo"},  # before any user message: the next
        {"tick_id": 1, "user_chunk": _chunk("user", "Hello.", "u1")},
        {"tick_id": 2, "agent_chunk": _chunk("assistant", "Hi.", "a1"),
         "user_transcript": "hello"},  # no user message in this tick: the latest
        {"tick_id": 3, "user_tool_calls": [{"id": "t1", "name": "toggle", "arguments": {}}],
         "user_tool_results": [{"id": "t1", "content": "off"}],
         "user_transcript": "I toggled it"},
    ]
    msgs = messages_from_ticks(ticks)
    said = [(m["role"], m.get("user_transcript")) for m in msgs]
    assert said == [("user", "hullo / hello"), ("assistant", None), ("user", "I toggled it"),
                    ("tool", None)]
    extra = {k: v for k, v in msgs[2].items() if k in ("ticks", "user_transcript")}
    assert "user_transcript: I toggled it" in step_lines({"extra_json": json.dumps(extra)})
