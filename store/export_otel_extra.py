"""What an episode carries beside what its spans say, for `t2e export --format otel`.

The GenAI spans carry the messages' roles, text, tool calls, results, costs and token counts;
the store keeps more, which triage relies on: every message's provider response (`raw_data`,
what the compare screen's `x` shows), its `timestamp` and `turn_idx`, ATIF's
`reasoning_content`, `step_id` and `model_name`, a call's `extra`, an OTel message's
`provider`; the simulation's exact times and duration (span times are rounded to the
microsecond and laid out), and tau2 1.x's reviews (`review`, `user_only_review`,
`hallucination_check`, `auth_classification`), `agent_usage`, per-simulation `policy` and
`mode`, and each message's audio and tick metadata. The conventions have no place for them,
so the episode's root span carries them as compact JSON attributes of ours, as the user turns'
costs ride there (`t2e.user_turns`) rather than in every later chat input:

- `t2e.simulation_fields`: an object of the simulation's keys that no span or other `t2e.*`
  attribute gives back as it is (everything but its messages: an OTel import's `otel` block,
  the trace ids, attributes and counts of the file it read, included), nulls included (a key
  present as null comes back present);
- `t2e.simulation_keys`: the simulation's keys in their order (the re-import has those keys,
  in that order, and no other but the `otel` block of the file it read);
- `t2e.message_fields`: `[[k, {field: value}, [key, ...]], ...]` for the k-th message (from
  0): its keys other than its role, kept parts and other choices, its content where it is
  text (or null), its calls where the spans give them back as they are (a list of `{id,
  name, arguments, requestor}`, text ids), a result's id, requestor and error where of
  their type, and a cost, token counts (the four the GenAI attributes name, in the import's
  order) and model (the run's) that its chat span or t2e.user_turns gives back; nulls
  included; then the message's keys in their order;
- `t2e.latencies`: every message's latency in ms (null where it has none), where a span's
  duration would not give it back (a tau2 file records none: its spans last from the message
  before; an untimed message's span lasts 1 ms).

store/importers/otel_fidelity.py reads them back.
"""

from __future__ import annotations

import json
import math
from typing import Any

# (the tau2 1.x fields the detail pane shows: reviews.episode_lines, reviews.flags,
# reviews.step_lines; all of them ride in the fields below)
SIMULATION_FIELDS = ("review", "user_only_review", "hallucination_check",
                     "auth_classification", "agent_usage", "policy", "mode")
MESSAGE_FIELDS = ("ticks", "is_audio", "audio_format", "audio_path", "audio_script_gold",
                  "speech_effects", "source_effects", "channel_effects", "turn_taking_action",
                  "source", "generation_time_seconds", "context_truncation")

# a simulation's keys that a t2e.* attribute gives back as they are, when of these types
# (a null one rides in the fields: the key comes back present)
_CARRIED = {"id": (str,), "task_id": (str,), "trial": (int,), "seed": (int,),
            "termination_reason": (str,), "reward_info": (dict,),
            "agent_cost": (int, float), "user_cost": (int, float)}
# a simulation's keys never in the fields: the messages (the spans)
_SIM_OWN = frozenset(("messages",))
# a message's keys the spans give back as they are (content: text; tool_calls: see
# _calls_carried; a tool result's id, requestor and error: _RESULT_OWN)
_MESSAGE_OWN = frozenset(("role", "content_parts", "unchosen_choices"))
_CALL_KEYS = ("id", "name", "arguments", "requestor")
# the token counts the GenAI attributes carry, in the order the import writes them
_COUNTS = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens")
_RESULT_OWN = (("id", str), ("requestor", str), ("error", bool))


def _compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def simulation_fields(sim: dict) -> str | None:
    """`t2e.simulation_fields`: the simulation's keys that nothing else carries as they are
    (None when there are none)."""
    kept = {}
    for k, v in sim.items():
        if k in _SIM_OWN:
            continue
        types = _CARRIED.get(k)
        if types is not None and v is not None and type(v) in types:
            continue
        kept[k] = v
    return _compact(kept) if kept else None


def simulation_keys(sim: dict) -> str:
    """`t2e.simulation_keys`: the simulation's keys, in order."""
    return _compact(list(sim))


def _calls_carried(calls: Any) -> bool:
    """Whether the spans give the message's tool calls back as they are: a non-empty list
    of calls of the store's shape ({id, name, arguments, requestor}, in that order, the id
    text: an integer one comes back as its text)."""
    if type(calls) is not list or not calls:
        return False
    for c in calls:
        if type(c) is not dict or tuple(c) != _CALL_KEYS or type(c["id"]) is not str:
            return False
    return True


def _counts_carried(u: Any) -> bool:
    """Whether a usage comes back as it is from the GenAI counts: an object of the counts
    they name (as integers of at least 0), in the order the import writes them."""
    if type(u) is not dict or not u:
        return False
    order = [k for k in _COUNTS if k in u]
    return list(u) == order and all(type(v) is int and v >= 0 for v in u.values())


def message_fields(msgs: list[dict], chats: set[int] = frozenset(),
                   model: str | None = None) -> str | None:
    """`t2e.message_fields`: each message's fields that its spans do not carry, and its keys,
    by its place among the episode's messages (None when no message has any). `chats`: the
    places of the assistant messages with a chat span of their own, which carries their cost,
    token counts and the run's `model`; a user message's ride in t2e.user_turns."""
    kept = []
    for k, m in enumerate(msgs):
        fields = {f: v for f, v in m.items() if f not in _MESSAGE_OWN
                  and not (f == "tool_calls" and _calls_carried(v))}
        if k in chats or m.get("role") == "user":  # (their spans' own, as they are)
            if type(fields.get("cost")) in (int, float) and math.isfinite(fields["cost"]):
                del fields["cost"]
            if _counts_carried(fields.get("usage")):
                del fields["usage"]
            if k in chats and model and fields.get("model") == model:
                del fields["model"]
        if type(fields.get("content")) is str or fields.get("content", 0) is None:
            del fields["content"]  # (text, or none: the spans' own)
        if m.get("role") == "tool":  # (a result's span or input part carries these)
            for f, t in _RESULT_OWN:
                if type(fields.get(f)) is t:
                    del fields[f]
        # (a user or system message of role and text alone comes back as it is; an
        # assistant message gains the run's model, the chat span's)
        if fields or list(m) != ["role", "content"] or m["role"] not in ("user", "system"):
            kept.append([k, fields, list(m)])
    return _compact(kept) if kept else None


def latencies(msgs: list[dict], stored: list, from_spans: dict[int, float]) -> str | None:
    """`t2e.latencies`: every message's stored latency (ms, null where none), when some would
    not come back from the spans (`from_spans`: message place -> its span's duration in ms;
    a message without a span comes back without a latency)."""
    lat = [stored[i] if i < len(stored) else None for i in range(len(msgs))]
    if all(from_spans.get(i) == v for i, v in enumerate(lat)):
        return None
    return _compact(lat)
