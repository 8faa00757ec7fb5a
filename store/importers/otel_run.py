"""Our own OTel export's run fields, read back: the run's world on the first episode's root.

`t2e export --format otel` writes, once per file, on the first episode's `invoke_agent` root
(store/export_otel.py): `t2e.run.info` (the run's tau2 `info` block as compact JSON, its
policy taken out), `t2e.run.policy` (the policy text) and `t2e.run.tasks` (the tasks, gold
actions included, as a compact JSON list). They become the run's `info` and `tasks`, as a tau2
file's top-level keys do, so the re-import is the same world (world id from domain, policy and
tasks), re-scorable and gated against its original. A file without them (a foreign one, or an
older export) imports as before. Damaged fields (not text, not JSON, not of their shape) refuse
the file, naming the root span and the attribute: left out, the run would be another world
without a word. Fields that differ between episodes (two runs' exports joined in one file) are
no one run's world: none is kept, and a warning says so.
"""

from __future__ import annotations

from typing import Any

from .common import ImportFailure
from .json_fast import loads_text
from .otel_messages import _kind
from .tasks_embedded import EmbeddedTasks

INFO, POLICY, TASKS = "t2e.run.info", "t2e.run.policy", "t2e.run.tasks"
FIELDS = (INFO, POLICY, TASKS)
# the simulation key that carries them from the episode builder to the importer (popped there:
# never stored with the episode)
SIM_KEY = "t2e.run"


class RunFields:
    """The run fields met among the episodes (normally one root has them)."""

    def __init__(self) -> None:
        self.raw: dict | None = None  # the first fields met, as read
        self.top: dict | None = None  # ... parsed: the run's info and tasks
        self.carriers = 0  # episodes that have some
        self.differ = False  # whether they are not all the same

    def add(self, fields: dict, sim: dict) -> None:
        """One episode's fields (`sim`: its simulation, to name its root in errors)."""
        self.carriers += 1
        if self.raw is None:
            self.top = _parse(fields, _where(sim))
            self.raw = fields
        elif fields != self.raw:
            self.differ = True

    def apply(self, top: dict, warn: Any) -> bool:
        """Put the run's info and tasks into `top` (a run's top-level keys, tau2's names);
        True when the run has tasks (gold). `warn`: how a warning is given."""
        if self.top is None:
            return False
        if self.differ:
            warn(f"{self.carriers} episodes carry t2e run fields ({', '.join(FIELDS)}) that "
                 "differ (the file joins exports of different runs): none is kept, so the run "
                 "has no tasks and no policy")
            return False
        top.update(self.top)
        return bool(self.top.get("tasks"))


def _where(sim: dict) -> str:
    o = sim.get("otel") or {}
    return f"the root span of {o.get('group')} {str(o.get('key'))[:80]}"


def _parse(fields: dict, where: str) -> dict:
    for k, v in fields.items():
        if type(v) is not str:
            raise ImportFailure(f"{where}: {k} should be a string, found {_kind(v)}")
    out: dict[str, Any] = {}
    info = _json(fields, INFO, where)
    if info is not None and type(info) is not dict:
        raise ImportFailure(f"{where}: {INFO} should be a JSON object")
    policy = fields.get(POLICY)
    if policy is not None:
        info = {} if info is None else info
        env = info.setdefault("environment_info", {})
        if type(env) is not dict:
            raise ImportFailure(f"{where}: {INFO}: environment_info should be an object (it "
                                f"holds {POLICY})")
        env["policy"] = policy
    if info is not None:
        out["info"] = info
    tasks = _json(fields, TASKS, where)
    if tasks is not None:
        if type(tasks) is not list or not all(type(t) is dict for t in tasks):
            raise ImportFailure(f"{where}: {TASKS} should be a JSON list of task objects")
        # held as compact text until stored, as a tau2 file's embedded tasks are
        tasks = out["tasks"] = EmbeddedTasks.from_list(tasks)
        dup = tasks.duplicates()
        if dup:
            raise ImportFailure(f"{where}: {TASKS} holds the same task id twice ({dup[:5]})")
    return out


def _json(fields: dict, key: str, where: str) -> Any:
    text = fields.get(key)
    if text is None:
        return None
    try:
        return loads_text(text)
    except ValueError as exc:
        raise ImportFailure(f"{where}: {key}: not JSON ({str(exc)[:200]})") from None
