"""The settings that define a run's experiment, and the rule that a gated pair shares them.

A gate compares a candidate with a baseline: only the agent under test may differ between the
two runs (the candidate text, the agent model and the endpoint serving it). Everything else
that shapes the rewards is the experiment's: the trials per task, the step and tool-error
limits, the grading mode and the judge, the user simulator (model, endpoint, request
parameters, guidelines) and the agent's sampling (the scripted agent's noise, the request
parameters such as temperature). A baseline crippled with `--max-steps 4`, or a candidate
given more trials, is not evidence about the candidate, so `compare_runs` refuses such a pair
(T2EError, exit 2) exactly as it refuses two worlds, naming each differing setting with both
values.

The seed may differ: a paired run with another seed is a replication (other draws of the same
experiment), and seed shopping is the first-run rule's business (gate/heldout.py); the gate
says when the seeds differ. A setting one run records and the other does not (a field deleted
from a file, another tau2 version's file) cannot be checked equal: the verdict is inconclusive
at most, naming them (not refused: the comparison is still shown). A setting neither run
records (a foreign trace's step limit) is not compared.

Engine runs record their settings in their columns and manifest; imported tau2 files in their
`info` block (num_trials, max_steps, max_errors, seed, user_info, agent_info): both are read
into one shape here, so an imported pair is compared the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..errors import T2EError
from .runs import RunInfo

# (key, how a user names it), in the order a refusal lists them
SETTINGS: tuple[tuple[str, str], ...] = (
    ("trials", "trials (--trials)"),
    ("max_steps", "max_steps (--max-steps)"),
    ("max_errors", "max_errors (--max-errors)"),
    ("grading", "grading (--grade)"),
    ("agent_noise", "agent noise (--noise)"),
    ("agent_params", "agent request params"),
    ("user", "user simulator (--user)"),
    ("user_endpoint", "user endpoint"),
    ("user_params", "user request params"),
    ("user_guidelines", "user simulator guidelines (sha256)"),
    ("judge", "judge (--judge)"),
    ("judge_endpoint", "judge endpoint"),
    ("judge_params", "judge request params"),
)
LABELS = dict(SETTINGS)
ENGINE_GRADINGS = ("judge", "db-communicate")   # engine/plan.GRADINGS (no engine import here)


def run_settings(conn: Any, run: RunInfo, data: Any = None) -> dict[str, Any]:
    """The run's experiment settings as {key: value}; a key a run does not record is absent.
    `data` (a rundata.RunData) counts the trials when the run does not record them."""
    out: dict[str, Any] = {}
    if run.num_trials is not None:
        out["trials"] = run.num_trials
    elif data is not None and data.outcomes:
        out["trials"] = max(len(o.rewards) + len(o.excluded) for o in data.outcomes.values())
    for key in ("max_steps", "max_errors"):
        if getattr(run, key) is not None:
            out[key] = getattr(run, key)
    if run.grading in ENGINE_GRADINGS:
        out["grading"] = run.grading
    if run.user_model is not None:
        out["user"] = _model_name(run.user_model)
    if run.source_id is None:
        _from_manifest(out, _json(run.manifest_json))
    else:  # an import: what its file records (a manifest it carries is only its claim)
        _from_info(out, _info(conn, run.run_id))
    return out


def _from_manifest(out: dict, m: dict) -> None:
    if not m:
        return
    # the engine writes these to the run's columns too; a run made another way may not
    for key, name in (("trials", "trials"), ("max_steps", "max_steps"),
                      ("max_errors", "max_errors"), ("grading", "grading")):
        if key not in out and m.get(name) is not None:
            out[key] = m[name]
    agent = m.get("agent") if isinstance(m.get("agent"), dict) else {}
    if "noise" in agent:
        out["agent_noise"] = float(agent.get("noise") or 0.0)
    if agent:
        out["agent_params"] = _endpoint(agent).get("params") or {}
    for part in ("user", "judge"):
        if part not in m:
            continue
        spec = m.get(part)
        if not isinstance(spec, dict):  # recorded as no judge at all
            out[part] = out[f"{part}_endpoint"] = "none"
            out[f"{part}_params"] = {}
            continue
        label = "scripted" if spec.get("kind") == "scripted" else spec.get("model")
        out[part] = _model_name(label) if label else "none"
        ep = _endpoint(spec)
        out[f"{part}_endpoint"] = ep.get("base_url") or ep.get("name") or "none"
        out[f"{part}_params"] = ep.get("params") or {}


def _from_info(out: dict, info: dict) -> None:
    if not info:
        return
    user = info.get("user_info") if isinstance(info.get("user_info"), dict) else {}
    agent = info.get("agent_info") if isinstance(info.get("agent_info"), dict) else {}
    if isinstance(agent.get("llm_args"), dict):
        out["agent_params"] = agent["llm_args"]
    if isinstance(user.get("llm_args"), dict):
        out["user_params"] = user["llm_args"]
    guide = user.get("global_simulation_guidelines")
    if isinstance(guide, str):
        out["user_guidelines"] = hashlib.sha256(guide.encode()).hexdigest()[:16]


def _endpoint(spec: dict) -> dict:
    ep = spec.get("endpoint")
    return ep if isinstance(ep, dict) else {}


def _model_name(label: str) -> str:
    """'openai:gpt-4.1' (an engine run) and 'gpt-4.1' (a tau2 file) name one model."""
    return label.split(":", 1)[1] if label.startswith("openai:") else label


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _info(conn: Any, run_id: str) -> dict:
    row = conn.execute("SELECT info_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return _json(row[0] if row else None)


def shown(value: Any, limit: int | None = 200) -> str:
    """A setting's value as a refusal prints it (compact JSON: strings quoted, 0.0 kept; a
    file's long value cut at `limit` characters)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def _same_number(value: Any) -> Any:
    """Numbers as floats (a manifest's temperature 0 is a tau2 file's 0.0), booleans kept."""
    if isinstance(value, dict):
        return {k: _same_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_number(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def differences(b: dict, c: dict) -> list[tuple[str, Any, Any]]:
    """(key, baseline value, candidate value) of every setting both runs record that differs."""
    return [(k, b[k], c[k]) for k, _ in SETTINGS if k in b and k in c
            and shown(_same_number(b[k]), None) != shown(_same_number(c[k]), None)]


def planned_settings(manifest: dict) -> dict[str, Any]:
    """The settings a planned engine run will record (from its manifest, before anything is
    written), in `run_settings`' shape: a launcher can say before launch what the gate will
    refuse."""
    out: dict[str, Any] = {}
    _from_manifest(out, manifest)
    return out


def refused_settings(b: dict, c: dict) -> list[str]:
    """`label: baseline value vs candidate value` for each setting that makes the gate refuse
    the pair (both runs' settings as `run_settings` gives them)."""
    return [f"{LABELS[k]}: {shown(x)} vs {shown(y)}" for k, x, y in differences(b, c)]


def check_settings(conn: Any, b: RunInfo, c: RunInfo, bd: Any = None,
                   cd: Any = None) -> tuple[list[str], str | None]:
    """Refuse (T2EError, exit 2) a pair whose experiment settings differ, naming each with
    both values; else (the warnings a reader should see (seeds that differ), the reason the
    verdict is inconclusive at most when a setting is recorded by one run only, or None)."""
    sb, sc = run_settings(conn, b, bd), run_settings(conn, c, cd)
    said = "; ".join(refused_settings(sb, sc))
    if said:
        raise T2EError(
            f"runs {b.label()} and {c.label()} were made with different settings: {said}. "
            f"Their rewards are not comparable: only the agent under test (the candidate, "
            f"the agent model) may differ; run both with the same settings (the seed may "
            f"differ)")
    warnings = []
    if b.seed is not None and c.seed is not None and b.seed != c.seed:
        warnings.append(f"seeds differ ({b.seed} vs {c.seed}): the runs are independent "
                        f"replications, not paired on the same draws")
    # a setting one run records and the other does not (a field deleted from a file's info,
    # or a file of another tau2 version) cannot be checked equal: the pair may not be one
    # experiment, so no verdict better than inconclusive rests on it (rules.evaluate caps)
    lacking = []
    for run, mine, other in ((b, sb, sc), (c, sc, sb)):
        missing = [LABELS[k] for k, _ in SETTINGS if k in other and k not in mine]
        if missing:
            lacking.append(f"not by {run.label()}: {', '.join(missing)}")
    unverified = None
    if lacking:
        unverified = (f"settings recorded by one run only, so not checked equal ("
                      f"{'; '.join(lacking)}): the runs may not be the same experiment; "
                      f"inconclusive at most (make both files record them)")
    return warnings, unverified
