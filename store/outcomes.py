"""Outcomes for foreign traces: map an attribute the traces carry to the episode reward.

OpenTelemetry and ATIF traces have no gold, so the store has no reward for them. When they
carry an outcome (a score attribute on the root span, an evaluation, user feedback, an ATIF
metric), `t2e gate --reward-attr NAME` maps it: numbers are the reward, booleans and
pass/fail words are 1/0. Only runs imported without grading (`runs.grading = 'foreign'`) are
mapped; tau2 runs keep their graded rewards.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .db import StoreError
from .ranges import reward_problem
from .writer import conn_of, transaction

_TRUE = {"true", "pass", "passed", "success", "succeeded", "yes", "ok", "resolved", "good"}
_FALSE = {"false", "fail", "failed", "failure", "no", "unresolved", "bad"}


def outcome_value(v: Any) -> float | None:
    """A reward from an attribute value (None when it is not an outcome: absent, a word that
    is no pass/fail, or not a finite number: proto3 JSON writes a double NaN as "NaN", and a
    NaN or infinite reward is no figure a gate can add up)."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return 1.0
        if s in _FALSE:
            return 0.0
        try:
            v = float(s)
        except ValueError:
            return None
    if isinstance(v, (int, float)):
        try:
            r = float(v)
        except OverflowError:  # an int past the float range
            return None
        return r if math.isfinite(r) else None
    return None


def _shown(v: Any) -> str:
    """An attribute's value as the error names it (text quoted, cut to 40 characters)."""
    from .messages import short_json

    return short_json(v)


def trace_attributes(extra: dict) -> dict:
    """Every attribute a trace kept (an episode's extra: its OpenTelemetry root's, an ATIF
    trajectory's extra fields and final metrics): what `--reward-attr` may map and the
    export writes back. Displays list `shown_trace_attributes`."""
    out: dict = {}
    for src in ("otel", "atif"):
        block = extra.get(src)
        if isinstance(block, dict) and isinstance(block.get("attributes"), dict):
            out.update(block["attributes"])
    return out


# What a trace attribute says of no trace in particular, left out where attributes are shown
# (`t2e show`, its --json `trace_attributes`, the compare notes): the names that only say
# what kind of span the root is, which the semantic conventions put on every span of that
# kind (GenAI's operation name, OpenInference's span kind), and t2e's own export's fields
# (`t2e.*`: sim id, task, trial, seed, termination, reward, costs), read back into the
# episode's own columns and shown there. Whatever else a trace carries may tell the user
# something (its conversation id, agent, an outcome or rating) and is listed.
KIND_ATTRIBUTES = frozenset({"gen_ai.operation.name", "openinference.span.kind"})
OWN_PREFIX = "t2e."


def shown_trace_attributes(extra: dict) -> dict:
    """The trace attributes worth showing (`trace_attributes` less `KIND_ATTRIBUTES` and
    our own `t2e.*` fields), in the trace's order."""
    return {k: v for k, v in trace_attributes(extra).items()
            if k not in KIND_ATTRIBUTES and not (isinstance(k, str) and k.startswith(OWN_PREFIX))}


