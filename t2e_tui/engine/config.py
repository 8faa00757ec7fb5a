"""The t2e config file (TOML) and how model endpoints are chosen.

Location: `t2e_tui.paths.config_path()` (env `T2E_CONFIG`); `t2e locate config` prints it.
Every section is optional; a missing file is an empty config.

    [defaults]
    endpoint = "openai"              # used by --model openai:MODEL when --endpoint is not given
                                     # (without it: the only section, else [endpoints.openai])

    [endpoints.openai]
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"   # the NAME of the variable; the key itself is never stored
    timeout = 60                     # seconds per request
    max_retries = 6                  # on 429, 5xx, timeouts and connection errors
    backoff = 1.0                    # first retry delay in seconds; doubles, capped at 30 s
    quirks = ""                      # "llama.cpp" for llama.cpp / llama-cpp-python servers
    params = { temperature = 0.0 }   # extra request parameters (temperature, seed, top_p ...)

    [endpoints.local]
    base_url = "http://127.0.0.1:8080/v1"
    api_key_env = ""                 # empty: the server needs no key
    quirks = "llama.cpp"

    [prices."gpt-4.1"]               # dollars per million tokens
    input = 2.0
    output = 8.0

    [keymap]                         # binding id -> keys, read by the TUI (App.set_keymap)
    rerun = "r"

Flags (--base-url, --api-key-env, --temperature, --param K=V ...) override the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from world.errors import shown_path

from ..errors import T2EError
from ..paths import config_path
from .secrets import remember

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
QUIRKS = ("", "llama.cpp")


class ConfigError(T2EError):
    """A config file or endpoint setting that can't be used (exit 2)."""


@dataclass(frozen=True)
class Endpoint:
    """How to reach one OpenAI-compatible server. Never holds the API key itself."""

    name: str
    base_url: str | None = None
    api_key_env: str = DEFAULT_API_KEY_ENV
    timeout: float = 60.0
    max_retries: int = 6
    backoff: float = 1.0
    backoff_cap: float = 30.0
    quirks: str = ""
    params: dict = field(default_factory=dict)

    def api_key(self) -> str:
        """The key from the environment. Raises ConfigError when the named variable is unset."""
        if not self.api_key_env:
            # openai's client insists on a non-empty key; keyless local servers ignore it
            return "no-key"
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(
                f"endpoint {self.name!r}: environment variable {self.api_key_env} is not set "
                f"(it holds the API key; use --api-key-env '' for a server without keys)")
        remember(value)  # from now on the value is redacted from every error text
        return value

    def public(self) -> dict:
        """What may be written to a manifest: everything but the key (only its variable name)."""
        return {"name": self.name, "base_url": self.base_url, "api_key_env": self.api_key_env,
                "timeout": self.timeout, "max_retries": self.max_retries,
                "backoff": self.backoff, "backoff_cap": self.backoff_cap,
                "quirks": self.quirks, "params": dict(self.params)}

    @classmethod
    def from_public(cls, d: dict) -> "Endpoint":
        return cls(name=d.get("name") or "endpoint", base_url=d.get("base_url"),
                   api_key_env=d.get("api_key_env", DEFAULT_API_KEY_ENV),
                   timeout=float(d.get("timeout", 60.0)),
                   max_retries=int(d.get("max_retries", 6)),
                   backoff=float(d.get("backoff", 1.0)),
                   backoff_cap=float(d.get("backoff_cap", 30.0)),
                   quirks=d.get("quirks") or "", params=dict(d.get("params") or {}))


