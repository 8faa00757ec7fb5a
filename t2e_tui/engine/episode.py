"""One episode: the agent talks with the user simulator and calls the world's tools.

The loop follows tau2's orchestrator:
- the trajectory opens with the assistant greeting "Hi! How can I help you today?" (cost 0);
- the user answers; an agent text turn goes to the user; an agent tool-call turn goes to the
  world, which answers with one `tool` message per call, in call order, and the agent speaks
  again;
- it ends with `user_stop` when a user turn carries a stop marker (###STOP###, ###TRANSFER###,
  ###OUT-OF-SCOPE###), `agent_stop` when an agent text turn carries ###STOP###, `max_steps` when
  the trajectory holds `max_steps` messages (a step is one message of any role, the greeting
  included; the tool results of one agent turn are always written together so every call has
  its result), `too_many_errors` when the cumulative count of tool results with error=true
  reaches `max_errors` (tau2 never resets it), `infrastructure_error` when a model could not be
  reached after retries, `context_window_exceeded`, and `agent_error` / `user_error` when a
  simulator fails or the agent returns neither text nor tool calls.

Every message is handed to `on_step(idx, message, latency_ms)` as soon as it exists, so the
store can stream it. Messages are tau2 dicts (`role`, `content`, `tool_calls`, tool results with
`id`, `error`, `requestor`), plus `turn_idx`, `timestamp`, `usage` and `cost` when known.
"""

from __future__ import annotations

import inspect
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from store import INFRA, now_iso

from .llm_user import is_stop
from .openai_backend import ContextWindowExceeded
from .secrets import redact
from .types import AgentReply, InfrastructureError, ToolCall

GREETING = "Hi! How can I help you today?"
AGENT_STOP = "###STOP###"

CostFn = Callable[[str | None, int | None, int | None], float | None]
StepSink = Callable[[int, dict, float | None], None]


class Cancelled(Exception):
    """The run was asked to stop; the episode in progress is abandoned (not saved)."""


@dataclass
class EpisodeOutcome:
    messages: list[dict]
    termination_reason: str
    agent_cost: float | None = None
    user_cost: float | None = None
    n_tool_errors: int = 0
    error: str | None = None        # why an infrastructure/agent/user error ended it
    duration: float = 0.0
    extra: dict = field(default_factory=dict)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def agent_turn(agent: Any, system_prompt: str, messages: list[dict], tools: list[dict],
                     rng: random.Random, seed: int | None) -> AgentReply:
    if getattr(agent, "seed_param", False):
        return await agent.respond(system_prompt, messages, tools, rng, seed=seed)
    return await _maybe_await(agent.respond(system_prompt, messages, tools, rng))


async def user_turn(user: Any, messages: list[dict], rng: random.Random) -> AgentReply:
    """LLM users have async `respond`; the scripted user has `reply(messages) -> str`."""
    if hasattr(user, "respond"):
        return await _maybe_await(user.respond(messages, rng))
    text = await _maybe_await(user.reply(messages))
    return AgentReply(content=text)


def _add_cost(total: float | None, cost: float | None) -> float | None:
    if cost is None:
        return total
    return cost if total is None else total + cost


def _usage(reply: AgentReply) -> dict | None:
    if reply.prompt_tokens is None and reply.completion_tokens is None:
        return None
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}


def call_tool(env: Any, call: ToolCall) -> tuple[str, bool]:
    """Run one tool call in the world; a malformed call is a tool error, never an exception."""
    if call.malformed:
        return (f"Error: malformed tool-call arguments for {call.name!r}: expected a JSON "
                f"object, got {call.arguments!r}"[:2000], True)
    try:
        result = env.call(call.name, call.arguments)
    except Exception as exc:  # noqa: BLE001 - the world promises not to raise; contain it anyway
        return f"Error: {type(exc).__name__}: {exc}", True
    return result.content, bool(result.error)


