"""Planning a run: validate every input before anything is written, and build the manifest.

`plan_run(...)` resolves the domain, the tasks, the candidate, the models and the endpoints
and raises `T2EError` (exit 2) on bad input: unknown task ids, an empty candidate, no endpoint,
a missing API key, NL-gated tasks with nobody to judge them. `plan_from_manifest(...)` rebuilds
the plan of a stored run for `--resume`.

The agent's system prompt (the scripted agent parses the part after <instructions>):

    <world agent preamble>

    <policy>
    <domain policy>
    </policy>

    <instructions>
    <candidate body>
    </instructions>
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..candidates import Candidate, CandidateError
from ..errors import T2EError
from .config import Config, ConfigError, Endpoint, load_config
from .manifest import code_version

DOMAINS = ("mini-retail", "tau2-retail", "mini-airline", "tau2-airline")
GRADINGS = ("judge", "db-communicate")
DEFAULT_MAX_STEPS = 200   # tau2's defaults
DEFAULT_MAX_ERRORS = 10
DEFAULT_SEED = 300
MANIFEST_VERSION = 1


def system_prompt(preamble: str, policy: str, instruction: str) -> str:
    """The agent's system prompt in the documented layout (see the module docstring)."""
    return (f"{preamble}\n\n<policy>\n{policy}\n</policy>\n\n"
            f"<instructions>\n{instruction}\n</instructions>")


@dataclass
class ModelSpec:
    """Who plays a part: the scripted stand-in, or a model behind an OpenAI-compatible API."""

    kind: str                       # "scripted" | "openai"
    model: str | None = None
    endpoint: Endpoint | None = None

    @property
    def label(self) -> str:
        return "scripted" if self.kind == "scripted" else f"openai:{self.model}"

    def public(self) -> dict:
        return {"kind": self.kind, "model": self.model,
                "endpoint": self.endpoint.public() if self.endpoint else None}

    @classmethod
    def from_public(cls, d: dict | None) -> "ModelSpec | None":
        if not d:
            return None
        ep = Endpoint.from_public(d["endpoint"]) if d.get("endpoint") else None
        return cls(kind=d["kind"], model=d.get("model"), endpoint=ep)


def parse_model(spec: str, what: str) -> tuple[str, str | None]:
    """`scripted` or `openai:MODEL` -> (kind, model)."""
    if spec == "scripted":
        return "scripted", None
    kind, sep, model = spec.partition(":")
    if kind == "openai" and sep and model:
        return "openai", model
    raise T2EError(f"{what} {spec!r}: expected 'scripted' or 'openai:MODEL'")


@dataclass
class RunPlan:
    """Everything a run needs, validated. `manifest()` pins it in the store."""

    domain_name: str
    data_dir: str | None
    domain: Any
    candidate: Candidate
    candidate_ref: str | None
    candidates_dir: str | None
    task_ids: list[str]
    trials: int
    concurrency: int
    max_steps: int
    max_errors: int
    seed: int
    noise: float
    agent: ModelSpec
    user: ModelSpec
    judge: ModelSpec | None
    grading: str
    name: str
    role: str
    tasks_spec: str = "all"
    config: Config = field(default_factory=Config)
    # how the task ids were chosen when not by a spec alone, e.g. the launcher's
    # {"by": "outcome_filter", "filter": "fixed", ...}: the gate reads it (manifest key)
    task_selection: dict | None = None

    @property
    def tasks(self) -> list[Any]:
        return [self.domain.tasks[t] for t in self.task_ids]

    def episodes(self) -> list[tuple[str, int, int]]:
        """(task_id, trial, ord) in (task order, trial) order; ord is stable across resumes."""
        return [(t, k, i * self.trials + k) for i, t in enumerate(self.task_ids)
                for k in range(self.trials)]

    def system_prompt(self) -> str:
        return system_prompt(self.domain.agent_preamble, self.domain.policy, self.candidate.body)

    def manifest(self) -> dict:
        """What pins the run: world, candidate, models and params, user, seeds, limits, code."""
        return {
            "manifest_version": MANIFEST_VERSION,
            "domain": self.domain_name,
            "data_dir": self.data_dir,
            "world_hash": self.domain.world_hash,
            "tool_version": self.domain.tool_version,
            # the policy text as given to the agent (tau2 files record it; the exporter reads it)
            "policy": self.domain.policy,
            "candidate": {"hash": self.candidate.hash, "name": self.candidate.name,
                          "parent": self.candidate.parent},
            "tasks_spec": self.tasks_spec,
            "task_ids": list(self.task_ids),
            "trials": self.trials,
            "seed": self.seed,
            "episode_seed": "sha256(run seed, task id, trial)[:4] & 0x7fffffff",
            "max_steps": self.max_steps,
            "max_errors": self.max_errors,
            "grading": self.grading,
            "agent": {**self.agent.public(), "noise": self.noise},
            "user": self.user.public(),
            "judge": self.judge.public() if self.judge else None,
            "concurrency": self.concurrency,
            "code": code_version(),
            # only when given, so manifests of runs chosen by spec stay as they were
            **({"task_selection": self.task_selection} if self.task_selection else {}),
        }


