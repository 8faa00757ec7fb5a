"""Harbor output folders: a job (one run) or a trial (one run of one episode).

Each trial is an episode: its messages are its ATIF trajectory's (`agent/trajectory.json`,
read by atif.py, subagents folded in as there), its task is the trial's task name
(`result.json` `task_name`, else the config's task name or path, else the trajectory's
`extra.task_id`, else the trial folder's name without Harbor's `__<id>` suffix; a task's
trials are numbered in name order), and its reward is the verifier's: `result.json`
`verifier_result.rewards.reward` (else the only key of `rewards`; else `verifier/reward.txt`,
`verifier/reward.json`). That reward is foreign evidence: the run is graded 'foreign' (t2e has
no gold to re-score it with), and it is stored as mapped from attribute `verifier.reward` at
the import, so two jobs gate as they are; every key of `rewards` is an attribute
`verifier.<key>` `--reward-attr` can map instead. A finished trial (result.json) with no
verifier reward that ended on its own exception (the agent raised, timed out) counts 0, as
Harbor's own mean counts it (harbor/metrics/mean.py: a trial without rewards is 0; Harbor
names no exception type an infrastructure fault, so neither does t2e); its
`exception_info.exception_type` is its termination reason. One with no exception and no
reward (its verifier disabled, or not run) stays unscored: the verifier gave nothing. A trial
without result.json (not finished) stays unscored: Harbor drops it on resume. Harbor allows any number as a reward; when one is outside [0, 1] (the gate compares
rewards in [0, 1]) the job's rewards all stay unmapped, kept as `verifier.*` attributes, and
warned with the trial and value. The job's `config.json` `job_name` names the run (else the
folder). Errors name the file (relative to the folder imported) and the field.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from ..messages import short_json
from .atif import trajectory_sims, write_sims
from .common import (
    LOOPS,
    MISSING,
    ImportContext,
    ImportFailure,
    RunMeta,
    inside,
    not_a_file,
    open_regular,
)
from .harbor_layout import (
    REWARD_JSON,
    REWARD_TXT,
    TRAJECTORY,
    harbor_kind,
    linked_out,
    read_paths,
    trial_folders,
)
from .harbor_score import mapped, score, warn
from .jsonstream import JsonStreamError, describe_json_error
from .jsonstream import loads as strict_loads

FORMAT = "harbor"
_SUFFIX = re.compile(r"__[A-Za-z0-9]{4,}\Z")  # Harbor's trial name: <task>__<short uuid>


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null",
            float: "a number", int: "a number", str: "text"}.get(type(v), type(v).__name__)


def _found(v: Any) -> str:
    """What a field held, for a refusal: "null", "text \"1.0\"", "a list [1]"."""
    return "null" if v is None else f"{_kind(v)} {short_json(v)}"


def read_json(path: Path, shown: str) -> Any:
    """A JSON file with the store's limits (NaN, 64-bit integers, nesting), errors naming it."""
    try:
        with open_regular(path, shown) as fh:
            raw = fh.read()
        return strict_loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from None
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(exc.doc.rstrip())
        raise ImportFailure(f"{shown}: " + describe_json_error(
            exc.msg, f"character {exc.pos} (line {exc.lineno})", cut)) from None
    except JsonStreamError as exc:
        raise ImportFailure(f"{shown}: {exc}") from None


def _object(path: Path, shown: str) -> dict | None:
    """A JSON object file (None when absent)."""
    if not path.exists():
        return None
    value = read_json(path, shown)
    if not isinstance(value, dict):
        raise ImportFailure(f"{shown}: expected an object, found {_kind(value)}")
    return value


def _field(d: dict, dotted: str, kind: type | tuple, shown: str) -> Any:
    """d's field at a dotted path, None when absent or null; another type is refused, named."""
    v: Any = d
    for part in dotted.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    if v is not None and not isinstance(v, kind):
        what = {dict: "an object", str: "text", list: "a list"}.get(kind, "a number") \
            if isinstance(kind, type) else "text or an integer"
        raise ImportFailure(f"{shown}: field {dotted} should be {what}, found {_found(v)}")
    return v


