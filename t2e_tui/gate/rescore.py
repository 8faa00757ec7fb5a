"""Re-scoring imported runs at the gate: are the recorded rewards the grader's?

An imported results file carries its own rewards and action checks, and anyone can edit them.
Where the run's domain can be graded here (retail and airline with a tau2 data directory's
records; mini-retail and mini-airline with the built-in ones), the gate replays each compared
episode against the tasks stored with the run (the ones the file was graded on, which the
world id ties to the baseline's) exactly as `t2e score` does (`world.rescore.Scorer`), and
compares the reward and the action matches with the recorded ones. Evidence whose recorded
rewards do not reproduce supports nothing either way: rules.evaluate makes it inconclusive,
naming the simulations and both values. Where a run of a domain t2e re-scores was not
re-scored (no data directory given, no tasks embedded), nobody vouches for its rewards: the
verdict is inconclusive at most. Where a run cannot be re-scored here at all (a foreign trace,
a domain t2e has no records for), the gate says its rewards are the file's word. Runs t2e
made are scored by t2e when they are played: nothing to re-score.

Why here and not at import: the gate pays for the compared episodes of the runs it judges
(about 0.5-1 ms an episode), an import would pay for every file, gated or not, and would
need the tau2 records at import time. What cannot be re-checked even here: NL-assertion
verdicts (an LLM judge's) are taken from the file, as `t2e score` takes them; such rewards
are counted and said.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from store import INFRA

from .compare import Comparison
from .runs import RunInfo

SHOWN = 10   # disagreements named in the verdict's reason (all are in --json)


@dataclass
class SideRescore:
    """What re-scoring one side's run found."""
    run: str                  # its label: name (id)
    status: str               # scored_here | reproduced | differs | not_rescored
    why: str | None = None    # not_rescored: why not
    # not_rescored although its domain is one t2e re-scores (its records not given, its
    # tasks not embedded): what would re-score it. Such rewards cannot be vouched for, so
    # they cap the verdict at inconclusive (unvouched_reason); None where the domain cannot
    # be re-scored here at all (a foreign trace, telecom): the file's word, said in warnings
    cap: str | None = None
    # what re-scores it: "records" (a tau2 data directory: --data DIR, TAU2_DATA_DIR) or
    # "tasks" (the file imported with its tasks); each face words it (rescore_hint)
    needs: str | None = None
    rescored: int = 0         # episodes re-scored
    judge_dependent: int = 0  # of them, rewards resting on the file's NL verdicts
    unchecked: int = 0        # of them, labels twin tasks with other gold outcomes
    differ: list[dict] = field(default_factory=list)
    # a foreign run's: the outcome attributes its rewards were mapped from (`--reward-attr`)
    mapped_from: list[str] = field(default_factory=list)
    # ... and whether that mapping is the import's (a Harbor job's verifier reward), not a
    # `--reward-attr` given to the gate: what the words say it came from
    mapped_at_import: bool = False

    def to_dict(self) -> dict:
        return {"run": self.run, "status": self.status, "why": self.why, "cap": self.cap,
                "needs": self.needs, "mapped_from": self.mapped_from,
                "mapped_at_import": self.mapped_at_import,
                "rescored": self.rescored, "judge_dependent": self.judge_dependent,
                "unchecked": self.unchecked, "differ": self.differ}


def reward_from(sides: dict[str, SideRescore]) -> dict[str, list[str]]:
    """Per side, the outcome attributes a foreign run's rewards were mapped from
    (`--reward-attr`), sides without one left out: what the verdict's reports say and its
    scoreboard row records (gate_decisions.reward_from_json)."""
    return {side: list(r.mapped_from) for side, r in sides.items() if r.mapped_from}


def rescore_comparison(conn: Any, cmp: Comparison,
                       data_dir: str | None = None) -> dict[str, SideRescore]:
    """Re-score the compared episodes of each imported side; {side: SideRescore}."""
    records: dict[str, Any] = {}
    return {side: _side(conn, run, cmp.task_ids, data_dir, records)
            for side, run in (("baseline", cmp.baseline), ("candidate", cmp.candidate))}


