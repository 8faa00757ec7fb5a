"""What a tau2 1.x simulation carries beside its messages, for `t2e export --format otel`.

tau2 1.x attaches LLM reviews to a simulation (`review`, `user_only_review`,
`hallucination_check`, `auth_classification`), its `agent_usage`, a per-simulation `policy`
and `mode`; voice and full-duplex messages carry audio fields and the ticks they were rebuilt
from. The detail pane and `t2e show` show them (t2e_tui/reviews.py); the GenAI conventions
have no place for them, so the episode's root span carries them as two compact JSON
attributes of ours: `t2e.simulation_fields` (an object of those fields) and
`t2e.message_fields` (`[[k, {field: value}], ...]` for the k-th message, from 0), as the user
turns' costs ride there (`t2e.user_turns`) rather than in every later chat input.
"""

from __future__ import annotations

import json
from typing import Any

# the simulation's fields the detail pane shows (reviews.episode_lines, reviews.flags)
SIMULATION_FIELDS = ("review", "user_only_review", "hallucination_check",
                     "auth_classification", "agent_usage", "policy", "mode")
# a message's audio and full-duplex metadata (reviews.step_lines shows them, in this order)
MESSAGE_FIELDS = ("ticks", "is_audio", "audio_format", "audio_path", "audio_script_gold",
                  "speech_effects", "source_effects", "channel_effects", "turn_taking_action",
                  "source", "generation_time_seconds", "context_truncation")


def _compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def simulation_fields(sim: dict) -> str | None:
    """`t2e.simulation_fields`: the simulation's reviews, usage, policy and mode that it has
    (None when it has none)."""
    kept = {k: sim[k] for k in SIMULATION_FIELDS if sim.get(k) is not None}
    return _compact(kept) if kept else None


def message_fields(msgs: list[dict]) -> str | None:
    """`t2e.message_fields`: each message's audio and tick metadata, by its place among the
    episode's messages (None when no message has any)."""
    kept = []
    for k, m in enumerate(msgs):
        fields = {f: m[f] for f in MESSAGE_FIELDS if m.get(f) is not None}
        if fields:
            kept.append([k, fields])
    return _compact(kept) if kept else None
