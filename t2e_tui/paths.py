"""Where things live: the default store, the config file, the demo store, candidates."""

from __future__ import annotations

import os
from pathlib import Path

APP = "t2e"


def _dir(kind: str) -> Path:
    """t2e's folder of a platformdirs kind, imported on use: `t2e --store S ...` (every
    command a script or test runs) never asks, and platformdirs' import is ~10% of the CLI's."""
    import platformdirs

    return Path(getattr(platformdirs, kind)(APP))


def default_store() -> Path:
    """`$T2E_STORE`, else `<user data dir>/t2e/store.sqlite`."""
    env = os.environ.get("T2E_STORE")
    if env:
        return Path(env)
    return _dir("user_data_dir") / "store.sqlite"


def demo_store() -> Path:
    return _dir("user_data_dir") / "demo.sqlite"


def config_path() -> Path:
    """`$T2E_CONFIG`, else `<user config dir>/t2e/config.toml`."""
    env = os.environ.get("T2E_CONFIG")
    if env:
        return Path(env)
    return _dir("user_config_dir") / "config.toml"


def candidates_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--candidates DIR`, else `./candidates`."""
    return Path(explicit) if explicit else Path.cwd() / "candidates"


def state_file() -> Path:
    """`<user state dir>/t2e/state.json` (`$XDG_STATE_HOME` on Linux): what the app remembers
    between sessions (theme; per store: marks and last screen)."""
    return _dir("user_state_dir") / "state.json"