# ------------------------------------------------------------------ world access

def load_world(domain: str, data_dir: str | None) -> Any:
    """The world's domain object (world.domains.load_domain)."""
    if domain not in DOMAINS:
        raise T2EError(f"--domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    from world.domains import load_domain
    return load_domain(domain, data_dir)


def resolve_task_ids(dom: Any, spec: str, num_tasks: int | None) -> list[str]:
    """all | SPLIT | ID,ID,... -> task ids (unknown ids are an error naming them)."""
    from world.domains import resolve_tasks
    ids = [str(getattr(t, "id", t)) for t in resolve_tasks(dom, spec)]
    if num_tasks is not None:
        if num_tasks < 1:
            raise T2EError(f"--num-tasks {num_tasks}: must be at least 1")
        ids = ids[:num_tasks]
    if not ids:
        raise T2EError(f"--tasks {spec!r}: selects no task")
    return ids


# ------------------------------------------------------------------ planning

def _resolve_candidate(ref: str | Candidate | None, candidates_dir: str | None,
                       store_conn: Any) -> tuple[Candidate, str | None]:
    if isinstance(ref, Candidate):
        cand, name = ref, None
    else:
        try:
            from ..candidate_versions import load_ref
            cand, _ = load_ref(store_conn, ref or "baseline",
                               Path(candidates_dir) if candidates_dir else None)
        except CandidateError as exc:
            raise T2EError(str(exc)) from None
        name = ref or "baseline"
    if not cand.body.strip():
        raise T2EError(f"{cand.path or cand.name}: the candidate's instruction body is empty; "
                       f"refusing to run it")
    return cand, name


def _endpoint_for(cfg: Config, spec: ModelSpec | None, overrides: dict) -> None:
    if spec is None or spec.kind != "openai" or spec.endpoint is not None:
        return
    spec.endpoint = cfg.endpoint(overrides.get("endpoint"), backend=spec.kind,
                                 **overrides.get("flags", {}))


# Bounds on run sizes: a huge --trials once planned billions of episodes in memory (OOM).
MAX_TRIALS = 1000
MAX_EPISODES = 100_000
MAX_CONCURRENCY = 1024
MAX_STEPS = 100_000
SEED_MAX = (1 << 63) - 1  # seeds are stored as SQLite integers


def _check_range(flag: str, value: Any, lo: int, hi: int) -> None:
    """One line naming the flag when `value` is not an integer in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise T2EError(f"{flag} {value!r}: must be an integer from {lo} to {hi}")
    if value < lo:
        raise T2EError(f"{flag} {value}: must be at least {lo}")
    if value > hi:
        raise T2EError(f"{flag} {value}: must be at most {hi}")


def plan_run(*, domain: str = "mini-retail", data_dir: str | None = None,
             candidate: str | Candidate | None = None, candidates_dir: str | None = None,
             tasks: str = "all", num_tasks: int | None = None, trials: int = 1,
             concurrency: int = 1, max_steps: int = DEFAULT_MAX_STEPS,
             max_errors: int = DEFAULT_MAX_ERRORS, model: str = "scripted",
             user: str | None = None, judge: str | None = None, grade: str = "judge",
             seed: int = DEFAULT_SEED, noise: float = 0.0, name: str | None = None,
             role: str | None = None, endpoint: str | None = None,
             user_endpoint: str | None = None, base_url: str | None = None,
             api_key_env: str | None = None, params: dict | None = None,
             timeout: float | None = None, max_retries: int | None = None,
             backoff: float | None = None, quirks: str | None = None,
             config: Config | None = None, store_conn: Any = None,
             task_selection: dict | None = None) -> RunPlan:
    """Validate a run's inputs and return its plan; raises T2EError before anything runs.

    `user` defaults to the scripted user on our mini-* worlds and to the agent's model elsewhere
    (tau2 tasks need an LLM user). `judge` defaults to the user's model, else the agent's,
    and is only required when grading=judge and a selected task gates on NL assertions.
    `task_selection` says how the tasks were chosen (recorded in the manifest for the gate)."""
    from store.writer import ROLES

    from .synthetic import is_synthetic_spec, synthetic_domain, synthetic_role
    synthetic = is_synthetic_spec(tasks)
    # None = discovery, or synthetic for a synthetic spec (which takes no other role)
    role = synthetic_role(tasks, role) if synthetic else (role or "discovery")
    cfg = config if config is not None else load_config()
    _check_range("--trials", trials, 1, MAX_TRIALS)
    _check_range("--concurrency", concurrency, 1, MAX_CONCURRENCY)
    _check_range("--max-steps", max_steps, 2, MAX_STEPS)
    _check_range("--max-errors", max_errors, 1, MAX_STEPS)
    _check_range("--seed", seed, 0, SEED_MAX)
    if not 0.0 <= noise <= 1.0:  # also false for NaN
        raise T2EError(f"--noise {noise}: must be between 0 and 1")
    if not str(tasks).strip():
        raise T2EError("--tasks '': names no task (use 'all', a split name or ID,ID,...)")
    if grade not in GRADINGS:
        raise T2EError(f"--grade {grade!r}: expected one of {', '.join(GRADINGS)}")
    if role not in ROLES:
        raise T2EError(f"--role {role!r}: expected one of {', '.join(ROLES)}")
    agent_kind, agent_model = parse_model(model, "--model")
    if user is None:
        user = "scripted" if domain.startswith("mini-") or agent_kind == "scripted" else model
    user_kind, user_model = parse_model(user, "--user")
    cand, cand_ref = _resolve_candidate(candidate, candidates_dir, store_conn)
    dom = load_world(domain, data_dir)
    if synthetic:
        dom, _ = synthetic_domain(dom, domain, tasks)
        task_ids = resolve_task_ids(dom, "synthetic", num_tasks)
    else:
        task_ids = resolve_task_ids(dom, tasks, num_tasks)
    if len(task_ids) * trials > MAX_EPISODES:
        raise T2EError(f"{len(task_ids)} tasks x {trials} trials = {len(task_ids) * trials} "
                       f"episodes: more than one run holds (at most {MAX_EPISODES}); run "
                       "fewer trials or tasks")

    flags = dict(base_url=base_url, api_key_env=api_key_env, params=params, timeout=timeout,
                 max_retries=max_retries, backoff=backoff, quirks=quirks)
    agent = ModelSpec(agent_kind, agent_model)
    user_spec = ModelSpec(user_kind, user_model)
    _endpoint_for(cfg, agent, {"endpoint": endpoint, "flags": flags})
    _endpoint_for(cfg, user_spec, {"endpoint": user_endpoint or endpoint, "flags": flags})

    judge_spec: ModelSpec | None = None
    needs_judge = grade == "judge" and [
        t for t in task_ids if dom.tasks[t].nl_assertions
        and "NL_ASSERTION" in dom.tasks[t].reward_basis]
    if judge is not None:
        jk, jm = parse_model(judge, "--judge")
        if jk != "openai":
            raise T2EError("--judge must be openai:MODEL (the judge is a model)")
        judge_spec = ModelSpec(jk, jm)
        _endpoint_for(cfg, judge_spec, {"endpoint": user_endpoint or endpoint, "flags": flags})
    elif needs_judge:
        donor = user_spec if user_spec.kind == "openai" else agent
        if donor.kind != "openai":
            shown = ", ".join(needs_judge[:5]) + (" ..." if len(needs_judge) > 5 else "")
            raise T2EError(
                f"tasks {shown} gate on NL assertions and need an LLM judge: pass "
                f"--judge openai:MODEL, or --grade db-communicate to grade without one")
        judge_spec = ModelSpec("openai", donor.model, donor.endpoint)

    for spec in (agent, user_spec, judge_spec):
        if spec is not None and spec.endpoint is not None:
            spec.endpoint.api_key()  # a missing key is bad input, found before anything runs
    if user_spec.kind == "scripted":
        _check_scripted_user(dom, task_ids)

    run_name = name or f"{cand.name} {agent.label} {domain}"
    return RunPlan(domain_name=domain, data_dir=str(data_dir) if data_dir else None, domain=dom,
                   candidate=cand, candidate_ref=cand_ref,
                   candidates_dir=str(candidates_dir) if candidates_dir else None,
                   task_ids=task_ids, trials=trials, concurrency=concurrency,
                   max_steps=max_steps, max_errors=max_errors, seed=seed, noise=noise,
                   agent=agent, user=user_spec, judge=judge_spec, grading=grade,
                   name=run_name, role=role, tasks_spec=tasks, config=cfg,
                   task_selection=task_selection)


def _check_scripted_user(dom: Any, task_ids: list[str]) -> None:
    """The scripted user plays from our scenario extension; tau2's own tasks have none."""
    missing = [t for t in task_ids if not getattr(dom.tasks[t], "scenario", None)]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise T2EError(f"tasks {shown} have no scripted-user scenario: use an LLM user "
                       f"(--user openai:MODEL)")


def plan_from_manifest(manifest: dict, candidate: Candidate, *, run_name: str, role: str,
                       concurrency: int | None = None, config: Config | None = None) -> RunPlan:
    """The plan of a stored run (for --resume). The world must still hash the same."""
    if concurrency is not None:
        _check_range("--concurrency", concurrency, 1, MAX_CONCURRENCY)
    try:
        dom = load_world(manifest["domain"], manifest.get("data_dir"))
        if dom.world_hash != manifest["world_hash"]:
            raise T2EError(f"the {manifest['domain']} world changed since this run "
                           f"({manifest['world_hash'][:12]} -> {dom.world_hash[:12]}); "
                           f"start a new run instead of resuming")
        from .synthetic import is_synthetic_spec, synthetic_domain
        if is_synthetic_spec(manifest.get("tasks_spec")):  # deterministic: regenerate them
            dom, _ = synthetic_domain(dom, manifest["domain"], manifest["tasks_spec"])
        missing = [t for t in manifest["task_ids"] if t not in dom.tasks]
        if missing:
            raise T2EError(f"tasks {', '.join(missing[:5])} are no longer in the world")
        agent = ModelSpec.from_public(manifest["agent"])
        user = ModelSpec.from_public(manifest["user"])
        judge = ModelSpec.from_public(manifest.get("judge"))
    except KeyError as exc:
        raise T2EError(f"run manifest lacks {exc}; it can't be resumed") from None
    for spec in (agent, user, judge):
        if spec is not None and spec.endpoint is not None:
            try:
                spec.endpoint.api_key()
            except ConfigError as exc:
                raise T2EError(str(exc)) from None
    if candidate.hash != manifest["candidate"]["hash"]:
        raise T2EError("the stored candidate does not match the run's candidate hash")
    return RunPlan(domain_name=manifest["domain"], data_dir=manifest.get("data_dir"),
                   domain=dom, candidate=candidate, candidate_ref=None, candidates_dir=None,
                   task_ids=list(manifest["task_ids"]), trials=int(manifest["trials"]),
                   concurrency=concurrency or int(manifest.get("concurrency") or 1),
                   max_steps=int(manifest["max_steps"]), max_errors=int(manifest["max_errors"]),
                   seed=int(manifest["seed"]), noise=float(manifest["agent"].get("noise") or 0),
                   agent=agent, user=user, judge=judge, grading=manifest["grading"],
                   name=run_name, role=role, tasks_spec=manifest.get("tasks_spec", "all"),
                   config=config if config is not None else load_config(),
                   task_selection=manifest.get("task_selection"))


def manifest_json(plan: RunPlan) -> str:
    return json.dumps(plan.manifest(), sort_keys=True)
