"""A proposer backed by any OpenAI-compatible endpoint, through the engine's ChatClient (same
retries, backoff and endpoint config as runs). The reply must be one JSON object in the shipped
template's shape; anything else is a ProposalError (recorded and skipped by the loop)."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

from ..candidates import Candidate
from ..errors import T2EError
from .proposer import Motivation, Proposal, ProposalError, TraceReader


def prompt_template() -> str:
    return resources.files("t2e_tui").joinpath("data/proposer_prompt.md").read_text("utf-8")


def parse_reply(text: str, *, author: str) -> list[Proposal]:
    """The proposals in a model's reply, or ProposalError naming what was wrong."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ProposalError(f"the reply is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("proposals"), list):
        raise ProposalError("the reply has no 'proposals' list")
    out = []
    for i, p in enumerate(data["proposals"]):
        where = f"proposal {i + 1}"
        if not isinstance(p, dict):
            raise ProposalError(f"{where}: not an object")
        body, hyp = p.get("instruction"), p.get("hypothesis")
        if not isinstance(body, str) or not body.strip():
            raise ProposalError(f"{where}: 'instruction' must be a non-empty string")
        if not isinstance(hyp, str) or not hyp.strip():
            raise ProposalError(f"{where}: 'hypothesis' must be a non-empty string")
        motivations = []
        for m in p.get("motivations") or []:
            if not isinstance(m, dict) or not isinstance(m.get("rule"), str):
                raise ProposalError(f"{where}: each motivation needs a 'rule' string")
            refs = []
            for r in m.get("refs") or []:
                if not isinstance(r, dict) or not isinstance(r.get("episode_id"), int) or \
                        isinstance(r.get("episode_id"), bool):
                    raise ProposalError(f"{where}: refs need an integer 'episode_id'")
                step = r.get("step")
                refs.append({"episode_id": r["episode_id"],
                             "step": step if isinstance(step, int) else None})
            motivations.append(Motivation(rule=m["rule"], refs=refs))
        out.append(Proposal(body=body, hypothesis=" ".join(hyp.split()),
                            motivations=motivations, author=author))
    return out


class OpenAIProposer:
    name = "openai"

    def __init__(self, model: str, *, config: Any = None, endpoint: Any = None,
                 base_url: str | None = None):
        """`endpoint`: a config section name, or an Endpoint object (tests)."""
        from ..engine.config import Endpoint, load_config

        self.model = model
        self.config = config if config is not None else load_config()
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else \
            self.config.endpoint(endpoint, base_url=base_url)
        self.author = f"openai:{model}"
        self.cost_usd = 0.0
        self.shortfall: str | None = None

    def propose(self, parent: Candidate, reader: TraceReader, runs: list[str], policy: str,
                m: int) -> list[Any]:
        failures = [f for run in runs for f in reader.failures(run)]
        prompt = prompt_template().format(
            m=m, policy=policy, instruction=parent.body,
            failures=json.dumps(failures, ensure_ascii=False, indent=1))
        text, cost = asyncio.run(self._ask(prompt))
        self.cost_usd += cost
        proposals = parse_reply(text, author=self.author)
        for p in proposals:
            p.cost_usd = cost / max(1, len(proposals))
        self.shortfall = None
        if len(proposals) < m:
            read = reader.reading() if hasattr(reader, "reading") else "the failures"
            self.shortfall = f"the model proposed {len(proposals)} from {read}"
        return proposals[:m]

    async def _ask(self, prompt: str) -> tuple[str, float]:
        from ..engine.openai_backend import ChatClient

        chat = ChatClient(self.endpoint, self.model)
        try:
            resp = await chat.create([{"role": "user", "content": prompt}],
                                     params={"response_format": {"type": "json_object"}})
        except Exception as exc:  # InfrastructureError and friends: one line for the loop
            raise T2EError(f"proposer {self.author}: {exc}") from None
        finally:
            await chat.aclose()
        text = resp.choices[0].message.content or ""
        usage = getattr(resp, "usage", None)
        price = self.config.price(self.model)
        cost = 0.0
        if usage is not None and price:
            cost = ((usage.prompt_tokens or 0) * price[0]
                    + (usage.completion_tokens or 0) * price[1]) / 1e6
        return text, cost
