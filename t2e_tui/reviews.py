"""tau2 1.x per-simulation reviews and step metadata, read for display.

tau2 1.x may attach to a simulation an LLM `review` (agent and user-simulator errors), a
`user_only_review`, a `hallucination_check` (user simulator inventing facts), an
`auth_classification` and `agent_usage`; voice messages carry audio fields. The importer keeps
them (episodes.extra_json / steps.extra_json). This module turns them into short flags for the
compare header ("user sim erred" is what a triaging engineer needs: the failure may not be the
agent's) and into lines for the detail pane. Everything returned is plain text from the trace:
callers pass it through textsafe before drawing it.
"""

from __future__ import annotations

import json
from typing import Any

from store.export_otel_extra import MESSAGE_FIELDS

# step extra keys shown as metadata (an ATIF step's reasoning and subagent; audio and
# full-duplex provenance: the fields the OTel export carries, store/export_otel_extra.py), in
# this order
_STEP_META = ("reasoning_content", "subagent", *MESSAGE_FIELDS, "content_parts",
              "unchosen_choices", "user_transcript")
# (reasoning_content: an ATIF agent step's reasoning, shown as "reasoning: ..."; subagent: the
# ATIF subagent trajectory a step belongs to, kept in its parent's episode;
# content_parts: parts other than text, calls and results (images, reasoning: OTel, ATIF);
# unchosen_choices: an OTel chat call's other choices, n > 1; user_transcript: what a tau2
# 1.x full-duplex agent heard of the user, from the ticks)
_LABEL = {"reasoning_content": "reasoning"}
# tau2 keeps the provider's whole response beside each message: the message again, in the
# provider's shape. Shown only on request (`t2e show --full`, `x` in the app), and cut there.
RAW_KEY = "raw_data"
RAW_LIMIT = 2000  # characters of it shown, expanded or not


def _extra(meta: dict) -> dict:
    raw = meta.get("extra_json")
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def flags(meta: dict) -> list[str]:
    """Short flags from an episode's tau2 reviews, most useful first (empty when none)."""
    ex = _extra(meta)
    review, user_only = _d(ex.get("review")), _d(ex.get("user_only_review"))
    halluc, auth = _d(ex.get("hallucination_check")), _d(ex.get("auth_classification"))
    out = []
    if review.get("critical_user_error") or user_only.get("critical_user_error"):
        out.append("user sim erred (critical)")
    elif review.get("user_error") or user_only.get("user_error"):
        out.append("user sim erred")
    if halluc.get("hallucination_found"):
        out.append("user sim hallucinated")
    if review.get("agent_error"):
        out.append("review: agent erred")
    if auth.get("status") == "failed":
        out.append("auth failed")
    return out


def episode_lines(meta: dict) -> list[str]:
    """The reviews and usage of an episode, one line each (for the detail pane)."""
    ex = _extra(meta)
    out = []
    for key, label in (("review", "review"), ("user_only_review", "user-only review"),
                       ("hallucination_check", "hallucination check")):
        r = _d(ex.get(key))
        if r:
            summary = r.get("summary") or r.get("reasoning") or ""
            n = len(r.get("errors") or [])
            out.append(f"{label}: {summary}" + (f" ({n} error(s))" if n else ""))
    auth = _d(ex.get("auth_classification"))
    if auth:
        out.append(f"auth: {auth.get('status')}"
                   + (f" ({auth['reasoning']})" if auth.get("reasoning") else ""))
    usage = ex.get("agent_usage")
    if isinstance(usage, dict) and usage:
        out.append("agent usage: " + ", ".join(f"{k} {v}" for k, v in usage.items()
                                                if not isinstance(v, (dict, list))))
    if isinstance(ex.get("policy"), str):
        out.append(f"per-simulation policy: {len(ex['policy'])} characters")
    if ex.get("mode"):
        out.append(f"mode: {ex['mode']}")
    return out + foreign_lines(ex, _reward_info(meta))