def _side(conn: Any, run: RunInfo, tasks: list[str], data_dir: str | None,
          records: dict[str, Any]) -> SideRescore:
    from world.errors import WorldError
    from world.kinds import kind_of
    from world.rescore import RESCORABLE, Scorer, records_for, rescore_domain
    from world.tasks import parse_tasks

    label = run.label()
    if run.source_id is None:
        return SideRescore(label, "scored_here")
    if run.grading == "foreign":
        from store.outcomes import mapped_from

        # (the Harbor import says where it read each reward; a --reward-attr mapping does not)
        at_import = conn.execute(
            "SELECT 1 FROM episodes WHERE run_id = ? AND json_extract(reward_info_json, "
            "'$.info.read_from') IS NOT NULL LIMIT 1", (run.run_id,)).fetchone() is not None
        return SideRescore(label, "not_rescored", "a foreign trace carries no gold actions "
                                                  "or records to grade it on",
                           mapped_from=mapped_from(conn, run.run_id),
                           mapped_at_import=at_import)
    # the domain as the world names it (world_key), never the file's spelling: a file
    # renamed "Retail" is retail's tasks and is re-scored on retail's records
    kind = rescore_domain(run.domain)
    if kind is None:
        return SideRescore(label, "not_rescored", f"t2e has no records of domain "
                                                  f"{run.domain!r} (it re-scores "
                                                  f"{', '.join(RESCORABLE)})")
    try:
        if kind not in records:
            records[kind] = records_for(kind, data_dir)
    except WorldError as exc:   # no data directory given, or none holding the records
        return SideRescore(label, "not_rescored", str(exc),
                           cap=f"pass --data DIR to re-score (a tau2 data directory holding "
                               f"the {kind_of(kind)} records)", needs="records")
    try:
        stored = [json.loads(t) for (t,) in conn.execute(
            "SELECT task_json FROM tasks WHERE run_id = ? ORDER BY ord", (run.run_id,))]
        if not stored:
            return SideRescore(label, "not_rescored", "the file embeds no task definitions",
                               cap="import the file with its tasks to re-score it",
                               needs="tasks")
        defs = parse_tasks(stored, f"run {label}: tasks")
    except WorldError as exc:
        return SideRescore(label, "not_rescored", str(exc),
                           cap="import the file with valid tasks to re-score it",
                           needs="tasks")
    scorer = Scorer(defs, kind, records[kind], "v1", True)
    out = SideRescore(label, "reproduced")
    for i, (ep, sim) in enumerate(_episodes(conn, run.run_id, tasks)):
        _success, judge, _agree, _relabelled, ambiguous, disagree = scorer.one(i, sim)
        out.rescored += 1
        out.judge_dependent += bool(judge)
        out.unchecked += ambiguous is not None
        why = [] if disagree is None else [disagree["reason"]]
        recomputed = None if disagree is None else disagree["recomputed"]
        task = defs.get(str(ep["likely_task_id"] or ep["task_id"]))
        acts = _actions_differ(task, sim)
        if acts:
            why.append(acts)
        if why:
            out.differ.append({
                "episode_id": ep["episode_id"], "sim_id": ep["sim_id"],
                "task_id": ep["task_id"], "recorded": ep["reward"],
                "recomputed": ep["reward"] if disagree is None else recomputed,
                "reason": "; ".join(why)})
    if out.differ:
        out.status = "differs"
    return out


def _episodes(conn: Any, run_id: str, tasks: list[str]):
    """(episodes row, tau2 simulation dict) of the run's scored episodes on `tasks`, the ones
    the gate counts."""
    from store.exporters import simulation

    cur = conn.execute(
        "SELECT * FROM episodes WHERE run_id = ? AND status = 'done' AND reward IS NOT NULL "
        "AND termination_reason IS NOT ? AND task_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY ord, episode_id", (run_id, INFRA, json.dumps(tasks)))
    cols = [d[0] for d in cur.description]
    for row in cur.fetchall():
        ep = dict(zip(cols, row))
        yield ep, simulation(conn, ep)


def _actions_differ(task: Any, sim: dict) -> str | None:
    """How the recorded action matches differ from the trajectory's, or None."""
    from world.scoring import check_actions

    ri = sim.get("reward_info") if isinstance(sim.get("reward_info"), dict) else {}
    recorded = ri.get("action_checks")
    if task is None or not isinstance(recorded, list) or not recorded:
        return None   # the gate then counts the task's gold actions as unmatched
    rec = [bool(isinstance(a, dict) and a.get("action_match")) for a in recorded]
    new = [a["action_match"] for a in check_actions(task, sim.get("messages") or [])]
    if rec == new:
        return None
    return (f"action matches recorded {sum(rec)}/{len(rec)} vs recomputed "
            f"{sum(new)}/{len(new)}")


def _value(v: Any) -> str:
    return "none" if v is None else str(v)


def differ_reason(sides: dict[str, SideRescore]) -> str | None:
    """The verdict's reason when a side's recorded rewards do not reproduce (None if all do)."""
    parts = []
    for side, r in sides.items():
        if not r.differ:
            continue
        # rewards that differ first, then action matches alone; file order within each
        first = sorted(r.differ, key=lambda d: d["recorded"] == d["recomputed"])
        shown = "; ".join(
            f"{d['sim_id'] or 'episode ' + str(d['episode_id'])} (task {d['task_id']}): "
            f"recorded {_value(d['recorded'])}, recomputed {_value(d['recomputed'])} "
            f"({d['reason']})" for d in first[:SHOWN])
        more = f"; +{len(r.differ) - SHOWN} more (--json lists them)" \
            if len(r.differ) > SHOWN else ""
        parts.append(f"{side} run {r.run}: {len(r.differ)} of {r.rescored} episode(s) "
                     f"re-scored here differ from the file: {shown}{more}")
    if not parts:
        return None
    return ("the recorded rewards do not reproduce: " + " | ".join(parts) + ". Evidence "
            "whose rewards are not its grader's supports nothing either way: inconclusive "
            "(`t2e score FILE --data DIR` re-scores the file)")


