"""`t2e evolve`: the loop, recorded step by step in the store so it resumes where it stopped.

Each iteration: run the parent on the discovery split → classify its failures → propose m
patches → run the parent and each patch on the dev split → keep the Pareto set over dev tasks
(a patch that wins some tasks stays even when its mean is lower) → freeze the best member that
beats the parent on the dev mean → run it on heldout (and transfer) → gate against the starting
candidate's heldout run (and the transfer run against the starting candidate's) → record the
verdict. Heldout is touched once per frozen candidate and never read by the proposer; the loop
stops at the first promote on clean heldout evidence that the transfer gate, when asked for,
does not discard (`verdict`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any, Callable

import store
from store import now_iso

from ..candidate_versions import load_ref
from ..candidates import Candidate, CandidateError
from ..errors import T2EError
from .backends import make_proposer
from .iteration import _iteration, pareto, verdict
from .state import (
    EvolveConfig,
    Progress,
    _Budget,
    _cands_dir,
    _event,
    _Paused,
    _record,
    _run,
    _State,
    _status,
    _summary,
)

# the loop's public names stay importable from here (callers and tests use them)
__all__ = ["EvolveConfig", "Progress", "SeveralUnfinished", "evolve", "pareto", "verdict"]


def _policy(domain: str) -> str:
    from world.domains import load_domain
    try:
        return load_domain(domain).policy
    except Exception:  # a domain that needs a data dir: the proposer goes without the policy
        return ""


class SeveralUnfinished(T2EError):
    """`--resume` without an id when more than one loop is unfinished; `lines`: one per loop."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__(f"--resume: {len(lines)} unfinished evolve loops, name one: "
                         + ", ".join(ln.split()[0] for ln in lines))


def _resume_id(conn: Any, resume: str) -> str:
    """The loop `--resume` means: an id prefix, or "" for the only unfinished loop."""
    if resume == "":
        from .view import loop_line, unfinished_loops

        loops = unfinished_loops(conn)
        if not loops:
            raise T2EError("--resume: no unfinished evolve loop in this store (give a loop id "
                           "to resume a stopped one)")
        if len(loops) > 1:
            raise SeveralUnfinished([loop_line(d) for d in loops])
        return loops[0]["loop_id"]
    rows = conn.execute("SELECT loop_id FROM evolve_loops WHERE substr(loop_id, 1, ?) = ?",
                        (len(resume), resume.lower())).fetchall()
    if len(rows) != 1:
        raise T2EError(f"--resume {resume}: {'no' if not rows else 'more than one'} "
                       "evolve loop matches")
    return rows[0][0]


def evolve(store_path: str, cfg: EvolveConfig | None = None, *, resume: str | None = None,
           proposer: Any = None, progress: Progress | None = None, cancel: Any = None,
           on_start: Callable[[str, bool], None] | None = None) -> dict:
    """Run (or resume) a loop; returns its summary (also what `--json` prints). `resume`: a
    loop id prefix, or "" for the only unfinished loop. `on_start(loop_id, resumed)` is called
    once the loop is recorded, before any run. Setting `cancel` pauses it after the current
    run's in-flight episodes (status `paused`)."""
    conn = store.connect(store_path)
    try:
        if resume is not None:
            loop_id = _resume_id(conn, resume)
            row = conn.execute("SELECT config_json FROM evolve_loops WHERE loop_id = ?",
                               (loop_id,)).fetchone()
            cfg = EvolveConfig(**json.loads(row[0]))
            conn.execute("UPDATE evolve_loops SET status = 'running' WHERE loop_id = ?", (loop_id,))
        else:
            if cfg is None:
                raise T2EError("evolve needs a config or --resume")
            if cfg.proposals < 1 or cfg.iterations < 1:
                raise T2EError("--proposals and --iterations must be at least 1")
            if cfg.transfer:
                _check_transfer(cfg)
            loop_id = uuid.uuid4().hex
            conn.execute("INSERT INTO evolve_loops VALUES (?, ?, 'running', ?, ?)",
                         (loop_id, json.dumps(asdict(cfg)), now_iso(), now_iso()))
        if on_start:
            on_start(loop_id, resume is not None)
        st = _State(conn, loop_id, str(store_path), cfg, cancel=cancel)
        prop = proposer if proposer is not None else make_proposer(cfg.proposer)
        try:
            summary = _loop(st, prop, progress)
        except _Budget as exc:
            _status(st, "budget")
            summary = _summary(st, "budget", str(exc))
        except _Paused as exc:
            _status(st, "paused")
            summary = _summary(st, "paused", f"{exc}; continue with t2e evolve --resume "
                               f"{loop_id[:8]}")
        return summary
    finally:
        conn.close()


def _check_transfer(cfg: EvolveConfig) -> None:
    """Refuse a --transfer the loop could not run, before any run: an unknown domain or split,
    or the loop's own kind of domain (a transfer verdict counts only on another domain)."""
    from world.domains import load_domain
    from world.errors import WorldError
    from world.kinds import kind_of

    dom, _, split = cfg.transfer.partition(":")
    split = split or "heldout"
    try:
        splits = load_domain(dom).splits
    except WorldError as exc:
        raise T2EError(f"--transfer {cfg.transfer}: {exc}") from None
    if split not in splits:
        raise T2EError(f"--transfer {cfg.transfer}: {dom} has no split {split!r} (it has "
                       f"{', '.join(sorted(splits))})")
    if kind_of(dom) == kind_of(cfg.domain):
        raise T2EError(f"--transfer {cfg.transfer}: the transfer check needs another kind of "
                       f"domain than --domain {cfg.domain}")


