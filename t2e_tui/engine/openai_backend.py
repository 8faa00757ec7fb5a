"""The `openai` backend: any OpenAI-compatible chat endpoint through the `openai` package.

`ChatClient` owns one `AsyncOpenAI` client per run (it binds to the event loop that first uses
it, so close it with `aclose()` before the loop ends) and does our own retries: the client's
built-in retries are off so that 429, 5xx, timeouts and connection errors share one backoff
policy (`Endpoint.max_retries`, `backoff`, `backoff_cap`, honouring `Retry-After`). When retries
run out it raises `InfrastructureError`, and the engine ends the episode `infrastructure_error`.

`OpenAIAgent` converts tau2 message dicts to chat messages and back:
- assistant tool-call turns are sent with content "" rather than null, because llama.cpp's
  servers reject null (../shared/research/local-llm.md); OpenAI, vLLM and Ollama accept "";
- we never send `tool_choice` (llama-cpp-python fails on "required", llama-server rejects the
  object form), so the server's default "auto" applies;
- tool-call arguments that are not a JSON object are kept verbatim (`ToolCall.malformed`); with
  `quirks = "llama.cpp"` they are replayed to the server as "{}" because its chat templates parse
  the history's arguments and fail on broken JSON.

The API key is read from the environment at client creation and never leaves this module.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .config import Endpoint
from .secrets import redact
from .types import AgentReply, InfrastructureError, ToolCall

if TYPE_CHECKING:
    import openai

# `openai` is imported where a request is made, not with this module: its import is ~0.9 s of
# CPU, and a run of the scripted stand-in (the engine imports this module) never sends one.

RETRYABLE_STATUS = {408, 409, 429}
Sleep = Callable[[float], Awaitable[None]]


class ContextWindowExceeded(Exception):
    """The endpoint refused the request because the conversation is too long."""


class ChatClient:
    """One endpoint + model, with retries. Safe to share between concurrent episodes."""

    def __init__(self, endpoint: Endpoint, model: str, *, sleep: Sleep | None = None):
        self.endpoint = endpoint
        self.model = model
        self._client: openai.AsyncOpenAI | None = None
        self._sleep = sleep or asyncio.sleep
        self.calls = 0          # requests sent, including retries (bench and tests read it)

    def _get(self) -> openai.AsyncOpenAI:
        import openai

        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.endpoint.base_url, api_key=self.endpoint.api_key(),
                max_retries=0, timeout=self.endpoint.timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP pool (call before the event loop ends)."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _delay(self, attempt: int, exc: Exception) -> float:
        cap = self.endpoint.backoff_cap
        retry_after = _retry_after(exc)
        if retry_after is not None:
            return min(retry_after, cap)
        base = self.endpoint.backoff * (2 ** attempt)
        # jitter keeps 32 concurrent episodes from retrying in lockstep
        return min(cap, base * (0.5 + random.random() / 2))

    async def create(self, messages: list[dict], *, tools: list[dict] | None = None,
                     params: dict | None = None) -> Any:
        """POST /chat/completions with retries; returns the ChatCompletion object."""
        import openai
        from openai.types.chat import ChatCompletion

        client = self._get()
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                **self.endpoint.params, **(params or {})}
        if tools:
            body["tools"] = tools
        last: Exception | None = None
        for attempt in range(self.endpoint.max_retries + 1):
            self.calls += 1
            try:
                # `post` is the client's documented route for raw bodies. Our messages are
                # already wire-format dicts; `chat.completions.create` would walk them through
                # its TypedDict transform, which costs ~70% of the client's CPU per request
                # and caps concurrency (bench/engine.py). Extra params (top_k, min_p ...) go
                # into the body as they are. Errors and retries behave as with `create`.
                try:
                    resp = await client.post("/chat/completions", body=body,
                                             cast_to=ChatCompletion)
                except ValueError as exc:  # a 200 whose body is not JSON (cut off, say)
                    raise _MalformedResponse(f"the response body is not valid JSON ({exc})") \
                        from None
                if not getattr(resp, "choices", None):
                    raise _EmptyResponse("the endpoint returned no choices")
                _check_shape(resp)
                return resp
            except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                    openai.APIConnectionError, _EmptyResponse) as exc:
                # a malformed 200 is the server's fault like a 5xx: retried, then
                # infrastructure_error (excluded from the figures), never the agent's error
                last = exc
            except openai.APIStatusError as exc:
                if exc.status_code in RETRYABLE_STATUS:
                    last = exc
                elif exc.status_code == 400 and _looks_like_context_error(exc):
                    raise ContextWindowExceeded(_describe(exc)) from None
                else:
                    raise InfrastructureError(
                        f"{self.endpoint.base_url}: model {self.model!r}: {_describe(exc)}"
                    ) from None
            if attempt < self.endpoint.max_retries:
                await self._sleep(self._delay(attempt, last))
        raise InfrastructureError(
            f"{self.endpoint.base_url}: model {self.model!r}: gave up after "
            f"{self.endpoint.max_retries + 1} attempts: {_describe(last)}") from None


class _EmptyResponse(Exception):
    pass


class _MalformedResponse(_EmptyResponse):
    """A 200 response that is not a chat completion (truncated JSON, wrong shape)."""


def _check_shape(resp: Any) -> None:
    """The parts parse_reply reads must be there with the right types."""
    choice = resp.choices[0]
    message = getattr(choice, "message", None)
    if message is None or isinstance(choice, (str, int, float, list)):
        raise _MalformedResponse("the response's choices[0] has no message")
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, str):
        raise _MalformedResponse("the response's message content is not text")
    calls = getattr(message, "tool_calls", None)
    if calls is not None and not isinstance(calls, list):
        raise _MalformedResponse("the response's tool_calls is not a list")


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _looks_like_context_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "context" in text and ("length" in text or "window" in text or "exceed" in text)


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "no attempt made"
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    # redact before cutting, so a cut can't leave half a key that no longer looks like one
    msg = redact(str(exc).split("\n")[0])[:200]
    return f"{kind} (HTTP {status}): {msg}" if status else f"{kind}: {msg}"


# ---------------------------------------------------------------- message conversion

def _args_text(call: dict, quirks: str) -> str:
    args = call.get("arguments")
    if isinstance(args, str):
        # a malformed call recorded verbatim; llama.cpp templates re-parse history arguments
        return "{}" if quirks == "llama.cpp" else args
    return json.dumps(args if args is not None else {}, ensure_ascii=False)


def agent_chat_messages(system_prompt: str, messages: list[dict], *, quirks: str = ""
                        ) -> list[dict]:
    """tau2 message dicts -> chat messages as the agent sees them."""
    out: list[dict] = [{"role": "system", "content": system_prompt}]
    for m in messages:
        role = m.get("role")
        if role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.get("content") or ""}
            calls = m.get("tool_calls") or []
            if calls:
                msg["tool_calls"] = [
                    {"id": c.get("id") or f"call_{i}", "type": "function",
                     "function": {"name": c.get("name") or "", "arguments": _args_text(c, quirks)}}
                    for i, c in enumerate(calls)]
            out.append(msg)
        elif role == "user":
            out.append({"role": "user", "content": m.get("content") or ""})
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m.get("id") or "",
                        "content": m.get("content") if m.get("content") is not None else ""})
    return out


def parse_reply(resp: Any, *, call_prefix: str = "call") -> AgentReply:
    """A ChatCompletion -> AgentReply. Unparseable arguments become malformed ToolCalls."""
    choice = resp.choices[0]
    message = choice.message
    calls: list[ToolCall] = []
    for pos, tc in enumerate(getattr(message, "tool_calls", None) or []):
        fn = getattr(tc, "function", None)
        name = getattr(fn, "name", None) or ""
        raw = getattr(fn, "arguments", None)
        call_id = getattr(tc, "id", None) or f"{call_prefix}_{pos}"
        calls.append(parse_call(call_id, name, raw))
    usage = getattr(resp, "usage", None)
    return AgentReply(
        content=message.content if message.content else None,
        tool_calls=calls,
        prompt_tokens=getattr(usage, "prompt_tokens", None) if usage else None,
        completion_tokens=getattr(usage, "completion_tokens", None) if usage else None,
        model=getattr(resp, "model", None),
        raw={"id": getattr(resp, "id", None), "finish_reason": getattr(choice, "finish_reason",
                                                                        None)})


def parse_call(call_id: str, name: str, raw: Any) -> ToolCall:
    """Arguments must be a JSON object; anything else is kept verbatim and flagged."""
    if raw is None or raw == "":
        return ToolCall(id=call_id, name=name, arguments={})
    if isinstance(raw, dict):
        return ToolCall(id=call_id, name=name, arguments=raw)
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return ToolCall(id=call_id, name=name, arguments=str(raw), malformed=True)
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, arguments=str(raw), malformed=True)
    return ToolCall(id=call_id, name=name, arguments=parsed)


class OpenAIAgent:
    """The agent as an OpenAI-compatible model (async `respond`)."""

    def __init__(self, chat: ChatClient, *, seed_param: bool = True):
        self.chat = chat
        self.name = f"openai:{chat.model}"
        self.model = chat.model
        self.seed_param = seed_param

    async def respond(self, system_prompt: str, messages: list[dict], tools: list[dict],
                      rng: random.Random, *, seed: int | None = None) -> AgentReply:
        chat_messages = agent_chat_messages(system_prompt, messages,
                                            quirks=self.chat.endpoint.quirks)
        params: dict[str, Any] = {}
        if self.seed_param and seed is not None and "seed" not in self.chat.endpoint.params:
            params["seed"] = seed  # best effort, as tau2 passes its per-simulation seed
        resp = await self.chat.create(chat_messages, tools=tools, params=params)
        return parse_reply(resp, call_prefix=f"call_{len(messages)}")

