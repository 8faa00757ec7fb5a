"""The scoreboard: one row per gate decision, with the human decision on it (if any).

`scoreboard_rows` gives flat dicts whose keys are exactly the TSV columns (COLUMNS), so the
`--json` rows and the TSV carry the same fields.

Human decisions: `human_decision` / `override` are the latest decision (the one in force);
`overridden` says an override was ever recorded on the row and `override_reason` is the latest
override's reason, so a discard recorded after an override never hides it; `human_history`
lists every decision, oldest first.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from store import now_iso

from ..errors import T2EError
from ..standin import agent_models, is_stand_in
from .runs import conn_of

COLUMNS = (
    "row", "time", "candidate_hash", "parent_hash", "baseline_run", "candidate_run",
    "baseline_name", "candidate_name", "tasks", "task_ids", "intersected", "evidence_role",
    "leaked_tasks",
    "reward_before", "reward_after", "reward_delta", "ci_low", "ci_high", "p_value", "test",
    "pass_hat_k_before", "pass_hat_k_after", "action_match_delta", "read_action_match_delta",
    "write_action_match_delta", "regressions", "fixes", "decision", "reasons",
    "human_decision", "override", "override_reason", "overridden", "human_history",
    "cites_deleted_run", "source_sha256",
    "manifests", "claimed_role", "role_reasons", "verdict", "heldout_set", "alpha", "transfer",
    "baseline_agent", "candidate_agent", "stand_in", "reward_from",
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
    # Every human decision stays on the row, oldest first: the latest is the one in force,
    # but an override that a later decision replaced is still shown (`overridden`,
    # `override_reason`, `human_history`), never dropped.
    history: dict[int, list[dict]] = {}
    for row_id, decision, override, reason, author, created in conn.execute(
            "SELECT row_id, decision, override, reason, author, created_at FROM human_decisions "
            "ORDER BY decision_id"):
        history.setdefault(row_id, []).append(
            {"decision": decision, "override": bool(override), "reason": reason,
             "author": author, "time": created})
    from .transfer import transfer_statuses

    # what the candidate's heldout and transfer verdicts say together (gate/transfer.py)
    transfer = transfer_statuses(conn)
    # each side's agent model, removed runs' too (the agent ledger): the stand-in's label
    agents = agent_models(conn, [x for r in conn.execute(
        "SELECT baseline_run_id, candidate_run_id FROM gate_decisions") for x in r])
    out = []
    for r in conn.execute(
            "SELECT row_id, created_at, candidate_hash, parent_hash, baseline_run_id, "
            "candidate_run_id, baseline_name, candidate_name, tasks_json, intersected, "
            "evidence_role, leaked_tasks_json, decision, reasons_json, stats_json, metrics_json, "
            "source_hashes_json, manifests_json, cites_deleted_run, heldout_set, "
            "reward_from_json FROM gate_decisions ORDER BY row_id"):
        (row_id, created, chash, parent, bid, cid, bname, cname, tasks, inter, role, leaked,
         decision, reasons, stats, metrics, sources, manifests, cites, hset, mapped) = r
        stats, metrics = _load(stats, {}), _load(metrics, {})
        deltas = metrics.get("deltas", {})
        hist = history.get(row_id, [])
        human = hist[-1] if hist else None
        overrides = [h for h in hist if h["override"]]
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
            "human_decision": human["decision"] if human else None,
            "override": bool(human and human["override"]),   # the decision in force
            "override_reason": overrides[-1]["reason"] if overrides else None,
            "overridden": bool(overrides),  # an override was recorded, even if since replaced
            "human_history": hist,
            "cites_deleted_run": bool(cites) or bid not in existing or cid not in existing,
            "source_sha256": sorted({v["sha256"] for v in _load(sources, {}).values()
                                     if isinstance(v, dict) and v.get("sha256")}),
            "manifests": cite_manifests(_load(manifests, {})),
            # rows recorded before these were kept say nothing (None / [])
            "claimed_role": metrics.get("claimed_role"),
            "role_reasons": metrics.get("role_reasons") or [],
            # the verdict with its grade: "supported (development)" is not a promote
            "verdict": f"supported ({role})" if decision == "supported" else decision,
            "heldout_set": hset,
            "alpha": stats.get("alpha"),   # the level the row was judged at (corrected)
            # told from this row: what the row is, other rows cited (never itself)
            "transfer": transfer[chash].note_for(row_id) if chash in transfer else None,
            "baseline_agent": agents.get(bid),
            "candidate_agent": agents.get(cid),
            # the scripted stand-in played a side: the row's figures prove nothing about models
            "stand_in": is_stand_in(agents.get(bid)) or is_stand_in(agents.get(cid)),
            # per side, the outcome attribute a foreign run's rewards were mapped from
            # (`--reward-attr`): what the figures measure; None when neither was mapped
            "reward_from": _load(mapped, None),
        })
    return out


def manifest_sha256(entry: dict) -> str:
    """sha256 of a recorded run manifest: its canonical JSON (sorted keys, no spaces, UTF-8),
    or the raw text when the run's manifest was not valid JSON."""
    if "manifest" in entry:
        text = json.dumps(entry["manifest"], sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
    else:
        text = str(entry.get("manifest_text", ""))
    return hashlib.sha256(text.encode()).hexdigest()


def cite_manifests(recorded: dict) -> dict:
    """The scoreboard's `manifests` field: per side, the run id and the manifest's sha256 (the
    full manifests, policy text included, are too big for a table cell; `t2e scoreboard
    --manifests ROW` prints them with the same hashes)."""
    return {side: {"run_id": e.get("run_id"), "sha256": manifest_sha256(e)}
            for side, e in recorded.items() if isinstance(e, dict)}


def row_manifests(db: Any, row_id: int) -> dict:
    """The full run manifests recorded with scoreboard row `row_id` (what reproduces it), each
    with the sha256 the scoreboard cites. Imported runs have none: they cite source files."""
    conn = conn_of(db)
    r = conn.execute("SELECT manifests_json, source_hashes_json FROM gate_decisions "
                     "WHERE row_id = ?", (row_id,)).fetchone()
    if r is None:
        raise T2EError(f"no scoreboard row {row_id} (see `t2e scoreboard`)")
    recorded = _load(r[0], {})
    out: dict[str, Any] = {"row": row_id}
    for side, e in recorded.items():
        if isinstance(e, dict):
            out[side] = {**e, "sha256": manifest_sha256(e)}
    out["source_sha256"] = {side: v.get("sha256") for side, v in _load(r[1], {}).items()
                            if isinstance(v, dict)}
    return out


def _manifests_cell(cited: dict) -> str:
    """TSV cell of `manifests`: `baseline RUN sha256:HEX,candidate RUN sha256:HEX`."""
    return ",".join(f"{side} {c['run_id']} sha256:{c['sha256']}" for side, c in cited.items())


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


def history_text(hist: list[dict]) -> str:
    """`promote OVERRIDE (reason) by ann 2026-…Z -> discard by bob 2026-…Z`: the human
    decisions of one row, oldest first (the TSV cell of `human_history`)."""
    parts = []
    for h in hist:
        t = h["decision"] + (" OVERRIDE" if h["override"] else "")
        if h.get("reason"):
            t += f" ({h['reason']})"
        if h.get("author"):
            t += f" by {h['author']}"
        if h.get("time"):
            t += f" {h['time']}"
        parts.append(t)
    return " -> ".join(parts)


_TSV_CELL = {"human_history": history_text, "manifests": _manifests_cell}


def to_tsv(rows: list[dict]) -> str:
    """The scoreboard as TSV: a header of COLUMNS, then one line per row."""
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(tsv_cell(_TSV_CELL[c](r[c]) if c in _TSV_CELL else r[c])
                         for c in COLUMNS) for r in rows]
    return "\n".join(lines)


