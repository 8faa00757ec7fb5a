"""The evidence layer: SQLite through sqlite-utils. Never imports t2e_tui or textual."""

from .db import INFRA, StoreError, connect, now_iso, open_db

__all__ = ["INFRA", "StoreError", "connect", "now_iso", "open_db"]
