"""Keeping API keys out of everything t2e stores, logs or prints.

A server may reflect the request's `Authorization: Bearer sk-…` header in an error body (seen
with proxies answering 401). Error texts travel: into `episodes.extra_json`, both exports, the
CLI's output. `redact` removes the key values t2e has read this process (registered by
`Endpoint.api_key`) and anything shaped like a bearer token or an `sk-` key, so the engine
applies it to every error text before it leaves the backend and again before it is stored.
"""

from __future__ import annotations

import re
import threading

REDACTED = "[redacted]"
_MIN_KEY = 8  # a shorter "key" would redact ordinary words; such keys are not secrets anyway

_known: set[str] = set()
_lock = threading.Lock()
_SHAPES = re.compile(
    r"(?i)\b(bearer|basic)(\s+|%20)[A-Za-z0-9._~+/=:-]{6,}"   # an Authorization header value
    r"|\bsk-[A-Za-z0-9_-]{6,}"                               # OpenAI-style keys (sk-, sk-proj-)
    r"|(?i:(\"?(?:api[_-]?key|x-api-key|authorization)\"?\s*[:=]\s*\"?)"
    r"(?:(?:bearer|basic)\s+)?)[^\s\",}]{6,}")


def remember(value: str | None) -> None:
    """Register a secret value read from the environment, so it is redacted wherever it shows."""
    if value and len(value) >= _MIN_KEY:
        with _lock:
            _known.add(value)


def redact(text: str | None) -> str | None:
    """`text` without known key values, bearer tokens, `sk-` keys or `api_key=` values."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    return _SHAPES.sub(_shape, text)


def _shape(m: re.Match) -> str:
    if m.group(1):  # keep the scheme word: "Bearer [redacted]" still says what was there
        return f"{m.group(1)} {REDACTED}"
    if m.group(3):
        return f"{m.group(3)}{REDACTED}"
    return REDACTED
