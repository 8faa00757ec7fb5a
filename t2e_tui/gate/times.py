"""Timestamps as the gate compares them (views, saves, registrations, run creation)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_time(text: str | None) -> datetime | None:
    """ISO-8601 to an aware UTC datetime (naive times are taken as UTC); None if unparseable."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
