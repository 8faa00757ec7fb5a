"""Engine benchmarks (figures for the report; not a test).

1. Harness overhead: the scripted agent and the scripted user on mini-retail, streamed into a
   fresh store, one event loop. Target: >= 100 episodes/s.
2. Concurrency: a stub OpenAI-compatible server in ANOTHER process answering every request in
   100 ms; realistic agent requests (the domain policy in the system prompt, ~20 messages,
   16 tools) sent through the engine's openai backend (`OpenAIAgent.respond`). Target: the
   throughput at concurrency 32 >= 10x the throughput at concurrency 1.

    .venv/bin/python bench/engine.py [--episodes-trials 2] [--requests 640] [--skip-harness]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bench_harness(trials: int, concurrency: int) -> None:
    from t2e_tui.engine.engine import execute_run
    from t2e_tui.engine.plan import plan_run

    try:
        import t2e_tui.engine.scripted_agent  # noqa: F401
    except ImportError as exc:
        print(f"harness: skipped (scripted agent not available: {exc})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["T2E_CONFIG"] = str(Path(tmp) / "none.toml")
        plan = plan_run(domain="mini-retail", tasks="all", trials=trials,
                        concurrency=concurrency, model="scripted", grade="db-communicate",
                        candidate=str(REPO / "candidates" / "baseline.md"))
        store = str(Path(tmp) / "bench.sqlite")
        t0 = time.perf_counter()
        summary = execute_run(plan, store)
        elapsed = time.perf_counter() - t0
        import sqlite3
        steps = sqlite3.connect(store).execute("SELECT count(*) FROM steps").fetchone()[0]
    n = summary.episodes
    print(f"harness: {n} episodes, {steps} steps in {elapsed:.2f} s -> "
          f"{n / elapsed:.0f} episodes/s, {steps / elapsed:.0f} steps/s "
          f"(scripted agent+user, mini-retail, store writes included, concurrency "
          f"{concurrency}); target >= 100 episodes/s")


def realistic_messages(domain, n: int = 20) -> list[dict]:
    """~n tau2 messages of a plausible retail conversation (user, tool calls, tool results)."""
    rng = random.Random(0)
    env = domain.new_env()
    user_ids = list(domain.base_db.to_dict()["users"])[:5] if hasattr(domain.base_db, "to_dict") \
        else []
    msgs = [{"role": "assistant", "content": "Hi! How can I help you today?"}]
    k = 0
    while len(msgs) < n:
        msgs.append({"role": "user", "content": "I'd like to check on my recent orders and maybe "
                                                "exchange the lamp I received last week."})
        uid = user_ids[k % len(user_ids)] if user_ids else "user_1"
        call_id = f"call_{k}"
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "name": "get_user_details", "arguments": {"user_id": uid},
             "requestor": "assistant"}]})
        res = env.call("get_user_details", {"user_id": uid})
        msgs.append({"role": "tool", "id": call_id, "content": res.content,
                     "requestor": "assistant", "error": res.error})
        msgs.append({"role": "assistant", "content": "I found your account. Which order do you "
                                                     f"mean? (ref {rng.randint(0, 999)})"})
        k += 1
    return msgs[:n]


def start_stub(delay: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "stub_openai.py"),
                             "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"stub server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}/v1"


async def _throughput(base_url: str, concurrency: int, n_requests: int, system: str,
                      messages: list[dict], tools: list[dict], keepalive: int | None = None
                      ) -> float:
    from t2e_tui.engine.config import Endpoint
    from t2e_tui.engine.openai_backend import ChatClient, OpenAIAgent

    chat = ChatClient(Endpoint(name="bench", base_url=base_url, api_key_env="",
                               timeout=30, max_retries=0), "bench-model")
    if keepalive is not None:  # the pool-limits experiment: keep every connection alive
        import httpx
        import openai

        chat._client = openai.AsyncOpenAI(
            base_url=base_url, api_key="bench", max_retries=0, timeout=30,
            http_client=openai.DefaultAsyncHttpxClient(limits=httpx.Limits(
                max_connections=max(1000, keepalive), max_keepalive_connections=keepalive)))
    agent = OpenAIAgent(chat)
    rng = random.Random(0)
    await agent.respond(system, messages, tools, rng, seed=1)  # warm the pool
    remaining = n_requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await agent.respond(system, messages, tools, rng, seed=1)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await chat.aclose()
    return n_requests / elapsed


def bench_concurrency(n_requests: int, delay: float) -> None:
    from t2e_tui.engine.plan import system_prompt
    from world.domains import load_domain

    domain = load_domain("mini-retail")
    tau2 = REPO.parent / "shared" / "tau2" / "retail"
    if (tau2 / "db.json").exists():
        domain = load_domain("tau2-retail", str(tau2))
    baseline = (REPO / "candidates" / "baseline.md").read_text().split("---")[-1].strip()
    system = system_prompt(domain.agent_preamble, domain.policy, baseline)
    tools = domain.tool_schemas()
    messages = realistic_messages(domain, 20)
    import json
    size = len(json.dumps({"messages": messages, "tools": tools, "system": system}))
    proc, url = start_stub(delay)
    try:
        one = asyncio.run(_throughput(url, 1, max(20, n_requests // 32), system, messages,
                                      tools))
        many = asyncio.run(_throughput(url, 32, n_requests, system, messages, tools))
    finally:
        proc.terminate()
        proc.wait()
    print(f"concurrency: {domain.name} policy, {len(messages)} messages, {len(tools)} tools, "
          f"~{size // 1024} KiB per request, stub answers in {delay * 1000:.0f} ms "
          f"(separate process)")
    print(f"  concurrency 1:  {one:.1f} requests/s")
    print(f"  concurrency 32: {many:.1f} requests/s -> {many / one:.1f}x (target >= 10x)")


def bench_ceiling(n_requests: int, delay: float, concurrency: int = 128) -> None:
    """The engine's one-core ceiling: concurrency 128 against a `delay` endpoint, with the
    openai client's default pool (100 keep-alive connections) and with every connection kept
    alive. Prints requests/s and CPU-s per 1,000 requests for both."""
    messages = [{"role": "user", "content": "hello"}]
    proc, url = start_stub(delay)
    try:
        for label, keep in (("default pool (keep-alive 100)", None),
                            (f"keep-alive {concurrency * 2}", concurrency * 2)):
            c0 = time.process_time()
            rate = asyncio.run(_throughput(url, concurrency, n_requests, "be brief", messages,
                                           [], keepalive=keep))
            cpu = time.process_time() - c0
            print(f"  concurrency {concurrency}, {label}: {rate:.0f} requests/s, "
                  f"{cpu / n_requests * 1000:.2f} CPU-s per 1,000 requests")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=2, help="harness: trials per mini-retail task")
    ap.add_argument("--harness-concurrency", type=int, default=1)
    ap.add_argument("--requests", type=int, default=640, help="requests at concurrency 32")
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--skip-harness", action="store_true")
    ap.add_argument("--skip-concurrency", action="store_true")
    ap.add_argument("--ceiling", action="store_true",
                    help="only the concurrency-128 ceiling, default vs tuned pool limits")
    args = ap.parse_args()
    if args.ceiling:
        bench_ceiling(max(args.requests, 2560), args.delay)
        return
    if not args.skip_harness:
        bench_harness(args.trials, args.harness_concurrency)
    if not args.skip_concurrency:
        bench_concurrency(args.requests, args.delay)


if __name__ == "__main__":
    main()
