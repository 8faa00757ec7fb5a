"""Re-scoring a tau2 results file against the tasks embedded in it (`t2e score`).

Grading uses the file's own task definitions (SPEC §1.2), the records of a tau2 data directory
of the file's domain, retail or airline (or, for t2e's own mini-retail / mini-airline exports,
the built-in world's), and the recorded NL verdicts (flagged judge-dependent; never re-judged). Each
simulation is compared with its recorded reward; disagreements carry a reason.
"""

from __future__ import annotations

import os
from typing import Any

from .domains import world_key
from .errors import WorldError
from .kinds import db_class, detect_kind, kind_of, tool_def_names, tool_kinds
from .relabel import check_label
from .results_read import EXPECTED, SimStream, load_results, stream_results  # noqa: F401
from .scoring import is_success, score_episode
from .tasks import Task, parse_tasks

# domain name in a results file -> where its records come from. tau2 writes "retail" /
# "airline"; t2e's own exports write the domain they ran in ("tau2-retail", "mini-airline", ...).
SUPPORTED_DOMAINS = ("retail", "tau2-retail", "mini-retail",
                     "airline", "tau2-airline", "mini-airline")
BUILT_IN = ("mini-retail", "mini-airline")
# the same domains as the world names them (world_key): what every re-score decision tests
RESCORABLE = ("tau2-retail", "mini-retail", "tau2-airline", "mini-airline")


def rescorable_kinds() -> str:
    """The kinds of domain t2e re-scores, for messages ("retail and airline"): read off
    RESCORABLE, so a message never lags behind what is re-scored."""
    kinds = list(dict.fromkeys(key.split("-", 1)[1] for key in RESCORABLE))
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


def rescore_domain(domain: str | None) -> str | None:
    """The world's name of `domain` (`world.domains.world_key`: any case or padding, tau2's
    bare names) when t2e can re-score files of it, else None. A file's own spelling never
    decides: "Retail" is retail's tasks, so it is re-scored on retail's records."""
    key = world_key(domain)
    return key if key in RESCORABLE else None


def records_for(domain: str | None, data_dir: str | os.PathLike | None = None) -> Any:
    """The base records a file of `domain` is graded on: the built-in world's for our own
    domains (no data directory needed), else tau2's db.json of the domain's kind from
    `data_dir` or the environment (world/tau2_data.py; WorldError naming what is missing)."""
    key = rescore_domain(domain)
    if key in BUILT_IN:
        from .domains import load_domain

        return load_domain(key).base_db
    from .tau2_data import load_db

    return load_db(data_dir, kind_of(key) or "retail")


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
    named = file_domain(data)
    domain = rescore_domain(named)
    if named is not None and domain is None:
        raise WorldError(f"{source}: domain {named!r} is not supported by t2e score yet "
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
    report = new_report()
    for i, sim in enumerate(sims):
        tally(report, scorer.one(i, sim))
    return report


def new_report() -> dict[str, Any]:
    """An empty file report (the key order is the --json output's)."""
    return {"simulations": 0, "agree": 0, "disagree": [], "relabelled": [], "ambiguous": [],
            "judge_dependent": 0, "recorded_successes": 0}


def tally(report: dict[str, Any], outcome: tuple) -> dict | None:
    """Add one `Scorer.one` outcome to `report` (the serial read and each part of a split
    read count alike); returns its disagreement entry, if any."""
    success, judge, agree, relabelled, ambiguous, disagree = outcome
    report["simulations"] += 1
    report["recorded_successes"] += success
    report["judge_dependent"] += judge
    report["agree"] += agree
    if relabelled is not None:
        report["relabelled"].append(relabelled)
    if ambiguous is not None:
        report["ambiguous"].append(ambiguous)
    if disagree is not None:
        report["disagree"].append(disagree)
    return disagree


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
