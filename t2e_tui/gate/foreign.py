"""What the gate's refusals say of foreign runs (OpenTelemetry, ATIF: no gold): where their
task ids came from, and which attributes they carry could be their outcome.

A foreign trace names its task only if it says so: OpenTelemetry's `t2e.task_id` (or
`task.id`) attribute on a conversation's root span, ATIF's `extra.task_id` (or
`extra.task_name`). Without one the importer takes the episode's own id as its task (the
conversation id, else the trace id; the trajectory id), and those differ from run to run:
two such runs share no task, and "cover different task sets" or "share no task" alone does
not tell the user what to add.

Why not a `--task-attr NAME` mapping, as `--reward-attr` maps the outcome: a task id is an
episode's identity from its import on (`RUN:TASK` references, registered heldout sets, the
views the leakage guard counts and the agent_run_tasks ledger are keyed by it), so it belongs
to the import, not to one gate; and production instrumentation that names no task rarely
carries another attribute that does.
"""

from __future__ import annotations

import json
from typing import Any

from store.outcomes import outcome_value, shown_trace_attributes
from store.ranges import reward_problem

from .runs import RunInfo

# the episode's own id the importer fell back to, by kind: (what it is, what names a task)
_KINDS = {
    "conversation": ("conversation ids (gen_ai.conversation.id)", "otel"),
    "trace": ("trace ids", "otel"),
    "atif": ("trajectory ids (trajectory_id, else session_id)", "atif"),
}
_ADD = {"otel": "a t2e.task_id or task.id attribute on the root span of each conversation",
        "atif": "extra.task_id (or extra.task_name) in each trajectory"}

# the episodes of a run whose task is their own id (the simulation id, or the OpenTelemetry
# grouping key when the trace gave a t2e.sim_id), by where that id came from
_FELL_BACK = """
SELECT CASE WHEN json_type(extra_json, '$.otel') IS NOT NULL
            THEN json_extract(extra_json, '$.otel.group')
            WHEN json_type(extra_json, '$.atif') IS NOT NULL THEN 'atif' END AS kind,
       count(*)
FROM episodes
WHERE run_id = ? AND status = 'done' AND json_valid(extra_json)
  AND (task_id = sim_id OR task_id = json_extract(extra_json, '$.otel.key'))
GROUP BY kind
"""


def fell_back_note(conn: Any, runs: tuple[RunInfo, ...]) -> str:
    """'; the tasks of N of M episodes of run X are their conversation ids (...): ...' for
    each foreign run among
    `runs` whose episodes' tasks are their own ids, then what names a task; '' when none."""
    said, add = [], []
    for run in runs:
        if run.grading != "foreign":
            continue
        rows = [(k, n) for k, n in conn.execute(_FELL_BACK, (run.run_id,)) if k in _KINDS]
        if not rows:
            continue
        total = conn.execute("SELECT count(*) FROM episodes WHERE run_id = ? AND "
                             "status = 'done'", (run.run_id,)).fetchone()[0]
        said += [f"the tasks of {n} of {total} episodes of run {run.label()} are their "
                 f"{_KINDS[k][0]}" for k, n in rows]
        add += [_ADD[_KINDS[k][1]] for k, _ in rows if _ADD[_KINDS[k][1]] not in add]
    if not said:
        return ""
    return (f"; {'; '.join(said)}: such ids differ from run to run, so no task is shared. "
            f"A foreign episode names its task with {' or '.join(add)}; add it to the "
            f"traces and import them again")


def outcome_hint(conn: Any, runs: tuple[RunInfo, ...]) -> str:
    """What to map when foreign runs have no outcome: `t2e gate --reward-attr NAME`, naming
    the attributes that hold an outcome value (a number in [0, 1], a boolean, a pass/fail
    word) on episodes of every foreign run among `runs`, most carried first."""
    foreign = [r for r in runs if r.grading == "foreign"]
    if not foreign:
        return ""
    counts: dict[str, int] = {}
    common: set[str] | None = None
    for run in foreign:
        names: set[str] = set()
        for (extra,) in conn.execute("SELECT extra_json FROM episodes WHERE run_id = ? AND "
                                     "status = 'done'", (run.run_id,)):
            attrs = shown_trace_attributes(json.loads(extra) if extra else {})
            for k, v in attrs.items():
                r = outcome_value(v)
                if r is not None and reward_problem(r) is None:
                    names.add(k)
                    counts[k] = counts.get(k, 0) + 1
        common = names if common is None else common & names
    said = "; foreign traces carry no gold: map an outcome attribute they carry to the " \
           "reward with `t2e gate --reward-attr NAME`"
    if not common:
        return said + " (no attribute holds an outcome value on both runs)"
    best = sorted(common, key=lambda k: (-counts[k], k))
    more = f" (+{len(best) - 6} more)" if len(best) > 6 else ""
    return said + f" (attributes with outcome values on both runs: {', '.join(best[:6])}{more})"
