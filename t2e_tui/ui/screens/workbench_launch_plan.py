"""What the rerun launcher computes before launch, without textual: the form's values, the
expected steps per episode (for the cost estimate) and the baseline run's task set."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

ROLES = ["discovery", "development", "heldout", "transfer", "synthetic"]
DOMAINS = ["mini-retail", "tau2-retail", "mini-airline", "tau2-airline"]
LEAKED_SHOWN = 3  # task ids a leakage warning names (`t2e gate` lists them all)
DEFAULT_STEPS = 20  # expected steps per episode when no baseline run says better


@dataclass
class LaunchForm:
    candidate: str
    baseline_run: str | None
    domain: str
    tasks: str
    trials: int
    concurrency: int
    model: str
    user: str
    role: str


@dataclass
class Estimate:
    """What planning a form found: the plan (None when refused, with `error` saying why), the
    expected steps per episode, the tasks viewed before the candidate was saved, whether the
    tasks miss a registered heldout set, how they differ from the baseline run's (extra,
    missing), the baseline's task spec when the empty tasks field was filled from it, the form
    fields proposed from the baseline run (field -> value) and the settings that differ from
    the baseline's so that the gate will refuse the pair (`label: baseline vs this`)."""

    plan: Any = None
    error: Exception | None = None
    steps: float = 0.0
    leaked: list[str] = field(default_factory=list)
    no_set: bool = False
    mismatch: tuple[int, int] | None = None
    spec: str | None = None
    fills: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    settings_from: str | None = None  # the baseline run `fills` came from


def plan_estimate(store_path: Any, candidates_dir: Any, f: LaunchForm,
                  selection: dict | None, fill_tasks: bool,
                  fill_settings: bool = False) -> Estimate:
    """Plan the form's run against the store (nothing is written). Reads the store, so the
    launcher calls it from a thread worker, never on the UI thread. With `fill_tasks` the
    baseline run's task spec (else "heldout") stands for the empty tasks field; with
    `fill_settings` the baseline's trials, agent and user stand for the form's. The settings
    the form has no field for (step and error limits, grading, noise, seed) are the baseline
    run's, so the default is a pair the gate accepts."""
    from store import connect

    from ... import run_queries as rq
    from ...engine.plan import plan_run
    from ...gate import leaked_tasks
    from ...gate.heldout import find_set
    from ...gate.runs import resolve_run
    from ...gate.settings import planned_settings, refused_settings, run_settings

    est = Estimate()
    conn = connect(store_path)
    try:
        if fill_tasks:
            est.spec = rq.baseline_tasks(conn, f.baseline_run) or "heldout"
            f = replace(f, tasks=est.spec)
        if not f.candidate:
            raise ValueError("no candidate given")
        base, carried = None, {}
        if f.baseline_run:
            if not rq.run_exists(conn, f.baseline_run):
                raise ValueError(f"baseline run {f.baseline_run!r}: no such run in this store")
            base = resolve_run(conn, f.baseline_run)
            carried = baseline_plan_args(base)
            if fill_settings:
                est.fills, est.settings_from = baseline_fields(base), f.baseline_run
                f = replace(f, **{k: int(v) if k == "trials" else v
                                  for k, v in est.fills.items()})
        plan = plan_run(domain=f.domain, candidate=f.candidate,
                        candidates_dir=str(candidates_dir), tasks=f.tasks, trials=f.trials,
                        concurrency=f.concurrency, model=f.model, user=f.user, role=f.role,
                        store_conn=conn, name=run_name(f), task_selection=selection,
                        **carried)
        if base is not None:  # the gate's own rule, asked before anything runs
            est.refused = refused_settings(run_settings(conn, base),
                                           planned_settings(plan.manifest()))
        est.steps = rq.expected_steps(conn, f.baseline_run)
        est.leaked = leaked_tasks(conn, plan.candidate.hash, f.domain, plan.task_ids)
        # a heldout claim is clean only on exactly a registered set (README: the rule)
        est.no_set = (f.role in ("heldout", "transfer")
                      and find_set(conn, f.domain, set(plan.task_ids)) is None)
        if f.baseline_run:
            base = rq.run_task_ids(conn, f.baseline_run)
            if base and base != set(plan.task_ids):
                est.mismatch = (len(set(plan.task_ids) - base), len(base - set(plan.task_ids)))
        est.plan = plan
    except Exception as exc:  # noqa: BLE001 - every refusal is shown, not raised
        est.error = exc
    finally:
        conn.close()
    return est


def _manifest(run: Any) -> dict:
    try:
        m = json.loads(run.manifest_json) if run.manifest_json else {}
    except ValueError:
        return {}
    return m if isinstance(m, dict) else {}


def baseline_plan_args(run: Any) -> dict:
    """plan_run's arguments for the settings the launcher has no field for, as the baseline
    run recorded them (what it does not record keeps plan_run's default)."""
    from ...gate.settings import ENGINE_GRADINGS

    out: dict[str, Any] = {}
    for key in ("max_steps", "max_errors"):
        if isinstance(getattr(run, key), int):
            out[key] = getattr(run, key)
    if run.grading in ENGINE_GRADINGS:
        out["grade"] = run.grading
    if run.source_id is None:  # an engine run: its seed and agent noise
        if isinstance(run.seed, int):
            out["seed"] = run.seed
        agent = _manifest(run).get("agent")
        if isinstance(agent, dict) and isinstance(agent.get("noise"), (int, float)):
            out["noise"] = float(agent["noise"])
    return out