async def play_episode(*, agent: Any, user: Any, env: Any, system_prompt: str,
                       tools: list[dict], max_steps: int, max_errors: int, seed: int,
                       on_step: StepSink | None = None, cost: CostFn | None = None,
                       cancel: threading.Event | None = None,
                       prefix: list[dict] | None = None) -> EpisodeOutcome:
    """Play one episode to its end and return the trajectory and why it ended.

    `prefix` (a fork from step t): the recorded messages 0..t-1, replayed into the trajectory
    as they were (and handed to `on_step`), with `env` already restored to step t. Play
    continues from there: calls of the last turn still owed a result are run first, then
    whoever speaks next by tau2's turn order; prior tool errors count toward `max_errors`."""
    rng = random.Random(seed)
    messages: list[dict] = []
    t0 = time.perf_counter()
    agent_cost: float | None = None
    user_cost: float | None = None
    n_errors = 0

    def add(msg: dict, latency_ms: float | None = None, keep_time: bool = False) -> None:
        msg["turn_idx"] = len(messages)
        if not (keep_time and msg.get("timestamp")):
            msg["timestamp"] = now_iso()
        messages.append(msg)
        if on_step is not None:
            on_step(msg["turn_idx"], msg, latency_ms)

    def price(reply: AgentReply, default_model: str | None) -> float | None:
        if cost is None:
            return None
        # the price table is keyed by the names people type; servers may answer with a dated id
        for model in dict.fromkeys((default_model, reply.model)):
            value = cost(model, reply.prompt_tokens, reply.completion_tokens)
            if value is not None:
                return value
        return None

    def outcome(reason: str, error: str | None = None) -> EpisodeOutcome:
        return EpisodeOutcome(messages=messages, termination_reason=reason,
                              agent_cost=agent_cost, user_cost=user_cost, n_tool_errors=n_errors,
                              error=redact(error), duration=time.perf_counter() - t0)

    agent_model = getattr(agent, "model", None)
    user_model = getattr(user, "model", None)
    if prefix:
        speaker, pending = _resume_point(prefix)
        for old in prefix:
            msg = dict(old)
            n_errors += int(msg.get("role") == "tool" and bool(msg.get("error")))
            add(msg, keep_time=True)  # a kept step keeps its recorded time
        for call in pending:
            content, error = call_tool(env, call)
            n_errors += int(error)
            add({"role": "tool", "id": call.id, "content": content, "requestor": "assistant",
                 "error": error})
        if pending and n_errors >= max_errors:
            return outcome("too_many_errors")
    else:
        add({"role": "assistant", "content": GREETING, "tool_calls": None, "cost": 0.0})
        speaker = "user"
    while True:
        if len(messages) >= max_steps:
            return outcome("max_steps")
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        t = time.perf_counter()
        if speaker == "user":
            try:
                reply = await user_turn(user, messages, rng)
            except InfrastructureError as exc:
                return outcome(INFRA, str(exc))
            except ContextWindowExceeded as exc:
                return outcome("context_window_exceeded", str(exc))
            except Exception as exc:  # noqa: BLE001 - a failing simulator ends the episode
                return outcome("user_error", f"{type(exc).__name__}: {exc}")
            step_cost = price(reply, user_model)
            user_cost = _add_cost(user_cost, step_cost)
            msg = {"role": "user", "content": reply.content or "", "tool_calls": None,
                   "cost": step_cost}
            if (u := _usage(reply)) is not None:
                msg["usage"] = u
            add(msg, (time.perf_counter() - t) * 1000.0)
            if is_stop(reply.content):
                return outcome("user_stop")
            speaker = "agent"
            continue
        try:
            reply = await agent_turn(agent, system_prompt, messages, tools, rng, seed)
        except InfrastructureError as exc:
            return outcome(INFRA, str(exc))
        except ContextWindowExceeded as exc:
            return outcome("context_window_exceeded", str(exc))
        except Exception as exc:  # noqa: BLE001
            return outcome("agent_error", f"{type(exc).__name__}: {exc}")
        latency = (time.perf_counter() - t) * 1000.0
        if not reply.content and not reply.tool_calls:
            return outcome("agent_error", "the agent returned neither text nor tool calls")
        step_cost = price(reply, agent_model)
        agent_cost = _add_cost(agent_cost, step_cost)
        calls = reply.tool_calls
        msg = {"role": "assistant", "content": reply.content,
               "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments,
                               "requestor": "assistant"} for c in calls] or None,
               "cost": step_cost}
        if (u := _usage(reply)) is not None:
            msg["usage"] = u
        add(msg, latency)
        if not calls:
            if reply.content and AGENT_STOP in reply.content:
                return outcome("agent_stop")
            speaker = "user"
            continue
        for call in calls:
            t = time.perf_counter()
            content, error = call_tool(env, call)
            n_errors += int(error)
            add({"role": "tool", "id": call.id, "content": content, "requestor": "assistant",
                 "error": error}, (time.perf_counter() - t) * 1000.0)
        if n_errors >= max_errors:
            return outcome("too_many_errors")
        speaker = "agent"


def _resume_point(prefix: list[dict]) -> tuple[str, list[ToolCall]]:
    """Who speaks after a kept prefix, and the last turn's calls still owed a result."""
    answered = {m.get("id") for m in prefix if m.get("role") == "tool"}
    for msg in reversed(prefix):
        role = msg.get("role")
        if role == "tool":
            return "agent", []
        if role == "user":
            return "agent", []
        if role == "assistant":
            calls = [c for c in msg.get("tool_calls") or () if isinstance(c, dict)]
            if not calls:
                return "user", []
            owed = [ToolCall(id=c.get("id"), name=c.get("name"), arguments=c.get("arguments"))
                    for c in calls if c.get("id") not in answered]
            return "agent", owed
    return "user", []