def _reward(value: Any, where: str) -> float:
    """A verifier reward: any finite number (Harbor's `rewards` are `float | int`); one
    outside [0, 1] leaves the job unmapped (import_file), it is not refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ImportFailure(f"{where} should be a number, found {_found(value)}")
    if not math.isfinite(value):
        raise ImportFailure(f"{where} should be a finite number, found {value}")
    return float(value)


def _verifier(trial: Path, pre: str, result: dict | None) -> tuple[float | None, dict, str]:
    """(reward, every reward by key, where it was read) of a trial's verifier."""
    shown = f"{pre}result.json"
    if result:
        _field(result, "verifier_result", dict, shown)  # (a list or a number: refused, named)
    rewards = _field(result, "verifier_result.rewards", dict, shown) if result else None
    if rewards is None and (trial / REWARD_TXT).exists():
        txt_shown = f"{pre}{REWARD_TXT.as_posix()}"
        with open_regular(trial / REWARD_TXT, txt_shown) as fh:
            text = fh.read(256).decode("utf-8", "replace").strip()
        try:
            value = float(text)
        except ValueError:
            raise ImportFailure(f"{txt_shown}: should hold a number, found "
                                f"{short_json(text)}") from None
        return _reward(value, f"{txt_shown}: the reward"), {"reward": value}, txt_shown
    if rewards is None and (trial / REWARD_JSON).exists():
        shown = f"{pre}{REWARD_JSON.as_posix()}"
        rewards = _object(trial / REWARD_JSON, shown)
        where = ""
    else:
        where = "verifier_result.rewards."
    if not rewards:
        return None, {}, ""
    key = "reward" if "reward" in rewards else next(iter(rewards)) if len(rewards) == 1 \
        else None
    for k, v in rewards.items():  # every one a number: they are attributes to map
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ImportFailure(f"{shown}: field {where}{k} should be a number, found "
                                f"{_found(v)}")
    if key is None:
        return None, rewards, shown
    return _reward(rewards[key], f"{shown}: field {where}{key}"), rewards, shown


def _task(trial: Path, result: dict | None, config: dict | None, traj: dict | None,
          pre: str) -> str:
    """The trial's task name (module docstring), refused named when of another type."""
    if result is not None:
        name = _field(result, "task_name", (str, int), f"{pre}result.json")
        if name is not None and name != "":
            return str(name)
    for c, shown in ((config, f"{pre}config.json"),
                     ((result or {}).get("config"), f"{pre}result.json config")):
        if isinstance(c, dict):
            name = _field(c, "task.name", str, shown) or _field(c, "task.path", str, shown)
            if name:
                return name.rstrip("/").rsplit("/", 1)[-1]
    if traj is not None and traj.get("task_id") != traj.get("id"):
        return traj["task_id"]  # (the trajectory's extra.task_id)
    return _SUFFIX.sub("", trial.name)


def trial_sim(trial: Path, pre: str) -> tuple[dict, dict]:
    """One trial folder -> (its episode as a simulation, what the run learns from it: agent,
    reward source, whether it had a trajectory)."""
    result = _object(trial / "result.json", f"{pre}result.json")
    config = _object(trial / "config.json", f"{pre}config.json")
    traj_shown = f"{pre}{TRAJECTORY.as_posix()}"
    sim = None
    if (trial / TRAJECTORY).exists():
        doc = read_json(trial / TRAJECTORY, traj_shown)
        if isinstance(doc, list):
            raise ImportFailure(f"{traj_shown}: expected one trajectory object, found a list")
        (sim,) = trajectory_sims(doc, traj_shown)
    reward, rewards, reward_from = _verifier(trial, pre, result)
    task = _task(trial, result, config, sim, pre)
    name = _field(result, "trial_name", (str, int), f"{pre}result.json") if result else None
    block = sim["atif"] if sim else {"attributes": {}}
    block["attributes"].update({f"verifier.{k}": v for k, v in rewards.items()})
    exc = _field(result, "exception_info", dict, f"{pre}result.json") if result else None
    out = sim or {"messages": [], "start_time": None, "end_time": None}
    out.update({
        "id": str(name or trial.name), "task_id": task, "trial": None,
        "termination_reason": (str(exc.get("exception_type")) if exc
                               and exc.get("exception_type") else out.get("termination_reason")),
        "reward_info": None if reward is None else mapped(reward, reward_from),
        "atif": block,
        "harbor": {"trial": trial.name, "result": result, "config": config,
                   "trajectory": sim is not None},
    })
    cost = _d((result or {}).get("agent_result")).get("cost_usd")
    if out.get("agent_cost") is None and type(cost) in (int, float) and math.isfinite(cost):
        out["agent_cost"] = cost  # (Harbor's agent_result cost: the episode's agent cost)
    notes = []
    for key, field in (("start_time", "started_at"), ("end_time", "finished_at")):
        v = _field(result, field, str, f"{pre}result.json") if result else None
        if v and _iso_time(v):
            out[key] = v
        elif v:
            out[key] = None
            notes.append(f"{pre}result.json: {field} {short_json(v)} is no ISO 8601 time: "
                         "left out")
    agent = _d((result or {}).get("agent_info"))
    agent_config = _d((config or {}).get("agent")) or _d(_d(_d(result).get("config")).get(
        "agent"))
    model_name = _model(agent_config, _d(agent.get("model_info")),
                        _d(sim["atif"].get("agent")) if sim else {})
    agent_name = agent.get("name") or agent_config.get("name")
    out["harbor"].update({"agent": agent_name if isinstance(agent_name, str) else None,
                          "model": model_name})
    facts = {"agent": agent_name if isinstance(agent_name, str) else None,
             "model": model_name,
             "trajectory": sim is not None, "unscored": reward is None,
             "compressed": sim is None and any(
                 (trial / TRAJECTORY).with_name(TRAJECTORY.name + z).exists()
                 for z in (".gz", ".zst", ".bz2", ".xz")),
             "no_result": result is None, "exception": bool(exc),
             "unkeyed": reward is None and len(rewards) > 1, "keys": sorted(rewards),
             "reward": reward, "reward_from": reward_from, "notes": notes,
             "exc_type": out["termination_reason"] if exc else None,
             # finished on its own exception with no reward at all: Harbor's mean counts
             # it 0 (harbor_score.score); with no exception the verifier gave nothing
             # (disabled, or not run): unscored
             "no_verifier": result is not None and reward is None and not rewards
             and bool(exc),
             "verifier_silent": result is not None and reward is None and not rewards
             and not exc,
             "verifier_disabled": _disabled(config, result),
             "shown": pre + "result.json"}
    return out, facts


