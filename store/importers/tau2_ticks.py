"""tau2 1.x full-duplex simulations: steps from `ticks` when `messages` is null.

tau2 1.x voice (full-duplex) runs may save a simulation with `messages: null` and its turns in
`ticks`: one record per clock tick with the agent's and the user's speech chunk, the tool calls
each side made and their results. The store's unit is a message (one step), so the ticks are
turned back into messages here, in tick order:

* consecutive speech chunks of one speaker's utterance form one message; it ends when that
  speaker has a tick without speech, makes a tool call or speaks a chunk of another utterance
  (its `utterance_ids` share none with the chunk before: a backchannel said during the other
  side's turn is a message of its own, not glued to the speaker's earlier turn). Utterances
  are ordered by the tick they start in, so overlapping speech (barge-in) reads as two
  messages side by side in time;
* tool calls of a tick become one message of that speaker carrying the calls (with the
  chunk's text, if any), followed by the tool results in their recorded order;
* each message keeps where it came from (`ticks: {start, end, chunks}`) and the audio fields
  of its first chunk, which the store keeps as step metadata; a tick's `user_transcript` (what
  the agent heard of the user) goes to the user message made or extended in that tick (else
  the user's latest message, else the next one), several joined by " / ".

The raw `ticks` stay in the episode's extra_json, so export gives the simulation back as it was
(`messages: null`, the ticks untouched).
"""

from __future__ import annotations

from typing import Any

from ..messages import bad_call_name

# chunk fields worth keeping per message (audio and turn-taking metadata); content, role,
# tool_calls and timestamp have columns of their own
AUDIO_KEYS = ("is_audio", "audio_format", "audio_path", "audio_script_gold", "speech_effects",
              "source_effects", "channel_effects", "turn_taking_action", "source")
_SIDES = (("agent", "assistant"), ("user", "user"))


class TickError(ValueError):
    """A tick has the wrong shape; the message says which tick and which field."""


def _text(chunk: Any) -> str | None:
    """The speech text of a chunk, or None when the chunk carries no speech."""
    if not isinstance(chunk, dict):
        return None
    content = chunk.get("content")
    if not isinstance(content, str) or not content.strip():
        return None
    if chunk.get("contains_speech") is False:
        return None
    return content


def _other_utterance(prev_ids: Any, ids: Any) -> bool:
    """Whether a chunk belongs to another utterance than the chunk before it: both name their
    utterances and share none (chunks without ids are taken as one utterance, as before)."""
    return (isinstance(prev_ids, list) and isinstance(ids, list) and bool(prev_ids)
            and bool(ids) and not set(map(str, prev_ids)) & set(map(str, ids)))


def _add_transcript(msg: dict, text: str) -> None:
    msg["user_transcript"] = (msg["user_transcript"] + " / " + text
                              if msg.get("user_transcript") else text)


def check_ticks(ticks: Any, label: str) -> None:
    """Reject ticks whose structure is wrong (the message names the tick and the field)."""
    if not isinstance(ticks, list):
        raise TickError(f"{label}: field 'ticks' should be a list, found {type(ticks).__name__}")
    for i, tick in enumerate(ticks):
        if not isinstance(tick, dict):
            raise TickError(f"{label}, tick #{i}: expected an object, found "
                            f"{type(tick).__name__}")
        for side, _ in _SIDES:
            chunk = tick.get(f"{side}_chunk")
            if chunk is not None and not isinstance(chunk, dict):
                raise TickError(f"{label}, tick #{i}: '{side}_chunk' should be an object")
            for key in (f"{side}_tool_calls", f"{side}_tool_results"):
                items = tick.get(key)
                if items is not None and not (isinstance(items, list)
                                              and all(isinstance(x, dict) for x in items)):
                    raise TickError(f"{label}, tick #{i}: '{key}' should be a list of objects")
                bad = bad_call_name(items) if key.endswith("_calls") and items else None
                if bad is not None:
                    raise TickError(f"{label}, tick #{i}: {key}{bad}")


def messages_from_ticks(ticks: list[dict]) -> list[dict]:
    """tau2 message dicts rebuilt from full-duplex ticks (see the module docstring)."""
    out: list[dict] = []
    # per speaker: the message still being extended, its last utterance ids
    open_msg: dict[str, dict | None] = {"assistant": None, "user": None}
    last_ids: dict[str, Any] = {"assistant": None, "user": None}
    last_user: dict | None = None  # the user's latest message (for a tick's transcript)
    heard: list[str] = []  # transcripts waiting for the user's first message
    for n, tick in enumerate(ticks):
        tid = tick.get("tick_id", n)
        touched: dict | None = None  # the user message made or extended in this tick
        for side, role in _SIDES:
            chunk = tick.get(f"{side}_chunk")
            text = _text(chunk)
            calls = tick.get(f"{side}_tool_calls") or []
            results = tick.get(f"{side}_tool_results") or []
            cur = open_msg[role]
            if cur is not None and text is not None and _other_utterance(
                    last_ids[role], chunk.get("utterance_ids")):
                cur = open_msg[role] = None  # another utterance: a message of its own
            if text is not None and not calls and cur is not None:
                cur["content"] += text
                if role == "user":
                    touched = cur
                cur["ticks"]["end"] = tid
                cur["ticks"]["chunks"] += 1
                last_ids[role] = chunk.get("utterance_ids")
            elif text is not None or calls:
                msg: dict[str, Any] = {"role": role, "content": text}
                if calls:
                    msg["tool_calls"] = [_call(c, role) for c in calls]
                ts = (chunk or {}).get("timestamp") or tick.get("timestamp")
                if isinstance(ts, str):
                    msg["timestamp"] = ts
                msg["ticks"] = {"start": tid, "end": tid, "chunks": 1 if text is not None else 0}
                if isinstance(chunk, dict):
                    for k in AUDIO_KEYS:
                        if chunk.get(k) not in (None, False):
                            msg[k] = chunk[k]
                out.append(msg)
                if role == "user":
                    touched = last_user = msg
                    for t in heard:
                        _add_transcript(msg, t)
                    heard = []
                open_msg[role] = None if calls else msg
                last_ids[role] = (chunk or {}).get("utterance_ids")
            else:
                open_msg[role] = None  # silence ends the utterance
            for r in results:
                out.append(_result(r, role, tid))
            if results:
                open_msg[role] = None
        said = tick.get("user_transcript")
        if isinstance(said, str) and said.strip():
            target = touched or last_user
            if target is None:
                heard.append(said)
            else:
                _add_transcript(target, said)
    return out


def _call(c: dict, requestor: str) -> dict:
    call = {"id": c.get("id") if isinstance(c.get("id"), str) else "",
            "name": c.get("name"), "arguments": c.get("arguments"),
            "requestor": c.get("requestor") or requestor}
    return call


def _result(r: dict, requestor: str, tid: Any) -> dict:
    msg = {"role": "tool", "id": r.get("id"), "content": r.get("content"),
           "requestor": r.get("requestor") or requestor, "error": bool(r.get("error"))}
    if isinstance(r.get("timestamp"), str):
        msg["timestamp"] = r["timestamp"]
    msg["ticks"] = {"start": tid, "end": tid, "chunks": 0}
    return msg
