"""Re-scoring a tau2 results file against the tasks embedded in it (`t2e score`).

Grading uses the file's own task definitions (SPEC §1.2), the records of a tau2 data directory
of the file's domain, retail or airline (or, for t2e's own mini-retail / mini-airline exports,
the built-in world's), and the recorded NL verdicts (flagged judge-dependent; never re-judged). Each
simulation is compared with its recorded reward; disagreements carry a reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import WorldError, describe_json_error
from .kinds import db_class, detect_kind, kind_of, tool_def_names, tool_kinds
from .relabel import check_label
from .scoring import is_success, score_episode
from .tasks import Task, parse_tasks

# domain name in a results file -> where its records come from. tau2 writes "retail" /
# "airline"; t2e's own exports write the domain they ran in ("tau2-retail", "mini-airline", ...).
SUPPORTED_DOMAINS = ("retail", "tau2-retail", "mini-retail",
                     "airline", "tau2-airline", "mini-airline")
BUILT_IN = ("mini-retail", "mini-airline")


def records_for(domain: str | None, data_dir: str | os.PathLike | None = None) -> Any:
    """The base records a file of `domain` is graded on: the built-in world's for our own
    domains (no data directory needed), else tau2's db.json of the domain's kind from
    `data_dir` or the environment (world/tau2_data.py; WorldError naming what is missing)."""
    if domain in BUILT_IN:
        from .domains import load_domain

        return load_domain(domain).base_db
    from .tau2_data import load_db

    return load_db(data_dir, kind_of(domain) or "retail")


def load_results(path: str | os.PathLike) -> dict:
    """Read a tau2 results file (monolithic JSON, or the directory format with a
    `simulations/` folder) whole. Refuses non-tau2 shapes with a message naming the file."""
    data = stream_results(path)
    data["simulations"] = list(data["simulations"])
    return data


def stream_results(path: str | os.PathLike) -> dict:
    """A tau2 results file with its simulations as an iterator read one at a time: `info`,
    `tasks` and the other small top-level keys are parsed on a first pass that skips the
    simulations item by item; `simulations` is a generator over a second pass, so memory
    follows one simulation, not the file (`t2e score` on a 1 GB file)."""
    p = Path(path)
    if p.is_dir():
        main = p / "results.json"
        data = _read(main)
        _check_shape(data, main)
        if not data.get("simulations"):
            ids = []
            for entry in data.get("simulation_index") or []:
                sid = entry.get("id") if isinstance(entry, dict) else None
                if not sid:
                    raise WorldError(f"{main}: simulation_index entry without an id")
                # an id is a file name in simulations/, never a path leading elsewhere
                if (not isinstance(sid, str) or not sid or "/" in sid or "\\" in sid
                        or "\0" in sid or sid.startswith(".")):
                    raise WorldError(f"{main}: simulation_index id {sid!r} names a file outside "
                                     "simulations/; only files inside the directory are read")
                ids.append(sid)
            data["simulations"] = _primed(_read(p / "simulations" / f"{sid}.json")
                                          for sid in ids)
        else:
            data["simulations"] = iter(data["simulations"])
        return data
    data = _head(p)
    data["simulations"] = _primed(data["simulations"], getattr(data["simulations"], "at", None))
    return data


class SimStream:
    """The simulations of a results file, read one at a time. `path` and `at` (the byte
    offset of the array's first item, when known) let world/score_split.py read parts of
    the array in other processes."""

    def __init__(self, gen, path: Path | None = None, at: int | None = None):
        self._gen, self.path, self.at = gen, path, at

    def __iter__(self):
        return self._gen

    def __next__(self):
        return next(self._gen)

    def close(self) -> None:
        """Stop reading (closes the file)."""
        self._gen.close()


def _primed(sims, at=None) -> SimStream:
    """The simulations with the first one read now: a file malformed from its first
    simulation is refused before anything else is asked for (the data directory, say)."""
    path = getattr(sims, "path", None)
    first = next(sims, _END)

    def gen():
        if first is not _END:
            yield first
            yield from sims
    return SimStream(gen(), path, at)


_END = object()


def _open_stream(p: Path):
    from .jsonstream import JsonStream

    if p.exists() and not p.is_file():  # a FIFO or /dev/zero would hang
        raise WorldError(f"{p}: not a regular file")
    try:
        fh = open(p, "rb")
    except FileNotFoundError:
        raise WorldError(f"{p}: no such file") from None
    except OSError as exc:
        raise WorldError(f"{p}: cannot read ({exc.strerror})") from None
    return fh, JsonStream(fh)


def _head(p: Path) -> dict:
    """Every top-level key but `simulations`, and `simulations` as a generator.

    The usual file (tau2 writes info and tasks first) is read in one pass: reading stops at the
    simulations array and the generator carries on from there, so each simulation is parsed
    once. When info or tasks come after the simulations, the array is skipped item by item
    (never held) to reach them, and the generator reads it on a second pass. A malformed
    simulation is found when the generator reaches it (a WorldError naming the file either
    way)."""
    from .jsonstream import JsonStreamError

    fh, js = _open_stream(p)
    head: dict = {}
    seen_sims = False
    try:
        if js.at_end():
            raise WorldError(f"{p}: the file is empty; {EXPECTED}")
        if js.peek() != "{":
            value = js.read_value()
            _check_shape(value, p)
        keys = js.iter_object_keys()
        for key in keys:
            if key == "simulations":
                seen_sims = True
                if js.peek() != "[":
                    raise WorldError(f"{p}: 'simulations' must be a list")
                if "tasks" in head and "info" in head:
                    _check_shape({**head, "simulations": []}, p)
                    at = js.byte_offset()
                    head["simulations"] = SimStream(_rest(p, fh, js, keys), p, at)
                    fh = None  # the generator owns it now
                    return head
                for _ in js.iter_array():
                    pass
            else:
                head[key] = js.read_value()
    except JsonStreamError as exc:
        raise WorldError(f"{p}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{p}: not UTF-8 text ({exc.reason})") from None
    finally:
        if fh is not None:
            fh.close()
    _check_shape({**head, **({"simulations": []} if seen_sims else {})}, p)
    head["simulations"] = _sims(p)  # a second pass
    return head


def _rest(p: Path, fh, js, keys):
    """The simulations from the array at the cursor, then the rest of the object read (and
    checked) to its end."""
    from .jsonstream import JsonStreamError

    try:
        yield from js.iter_array()
        for _ in keys:
            js.read_value()
    except JsonStreamError as exc:
        raise WorldError(f"{p}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{p}: not UTF-8 text ({exc.reason})") from None
    finally:
        fh.close()


def _sims(p: Path):
    """The simulations array of a results file, one parsed item at a time."""
    from .jsonstream import JsonStreamError

    fh, js = _open_stream(p)
    try:
        for key in js.iter_object_keys():
            if key == "simulations":
                yield from js.iter_array()
                return
            js.read_value()
    except JsonStreamError as exc:
        raise WorldError(f"{p}: {exc}") from None
    finally:
        fh.close()


EXPECTED = ("expected a tau2 results file (an object with info, tasks and simulations) or a "
            "tau2 results directory (results.json + simulations/)")


def _read(p: Path) -> Any:
    if p.exists() and not p.is_file() and not p.is_dir():  # a FIFO or /dev/zero would hang
        raise WorldError(f"{p}: not a regular file")
    try:
        with open(p, encoding="utf-8-sig") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise WorldError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise WorldError(f"{p}: is a directory without results.json") from None
    except OSError as exc:
        raise WorldError(f"{p}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise WorldError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise WorldError(f"{p}: the file is empty; {EXPECTED}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldError(f"{p}: {_json_error(exc, text)}") from None
    except RecursionError:
        raise WorldError(f"{p}: nesting too deep (more levels of [ and {{ than can be "
                         "read)") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise WorldError(f"{p}: a value that can't be read ({str(exc)[:120]})") from None


def _json_error(exc: json.JSONDecodeError, text: str) -> str:
    return describe_json_error(exc.msg, f"character {exc.pos} (line {exc.lineno})",
                               exc.pos >= len(text.rstrip()))


def _check_shape(data: Any, p: Path) -> None:
    if isinstance(data, list):
        raise WorldError(f"{p}: a bare list, not a tau2 results file (it has no embedded tasks "
                         "to grade against)")
    if not isinstance(data, dict):
        raise WorldError(f"{p}: not a tau2 results file (top level is {type(data).__name__})")
    missing = [k for k in ("tasks", "simulations") if k not in data]
    if "simulations" in missing and data.get("simulation_index"):
        missing.remove("simulations")
    if missing:
        raise WorldError(f"{p}: not a tau2 results file: missing {', '.join(missing)} "
                         "(t2e score needs the task definitions embedded by tau2)")
    if not isinstance(data["tasks"], list):
        raise WorldError(f"{p}: 'tasks' must be a list")
    if "simulations" in data and not isinstance(data["simulations"], list):
        raise WorldError(f"{p}: 'simulations' must be a list")


def file_domain(data: dict) -> str | None:
    """The domain a results file says it is about (info, else the tasks' scenarios, else
    the kind its embedded tasks' gold actions and tool definitions belong to)."""
    env = ((data.get("info") or {}).get("environment_info") or {})
    name = env.get("domain_name") if isinstance(env, dict) else None
    if isinstance(name, str) and name:
        return name
    tasks = data.get("tasks") if isinstance(data.get("tasks"), list) else []
    for t in tasks:
        inst = ((t or {}).get("user_scenario") or {}).get("instructions") if isinstance(t, dict) else None
        if isinstance(inst, dict) and isinstance(inst.get("domain"), str):
            return inst["domain"]
    defs = env.get("tool_defs") if isinstance(env, dict) else None
    return detect_kind(tasks, tool_def_names(defs))


def _tools_lacking(task: Task, domain: str | None) -> list[str]:
    known = tool_kinds(domain)
    return sorted({a.name for a in task.actions if a.name not in known})


def _explain(rec: dict | None, new: dict) -> str:
    if not isinstance(rec, dict):
        return "no recorded reward_info (evaluation never ran)"
    if new.get("reward") is None:
        return (new.get("info") or {}).get("nl", {}).get("note") or "reward could not be computed"
    parts = []
    rec_info = rec.get("info") if isinstance(rec.get("info"), dict) else {}
    if rec_info.get("error"):
        # Newer tau2 grades an evaluation that raised as 0.0 and records the error.
        parts.append(f"the recorded evaluation raised ({str(rec_info['error'])[:200]})")
    rdb, ndb = rec.get("db_check") or {}, new.get("db_check") or {}
    if rdb.get("db_match") != ndb.get("db_match"):
        parts.append(f"db_match recorded {rdb.get('db_match')} vs recomputed {ndb.get('db_match')}")
    rc = [c.get("met") for c in rec.get("communicate_checks") or []]
    nc = [c.get("met") for c in new.get("communicate_checks") or []]
    if rc != nc:
        parts.append(f"communicate checks recorded {rc} vs recomputed {nc}")
    if rec.get("reward_basis") != new.get("reward_basis"):
        parts.append(f"reward basis recorded {rec.get('reward_basis')} vs {new.get('reward_basis')}")
    if not parts and new.get("db_check") is None:
        parts.append((new.get("info") or {}).get("note") or "premature termination rule")
    return "; ".join(parts) or "reward differs"


def rescore(data: dict, base_db: Any, *, source: str = "<results>",
            replay: str = "v1", relabel: bool = True, jobs: int = 1) -> dict:
    """Re-score parsed results `data`; returns the `t2e score` report for one file.

    `jobs` > 1 reads and scores a streamed file in up to that many parts at once (this process
    and workers, world/score_split.py); the report is the same, entry for entry, as with
    jobs=1."""
    domain = file_domain(data)
    if domain is not None and domain not in SUPPORTED_DOMAINS:
        raise WorldError(f"{source}: domain {domain!r} is not supported by t2e score yet "
                         f"(supported: {', '.join(SUPPORTED_DOMAINS)})")
    kind = kind_of(domain)
    if kind is not None and not isinstance(base_db, db_class(kind)):
        raise WorldError(f"{source}: a {kind} results file cannot be graded on "
                         f"{type(base_db).__name__} records")
    scorer = Scorer(parse_tasks(data["tasks"], f"{source} tasks"), domain, base_db, replay,
                    relabel)
    sims = data.get("simulations") or []  # a list, or a stream read one simulation at a time
    if jobs > 1 and isinstance(sims, SimStream) and sims.at is not None:
        from .score_split import score_split

        split = score_split(scorer, sims.path, sims.at, jobs)
        if split is not None:
            sims.close()
            return split
        # not split (compact JSON, a small file) or a part failed: the serial read below
        # gives the report, or the error, a single reader gives
    outcomes = (scorer.one(i, sim) for i, sim in enumerate(sims))
    report: dict[str, Any] = {"simulations": 0, "agree": 0, "disagree": [],
                              "relabelled": [], "ambiguous": [], "judge_dependent": 0}
    successes = 0
    for success, judge, agree, relabelled, ambiguous, disagree in outcomes:
        report["simulations"] += 1
        successes += success
        report["judge_dependent"] += judge
        report["agree"] += agree
        if relabelled is not None:
            report["relabelled"].append(relabelled)
        if ambiguous is not None:
            report["ambiguous"].append(ambiguous)
        if disagree is not None:
            report["disagree"].append(disagree)
    report["recorded_successes"] = successes
    return report


def is_malformed(sim: Any) -> bool:
    """A simulation that can't be scored at all (not an object, or no messages list)."""
    return not isinstance(sim, dict) or not isinstance(sim.get("messages"), list)


def malformed_reason(i: int) -> str:
    """The disagreement reason of malformed simulation #i (0-based, in file order)."""
    return f"simulation #{i} is malformed (no messages list)"


class Scorer:
    """What scoring one simulation needs: the file's parsed tasks, its domain, the base
    records and the options. Picklable, so a worker process can hold a copy."""

    def __init__(self, tasks: dict[str, Task], domain: str | None, base_db: Any, replay: str,
                 relabel: bool):
        self.tasks, self.domain, self.base_db = tasks, domain, base_db
        self.replay, self.relabel = replay, relabel

    def one(self, i: int, sim: Any) -> tuple:
        """Simulation #i's part of the report: (recorded success, judge-dependent, agrees,
        relabelled entry, ambiguous entry, disagreement entry), the entries None if absent."""
        success = isinstance(sim, dict) and isinstance(sim.get("reward_info"), dict) \
            and is_success(sim["reward_info"].get("reward"))
        if is_malformed(sim):
            return (success, False, False, None, None, {
                "sim_id": sim.get("id") if isinstance(sim, dict) else None,
                "task_id": sim.get("task_id") if isinstance(sim, dict) else None,
                "recorded": None, "recomputed": None, "reason": malformed_reason(i)})
        sim_id, label = sim.get("id"), sim.get("task_id")
        label = str(label) if label is not None else None
        rec = sim.get("reward_info") if isinstance(sim.get("reward_info"), dict) else None
        recorded = rec.get("reward") if rec else None
        task_id, relabelled = label, None
        if self.relabel:
            found = check_label(sim, self.tasks)
            if found is not None and found.get("likely") is None:
                # twins with different gold outcomes: counted apart, never as a disagreement
                return (success, False, False, None, found, None)
            if found is not None:
                relabelled = found
                task_id = found["likely"]
        task = self.tasks.get(task_id) if task_id is not None else None

        def fail(reason: str, recomputed=None, judge=False) -> tuple:
            return (success, judge, False, relabelled, None, {
                "sim_id": sim_id, "task_id": label, "recorded": recorded,
                "recomputed": recomputed, "reason": reason})

        if task is None:
            return fail(f"task {label!r} is not embedded in the file")
        lacking = _tools_lacking(task, self.domain)
        if lacking:
            return fail(f"task {task.id} references tools the "
                        f"{kind_of(self.domain) or 'retail'} domain lacks: {', '.join(lacking)}")
        new = score_episode(task, sim["messages"], sim.get("termination_reason"),
                            base_db=self.base_db, replay=self.replay, grading="recorded",
                            recorded=rec)
        judge, got = bool(new["judge_dependent"]), new["reward"]
        if (rec is not None and got is not None and isinstance(recorded, (int, float))
                and abs(got - recorded) <= 1e-6):
            return (success, judge, True, relabelled, None, None)
        return fail(_explain(rec, new), got, judge)