def _reward_info(meta: dict) -> dict:
    raw = meta.get("reward_info_json")
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw else raw
    except ValueError:
        return {}
    return _d(value)


def _mapping_words(ex: dict, attrs: dict, reward_info: dict) -> str:
    """What the trace attributes line says of the reward: where it was mapped from, only
    when it was (reward_info's info.mapped_from; read_from: at a Harbor import)."""
    info = _d(reward_info.get("info"))
    name = info.get("mapped_from")
    other = "`t2e gate --reward-attr NAME` maps another among them"
    if isinstance(name, str) and "harbor" in ex and info.get("read_from"):
        return f"the reward is Harbor's verifier reward, {name}, mapped at import; {other}"
    if isinstance(name, str):
        return f"the reward is mapped from {name} (--reward-attr); {other}"
    if "harbor" not in ex:
        return "`t2e gate --reward-attr NAME` maps an outcome among them"
    from store.ranges import reward_problem

    v = attrs.get("verifier.reward")
    if type(v) in (int, float) and reward_problem(v) is not None:
        return ("outside [0, 1]: left unmapped; `t2e gate --reward-attr NAME` maps an "
                "outcome in [0, 1] among them")
    return "no reward was mapped at import; `t2e gate --reward-attr NAME` maps one among them"


def foreign_lines(ex: dict, reward_info: dict | None = None) -> list[str]:
    """A foreign trace's (OpenTelemetry, ATIF) attributes, which name the outcomes
    `--reward-attr` can map (and where the reward was mapped from, when it was), and its
    system instructions, one line each."""
    from store.outcomes import shown_trace_attributes

    out = harbor_lines(ex)
    attrs = shown_trace_attributes(ex)
    if attrs:
        out.append("trace attributes: " + " · ".join(f"{k} {_value(v)}" for k, v in attrs.items())
                   + f" ({_mapping_words(ex, attrs, reward_info or {})})")
    said = _d(ex.get("otel")).get("system_instructions") or _d(ex.get("atif")).get(
        "system_prompt")
    texts = [t if isinstance(t, str) else _value(t) for t in said] if isinstance(said, list) \
        else [] if said is None else [_value(said)]
    if texts:
        out.append("system instructions: " + " / ".join(texts))
    return out


_USAGE = ("n_input_tokens", "n_cache_tokens", "n_output_tokens", "cost_usd")


def harbor_facts(ex: dict) -> dict | None:
    """A Harbor trial's facts from its result.json (kept whole in the episode's `harbor`
    block), for `t2e show --json`: trial, agent, model, exception type and message, the
    agent_result counts and cost, whether it had a trajectory. None for other episodes."""
    h = _d(ex.get("harbor"))
    if not h:
        return None
    result = _d(h.get("result"))
    exc, agent = _d(result.get("exception_info")), _d(result.get("agent_info"))
    usage = _d(result.get("agent_result"))
    # (the import's agent and model, one spelling per trial finished or not; older stores:
    # result.json's)
    return {"trial": h.get("trial"), "agent": h.get("agent") or agent.get("name"),
            "model": h.get("model") or _d(agent.get("model_info")).get("name"),
            "exception_type": exc.get("exception_type"),
            "exception_message": exc.get("exception_message"),
            **{k: usage.get(k) for k in _USAGE}, "trajectory": h.get("trajectory")}


def harbor_lines(ex: dict) -> list[str]:
    """harbor_facts as lines: the exception the trial ended in, with its message; its agent,
    model, token counts and cost; and, for a trial with no agent/trajectory.json, that it has
    no steps and why."""
    f = harbor_facts(ex)
    if f is None:
        return []
    out = []
    if f["exception_type"] or f["exception_message"]:
        out.append(f"Harbor exception: {_value(f['exception_type'] or '?')}"
                   + (f": {_value(f['exception_message'])}" if f["exception_message"] else ""))
    said = [f"{k.removeprefix('n_').replace('_', ' ')} {_value(f[k])}"
            for k in _USAGE[:3] if f[k] is not None]
    if f["cost_usd"] is not None:
        said.append(f"cost ${_value(f['cost_usd'])}")
    # (a job of several agents is one run: each trial names its own)
    who = " ".join(_value(v) for v in (f["agent"], f["model"]) if v)
    if said or who:
        out.append("Harbor agent" + (f" {who}" if who else "")
                   + (": " + ", ".join(said) if said else ""))
    if f["trajectory"] is False:
        out.append("no agent/trajectory.json (the agent wrote no ATIF trajectory): no steps, "
                   "the outcome only")
    return out


