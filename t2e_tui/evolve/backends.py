"""Choosing a proposer by name (kept apart so the proposers never import each other)."""

from __future__ import annotations

from typing import Any

from ..errors import T2EError
from .openai_proposer import OpenAIProposer
from .proposer import NoopProposer, OfflineProposer


def make_proposer(spec: str, *, config: Any = None) -> Any:
    """`offline`, `noop` or `openai:MODEL` (an OpenAI-compatible endpoint from the config)."""
    if spec == "offline":
        return OfflineProposer()
    if spec == "noop":
        return NoopProposer()
    if spec.startswith("openai:") and spec[7:]:
        return OpenAIProposer(spec[7:], config=config)
    raise T2EError(f"--proposer {spec!r}: use offline or openai:MODEL")