def unvouched_reason(sides: dict[str, SideRescore]) -> str | None:
    """The verdict's reason when a side of a domain t2e re-scores was not re-scored (its
    records not given, its tasks missing): rewards nobody checked cap it at inconclusive."""
    parts = [f"{side} run {r.run} was not re-scored ({r.why}): {r.cap}"
             for side, r in sides.items() if r.status == "not_rescored" and r.cap]
    if not parts:
        return None
    return ("rewards of a domain t2e re-scores were not re-scored here, so they cannot be "
            "vouched for: " + " | ".join(parts) + "; inconclusive at most")


def warnings(sides: dict[str, SideRescore]) -> list[str]:
    """What the reader must know about rewards the gate could not check."""
    out = []
    for side, r in sides.items():
        if r.status == "not_rescored" and r.cap:
            continue   # said among the reasons (unvouched_reason)
        if r.status == "not_rescored":
            out.append(f"{side} run {r.run}: not re-scored here ({r.why}): its rewards are "
                       + ("Harbor's verifier's word" if r.mapped_at_import else
                          "the file's word"))
            continue
        if r.judge_dependent:
            out.append(f"{side} run {r.run}: {r.judge_dependent} re-scored reward(s) rest on "
                       f"the file's own NL-assertion verdicts (an LLM judge's), which t2e "
                       f"cannot re-check: in that part the rewards are the file's word")
        if r.unchecked:
            out.append(f"{side} run {r.run}: {r.unchecked} episode(s) not re-checked: their "
                       f"trajectories fit twin tasks with different gold outcomes (`t2e "
                       f"score` calls them ambiguous): their rewards are the file's word")
    return out


def summary_of(sides: dict[str, dict], short: bool = False) -> str:
    """One line from the verdict document's `rescore`: what re-scoring said of each side
    (sides that say the same are named together; `short`: fewer words, for 80 columns)."""
    def one(r: dict) -> str:
        if r.get("mapped_from"):
            names = ", ".join(r["mapped_from"])
            if r.get("mapped_at_import"):  # (a Harbor job's: nobody passed --reward-attr)
                return f"from Harbor verifier ({names})" if short else \
                    f"from Harbor's verifier reward ({names}, mapped at import)"
            return f"mapped from {names}" if short else \
                f"mapped from outcome attribute {names} (--reward-attr)"
        if r["status"] == "scored_here":
            return "scored by t2e when it ran"
        if r["status"] == "not_rescored" and r.get("cap"):
            return "not re-scored: inconclusive at most" if short else \
                "not re-scored (not vouched for: inconclusive at most)"
        if r["status"] == "not_rescored":
            return "not re-scored (the file's word)"
        n = r["rescored"]
        return f"re-scored here, {n - len(r['differ'])} of {n} reproduced"
    said = {side: one(r) for side, r in sides.items()}
    if len(set(said.values())) == 1 and len(said) > 1:
        first = next(iter(said.values()))
        return first if short else f"{' and '.join(said)} {first}"
    return "; ".join(f"{side} {text}" for side, text in said.items())


# what re-scores a side, per face: the CLI's option, the app's environment (it has no option)
_RECORDS_HINT = {
    "cli": ("pass --data DIR to re-score (a tau2 data directory; or set TAU2_DATA_DIR)",
            "pass --data DIR to re-score"),
    "app": ("start t2e with TAU2_DATA_DIR=DIR (a tau2 data directory) to re-score",
            "TAU2_DATA_DIR=DIR re-scores"),
}


def rescore_hint(sides: dict[str, dict], face: str = "cli", short: bool = False) -> str | None:
    """What would re-score the sides whose rewards nobody vouched for (None when nothing
    would): `face` "cli" (--data DIR) or "app" (TAU2_DATA_DIR, read when the app starts)."""
    needs = {r.get("needs") for r in sides.values()
             if r["status"] == "not_rescored" and r.get("cap")}
    out = []
    if "records" in needs:
        out.append(_RECORDS_HINT[face][short])
    if "tasks" in needs:
        out.append("import with tasks" if short else
                   "import the file with its tasks to re-score it")
    return "; ".join(out) or None


def rescore_line(sides: dict[str, dict], face: str = "cli") -> str:
    """`t2e gate`'s rewards line: the summary, then what would re-score (rescore_hint)."""
    hint = rescore_hint(sides, face)
    return summary_of(sides) + (f"; {hint}" if hint else "")
