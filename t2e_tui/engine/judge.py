"""The LLM judge for natural-language assertions (tau2 v1 retail gates on them).

One request per episode: the transcript as `role: content` lines and the numbered assertions;
the model answers with JSON verdicts. A verdict is never invented: a reply that does not give
one verdict per assertion is retried once and then raises `InfrastructureError`, so the episode
is excluded from gates rather than counted (tau2 counts a short reply as a pass, issue #554).
Verdicts are returned in tau2's shape, `{nl_assertion, met, justification}`, and the store flags
them judge-dependent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .openai_backend import ChatClient
from .types import InfrastructureError

JUDGE_PROMPT = """You grade a customer-support conversation. For each numbered assertion, \
decide from the transcript alone whether it holds. Judge what the agent actually said and did; \
tool calls and results are shown in brackets.

Answer with JSON only, in this shape:
{"verdicts": [{"n": 1, "met": true, "justification": "one sentence"}, ...]}
with exactly one verdict per assertion, in order."""


def transcript(messages: list[dict]) -> str:
    """`role: content` lines; tool calls and results in brackets."""
    lines = []
    for m in messages:
        role = m.get("role")
        if role == "tool":
            lines.append(f"tool: [{m.get('content')}]")
            continue
        if m.get("content"):
            lines.append(f"{role}: {m['content']}")
        for c in m.get("tool_calls") or []:
            args = c.get("arguments")
            args_text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            lines.append(f"{role}: [call {c.get('name')}({args_text})]")
    return "\n".join(lines)


def judge_request(messages: list[dict], assertions: list[str]) -> list[dict]:
    numbered = "\n".join(f"{i}. {a}" for i, a in enumerate(assertions, start=1))
    return [{"role": "system", "content": JUDGE_PROMPT},
            {"role": "user", "content": f"<transcript>\n{transcript(messages)}\n</transcript>\n\n"
                                        f"<assertions>\n{numbered}\n</assertions>"}]


def parse_verdicts(text: str | None, assertions: list[str]) -> list[dict] | None:
    """tau2-shaped verdicts, or None when the reply does not give one per assertion."""
    if not text:
        return None
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    verdicts = data.get("verdicts") if isinstance(data, dict) else None
    if not isinstance(verdicts, list) or len(verdicts) != len(assertions):
        return None
    out = []
    for assertion, v in zip(assertions, verdicts):
        if not isinstance(v, dict) or not isinstance(v.get("met"), bool):
            return None
        out.append({"nl_assertion": assertion, "met": v["met"],
                    "justification": str(v.get("justification") or "")})
    return out


class LLMJudge:
    """Verdicts for a task's NL assertions through an OpenAI-compatible model."""

    def __init__(self, chat: ChatClient):
        self.chat = chat
        self.name = f"openai:{chat.model}"
        self.tokens_in = 0
        self.tokens_out = 0

    async def verdicts(self, messages: list[dict], assertions: list[str]) -> list[dict]:
        if not assertions:
            return []
        request = judge_request(messages, assertions)
        for _ in range(2):
            resp = await self.chat.create(request, params={"temperature": 0})
            usage: Any = getattr(resp, "usage", None)
            if usage is not None:
                self.tokens_in += getattr(usage, "prompt_tokens", 0) or 0
                self.tokens_out += getattr(usage, "completion_tokens", 0) or 0
            parsed = parse_verdicts(resp.choices[0].message.content, assertions)
            if parsed is not None:
                return parsed
        raise InfrastructureError(
            f"judge {self.name}: no usable verdicts for {len(assertions)} assertion(s)")
