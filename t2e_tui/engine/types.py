"""Types shared by the engine and its backends (no textual, no openai import here)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict | str          # a str means the model sent JSON we could not parse
    malformed: bool = False        # True when `arguments` is the raw, unparseable text


@dataclass
class AgentReply:
    """One agent (or LLM user) turn: text, tool calls, or both; plus what it cost."""
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    raw: Any = None                # provider response summary (never the API key)


class AgentBackend(Protocol):
    """What the engine calls for each agent turn.

    `messages` is the episode so far as tau2 message dicts (assistant/user/tool);
    `tools` is the OpenAI function-tool JSON list. A backend may be sync or async
    (the engine awaits coroutines). It raises `InfrastructureError` when the model
    can't be reached after retries.
    """

    name: str

    def respond(self, system_prompt: str, messages: list[dict], tools: list[dict],
                rng: random.Random) -> AgentReply: ...


class InfrastructureError(Exception):
    """The model endpoint could not be reached (after retries): the episode ends as
    `infrastructure_error` and is excluded from gates."""