def record_human_decision(db: Any, row_id: int, decision: str, *, override: bool = False,
                          reason: str | None = None, author: str | None = None) -> dict:
    """Record a person's promote/discard on a scoreboard row. Promoting against a gate verdict
    other than promote (supported on unclean evidence, discard, inconclusive) needs
    override=True and a reason (T2EError otherwise)."""
    if decision not in ("promote", "discard"):
        raise T2EError(f"decision must be promote or discard, got {decision!r}")
    conn = conn_of(db)
    row = conn.execute("SELECT decision, evidence_role FROM gate_decisions WHERE row_id = ?",
                       (row_id,)).fetchone()
    if row is None:
        raise T2EError(f"no scoreboard row {row_id} (see `t2e scoreboard`)")
    verdict = row[0]
    said = f"supported ({row[1]})" if verdict == "supported" else verdict
    reason = (reason or "").strip() or None
    against = decision == "promote" and verdict != "promote"
    if against and not (override and reason):
        raise T2EError(f"row {row_id}: the gate said {said}; promoting against it needs "
                       f"--override --reason TEXT")
    if override and not against:
        raise T2EError(f"row {row_id}: --override only applies to promoting against a "
                       f"supported, discard or inconclusive verdict (the gate said {said})")
    prev = conn.execute(
        "SELECT decision, override, reason FROM human_decisions WHERE row_id = ? "
        "ORDER BY decision_id DESC LIMIT 1", (row_id,)).fetchone()
    cur = conn.execute(
        "INSERT INTO human_decisions (row_id, decision, override, reason, author, created_at) "
        "VALUES (?,?,?,?,?,?)", (row_id, decision, int(against), reason, author, now_iso()))
    return {"decision_id": int(cur.lastrowid), "row": row_id, "decision": decision,
            "gate_decision": verdict, "override": against, "reason": reason,
            # the decision this one replaces (it stays in the row's history)
            "replaces": None if prev is None else {"decision": prev[0],
                                                   "override": bool(prev[1]),
                                                   "reason": prev[2]}}
