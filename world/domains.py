"""Domains: records + tools + policy + tasks, loaded by name.

* "tau2-retail": a tau2 retail data directory (`data_dir`, else $TAU2_DATA_DIR).
* "tau2-airline": a tau2 airline data directory (`data_dir`, else $TAU2_AIRLINE_DATA_DIR, else
  $TAU2_DATA_DIR holding airline/); see world/tau2_data.py.
* "mini-retail": our own world, built by `world.mini_retail.build(seed=0)`.
* "mini-airline": our own airline world, built by `world.mini_airline.build(seed=0)`.

`Domain` is what the engine, the gate and the TUI use: `.new_env()` gives a fresh tool
environment on a copy-on-write fork of the locked records; `.world_hash` is the lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import airline_tools, tools
from .errors import WorldError
from .kinds import db_class, env_for, kind_of
from .lock import world_hash as _world_hash
from .tasks import Task, parse_splits, parse_tasks
from .toolenv import ToolEnv

DOMAINS = ("mini-retail", "tau2-retail", "mini-airline", "tau2-airline")

# tau2's own domain names: imported tau2 results say "retail", reruns say "tau2-retail"; both
# are the same tasks, so evidence about one is evidence about the other.
_TAU2_NAMES = ("retail", "airline", "telecom", "mock")


def world_key(domain: str | None) -> str | None:
    """One identity for a domain's tasks whatever alias a run was stored under ("retail" and
    "tau2-retail" -> "tau2-retail"). Views, heldout sets and the gate compare these keys."""
    if domain is None:
        return None
    name = str(domain).strip().lower()
    return f"tau2-{name}" if name in _TAU2_NAMES else name

# Our fixed agent instruction block, placed before the candidate instructions and the policy
# (the role tau2's llm_agent system prompt plays). Changing it changes the world hash.
AGENT_PREAMBLE = (
    "You are a customer service agent for an online retail store. Help the user within the "
    "rules of the <policy> below.\n"
    "On each turn do exactly one of two things: write a message to the user, or make one tool "
    "call. Never both in the same turn.\n"
    "Use the tools to look up and change records; never make up information the tools did not "
    "give you. Follow the policy at all times, even when the user asks otherwise."
)
AIRLINE_PREAMBLE = AGENT_PREAMBLE.replace("an online retail store", "an airline")
_PREAMBLES = {"retail": AGENT_PREAMBLE, "airline": AIRLINE_PREAMBLE}
_TOOL_NAMES = {"retail": tools.tool_names, "airline": airline_tools.tool_names}


@dataclass
class Domain:
    """A loaded, locked domain."""
    name: str
    policy: str
    tasks: dict[str, Task]
    splits: dict[str, list[str]]
    base_db: Any
    world_hash: str
    world_detail: dict
    tool_version: str = "v1"
    agent_preamble: str = AGENT_PREAMBLE
    data_dir: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """'retail' or 'airline' (world/kinds.py)."""
        return kind_of(self.name) or "retail"

    def new_env(self) -> ToolEnv:
        """A fresh tool environment on its own fork of the locked records."""
        return env_for(self.base_db, self.tool_version)

    def tool_schemas(self) -> list[dict]:
        """OpenAI function-tool JSON of this domain's tools."""
        if self.kind == "airline":
            from .airline_schemas import schemas_for
        else:
            from .tool_schemas import schemas_for
        return schemas_for(self.tool_names())

    def tool_names(self) -> list[str]:
        """This domain's tool names, in stable order."""
        return _TOOL_NAMES[self.kind](self.tool_version)

    def system_prompt(self, instructions: str | None = None) -> str:
        """The agent system prompt: our preamble + candidate instructions, then the policy."""
        inst = self.agent_preamble
        if instructions and instructions.strip():
            inst = f"{inst}\n\n{instructions.strip()}"
        return f"<instructions>\n{inst}\n</instructions>\n<policy>\n{self.policy}\n</policy>"

    def split_of(self, task_id: str) -> str | None:
        """The first split (in split order) that lists the task."""
        for name, ids in self.splits.items():
            if task_id in ids:
                return name
        return None


