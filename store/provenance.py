"""Provenance that survives export and re-import.

Export writes a `t2e_provenance` block (role, role history, candidate hash, manifest, world)
at the top of the file; imports keep unknown top-level keys, so it travels on. A re-import
inherits history instead of starting clean: when its episodes match episodes already in the
store (same simulation id, or the same trajectory hash) or the file carries provenance, the
new run's role history starts at the least clean role found, and the matched episodes' views
are copied onto the new run. So discovery traces re-imported with `--role heldout` are a role
raised after the fact, which the gate never takes as clean heldout.

Traces without gold (OpenTelemetry, ATIF: `runs.grading` 'foreign') carry ids their
application chose (a test harness names its conversations `conv-0`... in every run): such an
id says which scenario, not which conversation, so their episodes match only by trajectory.
Harbor's trial names (`<task>__<7 random characters>`, made by Harbor for each trial it runs)
are the exception: between two Harbor runs (domain 'harbor') the trial name alone decides
(the same name: the same trial, whatever its record says now; another name: another trial,
even with the same messages, as a grown job's new trials often have).

A trajectory hash is evidence only when the trajectory carries content: an episode without
steps (a Harbor trial without agent/trajectory.json, a conversation cut short before its first
message) or with a message whose content was not captured (OpenTelemetry with GenAI content
capture off, the instrumentations' default: "(content not captured)") matches nothing by
hash; every such episode would hash the same as every other of its task and length.

A match whose recorded outcome differs (the reward, or any check's verdict: action matches,
communicate, NL assertions) is the same conversation graded differently, or edited: it is not
called a re-import, and the warning names each such episode with both rewards. Its views and
history are still carried over (what was seen of the conversation was seen; dropping them
would let an edited copy shed its views).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .db import now_iso
from .writer import conn_of

CLEAN_ROLES = ("heldout", "transfer")
PROVENANCE_KEY = "t2e_provenance"


def trajectory_hash(conn: Any, episode_id: int) -> str:
    """sha256 of an episode's messages: role, text and tool calls, in order."""
    return _hash_steps(conn, episode_id)[0]


def content_hash(conn: Any, episode_id: int) -> str | None:
    """The trajectory hash when it is evidence of a copy: None for an episode without steps
    or with a message whose content was not captured (module docstring)."""
    digest, n, uncaptured = _hash_steps(conn, episode_id)
    return digest if n and not uncaptured else None


def _hash_steps(conn: Any, episode_id: int) -> tuple[str, int, bool]:
    """(trajectory hash, steps, whether a message's content was not captured)."""
    from .importers.otel_spans import NOT_CAPTURED

    h = hashlib.sha256()
    n, uncaptured = 0, False
    for role, content, calls in conn_of(conn).execute(
            "SELECT role, content, tool_calls FROM steps WHERE episode_id = ? ORDER BY idx",
            (episode_id,)):
        h.update(json.dumps([role, content, calls], ensure_ascii=False).encode() + b"\n")
        n += 1
        uncaptured = uncaptured or content == NOT_CAPTURED
    return h.hexdigest(), n, uncaptured