def _value(v: Any) -> str:
    """An attribute's value as text: a string as it is, anything else as JSON (true, 1.0)."""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


def step_lines(step: dict) -> list[str]:
    """A step's metadata (audio fields, the ticks it was rebuilt from) and the review errors
    anchored at it, one line each."""
    ex = _extra(step)
    out = []
    for k in _STEP_META:
        v = ex.get(k)
        if v is None or v is False:
            continue
        if k == "ticks" and isinstance(v, dict):
            out.append(f"from ticks {v.get('start')}–{v.get('end')} ({v.get('chunks')} "
                       "chunk(s))")
            continue
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        out.append(f"{_LABEL.get(k, k)}: {text}")
    for line in step.get("_review") or []:
        out.append(line)
    return out


def subagent_of(step: dict | None) -> str | None:
    """The ATIF subagent trajectory a step belongs to (kept in its parent's episode, marked
    `subagent` in the step's extra), or None: the compare tags such rows apart (`↳`)."""
    raw = (step or {}).get("extra_json")
    if not raw or (isinstance(raw, str) and '"subagent"' not in raw):
        return None   # most steps: no parse
    v = _extra(step).get("subagent")
    return None if v is None else str(v)


def has_raw(step: dict) -> bool:
    """Whether a step carries the provider's raw response (`raw_data`)."""
    raw = step.get("extra_json")
    if not raw or (isinstance(raw, str) and RAW_KEY not in raw):
        return False   # most steps: no parse
    return _extra(step).get(RAW_KEY) is not None


def raw_line(step: dict) -> str | None:
    """The provider's raw response of a step as one `raw_data: ...` line cut to RAW_LIMIT
    characters (None when it has none)."""
    v = _extra(step).get(RAW_KEY) if has_raw(step) else None
    if v is None:
        return None
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    if len(text) > RAW_LIMIT:
        text = text[:RAW_LIMIT] + f"… (cut: {len(text)} characters)"
    return f"{RAW_KEY}: {text}"


def annotate(meta: dict, steps: list[dict]) -> None:
    """Attach each review error to the step it points at (`turn_idx`, or a tick range that
    overlaps the ticks a step was rebuilt from) as `step["_review"]` lines."""
    ex = _extra(meta)
    errors = []
    for key in ("review", "user_only_review"):
        for e in _d(ex.get(key)).get("errors") or []:
            if isinstance(e, dict):
                errors.append(e)
    if not errors:
        return
    spans = []
    for s in steps:
        t = _d(_extra(s).get("ticks"))
        spans.append((t.get("start"), t.get("end")))
    for e in errors:
        who = e.get("source") or "user"
        line = (f"review: {who} error" + (f" ({e['severity']})" if e.get("severity") else "")
                + f": {e.get('reasoning') or ''}")
        hits = []
        for s, (lo, hi) in zip(steps, spans):
            hit = (isinstance(e.get("turn_idx"), int) and e["turn_idx"] == s.get("idx"))
            ts, te = e.get("tick_start"), e.get("tick_end")
            if not hit and isinstance(ts, int) and isinstance(lo, int) and isinstance(hi, int):
                hit = lo <= (te if isinstance(te, int) else ts) and ts <= hi
            if hit:
                hits.append(s)
        # several steps share the ticks of an overlap: prefer the one the error's source spoke
        role = {"user": "user", "agent": "assistant"}.get(who)
        best = next((s for s in hits if s.get("role") == role), hits[0] if hits else None)
        if best is not None:
            best.setdefault("_review", []).append(line)
