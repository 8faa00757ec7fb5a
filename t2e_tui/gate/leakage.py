"""Evidence roles and the leakage guard.

A heldout task that anyone viewed before a candidate was saved, through any ancestor version
or none, is not clean for that candidate: views count from the beginning of the store up to
the candidate's save (its "window"), whatever version was being drafted at the time, so an
intermediate no-op version cannot hide them. "Saved" is when t2e first recorded the text (its
`candidates` row: `candidate save`, the app editor's save, or the first run, fork or save that
read the file), never a file's modification time, which the user sets at will (`touch -d`
back to before the views hid them; a future one would count views made after the text was
fixed): only a time t2e wrote itself can end the window, and t2e writes it by the store
clock (store/clock.py), which a system clock set back cannot take before the views made
since. For the gate the window runs on past the save to the candidate agent's first run on the
tasks judged: a view after the save can still choose which saved candidate runs there. Views
are keyed by the world's identity (`world.domains.world_key`: "retail" and "tau2-retail" are
one world), not by run, and a synthetic variant's view by its base task too. A clean claim
with such a view is downgraded to development and the tasks are listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from store import clock as store_clock
from store.pairdebug import development_only
from world.domains import world_key

from .runs import RunInfo, conn_of
from .times import parse_time

CLEAN_ROLES = ("heldout", "transfer")


@dataclass
class Window:
    """The views that count against a candidate: `start` None means unbounded (every view since
    the store began); `end` is the candidate's save, or its agent's first run on the tasks
    judged when that is later (`first_run`: a view after the save can still choose which
    saved candidate to run)."""
    candidate_hash: str | None
    start: datetime | None
    end: datetime | None
    notes: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)   # hash and name: views tagged with either
    saved: datetime | None = None       # when t2e first recorded the text (None: not saved)
    first_run: datetime | None = None   # set when the window runs on to that first run

    def contains(self, t: datetime) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t <= self.end)

    def to_dict(self) -> dict:
        return {"candidate_hash": self.candidate_hash,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "saved": self.saved.isoformat() if self.saved else None,
                "first_run": self.first_run.isoformat() if self.first_run else None,
                "notes": self.notes}


PARENT_EXPR = ("coalesce(parent_hash, CASE WHEN json_valid(front_matter_json) "
               "THEN json_extract(front_matter_json, '$.parent') END)")
_CAND_COLS = f"candidate_hash, name, {PARENT_EXPR}, saved_at"


def find_candidate(conn, ref: str, before: datetime | None = None):
    """(hash, name, parent, saved_at) for a candidate given by hash, hash prefix or name.
    The parent is parent_hash, else the front matter's `parent` (a name or a hash: writers that
    only resolve hashes leave parent_hash empty for a parent given by name).
    A name may have been saved several times: take the latest save not after `before`."""
    row = conn.execute(f"SELECT {_CAND_COLS} FROM candidates WHERE candidate_hash = ?",
                       (ref,)).fetchone()
    if row:
        return row
    if len(ref) >= 6 and all(ch in "0123456789abcdef" for ch in ref.lower()):
        rows = conn.execute(f"SELECT {_CAND_COLS} FROM candidates WHERE candidate_hash LIKE ?",
                            (ref.lower() + "%",)).fetchall()
        if len(rows) == 1:
            return rows[0]
    rows = conn.execute(f"SELECT {_CAND_COLS} FROM candidates WHERE name = ?",
                        (ref,)).fetchall()
    if not rows:
        return None
    dated = [(parse_time(r[3]), r) for r in rows]
    if before is not None:
        earlier = [(t, r) for t, r in dated if t is not None and t <= before]
        if earlier:
            dated = earlier
    dated.sort(key=lambda tr: tr[0] or datetime.min.replace(tzinfo=timezone.utc))
    return dated[-1][1]


def drafting_window(db: Any, candidate_hash: str | None, *,
                    fallback_end: str | None = None,
                    until: datetime | None = None) -> Window:
    """The window of views that count against a candidate: from the beginning of the store to
    the candidate's save, the time t2e first recorded its text (`candidates.saved_at`,
    written by `candidate_versions` with the store clock, never a file's mtime), or to
    `until` when that is later (the candidate's first run on the tasks judged: views after
    the save still choose which saved candidate runs there). When the candidate is not in
    the store the save is taken as `fallback_end` (e.g. the candidate run's start; default
    now by the store clock)."""
    w = _saved_window(conn_of(db), candidate_hash, fallback_end)
    if w.candidate_hash is not None:
        w.saved = w.end
        if until is not None and (w.end is None or until > w.end):
            w.end = w.first_run = until
    return w


def _saved_window(conn: Any, candidate_hash: str | None, fallback_end: str | None) -> Window:
    """The window up to the candidate's save (`drafting_window` without `until`)."""
    notes: list[str] = []
    if not candidate_hash:
        return Window(None, None, None, ["the run has no candidate: no drafting window"])
    row = find_candidate(conn, candidate_hash)
    if row is None:
        end = parse_time(fallback_end) or parse_time(store_clock.read(conn))
        notes.append(f"candidate {candidate_hash[:12]} is not saved in the store: window taken "
                     f"as everything up to {end.isoformat()}")
        return Window(candidate_hash, None, end, notes, {candidate_hash})
    chash, name, parent, saved_at = row
    end = parse_time(saved_at)
    if end is None:
        end = parse_time(fallback_end) or parse_time(store_clock.read(conn))
        notes.append(f"candidate {chash[:12]} has an unreadable saved_at {saved_at!r}")
    # no start: a view made while drafting any ancestor (or none) still informed this text
    return Window(chash, None, end, notes, {chash, name})


