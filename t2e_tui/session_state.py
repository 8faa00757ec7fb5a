"""What the app remembers between sessions (core: no textual).

One JSON file in the XDG state dir (`paths.state_file()`): the theme, and per store (keyed by
the store file's resolved path) the last baseline/candidate marks and the last screen. The
file is a convenience, never evidence: a missing, unreadable or malformed file reads as empty,
a failed write is dropped, and a remembered run that is no longer in the store is ignored by
the caller. Writes go to a temporary file renamed over the old one, so a crash never leaves
half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .paths import state_file

VERSION = 1
SCREENS = ("runs", "tasks", "compare")


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == VERSION else {}


def _write(path: Path, data: dict) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
        return True
    except OSError:
        return False


def store_key(store_path: str | os.PathLike) -> str:
    return str(Path(store_path).expanduser().resolve())


def load(path: Path | None = None) -> dict:
    """The whole state (`{"version", "theme", "stores": {key: {...}}}`), or an empty one."""
    data = _read(path or state_file())
    if not isinstance(data.get("stores"), dict):
        data["stores"] = {}
    data["version"] = VERSION
    return data


def for_store(store_path: str | os.PathLike, path: Path | None = None) -> dict:
    """What is remembered for one store: `baseline`, `candidate` (run ids or None) and
    `screen` (a list: ["runs"], ["tasks", baseline, candidate] or ["compare", ep_a, ep_b])."""
    entry = load(path)["stores"].get(store_key(store_path))
    return entry if isinstance(entry, dict) else {}


def remember(store_path: str | os.PathLike | None = None, *, path: Path | None = None,
             **fields: Any) -> bool:
    """Update the state: `theme=` is global; other fields go to the store's entry."""
    path = path or state_file()
    data = load(path)
    if "theme" in fields:
        data["theme"] = fields.pop("theme")
    if fields and store_path is not None:
        entry = data["stores"].setdefault(store_key(store_path), {})
        entry.update(fields)
    return _write(path, data)


def theme(path: Path | None = None) -> str | None:
    value = load(path).get("theme")
    return value if isinstance(value, str) else None


def forget_store(store_path: str | os.PathLike, path: Path | None = None) -> None:
    """Drop a store's entry (a rebuilt demo store starts afresh)."""
    path = path or state_file()
    data = load(path)
    if data["stores"].pop(store_key(store_path), None) is not None:
        _write(path, data)
