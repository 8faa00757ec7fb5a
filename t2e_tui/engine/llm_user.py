"""The LLM user simulator: a model plays the customer from the task's scenario.

Its system prompt carries the scenario (reason for the call, known info, unknown info, task
instructions; a plain-string scenario is passed as is) and our own role-play guidelines. The
conversation is shown from the customer's side: the agent's text turns become `user` messages
and the customer's own turns `assistant` messages; tool traffic is the agent's business and is
not shown, as in tau2. The customer ends the call with a stop marker (see STOP_MARKERS).
"""

from __future__ import annotations

import random
from typing import Any

from .openai_backend import ChatClient, parse_reply
from .types import AgentReply

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
OUT_OF_SCOPE = "###OUT-OF-SCOPE###"
STOP_MARKERS = (STOP, TRANSFER, OUT_OF_SCOPE)

GUIDELINES = f"""You are role-playing a customer who contacts a company's customer support \
agent. Stay in that role for the whole conversation.

How to behave:
- Write only the customer's next message: short, natural, one turn at a time.
- Start from your reason for calling. Give details (name, email, zip code, order ids, item \
descriptions) only when the agent asks for them or when they are needed.
- Use only the facts in the scenario below. If the agent asks for something you do not know, \
say you don't know or don't have it. Never invent ids, emails or addresses.
- Follow the task instructions: they say what you want, what you accept and what you refuse.
- Do not repeat the scenario word for word and do not mention that it is a scenario.
- When everything you wanted is done, or clearly cannot be done, end the conversation with a \
message containing only {STOP}.
- If the agent transfers you to a human agent, reply with only {TRANSFER}.
- If the conversation moves to something the scenario gives you no basis to answer, reply \
with only {OUT_OF_SCOPE}."""

SCENARIO_FIELDS = (("reason_for_call", "Reason for calling"),
                   ("known_info", "What you know"),
                   ("unknown_info", "What you do not know"),
                   ("task_instructions", "Task instructions"))


def scenario_of(task: Any) -> tuple[Any, Any]:
    """(instructions, persona) from a world Task or a tau2 task dict."""
    raw = getattr(task, "raw", task)
    scen = (raw or {}).get("user_scenario") or {}
    return scen.get("instructions"), scen.get("persona")


def user_system_prompt(task: Any) -> str:
    """Guidelines plus the task's scenario, field by field."""
    instructions, persona = scenario_of(task)
    parts = [GUIDELINES, "", "<scenario>"]
    if persona:
        parts += [f"Persona: {persona}", ""]
    if isinstance(instructions, dict):
        for key, label in SCENARIO_FIELDS:
            value = instructions.get(key)
            if value:
                parts += [f"{label}:", str(value).strip(), ""]
        if instructions.get("domain"):
            parts += [f"Domain: {instructions['domain']}", ""]
    elif instructions:
        parts += [str(instructions).strip(), ""]
    else:
        task_id = getattr(task, "id", None) or (getattr(task, "raw", None) or {}).get("id")
        raise ValueError(f"task {task_id}: no user_scenario.instructions for the LLM user")
    parts.append("</scenario>")
    return "\n".join(parts)


def user_chat_messages(system_prompt: str, messages: list[dict]) -> list[dict]:
    """The conversation from the customer's side (roles flipped, tool traffic hidden)."""
    out = [{"role": "system", "content": system_prompt}]
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role == "assistant" and content:
            out.append({"role": "user", "content": content})
        elif role == "user":
            out.append({"role": "assistant", "content": content or ""})
    return out


class LLMUser:
    """The customer played by a model. `respond(messages)` returns the next customer turn."""

    def __init__(self, chat: ChatClient, task: Any, seed: int | None = None):
        self.chat = chat
        self.name = f"openai:{chat.model}"
        self.model = chat.model
        self.system_prompt = user_system_prompt(task)
        self.seed = seed

    async def respond(self, messages: list[dict], rng: random.Random | None = None
                      ) -> AgentReply:
        params = {}
        if self.seed is not None and "seed" not in self.chat.endpoint.params:
            params["seed"] = self.seed
        resp = await self.chat.create(user_chat_messages(self.system_prompt, messages),
                                      params=params)
        reply = parse_reply(resp)
        # the customer has no tools in retail; a stray tool call is dropped, its text kept
        reply.tool_calls = []
        return reply


def is_stop(text: str | None) -> bool:
    """True when a user message ends the conversation."""
    return bool(text) and any(marker in text for marker in STOP_MARKERS)
