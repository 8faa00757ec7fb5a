"""The evidence layer: SQLite through sqlite-utils. Never imports t2e_tui or textual."""

from .db import StoreError, connect, now_iso, open_db

__all__ = ["StoreError", "connect", "now_iso", "open_db"]