def views_in_window(db: Any, window: Window, domain: str | None,
                    task_ids: Iterable[str]) -> dict[str, list[str]]:
    """task id -> view times inside the window, for the given tasks.

    The guard errs towards flagging: a view or run without a domain matches any domain, a view
    of a synthetic variant is one of its base task (`evidence_views.base_task_id`), a view
    whose time can't be read counts, and a view tagged as made while drafting this candidate
    (evidence_views.drafting_candidate = its hash or name) counts whatever its time."""
    if window.candidate_hash is None and window.end is None:
        return {}
    wanted = set(task_ids)
    key = world_key(domain)
    out: dict[str, list[str]] = {}
    for dom, task_id, base, viewed_at, drafting in conn_of(db).execute(
            "SELECT domain, task_id, base_task_id, viewed_at, drafting_candidate "
            "FROM evidence_views WHERE task_id IS NOT NULL"):
        tid = str(task_id)
        if tid not in wanted:
            if base is None or str(base) not in wanted:
                continue
            tid = str(base)   # a synthetic variant's view is a view of its base task
        if key and dom and world_key(dom) != key:
            continue
        t = parse_time(viewed_at)
        if t is not None and not window.contains(t) and drafting not in window.names:
            continue
        out.setdefault(tid, []).append(viewed_at)
    return out


def leaked_tasks(db: Any, candidate_hash: str | None, domain: str | None,
                 task_ids: Iterable[str]) -> list[str]:
    """Tasks among `task_ids` whose trajectories were viewed before a run of the candidate
    launched now (the launcher's pre-launch warning; sorted, numeric ids as numbers): every
    view up to now by the store clock counts, as it will for the gate when this launch is the
    candidate's first run on them."""
    from .compare import task_sort_key

    conn = conn_of(db)
    window = drafting_window(conn, candidate_hash, until=parse_time(store_clock.read(conn)))
    return sorted(views_in_window(db, window, domain, task_ids), key=task_sort_key)


def first_run_on(db: Any, run: RunInfo, task_ids: Iterable[str]) -> datetime | None:
    """When `run`'s agent (candidate text, agent and user model) first ran any of `task_ids`
    in its world, by the agent ledger (removed runs included); None for an agent that cannot
    be identified (an imported run) or that never ran them."""
    from store.heldout import runs_on_tasks

    from .heldout import _same_agent, agent_key

    key = agent_key(run)
    if key is None:
        return None
    wk = world_key(run.domain)
    times = [parse_time(r["created_at"]) for r in runs_on_tasks(conn_of(db), task_ids)
             if _same_agent(r, key)
             and (wk is None or r["domain"] is None or world_key(r["domain"]) == wk)]
    return min((t for t in times if t is not None), default=None)