def _registered_set(st: _State) -> dict:
    """The heldout set the loop's verdicts judge: the registered set of exactly these tasks,
    else one registered now, before any proposal is saved and any heldout run is made (the
    gate's clean-heldout rule)."""
    done = _event(st, 0, "heldout-set")
    if done:
        return done
    from store.heldout import register_set
    from world.domains import load_domain

    from ..gate.heldout import find_set

    dom = load_domain(st.cfg.domain)
    try:
        ids = list(dom.splits[st.cfg.heldout])
    except KeyError:
        raise T2EError(f"--heldout {st.cfg.heldout}: not a split of {st.cfg.domain}") from None
    s = find_set(st.conn, st.cfg.domain, set(ids))
    if s is None:
        s = register_set(st.conn, f"{st.cfg.domain}-{st.cfg.heldout}-evolve-{st.loop_id[:8]}",
                         st.cfg.domain, ids, spec=st.cfg.heldout, author="t2e evolve",
                         world=dom)
    return _record(st, 0, "heldout-set", {"name": s["name"], "task_ids": s["task_ids"],
                                          "world_key": s["world_key"],
                                          "registered_at": s["registered_at"]})


def _first_run_on_set(st: _State, s: dict, cand: Candidate) -> str | None:
    """The starting candidate's first run on the set's tasks, when it is a complete run of the
    whole set still stored: only the first run of an agent on any task of a set counts
    (re-rolling seeds must not help), so the loop reuses it. Otherwise None: a new run is
    made, and when the agent ran on the set before, the gate says that run is not its first."""
    from types import SimpleNamespace

    from ..gate.heldout import runs_on_set

    agent = SimpleNamespace(candidate_hash=cand.hash, agent_model="scripted",
                            user_model="scripted")
    ids = runs_on_set(st.conn, s, agent)
    if not ids:
        return None
    status = st.conn.execute("SELECT status FROM runs WHERE run_id = ?", (ids[0],)).fetchone()
    ran = {t for (t,) in st.conn.execute(
        "SELECT DISTINCT task_id FROM episodes WHERE run_id = ?", (ids[0],))}
    complete = status is not None and status[0] == "complete"
    return ids[0] if complete and set(s["task_ids"]) <= ran else None


def _loop(st: _State, prop: Any, progress: Progress | None) -> dict:
    cfg, conn = st.cfg, st.conn
    try:
        start, _ = load_ref(conn, cfg.start, _cands_dir(cfg))
    except CandidateError as exc:
        raise T2EError(str(exc)) from None
    policy = _policy(cfg.domain)
    base_seed = cfg.seed * 1000 + 17
    heldout_set = _registered_set(st)
    baseline_heldout = _first_run_on_set(st, heldout_set, start) or _run(
        st, 0, "heldout-baseline", start, cfg.heldout, "heldout", base_seed, progress=progress)
    parent = start
    for it in range(1, cfg.iterations + 1):
        last = _event(st, it, "iteration")
        if last:  # finished earlier: pick up its outcome and go on
            parent, _ = load_ref(conn, last["next_parent"], _cands_dir(cfg))
            if last.get("promoted"):
                _status(st, "promoted")
                return _summary(st, "promoted", last.get("verdict"))
            continue
        outcome = _iteration(st, it, start, parent, prop, policy, baseline_heldout, base_seed,
                             progress)
        _record(st, it, "iteration", outcome)
        parent, _ = load_ref(conn, outcome["next_parent"], _cands_dir(cfg))
        spent = (not outcome.get("promoted") and cfg.budget_usd is not None
                 and st.cost_usd > cfg.budget_usd)
        if progress:
            progress(_next_step(outcome, it, cfg.iterations, spent))
        if outcome.get("promoted"):
            _status(st, "promoted")
            return _summary(st, "promoted", outcome["verdict"])
        if spent:
            _status(st, "budget")
            return _summary(st, "budget", f"the dollar budget ({cfg.budget_usd}) is spent")
    _status(st, "finished")
    held = " and not discarded on transfer" if cfg.transfer else ""
    return _summary(st, "finished", f"no candidate was promoted on clean heldout evidence{held} "
                    f"in {cfg.iterations} iteration(s)")


def _next_step(outcome: dict, it: int, iterations: int, spent: bool) -> str:
    """The line that says why the loop stops or goes on after iteration `it` (the decision
    first: a cut line keeps it)."""
    if outcome.get("promoted"):
        return f"iteration {it}: promoted, the loop stops: {outcome['verdict']}"
    then = ("the dollar budget is spent, the loop stops" if spent else
            f"going on to iteration {it + 1} (parent {outcome['next_parent'][:10]})"
            if it < iterations else f"that was the last of {iterations} iteration(s)")
    return f"iteration {it}: not promoted, {then}: {outcome['verdict']}"
