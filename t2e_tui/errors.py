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