def reward_mapping(db: Any, run_id: str, name: str) -> dict:
    """What mapping attribute `name` to the rewards of run `run_id` would write, written by
    nothing: {updates, mapped, missing, unusable, seen} (`missing`: episodes without the
    attribute; `unusable`: with a value that is no outcome; `seen`: attribute names present,
    for the error message when none matched). write_reward_mappings writes them."""
    conn = conn_of(db)
    row = conn.execute("SELECT grading, name FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise StoreError(f"no run {run_id!r}")
    if row[0] != "foreign":
        raise StoreError(f"run {row[1]!r} ({run_id}) carries graded rewards; --reward-attr maps "
                         "an outcome attribute of foreign traces (OpenTelemetry, ATIF) only")
    updates, missing, unusable, seen = [], 0, 0, set()
    for eid, key, task, extra_json, ri_json in conn.execute(
            "SELECT episode_id, episode_key, task_id, extra_json, reward_info_json FROM "
            "episodes WHERE run_id = ? ORDER BY episode_id", (run_id,)).fetchall():
        attrs = trace_attributes(json.loads(extra_json) if extra_json else {})
        seen.update(attrs)
        r = outcome_value(attrs.get(name))
        if r is None:
            if attrs.get(name) is None:
                missing += 1
            else:
                unusable += 1
            continue
        if reward_problem(r) is not None:
            # another scale (a 1-10 rating, a count): no reward the gate may average, and
            # leaving those episodes out would pick the ones kept by value. The mapping is
            # the user's choice: refused whole, nothing written
            raise StoreError(f"run {row[1]!r} ({run_id}): episode {key} (task {task}): "
                             f"{name} {_shown(attrs.get(name))} is outside [0, 1] as a reward "
                             "(the gate compares rewards in [0, 1]; booleans and pass/fail words read as "
                             "1/0): "
                             "--reward-attr maps an outcome on that scale only")
        # the attributes mapped before stay on record (`tried`): an outcome chosen after
        # another was gated is no clean evidence (gate/rules: attribute shopping)
        tried = set(_tried(ri_json)) - {name}
        info = {"reward": r, "reward_basis": None,
                "info": {"mapped_from": name, **({"tried": sorted(tried)} if tried else {})}}
        updates.append((r, int(abs(r - 1.0) <= 1e-6), json.dumps(info, allow_nan=False), eid))
    return {"updates": updates, "mapped": len(updates), "missing": missing,
            "unusable": unusable, "seen": sorted(seen)}


def _tried(ri_json: str | None) -> list[str]:
    """The outcome attributes an episode's rewards were mapped from so far (its mapped_from
    and the ones tried before it)."""
    try:
        info = (json.loads(ri_json) or {}).get("info") if ri_json else None
    except (ValueError, AttributeError):
        return []
    if not isinstance(info, dict):
        return []
    out = [t for t in info.get("tried") or [] if isinstance(t, str)]
    if isinstance(info.get("mapped_from"), str):
        out.append(info["mapped_from"])
    return out


def mapped_from(db: Any, run_id: str) -> list[str]:
    """The outcome attributes a run's rewards are mapped from now (`--reward-attr`: kept on
    its episodes), sorted; empty for a run never mapped."""
    return [str(r[0]) for r in conn_of(db).execute(
        "SELECT DISTINCT json_extract(reward_info_json, '$.info.mapped_from') AS a FROM "
        "episodes WHERE run_id = ? AND a IS NOT NULL ORDER BY a", (run_id,))]


def attributes_tried(db: Any, run_ids: list[str]) -> list[str]:
    """Every outcome attribute the runs' rewards were ever mapped from (`--reward-attr`),
    sorted: more than one means the outcome was chosen after another was tried."""
    conn = conn_of(db)
    names: set[str] = set()
    for run_id in run_ids:
        for (ri,) in conn.execute(
                "SELECT DISTINCT reward_info_json FROM episodes WHERE run_id = ? AND "
                "json_extract(reward_info_json, '$.info.mapped_from') IS NOT NULL", (run_id,)):
            names.update(_tried(ri))
    return sorted(names)


def write_reward_mappings(db: Any, mappings: list[dict]) -> None:
    """Write reward_mapping results, all in one transaction (a gate that maps two runs
    changes both or neither)."""
    conn = conn_of(db)
    with transaction(conn):
        for m in mappings:
            conn.executemany("UPDATE episodes SET reward = ?, success = ?, reward_info_json = ? "
                             "WHERE episode_id = ?", m["updates"])


def map_reward_attr(db: Any, run_id: str, name: str) -> dict:
    """Set each episode's reward from attribute `name` (reward_mapping, written); returns
    {mapped, missing, unusable, seen}."""
    m = reward_mapping(db, run_id, name)
    write_reward_mappings(db, [m])
    return {k: v for k, v in m.items() if k != "updates"}