def run_provenance(db: Any, run_id: str) -> dict:
    """The `t2e_provenance` block of an export."""
    from .queries import role_history

    conn = conn_of(db)
    row = conn.execute("SELECT role, candidate_hash, manifest_json, world_id, domain, "
                       "created_at, grading FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    role, chash, manifest, world_id, domain, created, grading = row
    hist = role_history(conn, run_id)
    try:
        manifest_doc = json.loads(manifest) if manifest else None
    except ValueError:
        manifest_doc = manifest
    return {"run_id": run_id, "role": role, "created_role": hist["created_role"],
            "role_history": hist["changes"], "candidate_hash": chash,
            "manifest": manifest_doc, "world_id": world_id, "domain": domain,
            "created_at": created, "exported_at": now_iso(),
            **({"grading": grading} if grading == "foreign" else {})}


def _matches(conn, run_id: str, among: str | None = None) -> dict[int, int]:
    """New episode id -> an earlier episode (another run; `among`: of that run only) with the
    same simulation id (neither run foreign, or both Harbor runs: their trial names) or the
    same trajectory hash (compared only among episodes of the same task and length, never
    between two Harbor trials that have names, and only where it carries content:
    `content_hash`).

    The other runs' episodes are read in one pass (a query per new episode scanned the whole
    table each time: quadratic, minutes for a 4,000-episode import)."""
    out: dict[int, int] = {}
    hashes: dict[int, str | None] = {}

    def th(eid: int) -> str | None:
        if eid not in hashes:
            hashes[eid] = content_hash(conn, eid)
        return hashes[eid]

    new = conn.execute("SELECT episode_id, sim_id, task_id, n_steps FROM episodes "
                       "WHERE run_id = ? ORDER BY episode_id", (run_id,)).fetchall()
    if not new:
        return out
    # ids a foreign trace's application chose are no evidence (either side's): by trajectory;
    # Harbor's trial names are Harbor's own, unique: evidence between two Harbor runs
    kinds = conn.execute("SELECT run_id, grading = 'foreign', domain = 'harbor' FROM runs "
                         "WHERE grading = 'foreign' OR domain = 'harbor'").fetchall()
    foreign = {rid for rid, is_foreign, _ in kinds if is_foreign}
    harbor = {rid for rid, _, is_harbor in kinds if is_harbor}
    mine_harbor = run_id in harbor

    def ids_tell(orun: str) -> bool:
        return (mine_harbor and orun in harbor) or (
            run_id not in foreign and orun not in foreign)

    sims = {sim for _, sim, _, _ in new if sim}
    keys = {(task, n) for _, _, task, n in new if n}  # (no step: no content to hash)
    by_sim: dict[str, int] = {}
    by_key: dict[tuple, list[tuple[int, bool]]] = {}
    # two index ranges around this run (idx_episodes_run_task), so its own rows are not read
    others = conn.execute(
        "SELECT episode_id, sim_id, task_id, n_steps, run_id FROM episodes WHERE run_id < ? "
        "UNION ALL SELECT episode_id, sim_id, task_id, n_steps, run_id FROM episodes "
        "WHERE run_id > ?", (run_id, run_id)) if among is None else conn.execute(
        "SELECT episode_id, sim_id, task_id, n_steps, run_id FROM episodes WHERE run_id = ? "
        "AND run_id != ?", (among, run_id))
    for oid, sim, task, n, orun in others:
        if sim in sims and (sim not in by_sim or oid < by_sim[sim]) and ids_tell(orun):
            by_sim[sim] = oid
        if (task, n) in keys:
            # (a named trial of another Harbor run is another trial, whatever it says)
            by_key.setdefault((task, n), []).append(
                (oid, bool(sim) and mine_harbor and orun in harbor))
    for eid, sim, task, n in new:
        if sim and sim in by_sim:
            out[eid] = by_sim[sim]
            continue
        cands = [oid for oid, named in by_key.get((task, n), ()) if not (sim and named)]
        if cands and (mine := th(eid)) is not None:
            for oid in sorted(cands):
                if th(oid) == mine:
                    out[eid] = oid
                    break
    return out


def copies_of(db: Any, run_id: str, other: str) -> int:
    """How many of run `run_id`'s episodes are copies of run `other`'s: the same simulation
    id, or the same trajectory (a re-import of its export, the same file reformatted). Such
    episodes are the same evidence read twice, never a second measurement."""
    return len(_matches(conn_of(db), run_id, among=other))


def inherit(db: Any, run_id: str, claimed_role: str, file_provenance: Any) -> list[str]:
    """Give a freshly imported run the history of what it re-imports; returns warnings."""
    from .queries import role_history

    conn = conn_of(db)
    origins: list[tuple[str, str]] = []   # (role it was created with, where it comes from)
    if isinstance(file_provenance, dict):
        r = file_provenance.get("created_role") or file_provenance.get("role")
        if isinstance(r, str):
            origins.append((r, f"the file's provenance (run {file_provenance.get('run_id')})"))
        hist = file_provenance.get("role_history")
        if isinstance(hist, list) and any(isinstance(c, dict) and c.get("to") in CLEAN_ROLES
                                          and c.get("from") != c.get("to") for c in hist):
            origins.append(("development", "the file's provenance (a role raised after "
                                           "creation)"))
    matches = _matches(conn, run_id)
    if matches:
        runs: dict[str, int] = {}
        for oid in matches.values():
            (orun,) = conn.execute("SELECT run_id FROM episodes WHERE episode_id = ?",
                                   (oid,)).fetchone()
            runs[orun] = runs.get(orun, 0) + 1
        for orun, n in runs.items():
            h = role_history(conn, orun)
            was = h["created_role"] if not h["raised_to_clean_at"] else "development"
            origins.append((was, f"run {orun} ({n} episode(s) match by simulation id or "
                                 f"trajectory hash)"))
        # the views of the matched episodes are views of these episodes
        for new_eid, oid in matches.items():
            conn.execute(
                "INSERT INTO evidence_views (episode_id, run_id, domain, task_id, viewed_at, "
                "via, drafting_candidate, base_task_id) SELECT ?, ?, (SELECT domain FROM runs "
                "WHERE run_id = ?), task_id, viewed_at, 'inherited:' || via, "
                "drafting_candidate, base_task_id FROM evidence_views WHERE episode_id = ?",
                (new_eid, run_id, run_id, oid))
    warnings: list[str] = []
    differ = _outcomes_differ(conn, matches)
    unclean = [(r, why) for r, why in origins if r not in CLEAN_ROLES]
    if claimed_role in CLEAN_ROLES and unclean:
        origin, why = unclean[0]
        now = now_iso()
        conn.execute("INSERT INTO run_role_changes (run_id, old_role, new_role, changed_at) "
                     "VALUES (?,?,?,?)", (run_id, origin, claimed_role, now))
        conn.execute("UPDATE runs SET role_set_at = ? WHERE run_id = ?", (now, run_id))
        warnings.append(f"this content was {origin} evidence before ({why}): its history is "
                        f"kept, so the {claimed_role} role counts as raised after the fact")
    elif len(matches) > len(differ):
        warnings.append(f"{len(matches) - len(differ)} episode(s) re-import episodes already "
                        f"in the store: their views were carried over")
    warnings += _differ_warnings(conn, differ)
    return warnings


def _outcomes(conn, eids: list[int]) -> dict[int, tuple]:
    """episode id -> (label, reward, ((kind, pos, met), ...)): what a record says of it."""
    ids = json.dumps(sorted(set(eids)))
    out = {eid: (key, reward, []) for eid, key, reward in conn.execute(
        "SELECT episode_id, coalesce(sim_id, episode_key), reward FROM episodes "
        "WHERE episode_id IN (SELECT value FROM json_each(?))", (ids,))}
    for eid, kind, pos, met in conn.execute(
            "SELECT episode_id, kind, pos, met FROM checks WHERE episode_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY episode_id, kind, pos", (ids,)):
        out[eid][2].append((kind, pos, met))
    return {eid: (key, reward, tuple(checks)) for eid, (key, reward, checks) in out.items()}


def _outcomes_differ(conn, matches: dict[int, int]) -> dict[int, tuple]:
    """The matched episodes whose recorded outcome differs from their match's:
    new id -> (old id, new outcome, old outcome)."""
    if not matches:
        return {}
    rec = _outcomes(conn, [*matches, *matches.values()])
    return {new: (old, rec[new], rec[old]) for new, old in matches.items()
            if rec[new][1:] != rec[old][1:]}


def _met(checks: tuple) -> str:
    known = [m for _k, _p, m in checks if m is not None]
    return f"{sum(1 for m in known if m)}/{len(checks)}"


def _differ_warnings(conn, differ: dict[int, tuple]) -> list[str]:
    """One warning per earlier run whose episodes these repeat with another outcome."""
    by_run: dict[str, list[str]] = {}
    # other rewards first, then other check verdicts alone; store order within each
    order = sorted(differ.items(), key=lambda kv: (kv[1][1][1] == kv[1][2][1], kv[0]))
    for _new, (old, (key, reward, checks), (_k, old_reward, old_checks)) in order:
        (orun,) = conn.execute("SELECT run_id FROM episodes WHERE episode_id = ?",
                               (old,)).fetchone()
        what = f"{key}: reward {old_reward} there, {reward} here"
        if checks != old_checks:
            what += f", checks met {_met(old_checks)} there, {_met(checks)} here"
        by_run.setdefault(orun, []).append(what)
    out = []
    for orun, items in by_run.items():
        shown = "; ".join(items[:8]) + (f"; +{len(items) - 8} more" if len(items) > 8 else "")
        out.append(f"{len(items)} episode(s) repeat episodes of run {orun} (same simulation "
                   f"id or trajectory) but record a different outcome ({shown}): the same "
                   f"conversation graded differently, or edited, so not a re-import of it "
                   f"({_advice(conn, orun)}); the views of those conversations were "
                   f"carried over all the same")
    return out


def _advice(conn, run_id: str) -> str:
    """What can be done about an outcome that differs from run `run_id`'s: re-score it, where
    t2e has gold; else say whose word the rewards are."""
    row = conn.execute("SELECT grading, domain FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    if row is not None and row[0] == "foreign" and row[1] == "harbor":
        return ("the rewards are Harbor's verifier's word, which t2e cannot re-score: compare "
                "the trial's verifier output (verifier/) in each job")
    if row is not None and row[0] == "foreign":
        return ("the rewards are the traces' word (mapped from an attribute), which t2e "
                "cannot re-score: compare the two sources")
    return ("`t2e score FILE --data DIR` re-scores a file; the gate re-scores imported runs "
            "where it can")
