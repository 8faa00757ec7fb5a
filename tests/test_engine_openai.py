"""The openai backend, the LLM user and the judge over real HTTP (stub server, real client)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import pytest
from stub_openai import StubOpenAI, call, error, text, tool_calls

from t2e_tui.engine.config import Endpoint
from t2e_tui.engine.episode import GREETING, play_episode
from t2e_tui.engine.judge import LLMJudge
from t2e_tui.engine.llm_user import LLMUser
from t2e_tui.engine.openai_backend import ChatClient, OpenAIAgent
from t2e_tui.engine.types import InfrastructureError

TOOLS = [{"type": "function", "function": {
    "name": "find_user_id_by_email", "description": "Find a user id by email.",
    "parameters": {"type": "object", "properties": {"email": {"type": "string"}},
                   "required": ["email"]}}}]


@dataclass
class Result:
    content: str
    error: bool = False


class FakeEnv:
    """A one-tool world: records calls, errors on unknown emails."""

    def __init__(self):
        self.calls = []

    def call(self, name, arguments):
        self.calls.append((name, arguments))
        if name != "find_user_id_by_email":
            return Result(f"Error: Tool '{name}' not found.", True)
        if arguments.get("email") == "a@b.com":
            return Result("user_a_1")
        return Result("Error: User not found", True)


class ListUser:
    """A user that says the given lines in order."""

    def __init__(self, *lines):
        self.lines = list(lines)

    def reply(self, messages):
        return self.lines.pop(0)


def endpoint(stub, **kw) -> Endpoint:
    base = dict(name="stub", base_url=stub.base_url, api_key_env="T2E_TEST_KEY", timeout=5.0,
                max_retries=3, backoff=0.01, backoff_cap=0.05)
    base.update(kw)
    return Endpoint(**base)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("T2E_TEST_KEY", "sk-test-secret-123")


async def run_episode(stub, user, env=None, *, max_steps=30, max_errors=10, **ep):
    chat = ChatClient(endpoint(stub, **ep), "stub-model")
    steps = []
    try:
        out = await play_episode(
            agent=OpenAIAgent(chat), user=user, env=env or FakeEnv(), system_prompt="SYS",
            tools=TOOLS, max_steps=max_steps, max_errors=max_errors, seed=7,
            on_step=lambda i, m, lat: steps.append((i, m["role"], lat)),
            cost=lambda model, a, b: None if a is None else (a * 2 + b * 8) / 1e6)
    finally:
        await chat.aclose()
    return out, steps, chat


async def test_tool_call_and_text_turns_round_trip():
    with StubOpenAI([tool_calls(call("find_user_id_by_email", {"email": "a@b.com"},
                                     call_id="call_x")),
                     text("Your user id is user_a_1.")]) as stub:
        env = FakeEnv()
        out, steps, _ = await run_episode(stub, ListUser("I'm a@b.com", "thanks ###STOP###"),
                                          env)
        sent = stub.requests
    assert out.termination_reason == "user_stop"
    roles = [m["role"] for m in out.messages]
    assert roles == ["assistant", "user", "assistant", "tool", "assistant", "user"]
    assert out.messages[0]["content"] == GREETING
    assert env.calls == [("find_user_id_by_email", {"email": "a@b.com"})]
    assert out.messages[3] == {**out.messages[3], "id": "call_x", "content": "user_a_1",
                               "error": False, "requestor": "assistant"}
    assert [i for i, *_ in steps] == list(range(6))  # streamed in order, as they happened
    # the second request carries the tool turn both ways, with content "" (llama.cpp quirk)
    second = sent[1]
    assert second["messages"][0] == {"role": "system", "content": "SYS"}
    assistant = second["messages"][3]
    assert assistant["content"] == ""
    assert assistant["tool_calls"][0]["function"] == {
        "name": "find_user_id_by_email", "arguments": json.dumps({"email": "a@b.com"})}
    assert second["messages"][4] == {"role": "tool", "tool_call_id": "call_x",
                                     "content": "user_a_1"}
    assert second["tools"] == TOOLS and "tool_choice" not in second
    assert second["seed"] == 7
    # tokens and cost per step, from the price function
    agent_msg = out.messages[2]
    assert agent_msg["usage"] == {"prompt_tokens": 100, "completion_tokens": 20}
    assert agent_msg["cost"] == pytest.approx((100 * 2 + 20 * 8) / 1e6)
    assert out.agent_cost == pytest.approx(2 * (100 * 2 + 20 * 8) / 1e6)


async def test_malformed_arguments_are_recorded_and_fed_back_as_tool_error():
    with StubOpenAI([tool_calls(call("find_user_id_by_email", raw='{"email": "a@b.com"',
                                     call_id="bad1")),
                     text("Sorry, let me retry."),
                     ]) as stub:
        env = FakeEnv()
        out, _, _ = await run_episode(stub, ListUser("hi", "###STOP###"), env)
        replayed = stub.requests[1]["messages"]
    call_msg = out.messages[2]
    assert call_msg["tool_calls"][0]["arguments"] == '{"email": "a@b.com"'  # verbatim
    tool = out.messages[3]
    assert tool["error"] is True and tool["id"] == "bad1"
    assert "malformed" in tool["content"]
    assert env.calls == []  # never reached the world
    assert out.n_tool_errors == 1 and out.termination_reason == "user_stop"
    # the raw text goes back to the model as it was sent
    assert replayed[3]["tool_calls"][0]["function"]["arguments"] == '{"email": "a@b.com"'


async def test_llama_cpp_quirk_replays_malformed_arguments_as_empty_object():
    with StubOpenAI([tool_calls(call("find_user_id_by_email", raw="not json")),
                     text("ok")]) as stub:
        await run_episode(stub, ListUser("hi", "###STOP###"), quirks="llama.cpp")
        replayed = stub.requests[1]["messages"]
    assert replayed[3]["tool_calls"][0]["function"]["arguments"] == "{}"


async def test_429_then_success_retries():
    with StubOpenAI([error(429, "slow down"), error(429, "slow down"),
                     text("Hello there")]) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi", "bye ###STOP###"))
        n = len(stub.requests)
    assert out.termination_reason == "user_stop"
    assert chat.calls == 3 and n == 3
    assert out.messages[2]["content"] == "Hello there"


async def test_retry_after_header_is_honoured():
    with StubOpenAI([error(429, retry_after=0.3), text("ok")]) as stub:
        t0 = time.perf_counter()
        out, _, _ = await run_episode(stub, ListUser("hi", "###STOP###"), backoff_cap=1.0)
        elapsed = time.perf_counter() - t0
    assert out.termination_reason == "user_stop"
    assert elapsed >= 0.3


async def test_500s_until_the_engine_gives_up_is_infrastructure_error():
    with StubOpenAI(responder=lambda body: error(500, "boom")) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi"), max_retries=2)
        n = len(stub.requests)
    assert out.termination_reason == "infrastructure_error"
    assert n == 3 and chat.calls == 3
    assert "gave up after 3 attempts" in out.error and "500" in out.error


async def test_non_retryable_status_fails_fast():
    with StubOpenAI(responder=lambda body: error(401, "bad key")) as stub:
        out, _, _ = await run_episode(stub, ListUser("hi"))
        n = len(stub.requests)
    assert out.termination_reason == "infrastructure_error" and n == 1


async def test_context_window_error_ends_episode_with_its_reason():
    with StubOpenAI([error(400, "This model's maximum context length is 8192 tokens; "
                                "reduce the length")]) as stub:
        out, _, _ = await run_episode(stub, ListUser("hi"))
    assert out.termination_reason == "context_window_exceeded"


async def test_slow_response_within_timeout_is_fine_and_timeouts_are_retried():
    with StubOpenAI([text("slow but fine", delay=0.3)]) as stub:
        out, steps, _ = await run_episode(stub, ListUser("hi", "###STOP###"), timeout=2.0)
    assert out.messages[2]["content"] == "slow but fine"
    assert steps[2][2] >= 300  # latency_ms is recorded on the agent step
    with StubOpenAI([text("too slow", delay=1.0), text("fast")]) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi", "###STOP###"), timeout=0.3)
    assert out.messages[2]["content"] == "fast" and chat.calls == 2
    with StubOpenAI(responder=lambda b: text("never in time", delay=0.5)) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi"), timeout=0.2, max_retries=1)
    assert out.termination_reason == "infrastructure_error"
    assert "APITimeoutError" in out.error


async def test_empty_agent_reply_is_agent_error():
    with StubOpenAI([text("")]) as stub:
        out, _, _ = await run_episode(stub, ListUser("hi"))
    assert out.termination_reason == "agent_error"


async def test_max_errors_counts_cumulative_tool_errors():
    bad = lambda body: tool_calls(call("find_user_id_by_email", {"email": "x@y.z"}))  # noqa
    with StubOpenAI(responder=bad) as stub:
        out, _, _ = await run_episode(stub, ListUser("hi"), max_errors=3)
    assert out.termination_reason == "too_many_errors"
    assert out.n_tool_errors == 3
    assert sum(1 for m in out.messages if m["role"] == "tool") == 3


async def test_max_steps_counts_every_message():
    with StubOpenAI(responder=lambda b: text("tell me more")) as stub:
        out, _, _ = await run_episode(stub, ListUser(*["more"] * 20), max_steps=7)
    assert out.termination_reason == "max_steps" and len(out.messages) == 7


async def test_concurrent_episodes_overlap_on_the_wire():
    with StubOpenAI(responder=lambda b: text("ok", delay=0.2)) as stub:
        chat = ChatClient(endpoint(stub), "stub-model")
        agent = OpenAIAgent(chat)

        async def one(i):
            return await play_episode(agent=agent, user=ListUser("hi", "###STOP###"),
                                      env=FakeEnv(), system_prompt="S", tools=TOOLS,
                                      max_steps=20, max_errors=5, seed=i)
        outs = await asyncio.gather(*(one(i) for i in range(8)))
        await chat.aclose()
        peak = stub.max_in_flight
    assert all(o.termination_reason == "user_stop" for o in outs)
    assert peak >= 4            # requests really were in flight together, not serialised


SCENARIO_TASK = {"id": "7", "user_scenario": {"persona": None, "instructions": {
    "domain": "retail", "reason_for_call": "You want to return the lamp you bought.",
    "known_info": "Your email is lamp.fan@example.com.",
    "unknown_info": "You do not remember your order id.",
    "task_instructions": "Accept a refund to the original card only."}}}


async def test_llm_user_request_carries_the_scenario_and_flips_roles():
    with StubOpenAI([text("Hi, I'd like to return a lamp."), text("###STOP###")]) as stub:
        chat = ChatClient(endpoint(stub), "user-model")
        user = LLMUser(chat, SCENARIO_TASK, seed=3)
        with StubOpenAI([text("Sure, what's your email?")]) as agent_stub:
            agent_chat = ChatClient(endpoint(agent_stub), "agent-model")
            out = await play_episode(agent=OpenAIAgent(agent_chat), user=user, env=FakeEnv(),
                                     system_prompt="S", tools=TOOLS, max_steps=20,
                                     max_errors=5, seed=3)
            await agent_chat.aclose()
        await chat.aclose()
        first, second = stub.requests
    assert out.termination_reason == "user_stop"
    system = first["messages"][0]["content"]
    for field in ("You want to return the lamp you bought.", "lamp.fan@example.com",
                  "You do not remember your order id.",
                  "Accept a refund to the original card only."):
        assert field in system
    assert "###STOP###" in system
    assert first["messages"][1] == {"role": "user", "content": GREETING}
    assert "tools" not in first and first["model"] == "user-model"
    assert second["messages"][2] == {"role": "assistant",
                                     "content": "Hi, I'd like to return a lamp."}
    assert second["messages"][3] == {"role": "user", "content": "Sure, what's your email?"}


async def test_judge_gives_tau2_shaped_verdicts_and_never_invents_one():
    reply = json.dumps({"verdicts": [{"n": 1, "met": True, "justification": "said it"},
                                     {"n": 2, "met": False, "justification": "did not"}]})
    msgs = [{"role": "assistant", "content": GREETING}, {"role": "user", "content": "hi"}]
    with StubOpenAI([text(f"Here you go: {reply}")]) as stub:
        judge = LLMJudge(ChatClient(endpoint(stub), "judge-model"))
        verdicts = await judge.verdicts(msgs, ["Agent greets", "Agent refunds"])
        await judge.chat.aclose()
        sent = stub.requests[0]
    assert verdicts == [
        {"nl_assertion": "Agent greets", "met": True, "justification": "said it"},
        {"nl_assertion": "Agent refunds", "met": False, "justification": "did not"}]
    assert "1. Agent greets" in sent["messages"][1]["content"]
    assert "user: hi" in sent["messages"][1]["content"]
    short = json.dumps({"verdicts": [{"n": 1, "met": True}]})
    with StubOpenAI(responder=lambda b: text(short)) as stub:
        judge = LLMJudge(ChatClient(endpoint(stub), "judge-model"))
        with pytest.raises(InfrastructureError):
            await judge.verdicts(msgs, ["a", "b"])
        await judge.chat.aclose()


async def test_missing_api_key_is_a_clear_error(monkeypatch):
    from t2e_tui.engine.config import ConfigError
    monkeypatch.delenv("T2E_TEST_KEY")
    ep = Endpoint(name="x", base_url="http://127.0.0.1:9/v1", api_key_env="T2E_TEST_KEY")
    with pytest.raises(ConfigError, match="T2E_TEST_KEY is not set"):
        ep.api_key()


async def test_api_key_is_sent_as_bearer_and_not_in_public_settings():
    with StubOpenAI([text("hello")]) as stub:
        ep = endpoint(stub)
        chat = ChatClient(ep, "m")
        await chat.create([{"role": "user", "content": "x"}])
        await chat.aclose()
        auth = stub.headers[0].get("Authorization") or stub.headers[0].get("authorization")
    assert auth == "Bearer sk-test-secret-123"
    assert "sk-test-secret-123" not in json.dumps(ep.public())


async def test_a_reply_without_choices_is_retried_then_infrastructure_error():
    empty = {"status": 200, "body": {"id": "x", "object": "chat.completion", "created": 0,
                                     "model": "m", "choices": []}}
    with StubOpenAI([empty, text("recovered")]) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi", "###STOP###"))
    assert out.messages[2]["content"] == "recovered" and chat.calls == 2
    with StubOpenAI(responder=lambda b: empty) as stub:
        out, _, _ = await run_episode(stub, ListUser("hi"), max_retries=1)
    assert out.termination_reason == "infrastructure_error" and "no choices" in out.error


@pytest.mark.parametrize("marker", ["###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###"])
async def test_every_user_stop_marker_ends_with_user_stop(marker):
    with StubOpenAI([text("Let me transfer you.")]) as stub:
        out, _, _ = await run_episode(stub, ListUser("human please", marker))
    assert out.termination_reason == "user_stop" and out.messages[-1]["content"] == marker


async def test_agent_stop_marker_ends_with_agent_stop():
    with StubOpenAI([text("Goodbye ###STOP###")]) as stub:
        out, _, _ = await run_episode(stub, ListUser("hi"))
    assert out.termination_reason == "agent_stop"


@pytest.mark.parametrize("bad", [
    {"status": 200, "raw": b'{"id": "x", "choices": [{"index": 0, "mess'},
    {"status": 200, "raw": b"<html>proxy says hi</html>"},
    {"status": 200, "body": {"id": "x", "choices": [{"index": 0, "message": None}]}},
    {"status": 200, "body": {"id": "x", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": {"not": "text"}}}]}},
])
async def test_a_malformed_200_is_retried_then_infrastructure_error(bad):
    """The endpoint's fault, like a 5xx: retried, then excluded; never agent_error (#11)."""
    with StubOpenAI([bad, text("recovered")]) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi", "###STOP###"))
    assert out.messages[2]["content"] == "recovered" and chat.calls == 2
    with StubOpenAI(responder=lambda b: bad) as stub:
        out, _, chat = await run_episode(stub, ListUser("hi"), max_retries=2)
    assert out.termination_reason == "infrastructure_error", out.error
    assert chat.calls == 3 and "gave up after 3 attempts" in out.error