_CACHE: dict[tuple, Domain] = {}


def load_domain(name: str, data_dir: str | os.PathLike | None = None) -> Domain:
    """Load a domain by name (see DOMAINS; "retail"/"airline" mean the tau2 ones). Cached per
    process."""
    if name in ("mini-retail", "mini-airline"):
        key = (name,)
        if key not in _CACHE:
            _CACHE[key] = _load_mini(name)
        return _CACHE[key]
    if name in ("tau2-retail", "retail", "tau2-airline", "airline"):
        from .tau2_data import domain_dir, load_tau2

        kind = kind_of(name)
        full = f"tau2-{kind}"
        folder = domain_dir(data_dir, kind)
        stamp = tuple((f, (folder / f).stat().st_mtime_ns if (folder / f).exists() else None)
                      for f in ("db.json", "tasks.json", "policy.md", "split_tasks.json"))
        key = (full, str(folder.resolve()), stamp)
        if key not in _CACHE:
            data = load_tau2(folder, kind)
            wh, detail = _world_hash(full, data.db.to_dict(), data.policy,
                                     data.task_dicts, data.splits)
            _CACHE[key] = Domain(full, data.policy, data.tasks, data.splits, data.db,
                                 wh, detail, agent_preamble=_PREAMBLES[kind],
                                 data_dir=str(folder))
        return _CACHE[key]
    raise WorldError(f"unknown domain {name!r} (known: {', '.join(DOMAINS)})")


def _load_mini(name: str, seed: int = 0) -> Domain:
    module = name.replace("-", "_")
    kind = kind_of(name)
    try:
        import importlib

        build = importlib.import_module(f".{module}", __package__).build
    except (ImportError, AttributeError) as exc:
        raise WorldError(f"the {name} domain is not available yet: world.{module}.build "
                         f"cannot be imported ({exc})") from None
    built = build(seed=seed)
    src = f"{name} (world.{module}.build)"
    if not isinstance(built, dict):
        raise WorldError(f"{src}: build() must return a dict, got {type(built).__name__}")
    for key in ("db", "policy", "tasks"):
        if key not in built:
            raise WorldError(f"{src}: build() result lacks {key!r}")
    db = db_class(kind).from_dict(built["db"], f"{src} db")
    if not isinstance(built["policy"], str) or not built["policy"].strip():
        raise WorldError(f"{src}: policy must be a non-empty string")
    tasks = parse_tasks(built["tasks"], f"{src} tasks")
    splits = _splits(built.get("splits"), tasks, src)
    wh, detail = _world_hash(name, db.to_dict(), built["policy"], built["tasks"], splits)
    return Domain(name, built["policy"], tasks, splits, db, wh, detail,
                  agent_preamble=_PREAMBLES[kind], info={"seed": seed})


def _splits(raw: Any, tasks: dict[str, Task], src: str) -> dict[str, list[str]]:
    """Splits as given (checked by `parse_splits`), else from each task's t2e.split."""
    if raw is None:
        out: dict[str, list[str]] = {}
        for tid, task in tasks.items():
            if task.split:
                out.setdefault(task.split, []).append(tid)
        return out
    return parse_splits(raw, tasks, src)


def resolve_tasks(domain: Domain, spec: str | None) -> list[str]:
    """Task ids for `all`, a split name, or `ID,ID,...` (in the domain's task order for
    `all`, in split order for a split, as given for ids). Unknown names are refused."""
    spec = (spec or "all").strip()
    if spec == "all":
        return list(domain.tasks)
    if spec in domain.splits:
        return list(domain.splits[spec])
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [i for i in ids if i not in domain.tasks]
    if not ids or unknown:
        splits = ", ".join(domain.splits) or "none"
        what = ", ".join(unknown[:5]) if unknown else repr(spec)
        raise WorldError(f"{domain.name}: unknown task id(s) or split {what} "
                         f"(splits: {splits}; or 'all'; or comma-separated task ids)")
    return list(dict.fromkeys(ids))