@dataclass
class Config:
    """The parsed config file."""

    path: Path | None = None
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    default_endpoint: str | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)

    def price(self, model: str | None) -> tuple[float, float] | None:
        """(input, output) dollars per million tokens for `model`, or None when unknown.

        Tries the exact id, then without a provider prefix ("openai/gpt-4.1" -> "gpt-4.1")."""
        if not model:
            return None
        if model in self.prices:
            return self.prices[model]
        short = model.rsplit("/", 1)[-1]
        return self.prices.get(short)

    def cost(self, model: str | None, tokens_in: int | None, tokens_out: int | None
             ) -> float | None:
        """Dollars for one call; None when the price or the token counts are unknown."""
        p = self.price(model)
        if p is None or tokens_in is None or tokens_out is None:
            return None
        return (tokens_in * p[0] + tokens_out * p[1]) / 1_000_000

    def choose(self, name: str | None, backend: str = "openai") -> str | None:
        """Which [endpoints.NAME] section a run uses, or None when none can be chosen.

        In order: the name given (--endpoint), [defaults] endpoint, the only section when
        there is one, and the section named after the model's backend (`openai:MODEL` ->
        [endpoints.openai]), which is how the README example reads."""
        chosen = name or self.default_endpoint
        if chosen is None and len(self.endpoints) == 1:
            chosen = next(iter(self.endpoints))
        if chosen is None and backend in self.endpoints:
            chosen = backend
        return chosen

    def endpoint(self, name: str | None, *, base_url: str | None = None,
                 api_key_env: str | None = None, params: dict | None = None,
                 timeout: float | None = None, max_retries: int | None = None,
                 backoff: float | None = None, quirks: str | None = None,
                 backend: str = "openai") -> Endpoint:
        """Resolve the endpoint for a run: the section `choose` picks, then flag overrides.

        With no config section chosen, `base_url` alone makes an ad-hoc endpoint."""
        where = self.path or config_path()
        chosen = self.choose(name, backend)
        if chosen is not None and chosen not in self.endpoints:
            known = ", ".join(sorted(self.endpoints)) or "none"
            origin = "--endpoint" if name else "[defaults] endpoint"
            raise ConfigError(f"{where}: no endpoint named {chosen!r} (known: {known}); "
                              f"the name came from {origin}")
        if chosen is None:
            if not base_url:
                if self.endpoints:
                    known = ", ".join(sorted(self.endpoints))
                    raise ConfigError(
                        f"{where} has several endpoints ({known}) and none is chosen: pass "
                        f"--endpoint NAME, or add [defaults] endpoint = \"NAME\" to the file")
                raise ConfigError(
                    f"no endpoint configured: {where} has no [endpoints.NAME] section; pass "
                    f"--base-url URL, or add [endpoints.{backend}] with base_url = \"…/v1\" "
                    f"(`t2e locate config` prints the path)")
            ep = Endpoint(name="cli")
        else:
            ep = self.endpoints[chosen]
        changes: dict[str, Any] = {}
        if base_url:
            changes["base_url"] = base_url
        if api_key_env is not None:
            changes["api_key_env"] = api_key_env
        if timeout is not None:
            changes["timeout"] = float(timeout)
        if max_retries is not None:
            changes["max_retries"] = int(max_retries)
        if backoff is not None:
            changes["backoff"] = float(backoff)
        if quirks is not None:
            changes["quirks"] = _check_quirks(quirks, "--quirks")
        if params:
            changes["params"] = {**ep.params, **params}
        ep = replace(ep, **changes)
        if not ep.base_url:
            raise ConfigError(f"endpoint {ep.name!r} has no base_url")
        check_endpoint(ep, f"endpoint {ep.name!r}")
        return ep


MAX_RETRIES = 100


def check_endpoint(ep: Endpoint, at: str) -> None:
    """Refuse settings no request could use, before anything runs: a base_url that is not an
    http(s) URL, a timeout of 0 or less, negative retries or backoff, request params that
    can't be encoded as JSON (NaN temperature)."""
    import json
    import math
    from urllib.parse import urlsplit

    if ep.base_url is not None:
        try:
            u = urlsplit(ep.base_url)
            ok = u.scheme in ("http", "https") and bool(u.hostname)
            u.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:  # e.g. a port that is not a number
            ok = False
        if not ok:
            raise ConfigError(f"{at}: base_url {ep.base_url!r} is not a URL (expected "
                              "http(s)://HOST[:PORT]/v1)")
    if not (math.isfinite(ep.timeout) and ep.timeout > 0):
        raise ConfigError(f"{at}: timeout {ep.timeout}: must be a number of seconds above 0")
    if not 0 <= ep.max_retries <= MAX_RETRIES:
        raise ConfigError(f"{at}: max_retries {ep.max_retries}: must be from 0 to {MAX_RETRIES}")
    for key in ("backoff", "backoff_cap"):
        v = getattr(ep, key)
        if not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"{at}: {key} {v}: must be a number of seconds, 0 or more")
    for key, value in ep.params.items():
        try:
            json.dumps(value, allow_nan=False)
        except (ValueError, TypeError):
            raise ConfigError(f"{at}: request parameter {key} = {value!r} can't be sent "
                              "(not a finite JSON value)") from None


