"""Ablation: what does each rule line of a candidate contribute?

For a candidate whose instruction has rule lines (list items `- `, `* `, `1.`), run the full
candidate once and, for each rule, the candidate with that one line left out. A rule's
contribution is reward(full) - reward(without it); the tasks it wins and loses come from the
gate's per-task transitions (`compare_runs`), never recomputed here. No textual import: the
CLI (`t2e ablate`) and the TUI share this.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from .candidate_versions import ABLATION_HYPOTHESIS
from .candidates import Candidate, CandidateError, normalise
from .errors import T2EError
from .standin import NOTE, is_stand_in

Progress = Callable[[str, int, int], None]   # (what is running, index, total)


def leave_one_out(cand: Candidate) -> list[tuple[int, str, Candidate]]:
    """(rule number from 1, the rule line, the candidate without it) for each rule line."""
    lines = normalise(cand.body).split("\n")
    rules = set(cand.rule_lines())
    out = []
    n = 0
    for i, line in enumerate(lines):
        if line not in rules:
            continue
        n += 1
        body = "\n".join(lines[:i] + lines[i + 1:])
        out.append((n, line.strip(), Candidate(
            name=f"{cand.name}-minus-rule{n}", body=body, parent=cand.name,
            hypothesis=f"{ABLATION_HYPOTHESIS}{cand.name}: without rule {n}: {line.strip()}")))
    return out


def ablate(store_path: str, candidate_ref: str, *, candidates_dir: Path | None = None,
           domain: str = "mini-retail", tasks: str = "dev", trials: int = 1,
           concurrency: int = 4, model: str = "scripted", user: str = "scripted",
           full_run: str | None = None, role: str = "development",
           on_progress: Progress | None = None,
           cancel: threading.Event | None = None) -> dict[str, Any]:
    """Run the leave-one-out reruns and report each rule's contribution.

    Every run is planned (validated) before the first one starts, so a bad task spec or a
    missing endpoint refuses the whole ablation up front. Cancelling stops after the current
    run; the report then covers the rules done so far (`complete: false`).
    """
    from store import connect

    from .candidate_versions import load_ref
    from .engine import execute_run
    from .engine.plan import plan_run
    from .gate import compare_runs, resolve_run

    conn = connect(store_path)
    try:
        try:
            cand, _ = load_ref(conn, candidate_ref, candidates_dir)
        except CandidateError as exc:
            raise T2EError(str(exc)) from None
        variants = leave_one_out(cand)
        if not variants:
            raise T2EError(f"{candidate_ref}: the instruction has no rule lines (list items "
                           "'- ' or '1.'), so there is nothing to ablate")
        common = dict(domain=domain, candidates_dir=str(candidates_dir) if candidates_dir
                      else None, tasks=tasks, trials=trials, concurrency=concurrency,
                      model=model, user=user, role=role, store_conn=conn)
        plans = [(n, rule, plan_run(candidate=c, name=f"ablate {cand.name} -rule{n}", **common))
                 for n, rule, c in variants]
        full_plan = None
        if full_run:
            info = resolve_run(conn, full_run)
            if info.candidate_hash and info.candidate_hash != cand.hash:
                raise T2EError(f"--baseline-run {full_run}: ran candidate "
                               f"{info.candidate_hash[:10]}, not {cand.name} ({cand.short})")
            full_run = info.run_id
        else:
            full_plan = plan_run(candidate=cand, name=f"ablate {cand.name} full", **common)
    finally:
        conn.close()

    total = len(plans) + (1 if full_plan else 0)
    step = 0

    def run(plan: Any, label: str) -> str | None:
        nonlocal step
        step += 1
        if on_progress:
            on_progress(label, step, total)
        s = execute_run(plan, store_path, cancel=cancel)
        return s.run_id if s.status == "complete" else None

    if full_plan is not None:
        full_run = run(full_plan, f"full {cand.name}")
        if full_run is None:
            return {"candidate": cand.name, "hash": cand.hash, "complete": False, "rules": [],
                    "full_run": None, "full_reward": None}
    conn = connect(store_path)
    try:
        from .gate import run_metrics

        full_reward = run_metrics(conn, full_run).reward
    finally:
        conn.close()
    rules = []
    complete = True
    for n, rule, plan in plans:
        if cancel is not None and cancel.is_set():
            complete = False
            break
        rid = run(plan, f"without rule {n}")
        if rid is None:
            complete = False
            break
        conn = connect(store_path)
        try:
            from .gate import run_metrics

            reward = run_metrics(conn, rid).reward
            cmp = compare_runs(conn, rid, full_run)  # ablated -> full: fixes are the rule's wins
        finally:
            conn.close()
        contribution = None if reward is None or full_reward is None else full_reward - reward
        rules.append({"index": n, "rule": rule, "run_id": rid, "reward": reward,
                      "contribution": contribution,
                      "tasks_won": list(cmp.fixes),
                      "tasks_lost": list(cmp.regressions)})
    return {"candidate": cand.name, "hash": cand.hash, "full_run": full_run,
            "full_reward": full_reward, "tasks": tasks, "complete": complete, "rules": rules,
            "agent": model}


def format_report(res: dict[str, Any]) -> str:
    """Human text for `t2e ablate`."""
    fr = res.get("full_reward")
    lines = [f"ablation of {res['candidate']} ({res['hash'][:10]}) on {res.get('tasks')}: "
             f"full reward {'n/a' if fr is None else f'{fr:.3f}'} (run {res.get('full_run')})"]
    if is_stand_in(res.get("agent")):
        lines.append(NOTE)
    for r in res["rules"]:
        c = r["contribution"]
        cs = "n/a" if c is None else f"{c:+.3f}"
        rule = r["rule"] if len(r["rule"]) <= 70 else r["rule"][:69] + "…"
        lines.append(f"  rule {r['index']}: contribution {cs}  wins {len(r['tasks_won'])} "
                     f"loses {len(r['tasks_lost'])}  {rule}")
    if not res.get("complete", True):
        lines.append("  (cancelled: the rules above were done)")
    return "\n".join(lines)
