"""The gate policy: thresholds and which checks apply, from a TOML file.

Unknown keys are errors (a typo must not silently switch a veto off)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import T2EError

CHECK_NAMES = (
    "reward_improved", "pass_rate_not_worse", "action_match_not_worse",
    "read_action_match_not_worse", "write_action_match_not_worse", "no_task_regressions",
    "no_max_steps",
)
# Each check's numeric parameter and its default.
CHECK_PARAMS: dict[str, dict[str, float]] = {
    "reward_improved": {"min_delta": 0.0},
    "pass_rate_not_worse": {"tolerance": 0.0},
    "action_match_not_worse": {"tolerance": 0.0},
    "read_action_match_not_worse": {"tolerance": 0.0},
    "write_action_match_not_worse": {"tolerance": 0.0},
    "no_task_regressions": {},
    "no_max_steps": {"max_episodes": 0},
}
TESTS = ("sign", "permutation")
STATS_DEFAULTS: dict[str, Any] = {"test": "sign", "alpha": 0.05, "require_significance": True,
                                  "ci_level": 0.95, "bootstrap_resamples": 2000,
                                  "bootstrap_seed": 0}


@dataclass
class Policy:
    """Thresholds and switches of the promotion rule."""
    alpha: float = 0.05
    require_significance: bool = True
    ci_level: float = 0.95
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 0
    test: str = "sign"          # sign (seed protocol) | permutation (weighs rate changes)
    enabled: dict[str, bool] = field(default_factory=lambda: {n: True for n in CHECK_NAMES})
    params: dict[str, dict[str, float]] = field(
        default_factory=lambda: {n: dict(p) for n, p in CHECK_PARAMS.items()})
    source: str = "default"
    test_given: bool = False    # the policy file names its test (parse_policy)

    def param(self, check: str, key: str) -> float:
        return self.params[check][key]

    def loosened(self) -> list[str]:
        """How this policy is looser than the seed protocol (the packaged default): a veto
        switched off, a tolerance or allowance above its default, alpha above 0.05, the test
        not required. A policy may be stricter at will; a looser one can support a candidate,
        never promote it (the mission's rule: reward up, pass rate and action match not down,
        no 1 -> 0, no max-step failure, more than noise)."""
        out = [f"{n} off" for n in CHECK_NAMES if not self.enabled[n]]
        for n in CHECK_NAMES:
            if not self.enabled[n]:
                continue
            for key, default in CHECK_PARAMS[n].items():
                # min_delta only tightens (>= 0); tolerances and allowances loosen upwards
                if key != "min_delta" and self.params[n][key] > default:
                    out.append(f"{n} {key} {self.params[n][key]:g}")
        if self.alpha > STATS_DEFAULTS["alpha"]:
            out.append(f"alpha {self.alpha:g}")
        if not self.require_significance:
            out.append("significance not required")
        return out

    def test_for(self, registered: str | None, set_name: str | None = None
                 ) -> tuple[str, str | None]:
        """The paired test a comparison is judged by, and how choosing it loosens the rule
        (None: it does not). The test is fixed in advance: by the registered set
        (`registered`, `t2e heldout register --test`), else the packaged default. A policy
        naming another one chose it, possibly after seeing both p-values (`t2e gate --json`
        prints both): the gate applies it but supports at most."""
        fixed = registered or STATS_DEFAULTS["test"]
        chosen = self.test_given or self.test != STATS_DEFAULTS["test"]
        if not chosen or self.test == fixed:
            return fixed, None
        by = (f"set {set_name!r}'s registered" if registered and set_name else
              "the registered" if registered else "the default")
        return self.test, f"test {self.test} instead of {by} {fixed} test"

    def vetoes_off(self) -> "Policy":
        """The same policy with every check disabled (only the statistics decide)."""
        return Policy(self.alpha, self.require_significance, self.ci_level,
                      self.bootstrap_resamples, self.bootstrap_seed, self.test,
                      {n: False for n in CHECK_NAMES},
                      {n: dict(p) for n, p in self.params.items()}, self.source + " (vetoes off)",
                      self.test_given)

    def to_dict(self) -> dict:
        return {"source": self.source, "test": self.test, "test_given": self.test_given,
                "alpha": self.alpha,
                "require_significance": self.require_significance, "ci_level": self.ci_level,
                "bootstrap_resamples": self.bootstrap_resamples,
                "bootstrap_seed": self.bootstrap_seed,
                "checks": {n: {"enabled": self.enabled[n], **self.params[n]}
                           for n in CHECK_NAMES}}


def default_policy_text() -> str:
    return resources.files("t2e_tui").joinpath("data/gate_policy.toml").read_text("utf-8")


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy in `path`, or the packaged default. Raises T2EError naming the file and the
    key on any problem."""
    if path is None:
        pol = parse_policy(default_policy_text(), "default policy (t2e_tui/data/gate_policy.toml)")
        pol.test_given = False   # the default names the default: the set's test stands
        return pol
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise T2EError(f"{p}: no such policy file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise T2EError(f"{p}: cannot read the policy file ({exc})") from None
    return parse_policy(text, str(p))


def parse_policy(text: str, where: str = "<policy>") -> Policy:
    """Parse policy TOML. Missing keys take the defaults; unknown keys are errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise T2EError(f"{where}: not valid TOML ({exc})") from None
    pol = Policy(source=where)
    unknown = set(data) - {"stats", "checks"}
    if unknown:
        raise T2EError(f"{where}: unknown section(s) {sorted(unknown)} (expected [stats], "
                       f"[checks.NAME])")
    stats = data.get("stats", {})
    if not isinstance(stats, dict):
        raise T2EError(f"{where}: [stats] must be a table")
    for key, value in stats.items():
        if key not in STATS_DEFAULTS:
            raise T2EError(f"{where}: [stats] unknown key {key!r} "
                           f"(expected {', '.join(STATS_DEFAULTS)})")
        want = type(STATS_DEFAULTS[key])
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise T2EError(f"{where}: [stats] {key} must be a {want.__name__}, got {value!r}")
        setattr(pol, key, value)
    pol.test_given = "test" in stats
    if pol.test not in TESTS:
        raise T2EError(f"{where}: [stats] test must be one of {', '.join(TESTS)}, "
                       f"got {pol.test!r}")
    if not 0.0 < pol.alpha < 1.0:
        raise T2EError(f"{where}: [stats] alpha must be in (0, 1), got {pol.alpha}")
    if not 0.0 < pol.ci_level < 1.0:
        raise T2EError(f"{where}: [stats] ci_level must be in (0, 1), got {pol.ci_level}")
    if pol.bootstrap_resamples < 1:
        raise T2EError(f"{where}: [stats] bootstrap_resamples must be >= 1")
    checks = data.get("checks", {})
    if not isinstance(checks, dict):
        raise T2EError(f"{where}: [checks] must hold tables [checks.NAME]")
    for name, table in checks.items():
        if name not in CHECK_NAMES:
            raise T2EError(f"{where}: unknown check [checks.{name}] "
                           f"(expected one of {', '.join(CHECK_NAMES)})")
        if not isinstance(table, dict):
            raise T2EError(f"{where}: [checks.{name}] must be a table")
        for key, value in table.items():
            if key == "enabled":
                if not isinstance(value, bool):
                    raise T2EError(f"{where}: [checks.{name}] enabled must be true or false")
                pol.enabled[name] = value
            elif key in CHECK_PARAMS[name]:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise T2EError(f"{where}: [checks.{name}] {key} must be a number >= 0, "
                                   f"got {value!r}")
                pol.params[name][key] = float(value)
            else:
                allowed = ", ".join(["enabled", *CHECK_PARAMS[name]])
                raise T2EError(f"{where}: [checks.{name}] unknown key {key!r} "
                               f"(expected {allowed})")
    return pol