def leak_reason(window: Window, views: dict[str, list[str]], role: str) -> str:
    """Why the viewed tasks downgrade a clean claim: viewed before the save, or after it but
    before the candidate's first run on the tasks (the window's two ends)."""
    def after_save(times: list[str]) -> bool:
        ts = [parse_time(v) for v in times]
        return window.saved is not None and all(t is not None and t > window.saved for t in ts)

    late = [t for t, times in views.items() if window.first_run and after_save(times)]
    parts = []
    if len(views) > len(late):
        parts.append(f"{len(views) - len(late)} task(s) viewed before the candidate was saved")
    if late:
        parts.append(f"{len(late)} task(s) viewed after the candidate was saved but before "
                     f"the candidate's first run on these tasks (which saved candidate to run "
                     f"could be chosen on them)")
    return f"{'; '.join(parts)}: downgraded from {role} to development"


@dataclass
class RoleVerdict:
    role: str
    claimed: str
    leaked_tasks: list[str]
    reasons: list[str]
    window: Window | None
    notes: list[str] = field(default_factory=list)   # said, but no downgrade
    heldout: Any = None   # heldout.SetVerdict when a clean role was claimed

    def to_dict(self) -> dict:
        return {"role": self.role, "claimed": self.claimed, "leaked_tasks": self.leaked_tasks,
                "reasons": self.reasons, "notes": self.notes,
                "window": self.window.to_dict() if self.window else None,
                "heldout_set": self.heldout.to_dict() if self.heldout else None}


OUTCOME_FILTER = "outcome_filter"


def outcome_filter_label(selection: dict) -> str:
    """'fixed', 'fixed + max_steps', 'termination max_steps': what an outcome filter kept."""
    flt = selection.get("filter")
    term = selection.get("termination")
    if flt and flt != "all":
        return f"{flt} + {term}" if term else str(flt)
    return f"termination {term}" if term else "unnamed"


def outcome_selection(run: RunInfo) -> dict | None:
    """The run manifest's `task_selection` when its tasks were chosen by an outcome filter
    (e.g. the tasks screen's Fixed/Regressed view handed to the rerun launcher), else None.
    A split or id list chosen by name records nothing of the kind."""
    if not run.manifest_json:
        return None
    try:
        sel = json.loads(run.manifest_json).get("task_selection")
    except (ValueError, AttributeError):
        return None
    return sel if isinstance(sel, dict) and sel.get("by") == OUTCOME_FILTER else None


def role_history_findings(db: Any, baseline: RunInfo,
                          candidate: RunInfo) -> tuple[list[str], list[str]]:
    """(reasons to downgrade, notes) from the two runs' role histories.

    A role raised to heldout/transfer after the run was made (`t2e runs role RUN heldout`)
    is a claim made after its results could be seen: a reason to downgrade. A run that
    predates role history (set_at_creation None) can't be told apart: a note only."""
    from store import StoreError
    from store.queries import role_history

    reasons: list[str] = []
    notes: list[str] = []
    for side, run in (("baseline", baseline), ("candidate", candidate)):
        try:
            h = role_history(db, run.run_id)
        except StoreError:  # deleted while we looked: the comparison itself will say so
            continue
        if h["raised_to_clean_at"]:
            raised = [c for c in h["changes"] if c["to"] == h["role"] and c["from"] != c["to"]]
            was = h["created_role"]
            text = (f"{side} run {run.label()} was created as {was} and made {h['role']} at "
                    f"{h['raised_to_clean_at']}")
            if was == h["role"] and raised:  # lowered, then raised again
                text += f" (from {raised[-1]['from']})"
            reasons.append(text)
        elif h["set_at_creation"] is None and h["role"] in CLEAN_ROLES:
            notes.append(f"{side} run {run.label()} predates role history: whether its "
                         f"{h['role']} role was set when it was created is unknown")
    return reasons, notes