def _model(agent_config: dict, model_info: dict, atif_agent: dict) -> str | None:
    """The trial's model, one spelling whether it finished or not: the trial config's
    `agent.model_name` (Harbor's `provider/model`, there from the start), else result.json's
    `model_info` as `provider/name`, else the trajectory's `agent.model_name`."""
    name = agent_config.get("model_name")
    if isinstance(name, str) and name:
        return name
    name, provider = model_info.get("name"), model_info.get("provider")
    if isinstance(name, str) and name:
        return f"{provider}/{name}" if isinstance(provider, str) and provider \
            and "/" not in name else name
    name = atif_agent.get("model_name")
    return name if isinstance(name, str) and name else None


def _disabled(config: dict | None, result: dict | None) -> bool:
    """Whether the trial's config (config.json, else result.json's copy) disables its
    verifier (`verifier.disable: true`)."""
    for c in (config, _d(result).get("config")):
        if isinstance(c, dict) and _d(c.get("verifier")).get("disable") is True:
            return True
    return False


def _iso_time(v: str) -> bool:
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _folder_name(trial: Path) -> None:
    """A trial folder whose name is not UTF-8 is refused, named with its bytes escaped (the
    store keeps text; the name is the trial's id when result.json gives none)."""
    try:
        trial.name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(trial.name).decode("utf-8", "backslashreplace")
        raise ImportFailure(f"{shown}: a trial folder whose name is not UTF-8 text; rename "
                            "it (t2e keeps names as text)") from None


def _check_links(root: Path) -> None:
    """Only files inside the folder are read: a file the import would read that is a link out
    of it, or a link to nothing, is refused, named (relative to the folder)."""
    for f in read_paths(root):
        if not f.is_symlink():
            continue
        shown = f.relative_to(root).as_posix()
        why = not_a_file(f)
        if why == LOOPS or (why and why != MISSING and not f.exists()):
            raise ImportFailure(f"{shown} {why}")
        if not inside(root, f):
            raise ImportFailure(f"{shown} links outside the folder; only files inside it are "
                                "read")


def import_file(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """Import a Harbor job folder (one run, an episode per trial) or a trial folder (one run
    of one episode)."""
    ctx.fmt = FORMAT
    ctx.grading = "foreign"  # (before the run is made: provenance reads it)
    root = ctx.path
    kind = harbor_kind(root)
    _check_links(root)
    job_config = _object(root / "config.json", "config.json") if kind == "job" else None
    job_result = _object(root / "result.json", "result.json") if kind == "job" else None
    trials = trial_folders(root) if kind == "job" else [root]
    if ctx.name_from_file and job_config is not None:
        job_name = _field(job_config, "job_name", str, "config.json")
        if job_name:
            ctx.name = job_name
    sims, facts = [], []
    for t in trials:
        _folder_name(t)
        sim, f = trial_sim(t, f"{t.name}/" if kind == "job" else "")
        sims.append(sim)
        facts.append(f)
    score(ctx, sims, facts)
    models = sorted({f["model"] for f in facts if f["model"]})
    agents = sorted({str(f["agent"]) for f in facts if f["agent"]})
    top = {"domain": "harbor", "harbor": {
        "kind": kind, "job_config": job_config, "job_result": job_result,
        "agents": agents, "models": models}}
    meta = RunMeta(top_keys=["domain", "harbor", "simulations"], top=top)
    ew = write_sims(conn, ctx, meta, sims, lambda _, sim: f"trial {sim['harbor']['trial']}")
    ctx.warnings.extend(ctx.summary_warnings(ew, record="trial", result="observation result"))
    warn(ctx, facts, agents, models, linked_out(root) if kind == "job" else [],
         sum(1 for s in sims if s["reward_info"] is not None))
    conn.execute("UPDATE runs SET grading = 'foreign', agent_model = coalesce(?, agent_model) "
                 "WHERE run_id = ?", (models[0] if len(models) == 1 else None, ctx.run_id))
