"""Which grader scored a run: the tau2 version/commit recorded in an imported file's `info`.

Rewards from different tau2 graders are not comparable when the grader changed in between
(tau2 1.0.1 regraded banking_knowledge, for instance), nor when one file was graded with an
`*_IGNORE_BASIS` evaluation type (every component multiplied in, whatever the task's
reward_basis says). The importer stores the identity under `runs.info_json._t2e.grader`; the
gate compares two identities with `compatible`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

# keys tau2 (or a wrapper around it) may use for a version string in `info`
_VERSION_KEYS = ("tau2_version", "version", "grader_version")


def from_info(info: dict | None) -> dict:
    """The grader identity of a tau2 results file: {tool, version, commit, evaluation_type}
    (None where the file does not say)."""
    info = info if isinstance(info, dict) else {}
    version = next((info[k] for k in _VERSION_KEYS if isinstance(info.get(k), str)), None)
    commit = info.get("git_commit") if isinstance(info.get("git_commit"), str) else None
    etype = info.get("evaluation_type")
    return {"tool": "tau2", "version": version, "commit": commit or None,
            "evaluation_type": etype if isinstance(etype, str) else None}


def ignores_basis(reward_info: Any) -> bool:
    """True when a recorded reward multiplies in components outside its reward_basis (what
    tau2's ALL_IGNORE_BASIS / ALL_WITH_NL_ASSERTIONS_IGNORE_BASIS evaluation types do)."""
    if not isinstance(reward_info, dict):
        return False
    basis = reward_info.get("reward_basis")
    breakdown = reward_info.get("reward_breakdown")
    reward = reward_info.get("reward")
    if not (isinstance(basis, list) and isinstance(breakdown, dict)
            and isinstance(reward, (int, float))):
        return False
    values = {k: v for k, v in breakdown.items() if isinstance(v, (int, float))}
    if not set(values) - set(basis):
        return False

    def product(keys) -> float:
        p = 1.0
        for k in keys:
            p *= values[k]
        return p
    on_basis = product(k for k in values if k in basis)
    on_all = product(values)
    return abs(on_all - on_basis) > 1e-6 and abs(reward - on_all) <= 1e-6


def of_run(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """A run's grader identity; None for runs t2e graded itself (the engine's scorer)."""
    row = conn.execute("SELECT grading, info_json FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    if row is None or row[0] != "recorded":
        return None
    info = json.loads(row[1]) if row[1] else {}
    meta = info.get("_t2e") if isinstance(info.get("_t2e"), dict) else {}
    grader = meta.get("grader") if isinstance(meta.get("grader"), dict) else from_info(info)
    grader = dict(grader)
    if grader.get("evaluation_type") is None:
        n = 0
        for (ri,) in conn.execute("SELECT reward_info_json FROM episodes WHERE run_id = ? AND "
                                  "reward_breakdown_json IS NOT NULL", (run_id,)):
            if ri and ignores_basis(json.loads(ri)):
                n += 1
        if n:
            grader["evaluation_type"] = "ignore_basis (inferred)"
    return grader


def describe(g: dict | None) -> str:
    """One line naming a grader."""
    if g is None:
        return "t2e's own scorer"
    parts = [g.get("tool") or "tau2"]
    if g.get("version"):
        parts.append(str(g["version"]))
    if g.get("commit"):
        parts.append(f"commit {str(g['commit'])[:12]}")
    if not g.get("version") and not g.get("commit"):
        parts.append("(version not recorded)")
    if g.get("evaluation_type"):
        parts.append(f"evaluation {g['evaluation_type']}")
    return " ".join(parts)


def mismatch(a: dict | None, b: dict | None) -> str | None:
    """Why two recorded graders are not comparable, or None when they are (or when either
    run was graded by t2e itself: the gate's world check covers those)."""
    if a is None or b is None:
        return None
    basis = lambda g: "ignore" in str(g.get("evaluation_type") or "")  # noqa: E731
    if basis(a) != basis(b):
        return (f"one run was graded ignoring the tasks' reward_basis and the other was not "
                f"({describe(a)} vs {describe(b)})")
    if a.get("version") and b.get("version"):
        if a["version"] != b["version"]:
            return f"graded by different tau2 versions ({describe(a)} vs {describe(b)})"
        return None
    if a.get("commit") and b.get("commit") and a["commit"] != b["commit"]:
        return f"graded by different tau2 commits ({describe(a)} vs {describe(b)})"
    return None


def unverified(a: dict | None, b: dict | None) -> str | None:
    """Why two recorded graders cannot be checked equal, or None when they can (or when
    neither records its version or commit, or either run was graded by t2e itself: nothing
    to check). One records a version or commit and the other neither (a field deleted from a
    file), or one only a version and the other only a commit: the rewards may come from
    different graders, which `mismatch` cannot tell. Known different graders are `mismatch`'s
    to say (this says nothing then)."""
    if a is None or b is None or mismatch(a, b):
        return None
    known = lambda g: bool(g.get("version") or g.get("commit"))  # noqa: E731
    if not known(a) and not known(b):
        return None
    if (a.get("version") and b.get("version")) or (a.get("commit") and b.get("commit")):
        return None
    return f"{describe(a)} vs {describe(b)}"


def rescorable(domain: str | None) -> bool:
    """True when `t2e score` can re-grade runs of `domain` (world.rescore's domains)."""
    from world.rescore import rescore_domain

    return rescore_domain(domain) is not None


# What a list of runs says of a run t2e cannot re-score, longest first (the runs screen fits
# it to the width; `t2e runs` notes it under its table). The words of issue #17, "not
# re-scorable here", stay in every form; why comes after them.
NOT_RESCORABLE = "not re-scorable here"
_WHY = {"recorded": "recorded rewards as given",
        "foreign": "no gold: `t2e gate --reward-attr NAME` maps an outcome"}


def foreign_runs(conn: sqlite3.Connection) -> frozenset[str]:
    """The ids of the runs imported without gold (OpenTelemetry, ATIF: grading 'foreign')."""
    return frozenset(r for (r,) in conn.execute(
        "SELECT run_id FROM runs WHERE grading = 'foreign'"))


def rescore_caveat(domain: str | None, *, imported: bool, foreign: bool,
                   rewarded: bool = True) -> tuple[str, ...] | None:
    """The words for a run whose rewards t2e cannot re-score, longest first, else None: an
    imported run of a domain `t2e score` does not grade (telecom, banking_knowledge, voice:
    its recorded rewards are shown as given) or a foreign trace (no gold at all, which its
    shortest form says: the reason it cannot be re-scored). A run of t2e's own engine is
    graded by t2e and needs no caveat. `rewarded`: whether any episode has a reward (a
    Harbor job left unmapped has none: its words are any foreign trace's)."""
    if foreign and domain == "harbor" and rewarded:  # (its rewards: Harbor's verifier's)
        return f"{NOT_RESCORABLE} (no gold: Harbor's verifier reward as given)", \
            NOT_RESCORABLE, "no gold"
    if foreign:
        return f"{NOT_RESCORABLE} ({_WHY['foreign']})", NOT_RESCORABLE, "no gold"
    if not imported or rescorable(domain):
        return None
    return f"{NOT_RESCORABLE} ({_WHY['recorded']})", NOT_RESCORABLE