def comparison_role(db: Any, baseline: RunInfo, candidate: RunInfo,
                    task_ids: list[str], *, intersected: bool = False,
                    attempted: Iterable[str] | None = None,
                    alpha: float = 0.05) -> RoleVerdict:
    """The evidence role of a comparison (its grade).

    Starts from the candidate run's role. The baseline ran the same tasks, so if the baseline is
    discovery/development evidence those tasks were open to inspection and a heldout/transfer
    claim falls to development; a synthetic run on either side makes the comparison synthetic.
    A clean claim also falls to development when either run's role was raised to
    heldout/transfer after it was created (role history), when either run's tasks were chosen
    by an outcome filter (manifest `task_selection`), when the tasks are not exactly a
    registered heldout set judged by its rule (t2e_tui/gate/heldout.py: registered first,
    every task of it compared, no --intersect, first run of each identified agent, the
    baseline's agent there first), or when any task was viewed before the candidate was saved
    or before its agent's first run on these tasks (listing those tasks). `attempted` = every
    task both runs ran (the compared ones plus any left out for want of a scored trial: the
    set is found from them, and those left out keep the claim from being clean)."""
    from .heldout import judge_set

    claimed = candidate.role
    role = claimed
    reasons: list[str] = []
    if "synthetic" in (baseline.role, candidate.role) and role != "synthetic":
        role = "synthetic"
        reasons.append(f"baseline run {baseline.label()} is synthetic evidence")
    if role in CLEAN_ROLES and baseline.role in ("discovery", "development"):
        reasons.append(f"baseline run {baseline.label()} is {baseline.role} evidence on the "
                       f"same tasks")
        role = "development"
    # forks and task reruns (pair-debugging, #14) are development evidence, whatever the role
    for run in (baseline, candidate):
        why = development_only(db, run.run_id)
        if why and role not in ("development", "synthetic"):
            reasons.append(why)
            role = "development"
    notes: list[str] = []
    conn = conn_of(db)
    window = None
    ran = {str(t) for t in task_ids} | {str(t) for t in attempted or ()}
    if candidate.candidate_hash:
        # views count up to the candidate agent's first run on these tasks, not only up to
        # its save: a view after the save can still pick which saved candidate runs there
        first = first_run_on(conn, candidate, ran) or parse_time(candidate.created_at)
        window = drafting_window(db, candidate.candidate_hash, fallback_end=candidate.created_at,
                                 until=first)
    else:  # an imported run: its text is fixed by the time the run was made
        window = Window(None, None, parse_time(candidate.created_at),
                        [f"candidate run {candidate.label()} was imported, not made from a "
                         "saved candidate: task views count as before the candidate up to "
                         "its import"])
    heldout = None
    if claimed in CLEAN_ROLES and role != "synthetic":
        # every cause is listed, even when an earlier one already downgraded the claim
        raised, notes = role_history_findings(conn, baseline, candidate)
        reasons += raised
        if raised:
            role = "development"
        # tasks picked by looking at outcomes (which fixed, which regressed) are chosen
        # evidence, whatever role the run was given
        for side, run in (("baseline", baseline), ("candidate", candidate)):
            sel = outcome_selection(run)
            if sel is not None:
                reasons.append(f"tasks selected by an outcome filter "
                               f"({outcome_filter_label(sel)}) for the {side} run "
                               f"{run.label()}")
                role = "development"
        compared = {str(t) for t in task_ids}
        heldout = judge_set(conn, baseline, candidate, compared,
                            left_out={str(t) for t in attempted or ()} - compared,
                            intersected=intersected, candidate_saved=window.saved or window.end,
                            alpha=alpha)
        if heldout.reasons:
            reasons += heldout.reasons
            role = "development"
    from .compare import task_sort_key
    views = views_in_window(db, window, candidate.domain or baseline.domain, task_ids)
    leaked = sorted(views, key=task_sort_key)
    if leaked and role in CLEAN_ROLES:
        reasons.append(leak_reason(window, views, role))
        role = "development"
    out = RoleVerdict(role, claimed, leaked, reasons, window, notes)
    out.heldout = heldout
    return out
