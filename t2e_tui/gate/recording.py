"""The scoreboard's rows: a verdict recorded in gate_decisions (`record_decision`), and the
fingerprint that maps the same gate over unchanged evidence and the same gate code to the row
it already has (`fingerprint`, `existing_row`, `code_hash`). rules.gate uses them."""

from __future__ import annotations

import json
from typing import Any

from store import now_iso

from .leakage import PARENT_EXPR, find_candidate
from .rescore import reward_from
from .runs import conn_of
from .times import parse_time

# (a verdict is rules.GateResult; not imported here: rules imports this module)
GateResult = Any


def record_decision(db: Any, result: GateResult, fp: str | None = None) -> int:
    """Append the verdict to gate_decisions (the scoreboard); returns its row id. `fp` is
    `fingerprint(result)` when the caller has it already."""
    conn = conn_of(db)
    cmp = result.comparison
    b, c = cmp.baseline, cmp.candidate
    parent = None
    if c.candidate_hash:
        row = conn.execute(f"SELECT {PARENT_EXPR}, saved_at FROM candidates "
                           f"WHERE candidate_hash = ?", (c.candidate_hash,)).fetchone()
        if row and row[0]:
            # a parent named in the front matter is cited by its hash when the store knows it
            found = find_candidate(conn, row[0], before=parse_time(row[1]))
            parent = found[0] if found else row[0]
    sources, manifests = {}, {}
    for side, run in (("baseline", b), ("candidate", c)):
        if run.source_id is not None:
            row = conn.execute("SELECT sha256, path FROM sources WHERE source_id = ?",
                               (run.source_id,)).fetchone()
            if row and row[0]:
                sources[side] = {"run_id": run.run_id, "sha256": row[0], "path": row[1]}
        if run.manifest_json:
            try:
                manifests[side] = {"run_id": run.run_id, "manifest": json.loads(run.manifest_json)}
            except ValueError:
                manifests[side] = {"run_id": run.run_id, "manifest_text": run.manifest_json}
    # where the rewards came from when not the runs' own: the outcome attribute mapped
    # onto a foreign run (`--reward-attr`), which the figures measure
    mapped = reward_from(result.rescore)
    bm, cm = result.baseline_metrics, result.candidate_metrics
    metrics = {
        "reward_before": bm.reward, "reward_after": cm.reward,
        "pass_rate_before": bm.pass_rate, "pass_rate_after": cm.pass_rate,
        "pass_hat_k_before": {str(k): v for k, v in bm.pass_hat_k.items()},
        "pass_hat_k_after": {str(k): v for k, v in cm.pass_hat_k.items()},
        "action_match_before": bm.action_match, "action_match_after": cm.action_match,
        "deltas": result.deltas(),
        "warnings": result.warnings,
        "rescore": {side: r.to_dict() for side, r in result.rescore.items()},
        "transitions": {r.task_id: r.transition for r in cmp.rows},
        # why the evidence role is what it is (gate_decisions has no column for it)
        "claimed_role": result.role.claimed,
        "role_reasons": result.role.reasons,
    }
    cur = conn.execute(
        "INSERT INTO gate_decisions (created_at, baseline_run_id, candidate_run_id, "
        "baseline_name, candidate_name, candidate_hash, parent_hash, world_id, tasks_json, "
        "intersected, evidence_role, leaked_tasks_json, decision, reasons_json, checks_json, "
        "stats_json, metrics_json, policy_json, source_hashes_json, manifests_json, "
        "heldout_set, fingerprint, reward_from_json) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (now_iso(), b.run_id, c.run_id, b.name, c.name, c.candidate_hash, parent,
         c.world_id or b.world_id, json.dumps(cmp.task_ids), int(cmp.intersected),
         result.evidence_role, json.dumps(result.role.leaked_tasks), result.decision,
         json.dumps(result.reasons), json.dumps([ch.to_dict() for ch in result.checks]), json.dumps(result.stats),
         json.dumps(metrics), json.dumps(result.policy.to_dict()),
         json.dumps(sources) if sources else None,
         json.dumps(manifests) if manifests else None, result.heldout_set,
         fp or fingerprint(result), json.dumps(mapped) if mapped else None))
    result.row_id = int(cur.lastrowid)
    return result.row_id


_CODE_HASH: str | None = None


def code_hash() -> str:
    """sha256 of the gate's own source files: a row is only reused by the same gate code."""
    global _CODE_HASH
    if _CODE_HASH is None:
        import hashlib
        from pathlib import Path

        h = hashlib.sha256()
        for f in sorted(Path(__file__).parent.glob("*.py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        _CODE_HASH = h.hexdigest()
    return _CODE_HASH


def fingerprint(result: GateResult) -> str:
    """What a verdict depends on: the runs, the tasks, the policy, the gate code and the
    outcome (decision, grade, reasons, the checks' figures and the statistics). A new view or
    run that changes the grade changes it, and so do other rewards for the same runs (a
    foreign run's rewards mapped from another attribute: `t2e gate --reward-attr`, named in
    the row even when the figures come out the same), so the
    same gate over unchanged evidence maps to one scoreboard row and other evidence never
    reuses it."""
    import hashlib

    cmp = result.comparison
    doc = {"runs": [cmp.baseline.run_id, cmp.candidate.run_id], "tasks": cmp.task_ids,
           "intersected": cmp.intersected, "policy": result.policy.to_dict(),
           "code": code_hash(), "decision": result.decision, "grade": result.evidence_role,
           "role_reasons": result.role.reasons, "leaked": result.role.leaked_tasks,
           "p": result.stats.get("p_value"), "alpha": result.stats.get("alpha"),
           "checks": [c.to_dict() for c in result.checks], "stats": result.stats,
           "rescore": {side: [r.status, r.rescored, len(r.differ), r.mapped_from]
                       for side, r in result.rescore.items()}}
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def existing_row(db: Any, result: GateResult, fp: str | None = None) -> int | None:
    """The scoreboard row recorded for exactly this verdict, if any (the newest); `fp` as in
    record_decision."""
    row = conn_of(db).execute("SELECT max(row_id) FROM gate_decisions WHERE fingerprint = ?",
                              (fp or fingerprint(result),)).fetchone()
    return row[0] if row and row[0] is not None else None