def baseline_fields(run: Any) -> dict[str, str]:
    """The launcher's fields as the baseline run had them: trials, and for an engine run the
    agent and the user (`scripted` or `openai:MODEL`)."""
    out: dict[str, str] = {}
    if isinstance(run.num_trials, int) and run.num_trials > 0:
        out["trials"] = str(run.num_trials)
    if run.source_id is None:
        m = _manifest(run)
        for name, part in (("model", "agent"), ("user", "user")):
            spec = m.get(part)
            if not isinstance(spec, dict):
                continue
            if spec.get("kind") == "scripted":
                out[name] = "scripted"
            elif spec.get("kind") == "openai" and spec.get("model"):
                out[name] = f"openai:{spec['model']}"
    return out


def run_name(f: LaunchForm) -> str:
    """`<candidate> <tasks>`, e.g. `cross-order-v2 heldout`, as the demo names its runs."""
    tasks = f.tasks if len(f.tasks) <= 24 else f"{len(f.tasks.split(','))} tasks"
    return f"{f.candidate} {tasks}"


def outcome_selection(filter_name: str | None, termination: str | None, task_ids: list[str],
                      runs: list[str] | None = None) -> dict | None:
    """The manifest's `task_selection` for tasks taken from a filtered tasks view, or None when
    the view is unfiltered. Every filter of that screen (regressed, fixed, failed, flaky, a
    termination reason) keeps tasks by how they came out, so a rerun on them is chosen
    evidence: the gate downgrades a heldout claim on it to development."""
    if (not filter_name or filter_name == "all") and not termination:
        return None
    return {"by": "outcome_filter", "filter": filter_name or "all", "termination": termination,
            "screen": "tasks", "runs": [r for r in (runs or []) if r],
            "tasks": len(task_ids)}


def estimate_warnings(plan: Any, leaked: list[str], mismatch: tuple | None,
                      no_set: bool, refused: list[str] | None = None) -> list[str]:
    """The warning lines under a planned rerun's estimate, in order: settings that differ from
    the baseline run's (the gate refuses such a pair), tasks viewed before the
    candidate's run on them (its save or since), an outcome-filtered heldout/transfer selection, tasks that differ
    from the baseline run's, and a heldout/transfer claim on tasks no set registers."""
    out = []
    if refused:
        out.append(f"⚠ not the baseline run's settings ({'; '.join(refused)}): the gate will "
                   "refuse the pair; ^l asks before launching")
    if leaked:
        # the consequence first and a few ids: at 80×24 the line must not hide what follows
        shown = ", ".join(leaked[:LEAKED_SHOWN]) + (
            f" and {len(leaked) - LEAKED_SHOWN} more" if len(leaked) > LEAKED_SHOWN else "")
        out.append(f"⚠ leakage: a heldout claim will be downgraded to development: "
                   f"{len(leaked)} of these tasks were viewed before this candidate's run on "
                   f"them ({shown})")
    claim = plan.role in ("heldout", "transfer")
    sel = plan.task_selection
    if sel and claim:
        from ...gate.leakage import outcome_filter_label

        out.append(f"⚠ these tasks were chosen by an outcome filter "
                   f"({outcome_filter_label(sel)}): a {plan.role} claim on them will be "
                   "downgraded to development")
    if mismatch:
        extra, missing = mismatch
        if extra:
            out.append(f"⚠ these tasks differ from the baseline run's ({extra} not in it, "
                       f"{missing} of its tasks left out): the gate will refuse the pair; "
                       "on the gate screen i compares only the tasks they share")
        else:  # a subset (e.g. the tasks screen's filter): refused as by `t2e gate`
            out.append(f"⚠ these tasks differ from the baseline run's: a subset ({missing} of "
                       "its tasks left out); the gate refuses the pair until you ask it to "
                       "judge only these shared tasks (i on the gate screen)")
    if no_set and claim:
        out.append(f"⚠ these tasks are not a registered heldout set: a {plan.role} claim on "
                   "them will be graded development (F6 or ctrl+y registers them, for "
                   "candidates saved from now on)")
    return out


def register_planned_set(store_path: Any, f: LaunchForm, plan: Any,
                         author: str | None) -> dict:
    """Register the planned tasks as a heldout (or transfer) set, as `t2e heldout register`
    does: frozen, named after the domain, the role and the task spec (a free name). Raises
    StoreError as register_set does."""
    from store import connect
    from store.heldout import register_set

    from ... import run_queries as rq

    base = f"{f.domain}-{plan.role}-" + "".join(
        c if c.isalnum() or c in "-_" else "-" for c in (f.tasks or "tasks"))[:40]
    conn = connect(store_path)
    try:
        taken = {r[0] for r in rq.heldout_set_names(conn)}
        name = base if base not in taken else next(
            f"{base}-{i}" for i in range(2, 10_000) if f"{base}-{i}" not in taken)
        return register_set(conn, name, f.domain, plan.task_ids, spec=f.tasks or "",
                            role=plan.role, author=author, world=plan.domain)
    finally:
        conn.close()
