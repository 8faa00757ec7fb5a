"""An import's context (ImportContext: one file being imported, its run's rows and what was
noticed on the way) and a results file's run-level parts (RunMeta); moved out of common.py,
which re-exports them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from .. import writer
from ..hidden import typeable_name
from .common import ImportFailure
from .tasks_embedded import EmbeddedTasks, duplicate_ids, task_ids, world_id_of

# a list or set argument not given: a new one for each context (a dataclass's default_factory)
_NEW: Any = object()

# The two classes below were dataclasses; @dataclass writes each one's __init__, __repr__ and
# __eq__ as source text and compiles it when the class is made, in every process that imports
# them (no bytecode cache holds it): ~8 M instructions a process for these two (callgrind),
# paid by every import and by its worker process. Plain classes: nothing compares or prints
# them, so only the constructor is written out.


class RunMeta:
    """The run-level parts of a results file: top-level keys (in order) and their values."""

    def __init__(self, top_keys: list[str], top: dict[str, Any]) -> None:
        self.top_keys = top_keys
        self.top = top

    @property
    def info(self) -> dict:
        info = self.top.get("info")
        return info if isinstance(info, dict) else {}

    @property
    def tasks(self) -> list[dict] | EmbeddedTasks:
        tasks = self.top.get("tasks")
        return tasks if isinstance(tasks, (list, EmbeddedTasks)) else []

    @property
    def domain(self) -> str:
        """The file's own domain name, else the domain its embedded tasks' gold actions and
        tool definitions belong to (world/kinds.py), else 'unknown'."""
        env = self.info.get("environment_info") or {}
        d = env.get("domain_name") if isinstance(env, dict) else None
        d = d or self.top.get("domain")
        if isinstance(d, str) and d:
            return d
        from world.kinds import detect_kind, tool_def_names

        defs = env.get("tool_defs") if isinstance(env, dict) else None
        return detect_kind(self.tasks, tool_def_names(defs)) or "unknown"

    @property
    def policy(self) -> str | None:
        env = self.info.get("environment_info") or {}
        p = env.get("policy") if isinstance(env, dict) else None
        return p if isinstance(p, str) else None

    def llm(self, who: str) -> str | None:
        block = self.info.get(who) or {}
        v = block.get("llm") if isinstance(block, dict) else None
        if v is None and who == "agent_info":
            v = self.top.get("model") or self.top.get("agent")
        return v if isinstance(v, str) else None

    def info_json(self, fmt: str | None) -> dict:
        """runs.info_json: the tau2 `info` block itself, plus `_t2e` with the other top-level
        keys (except tasks/simulations, which have tables) and their order, for export."""
        out = dict(self.info)
        out[writer.META_KEY] = {
            "keys": self.top_keys,
            "has_info": "info" in self.top,
            "top": {k: v for k, v in self.top.items() if k not in ("info", "tasks")},
            "format": fmt,
        }
        if "info" in self.top:  # the grader a tau2 file was scored with (store/grader.py)
            from ..grader import from_info
            out[writer.META_KEY]["grader"] = from_info(self.info)
        return out


class ImportContext:
    """One file being imported: where it is, what it is, what we noticed on the way.

    Fields (constructor arguments, in this order): path, display, sha256, size, name, role;
    then, with defaults: fmt, name_from_file (no --name: a JSONL header/run field may name the
    run), warnings, run_id, source_id, episodes, messages, reading_what (" while reading
    simulation #N": where a parse error happened), relabelled, unlabelled, unknown_labels,
    relabel_error, _task_ids, _parsed_tasks, _tasks_by_id, before_source (called as f(ctx,
    conn) before the source row is made: sets sha256 when the file was hashed during the
    import, importers/__init__._import_hashing; None: nothing to do), hashing (a file being
    hashed while it is imported, importers/__init__._BackgroundHash: its waiting() around the
    import's waits for a worker, hurry() once the worker is done), grading ('foreign' for
    traces without gold (OpenTelemetry, ATIF): their episode ids are ones the application
    chose, no evidence that two episodes are one (provenance._matches))."""

    def __init__(self, path: Path, display: str, sha256: str, size: int, name: str, role: str,
                 fmt: str | None = None, name_from_file: bool = False,
                 warnings: list[str] = _NEW, run_id: str | None = None,  # type: ignore[assignment]
                 source_id: int | None = None, episodes: int = 0, messages: int = 0,
                 reading_what: str = "", relabelled: list[str] = _NEW,  # type: ignore[assignment]
                 unlabelled: int = 0, unknown_labels: set[str] = _NEW,  # type: ignore[assignment]
                 relabel_error: str | None = None, _task_ids: set[str] | None = None,
                 _parsed_tasks: dict | None = None, _tasks_by_id: dict | None = None,
                 before_source: Any = None, hashing: Any = None,
                 grading: str = "recorded") -> None:
        self.path = path
        self.display = display
        self.sha256 = sha256
        self.size = size
        self.name = name
        self.role = role
        self.fmt = fmt
        self.name_from_file = name_from_file
        self.warnings = [] if warnings is _NEW else warnings
        self.run_id = run_id
        self.source_id = source_id
        self.episodes = episodes
        self.messages = messages
        self.reading_what = reading_what
        self.relabelled = [] if relabelled is _NEW else relabelled
        self.unlabelled = unlabelled
        self.unknown_labels = set() if unknown_labels is _NEW else unknown_labels
        self.relabel_error = relabel_error
        self._task_ids = _task_ids
        self._parsed_tasks = _parsed_tasks
        self._tasks_by_id = _tasks_by_id
        self.before_source = before_source
        self.hashing = hashing
        self.grading = grading

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def reading(self) -> str:
        return self.reading_what

    def start_run(self, conn: sqlite3.Connection, meta: RunMeta,
                  run_id: str | None = None) -> str:
        """Create the source, the run and its tasks (the world id is set by finish_run)."""
        info = meta.info
        if self.before_source is not None:
            self.before_source(self, conn)
        self.source_id = writer.create_source(conn, kind="file", path=self.display,
                                              sha256=self.sha256, size_bytes=self.size,
                                              fmt=self.fmt)

        def as_int(v: Any) -> int | None:
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        # a name taken from the file (its name, a JSONL header's) is stored as it is shown, so
        # it can be typed back; a --name was checked where it was given (run_name_problem)
        name = typeable_name(self.name) if self.name_from_file else self.name
        from ..provenance import PROVENANCE_KEY

        prov = meta.top.get(PROVENANCE_KEY)
        if isinstance(prov, dict) and prov.get("grading") == "foreign":
            # our export of a foreign run (no gold): it stays foreign. Only this way: a file
            # cannot vouch for its own rewards
            self.grading = "foreign"
        self.run_id = writer.create_run(
            conn, name=name, role=self.role, source_id=self.source_id, domain=meta.domain,
            agent_model=meta.llm("agent_info"), user_model=meta.llm("user_info"),
            grading=self.grading, num_trials=as_int(info.get("num_trials")),
            max_steps=as_int(info.get("max_steps")), max_errors=as_int(info.get("max_errors")),
            seed=as_int(info.get("seed")), info=meta.info_json(self.fmt), run_id=run_id)
        dup = duplicate_ids(meta.tasks)
        if dup:
            raise ImportFailure(f"'tasks' holds the same task id twice ({dup[:5]})")
        writer.put_tasks(conn, self.run_id, meta.tasks)
        return self.run_id

    def check_label(self, sim: dict, tasks: list[dict], label: str) -> str | None:
        """The world's relabel check (when built): the likely task when the label looks wrong."""
        tid = sim.get("task_id")
        if tid is None:
            self.unlabelled += 1
        if not tasks:
            return None
        if self._task_ids is None:
            self._task_ids = set(task_ids(tasks))
        if tid is not None and str(tid) not in self._task_ids:
            self.unknown_labels.add(str(tid))
        if tid is not None and _graded_as_labelled(sim, self._task_by_id(tasks).get(str(tid))):
            # the world's check returns None here too (its first rule); skipping the call
            # saves comparing against every task's gold actions for every simulation
            return None
        from world.relabel import check_label
        from world.tasks import parse_tasks

        if self._parsed_tasks is None:
            try:
                self._parsed_tasks = parse_tasks(list(tasks), source=f"{self.display}: tasks")
            except Exception as exc:  # noqa: BLE001 - WorldError and friends: skip the check
                self._parsed_tasks = {}
                self.relabel_error = f"embedded tasks not understood ({exc})"
        if not self._parsed_tasks:
            return None
        try:
            result = check_label(sim, self._parsed_tasks)
        except Exception as exc:  # noqa: BLE001 - a checker bug must not lose the import
            self.relabel_error = f"{type(exc).__name__}: {exc}"
            return None
        likely = _likely(result)
        if likely is not None and likely != (None if tid is None else str(tid)):
            reason = result.get("reason") if isinstance(result, dict) else None
            self.relabelled.append(f"{label} labelled {tid!r} fits task {likely!r}"
                                   + (f" ({reason})" if reason else ""))
            return likely
        return None

    def _task_by_id(self, tasks: list[dict]) -> dict[str, dict]:
        if isinstance(tasks, EmbeddedTasks):
            return tasks  # its get() parses the one task asked for
        if self._tasks_by_id is None:
            self._tasks_by_id = {str(t.get("id")): t for t in tasks}
        return self._tasks_by_id

    def summary_warnings(self, rows: Any, *, record: str = "simulation",
                         result: str = "tool result") -> list[str]:
        """The per-file warnings gathered while reading simulations (labels, ids, ticks, tool
        results). `rows`: the RowBuilder (or EpisodeWriter) that read them, for its counts;
        `record`, `result`: what the file calls a simulation and a tool result (an ATIF file
        holds trajectories and observation results)."""
        out: list[str] = []
        if rows.turns_unread:
            out.append(f"{rows.turns_unread} simulation(s) have no turns read: messages empty "
                       "beside ticks (ticks are read only when messages is null), or messages null "
                       "with no ticks; stored with no steps")
        if rows.from_ticks:
            out.append(f"{rows.from_ticks} simulation(s) have messages: null (tau2 full-duplex): "
                       "their steps were rebuilt from the ticks' speech chunks, tool calls and "
                       "results, in tick order")
        if self.unlabelled:
            out.append(f"{self.unlabelled} simulation(s) have no task_id (stored unlabelled)")
        if self.unknown_labels:
            shown = ", ".join(sorted(self.unknown_labels)[:10])
            out.append(f"{len(self.unknown_labels)} task id(s) are not among the embedded "
                       f"tasks: {shown}")
        if self.relabelled:
            shown = "; ".join(self.relabelled[:5])
            more = f" (and {len(self.relabelled) - 5} more)" if len(self.relabelled) > 5 else ""
            out.append(f"task labels look wrong for {len(self.relabelled)} simulation(s), likely "
                       f"task stored beside the label: {shown}{more}")
        if self.relabel_error:
            out.append(f"the task-label check failed and was skipped: {self.relabel_error}")
        if rows.unanswered:
            out.append(f"{rows.unanswered} {result}(s) answer a call id that no earlier tool "
                       f"call in their {record} has (kept, with no tool name): "
                       f"{', '.join(rows.unanswered_seen)}"
                       + (" ..." if rows.unanswered > len(rows.unanswered_seen) else ""))
        if rows.duplicate_ids:
            out.append(f"{rows.duplicate_ids} {record} id(s) repeat within the file (kept, "
                       f"keyed by position): {', '.join(rows.repeated_ids)}")
        if (w := rows.totals_warning(record)) is not None:
            out.append(w)
        return out

    def take_warnings(self) -> list[str]:
        """Warnings so far, handed over once (a worker process sends them to the parent)."""
        out, self.warnings = self.warnings, []
        return out

    def finish_run(self, conn: sqlite3.Connection, meta: RunMeta) -> None:
        """Set the world id, the final info block and the detected format."""
        world_id = world_id_of(meta.domain, meta.policy, meta.tasks)
        writer.ensure_world(conn, world_id, kind="import", domain=meta.domain,
                            detail={"domain": meta.domain,
                                    "policy_sha256": _sha(meta.policy),
                                    "task_ids": task_ids(meta.tasks),
                                    "definition": "sha256(canonical JSON of {domain, policy, "
                                                  "tasks})"})
        conn.execute("UPDATE runs SET world_id = ?, info_json = ?, domain = ? WHERE run_id = ?",
                     (world_id, json.dumps(meta.info_json(self.fmt), ensure_ascii=False),
                      meta.domain, self.run_id))
        conn.execute("UPDATE sources SET format = ? WHERE source_id = ?",
                     (self.fmt, self.source_id))
        number_trials(conn, self.run_id)
        # a re-import carries the history of what it re-imports (store/provenance.py)
        from ..provenance import PROVENANCE_KEY, inherit

        for w in inherit(conn, self.run_id, self.role, meta.top.get(PROVENANCE_KEY)):
            self.warn(w)


def number_trials(conn: sqlite3.Connection, run_id: str) -> None:
    """Episodes whose file gives no trial (foreign traces, JSON Lines or an old tau2 file
    without one), of a task that has more than one episode, are its trials in run order,
    after any trial the file gives for that task: a task run three times is trials 0, 1, 2,
    each its own reference (`RUN:TASK:TRIAL`), never three of one. A task's only episode
    keeps no trial (its reference is `RUN:TASK`)."""
    conn.execute(
        "WITH e AS (SELECT episode_id, task_id, ord, trial, count(*) OVER (PARTITION BY "
        "task_id) AS k, max(trial) OVER (PARTITION BY task_id) AS top FROM episodes WHERE "
        "run_id = ?), n AS (SELECT episode_id, row_number() OVER (PARTITION BY task_id ORDER "
        "BY ord, episode_id) - 1 + coalesce(top + 1, 0) AS t FROM e WHERE trial IS NULL AND "
        "k > 1) UPDATE episodes SET trial = n.t FROM n WHERE episodes.episode_id = "
        "n.episode_id", (run_id,))


def _graded_as_labelled(sim: dict, task: dict | None) -> bool:
    """True when the recorded action checks are exactly the labelled task's gold actions."""
    if not isinstance(task, dict):
        return False
    crit = task.get("evaluation_criteria")
    gold = crit.get("actions") if isinstance(crit, dict) else None
    ri = sim.get("reward_info")
    checks = ri.get("action_checks") if isinstance(ri, dict) else None
    if not gold or not isinstance(gold, list) or not checks or len(checks) != len(gold):
        return False
    for ac, g in zip(checks, gold):
        a = ac.get("action") if isinstance(ac, dict) else None
        if not (isinstance(a, dict) and isinstance(g, dict) and a.get("name") == g.get("name")
                and (a.get("arguments") or {}) == (g.get("arguments") or {})):
            return False
    return True


def _likely(result: Any) -> str | None:
    """Accept the shapes the relabel check may return: None, a task id, or a record with one."""
    if result is None:
        return None
    if isinstance(result, (str, int)) and not isinstance(result, bool):
        return str(result)
    for attr in ("likely", "likely_task_id"):
        v = result.get(attr) if isinstance(result, dict) else getattr(result, attr, None)
        if v is not None:
            return str(v)
    return None


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()
