"""How a Harbor job's trials are scored (`score`) and what its import warns (`warn`).

Harbor's own job metric (harbor/metrics/mean.py) counts a trial whose verifier gave no rewards
as 0 and names no exception type an infrastructure fault: so does `score`, for a finished trial
(result.json) with no reward that ended on its own exception; with no exception the verifier
gave nothing (disabled, or not run) and the trial stays unscored. Harbor allows any number as a reward; the gate compares rewards
in [0, 1], so one outside leaves the job's rewards all unmapped (kept as `verifier.*`
attributes), warned with the trial and value. harbor.py reads the trials; store/formats.md
says the rules.
"""

from __future__ import annotations

import os
from typing import Any

from ..ranges import reward_problem
from .common import ImportContext

REWARD_ATTR = "verifier.reward"  # the attribute the verifier's reward is stored as mapped from


def mapped(reward: float, read_from: str, **info: Any) -> dict:
    """A trial's reward_info: the verifier's reward, as mapped from verifier.reward."""
    return {"reward": reward, "reward_basis": None,
            "info": {"mapped_from": REWARD_ATTR, "read_from": read_from, **info}}


def score(ctx: ImportContext, sims: list[dict], facts: list[dict]) -> None:
    """Harbor's scoring of the job (module docstring): a reward outside [0, 1] leaves them
    all unmapped; else a finished trial without one counts 0, as Harbor's mean counts it."""
    bad = [(s, f) for s, f in zip(sims, facts) if f["reward"] is not None
           and reward_problem(f["reward"]) is not None]
    if bad:
        for s, f in zip(sims, facts):
            s["reward_info"] = None
            f["unscored"] = f["no_verifier"] = False
            f["unmapped"] = True
        s, f = bad[0]
        ctx.warn(f"{len(bad)} trial(s) have a verifier reward outside [0, 1] (trial "
                 f"{s['harbor']['trial']}: {f['reward']} in {f['reward_from']}): Harbor allows "
                 "any number, the gate compares rewards in [0, 1], so this job's rewards all "
                 "stay unmapped, kept as verifier.* attributes (`t2e gate --reward-attr "
                 "verifier.<key>` maps one whose values are all in [0, 1])")
        return
    for s, f in zip(sims, facts):
        if f["no_verifier"]:
            s["reward_info"] = mapped(0.0, f["shown"], no_verifier_result=f["exc_type"])
            f["unscored"] = False


def warn(ctx: ImportContext, facts: list[dict], agents: list[str], models: list[str],
         outside: list[str], n_mapped: int) -> None:
    """The import's warnings; `n_mapped` is how many trials' rewards were mapped (the line
    saying the reward is mapped appears only when some were)."""
    def count(key: str) -> int:
        return sum(1 for f in facts if f[key])

    if not facts:
        ctx.warn("no trial folder in this Harbor job (a folder with result.json or "
                 "config.json beside agent/ or verifier/): the run is empty")
    if len(models) > 1 or len(agents) > 1:
        ctx.warn(f"this job's trials ran {len(agents)} agent(s) ({', '.join(agents)}) and "
                 f"{len(models)} model(s) ({', '.join(models)}): Harbor scores each agent and "
                 "model apart, but a job folder is one run here, so this run's figures mix "
                 "them (`t2e show` names each trial's agent) and a gate cannot compare them "
                 "with each other; to gate them, run each agent as its own Harbor job (a job "
                 "config with one `agents` entry)")
    if n := sum(1 for f in facts if not f["trajectory"]):
        z = count("compressed")
        ctx.warn(f"{n} trial(s) have no agent/trajectory.json (the agent wrote no ATIF "
                 "trajectory): kept with their outcome and no steps"
                 + (f"; {z} of them have it compressed (agent/trajectory.json.gz, ...): "
                    "decompress it in each trial (gunzip -k FILE) and import again"
                    if z else ""))
    for t in outside:
        shown = os.fsencode(t).decode("utf-8", "backslashreplace")
        ctx.warn(f"{shown} links outside the job: skipped (only folders inside it are read)")
    if n := count("no_result"):
        ctx.warn(f"{n} trial(s) have no result.json (not finished?): their reward, if any, "
                 "was read from verifier/")
    for f in facts:
        for note in f["notes"]:
            ctx.warn(note)
    if n := count("no_verifier"):
        types = sorted({str(f["exc_type"]) for f in facts if f["no_verifier"]})
        ctx.warn(f"{n} trial(s) ended on an exception with no verifier reward "
                 f"({', '.join(types)}): reward 0, as Harbor's own mean counts them (the "
                 "exception type is the termination reason; `t2e show` gives its message)")
    if n := count("verifier_silent"):
        off = sum(1 for f in facts if f["verifier_silent"] and f["verifier_disabled"])
        why = ("the trial config disables the verifier: verifier.disable" if off == n else
               f"{off} of them have verifier.disable in their trial config; the others' "
               "verifier was not run or wrote nothing" if off else
               "the verifier was not run or wrote nothing")
        ctx.warn(f"{n} trial(s) ended on no exception and their verifier gave no reward "
                 f"({why}): they stay unscored, not counted 0 (no agent failure to count)")
    if n := sum(1 for f in facts if f["unscored"] and not f["verifier_silent"]):
        keyed = [f["keys"] for f in facts if f["unkeyed"]]
        ctx.warn(f"{n} trial(s) have no verifier reward and stay unscored ("
                 + (f"{len(keyed)} give several rewards and none named 'reward' (keys "
                    f"{', '.join(keyed[0])}): map one with `t2e gate --reward-attr "
                    f"verifier.<key>`" if keyed else "not finished: no result.json")
                 + ")")
    if not n_mapped:
        return  # (nothing mapped: each reason was said above, with its trials)
    ctx.warn("Harbor's verifier reward is the outcome (mapped from verifier.reward at the "
             "import" + (f", for {n_mapped} of {len(facts)} trial(s)"
                         if n_mapped < len(facts) else "")
             + "): foreign evidence, not re-scorable here")
