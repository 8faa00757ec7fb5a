"""Where things live: the default store, the config file, the demo store, candidates."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "t2e"


def default_store() -> Path:
    """`$T2E_STORE`, else `<user data dir>/t2e/store.sqlite`."""
    env = os.environ.get("T2E_STORE")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir(APP)) / "store.sqlite"


def demo_store() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "demo.sqlite"


def config_path() -> Path:
    """`$T2E_CONFIG`, else `<user config dir>/t2e/config.toml`."""
    env = os.environ.get("T2E_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def candidates_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--candidates DIR`, else `./candidates`."""
    return Path(explicit) if explicit else Path.cwd() / "candidates"


def state_file() -> Path:
    """`<user state dir>/t2e/state.json` (`$XDG_STATE_HOME` on Linux): what the app remembers
    between sessions (theme; per store: marks and last screen)."""
    return Path(platformdirs.user_state_dir(APP)) / "state.json"
