"""The scoreboard: one row per gate decision, with the human decision on it (if any).

`scoreboard_rows` gives flat dicts whose keys are exactly the TSV columns (COLUMNS), so the
`--json` rows and the TSV carry the same fields.
"""

from __future__ import annotations

import json
from typing import Any

from store import now_iso
from t2e_tui.errors import T2EError

from .runs import conn_of

COLUMNS = (
    "row", "time", "candidate_hash", "parent_hash", "baseline_run", "candidate_run",
    "baseline_name", "candidate_name", "tasks", "task_ids", "intersected", "evidence_role",
    "leaked_tasks",
    "reward_before", "reward_after", "reward_delta", "ci_low", "ci_high", "p_value", "test",
    "pass_hat_k_before", "pass_hat_k_after", "action_match_delta", "read_action_match_delta",
    "write_action_match_delta", "regressions", "fixes", "decision", "reasons",
    "human_decision", "override", "override_reason", "cites_deleted_run", "source_sha256",
    "manifests",
)


def _load(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _max_k(d: dict) -> str:
    """pass^K at the largest k recorded, as 'k=K:value'."""
    if not d:
        return ""
    k = max(d, key=lambda x: int(x))
    return f"k={k}:{d[k]:.4f}"


def scoreboard_rows(db: Any) -> list[dict]:
    """Every gate decision, oldest first, flattened to the scoreboard columns."""
    conn = conn_of(db)
    existing = {r[0] for r in conn.execute("SELECT run_id FROM runs")}
    humans: dict[int, tuple] = {}
    for row_id, decision, override, reason in conn.execute(
            "SELECT row_id, decision, override, reason FROM human_decisions "
            "ORDER BY decision_id"):
        humans[row_id] = (decision, override, reason)  # the latest decision wins
    out = []
    for r in conn.execute(
            "SELECT row_id, created_at, candidate_hash, parent_hash, baseline_run_id, "
            "candidate_run_id, baseline_name, candidate_name, tasks_json, intersected, "
            "evidence_role, leaked_tasks_json, decision, reasons_json, stats_json, metrics_json, "
            "source_hashes_json, manifests_json, cites_deleted_run FROM gate_decisions "
            "ORDER BY row_id"):
        (row_id, created, chash, parent, bid, cid, bname, cname, tasks, inter, role, leaked,
         decision, reasons, stats, metrics, sources, manifests, cites) = r
        stats, metrics = _load(stats, {}), _load(metrics, {})
        deltas = metrics.get("deltas", {})
        human = humans.get(row_id)
        out.append({
            "row": row_id,
            "time": created,
            "candidate_hash": chash,
            "parent_hash": parent,
            "baseline_run": bid,
            "candidate_run": cid,
            "baseline_name": bname,
            "candidate_name": cname,
            "tasks": len(_load(tasks, [])),
            "task_ids": _load(tasks, []),
            "intersected": bool(inter),
            "evidence_role": role,
            "leaked_tasks": _load(leaked, []),
            "reward_before": metrics.get("reward_before"),
            "reward_after": metrics.get("reward_after"),
            "reward_delta": deltas.get("reward"),
            "ci_low": stats.get("ci_low"),
            "ci_high": stats.get("ci_high"),
            "p_value": stats.get("p_value"),
            "test": stats.get("test"),
            "pass_hat_k_before": _max_k(metrics.get("pass_hat_k_before") or {}),
            "pass_hat_k_after": _max_k(metrics.get("pass_hat_k_after") or {}),
            "action_match_delta": deltas.get("action_match_overall"),
            "read_action_match_delta": deltas.get("action_match_read"),
            "write_action_match_delta": deltas.get("action_match_write"),
            "regressions": stats.get("regressions", []),
            "fixes": stats.get("fixes", []),
            "decision": decision,
            "reasons": _load(reasons, []),
            "human_decision": human[0] if human else None,
            "override": bool(human[1]) if human else False,
            "override_reason": human[2] if human and human[1] else None,
            "cites_deleted_run": bool(cites) or bid not in existing or cid not in existing,
            "source_sha256": sorted({v["sha256"] for v in _load(sources, {}).values()
                                     if isinstance(v, dict) and v.get("sha256")}),
            "manifests": _load(manifests, {}),
        })
    return out


def tsv_cell(value: Any) -> str:
    """One TSV cell: lists joined by commas, dicts as compact JSON, no tabs or newlines."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        # reasons contain commas; ids never do
        sep = " | " if any(isinstance(v, str) and "," in v for v in value) else ","
        text = sep.join(tsv_cell(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        text = str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def to_tsv(rows: list[dict]) -> str:
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(tsv_cell(r[c]) for c in COLUMNS) for r in rows]
    return "\n".join(lines)


def record_human_decision(db: Any, row_id: int, decision: str, *, override: bool = False,
                          reason: str | None = None, author: str | None = None) -> dict:
    """Record a person's promote/discard on a scoreboard row. Promoting against a gate verdict
    of discard or inconclusive needs override=True and a reason (T2EError otherwise)."""
    if decision not in ("promote", "discard"):
        raise T2EError(f"decision must be promote or discard, got {decision!r}")
    conn = conn_of(db)
    row = conn.execute("SELECT decision FROM gate_decisions WHERE row_id = ?",
                       (row_id,)).fetchone()
    if row is None:
        raise T2EError(f"no scoreboard row {row_id} (see `t2e scoreboard`)")
    verdict = row[0]
    reason = (reason or "").strip() or None
    against = decision == "promote" and verdict != "promote"
    if against and not (override and reason):
        raise T2EError(f"row {row_id}: the gate said {verdict}; promoting against it needs "
                       f"--override --reason TEXT")
    if override and not against:
        raise T2EError(f"row {row_id}: --override only applies to promoting against a "
                       f"discard or inconclusive verdict (the gate said {verdict})")
    cur = conn.execute(
        "INSERT INTO human_decisions (row_id, decision, override, reason, author, created_at) "
        "VALUES (?,?,?,?,?,?)", (row_id, decision, int(against), reason, author, now_iso()))
    return {"decision_id": int(cur.lastrowid), "row": row_id, "decision": decision,
            "gate_decision": verdict, "override": against, "reason": reason}
