"""The scripted stand-in agent: one turn from the behaviours a candidate's rule phrases switch
on, planned by the retail planner (scripted_agent) or the airline one (scripted_airline) by
the tools it is offered. A deterministic stand-in: its results prove nothing about models."""

from __future__ import annotations

import random

from .scripted_agent import _Planner
from .scripted_airline import AirlinePlanner, is_airline
from .scripted_rules import BEHAVIOURS, Behaviours, behaviours_from_prompt
from .scripted_state import State
from .types import AgentReply, ToolCall


class ScriptedAgent:
    """The deterministic scripted agent (AgentBackend). `noise` = per-turn slip probability."""

    name = "scripted"
    model = "scripted"

    def __init__(self, noise: float = 0.0):
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise must be between 0 and 1, got {noise}")
        self.noise = noise
        self._cache: dict[str, Behaviours] = {}

    def behaviours(self, system_prompt: str) -> Behaviours:
        """Behaviours switched on by the candidate part of `system_prompt` (before noise)."""
        if system_prompt not in self._cache:
            self._cache[system_prompt] = behaviours_from_prompt(system_prompt)
        return self._cache[system_prompt]

    def respond(self, system_prompt: str, messages: list[dict], tools: list[dict],
                rng: random.Random) -> AgentReply:
        """One turn: a text message or one tool call, decided from what a model would see."""
        b = self.behaviours(system_prompt)
        if self.noise > 0:
            # always draw one number per behaviour so the rng stream does not depend on the result
            draws = [rng.random() for _ in BEHAVIOURS]
            b = b.flipped({n for n, d in zip(BEHAVIOURS, draws) if d < self.noise})
        # the same behaviours drive the airline planner when the tools are airline's
        planner = AirlinePlanner if tools and is_airline(tools) else _Planner
        step = planner(State(messages), b).plan()
        if step.tool:
            call = ToolCall(id=f"call_{len(messages)}_{step.tool}", name=step.tool, arguments=step.arguments)
            return AgentReply(content=None, tool_calls=[call], model=self.model)
        return AgentReply(content=step.text, model=self.model)
