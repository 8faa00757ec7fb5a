"""tau2 Task objects (v0 and v1 shapes), read tolerantly: unknown keys are kept in `.raw`,
missing optional keys take tau2's defaults.

Our own tasks add `t2e: {split, failure_class, scenario}`; tau2 ignores unknown keys, so they
stay valid tau2 tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import WorldError

DEFAULT_REWARD_BASIS = ("DB", "COMMUNICATE")
REWARD_TYPES = ("DB", "ENV_ASSERTION", "COMMUNICATE", "NL_ASSERTION", "ACTION")


@dataclass(frozen=True)
class Action:
    """A gold action: `compare_args` None = compare on the call's own keys, [] = name only."""
    action_id: str
    name: str
    arguments: dict
    compare_args: list[str] | None = None
    requestor: str = "assistant"
    info: Any = None

    def to_dict(self) -> dict:
        """The tau2 Action dict (field order as tau2 dumps it)."""
        return {"action_id": self.action_id, "requestor": self.requestor, "name": self.name,
                "arguments": self.arguments, "info": self.info,
                "compare_args": self.compare_args}


@dataclass
class Task:
    """One task as graded. `raw` is the original dict, untouched."""
    id: str
    raw: dict
    actions: list[Action] = field(default_factory=list)
    reward_basis: list[str] = field(default_factory=lambda: list(DEFAULT_REWARD_BASIS))
    communicate_info: list[str] = field(default_factory=list)
    nl_assertions: list[str] = field(default_factory=list)
    env_assertions: list = field(default_factory=list)
    has_criteria: bool = True
    instructions: Any = None
    t2e: dict | None = None

    @property
    def split(self) -> str | None:
        """Our split (train/dev/heldout) when the task carries the t2e extension."""
        return (self.t2e or {}).get("split")

    @property
    def failure_class(self) -> str | None:
        """Our failure class when the task carries the t2e extension."""
        return (self.t2e or {}).get("failure_class")

    @property
    def scenario(self) -> Any:
        """Our scripted-user scenario when the task carries the t2e extension."""
        return (self.t2e or {}).get("scenario")

    @property
    def write_actions(self) -> list[Action]:
        """Gold actions of write tools (the ones that decide the DB check)."""
        from .kinds import ALL_WRITE_TOOLS

        return [a for a in self.actions if a.name in ALL_WRITE_TOOLS]

    @property
    def summary(self) -> str:
        """A one-line description: the scenario summary, else the user's reason for calling."""
        t2e = self.t2e or {}
        if isinstance(t2e.get("summary"), str):
            return _one_line(t2e["summary"])
        scen = t2e.get("scenario")
        if isinstance(scen, dict) and isinstance(scen.get("summary"), str):
            return _one_line(scen["summary"])
        inst = self.instructions
        if isinstance(inst, dict):
            return _one_line(str(inst.get("reason_for_call") or ""))
        if isinstance(inst, str):
            return _one_line(inst)
        return ""


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(source: str, idx: int | None, tid: Any) -> str:
    parts = [source]
    if idx is not None:
        parts.append(f"task #{idx}")
    if tid is not None:
        parts.append(f"id {tid!r}")
    return ", ".join(parts)


def parse_task(d: Any, source: str = "<tasks>", index: int | None = None) -> Task:
    """Parse a tau2 task dict. Raises WorldError naming the source and record when malformed."""
    if not isinstance(d, dict):
        raise WorldError(f"{_where(source, index, None)}: a task must be an object, "
                         f"got {type(d).__name__}")
    tid = d.get("id")
    if isinstance(tid, int) and not isinstance(tid, bool):
        tid = str(tid)
    if not isinstance(tid, str) or not tid:
        raise WorldError(f"{_where(source, index, None)}: task has no string 'id'")
    where = _where(source, index, tid)

    scenario = d.get("user_scenario")
    instructions = scenario.get("instructions") if isinstance(scenario, dict) else None

    crit = d.get("evaluation_criteria")
    task = Task(id=tid, raw=d, instructions=instructions)
    t2e = d.get("t2e")
    if t2e is not None and not isinstance(t2e, dict):
        raise WorldError(f"{where}: 't2e' must be an object")
    task.t2e = t2e
    if crit is None:
        task.has_criteria = False
        return task
    if not isinstance(crit, dict):
        raise WorldError(f"{where}: 'evaluation_criteria' must be an object")

    actions = crit.get("actions") or []
    if not isinstance(actions, list):
        raise WorldError(f"{where}: evaluation_criteria.actions must be a list")
    for i, a in enumerate(actions):
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise WorldError(f"{where}: evaluation_criteria.actions[{i}] has no tool 'name'")
        args = a.get("arguments") or {}
        if not isinstance(args, dict):
            raise WorldError(f"{where}: evaluation_criteria.actions[{i}].arguments "
                             "must be an object")
        cmp = a.get("compare_args")
        if cmp is not None and not (isinstance(cmp, list) and all(isinstance(c, str) for c in cmp)):
            raise WorldError(f"{where}: evaluation_criteria.actions[{i}].compare_args "
                             "must be a list of names or null")
        task.actions.append(Action(
            action_id=str(a.get("action_id") if a.get("action_id") is not None else f"{tid}_{i}"),
            name=a["name"], arguments=args, compare_args=cmp,
            requestor=a.get("requestor") or "assistant", info=a.get("info")))

    basis = crit.get("reward_basis")
    if basis is None:
        basis = list(DEFAULT_REWARD_BASIS)
    if not isinstance(basis, list) or any(b not in REWARD_TYPES for b in basis):
        raise WorldError(f"{where}: evaluation_criteria.reward_basis must list some of "
                         f"{', '.join(REWARD_TYPES)}; got {basis!r}")
    task.reward_basis = list(basis)

    for key in ("communicate_info", "nl_assertions"):
        val = crit.get(key) or []
        if not isinstance(val, list) or not all(isinstance(s, str) for s in val):
            raise WorldError(f"{where}: evaluation_criteria.{key} must be a list of strings")
        setattr(task, key, list(val))
    env_a = crit.get("env_assertions") or []
    task.env_assertions = list(env_a) if isinstance(env_a, list) else []
    return task


def parse_tasks(items: Any, source: str = "<tasks>") -> dict[str, Task]:
    """Parse a list of task dicts into an ordered id → Task mapping (duplicate ids refused)."""
    if not isinstance(items, list):
        raise WorldError(f"{source}: expected a list of tasks, got {type(items).__name__}")
    out: dict[str, Task] = {}
    for i, d in enumerate(items):
        task = parse_task(d, source, i)
        if task.id in out:
            raise WorldError(f"{source}: task #{i}: duplicate task id {task.id!r}")
        out[task.id] = task
    return out


def parse_splits(raw: Any, tasks: dict[str, Task], source: str) -> dict[str, list[str]]:
    """Splits as an object of split name -> task ids (str or int, kept as str); ids that name no
    task in `tasks` are refused."""
    if not isinstance(raw, dict):
        raise WorldError(f"{source}: expected an object of split name -> task ids")
    splits: dict[str, list[str]] = {}
    for name, ids in raw.items():
        if not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids):
            raise WorldError(f"{source}: split {name!r} must be a list of task ids")
        ids = [str(i) for i in ids]
        unknown = [i for i in ids if i not in tasks]
        if unknown:
            raise WorldError(f"{source}: split {name!r} names unknown task id(s) "
                             f"{', '.join(unknown[:5])}")
        splits[name] = ids
    return splits