def _check_quirks(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or value not in QUIRKS:
        raise ConfigError(f"{where}: quirks must be one of {', '.join(repr(q) for q in QUIRKS)}")
    return value


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(f"{where}: {value} is too large") from None


def parse_config(data: dict, path: Path | None = None) -> Config:
    """Validate a parsed TOML document into a Config; errors name the file and the key."""
    where = str(path) if path else "<config>"
    cfg = Config(path=path)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    de = defaults.get("endpoint")
    if de is not None and not isinstance(de, str):
        raise ConfigError(f"{where}: defaults.endpoint must be a string")
    cfg.default_endpoint = de
    endpoints = data.get("endpoints") or {}
    if not isinstance(endpoints, dict):
        raise ConfigError(f"{where}: [endpoints] must be a table of [endpoints.NAME] tables")
    known = {"base_url", "api_key_env", "timeout", "max_retries", "backoff", "backoff_cap",
             "quirks", "params"}
    for name, sec in endpoints.items():
        at = f"{where}: [endpoints.{name}]"
        if not isinstance(sec, dict):
            raise ConfigError(f"{at} must be a table")
        unknown = set(sec) - known
        if unknown:
            raise ConfigError(f"{at}: unknown key(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(known))})")
        base_url = sec.get("base_url")
        if base_url is not None and not isinstance(base_url, str):
            raise ConfigError(f"{at}: base_url must be a string")
        key_env = sec.get("api_key_env", DEFAULT_API_KEY_ENV)
        if not isinstance(key_env, str):
            raise ConfigError(f"{at}: api_key_env must be the name of an environment variable")
        params = sec.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{at}: params must be a table")
        cfg.endpoints[name] = Endpoint(
            name=name, base_url=base_url, api_key_env=key_env,
            timeout=_num(sec.get("timeout", 60.0), f"{at} timeout"),
            max_retries=int(_num(sec.get("max_retries", 6), f"{at} max_retries")),
            backoff=_num(sec.get("backoff", 1.0), f"{at} backoff"),
            backoff_cap=_num(sec.get("backoff_cap", 30.0), f"{at} backoff_cap"),
            quirks=_check_quirks(sec.get("quirks", ""), f"{at} quirks"),
            params=dict(params))
        check_endpoint(cfg.endpoints[name], at)
    prices = data.get("prices") or {}
    if not isinstance(prices, dict):
        raise ConfigError(f"{where}: [prices] must be a table of [prices.\"MODEL\"] tables")
    for model, sec in prices.items():
        at = f"{where}: [prices.\"{model}\"]"
        if not isinstance(sec, dict) or "input" not in sec or "output" not in sec:
            raise ConfigError(f"{at} needs input and output (dollars per million tokens)")
        cfg.prices[model] = (_num(sec["input"], f"{at} input"),
                             _num(sec["output"], f"{at} output"))
        if not all(0 <= v < float("inf") for v in cfg.prices[model]):
            raise ConfigError(f"{at}: prices must be 0 or more")
    keymap = data.get("keymap") or {}
    if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
        raise ConfigError(f"{where}: [keymap] maps binding ids to key strings")
    cfg.keymap = dict(keymap)
    return cfg


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read the config file (default location when `path` is None); missing file = empty."""
    p = Path(path) if path is not None else config_path()
    if not p.exists():
        return Config(path=p)
    if p.is_dir():
        raise ConfigError(f"{shown_path(p)}: is a directory, not a config file")
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown_path(p)}: not valid UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown_path(p)}: not valid TOML ({exc})") from None
    return parse_config(data, p)
