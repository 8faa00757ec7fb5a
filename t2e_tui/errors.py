"""Errors that become exit codes. The core layers raise their own errors; the CLI maps them."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DISCARD = 1          # gate: discard; world verify: changed
EXIT_BAD_INPUT = 2
EXIT_INCONCLUSIVE = 3     # gate: inconclusive
EXIT_INTERNAL = 70


class T2EError(Exception):
    """An error a user can act on. Printed in one line; exits with `exit_code` (2 by default)."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.exit_code = exit_code


def error_text(exc: BaseException) -> str:
    """What a screen says about a failure: the message alone for an error a user can act on
    (T2EError, StoreError, WorldError: the ones the CLI prints as one line), the class name
    before it for anything else (a fault of ours, whose kind helps a report); secrets
    redacted either way. A path is named by world.errors.shown_path (control characters
    escaped, never stripped)."""
    from store import StoreError
    from world.errors import WorldError, shown_path

    from .engine.secrets import redact

    text = str(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        # the path as every message names it (world.errors.shown_path), not repr's quotes
        text = f"{shown_path(exc.filename)}: {exc.strerror}"
    if not isinstance(exc, (T2EError, StoreError, WorldError)):
        text = f"{type(exc).__name__}: {text}"
    return redact(text) or ""
