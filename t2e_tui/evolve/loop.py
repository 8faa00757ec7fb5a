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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import store
from store import INFRA, now_iso

from ..candidate_versions import load_ref, save_version
from ..candidates import Candidate, CandidateError
from ..errors import T2EError
from .backends import make_proposer
from .proposer import LeakageRefused, ProposalError, TraceReader, validate

Progress = Callable[[str], None]


@dataclass
class EvolveConfig:
    start: str
    domain: str = "mini-retail"
    discovery: str = "train"
    dev: str = "dev"
    heldout: str = "heldout"
    transfer: str | None = None        # "DOMAIN:SPLIT"
    proposer: str = "offline"
    proposals: int = 3
    iterations: int = 3
    trials: int = 1
    noise: float = 0.0
    seed: int = 0
    concurrency: int = 4
    budget_episodes: int | None = None
    budget_usd: float | None = None
    auto_promote: bool = False
    candidates_dir: str | None = None


@dataclass
class _State:
    conn: Any
    loop_id: str
    store_path: str
    cfg: EvolveConfig
    episodes_used: int = 0
    cost_usd: float = 0.0
    cancel: Any = None                # threading.Event: pause after the current run's episodes


def _event(st: _State, iteration: int, kind: str) -> dict | None:
    row = st.conn.execute("SELECT data_json FROM evolve_events WHERE loop_id = ? AND iteration = ?"
                          " AND kind = ?", (st.loop_id, iteration, kind)).fetchone()
    return json.loads(row[0]) if row else None


def _record(st: _State, iteration: int, kind: str, data: dict) -> dict:
    st.conn.execute("INSERT OR REPLACE INTO evolve_events (loop_id, iteration, kind, data_json, "
                    "created_at) VALUES (?, ?, ?, ?, ?)",
                    (st.loop_id, iteration, kind, json.dumps(data), now_iso()))
    st.conn.execute("UPDATE evolve_loops SET updated_at = ? WHERE loop_id = ?",
                    (now_iso(), st.loop_id))
    return data


def _status(st: _State, status: str) -> None:
    st.conn.execute("UPDATE evolve_loops SET status = ?, updated_at = ? WHERE loop_id = ?",
                    (status, now_iso(), st.loop_id))


def _run(st: _State, iteration: int, label: str, cand: Candidate, tasks: str, role: str,
         seed: int, domain: str | None = None, progress: Progress | None = None) -> str:
    """Run (or resume, or reuse) one recorded run of the loop; returns its run id."""
    from ..engine import execute_run
    from ..engine.engine import resume_run
    from ..engine.plan import plan_run

    kind = f"run:{label}"
    done = _event(st, iteration, kind)
    if done and done.get("status") == "complete":
        return done["run_id"]
    if st.cancel is not None and st.cancel.is_set():
        raise _Paused(f"paused before {label}")
    if done and done.get("run_id"):
        if progress:
            progress(f"resuming {label} ({done['run_id'][:8]})")
        summary = resume_run(st.store_path, done["run_id"], cancel=st.cancel)
    else:
        plan = plan_run(domain=domain or st.cfg.domain, candidate=cand, tasks=tasks,
                        trials=st.cfg.trials, concurrency=st.cfg.concurrency, seed=seed,
                        noise=st.cfg.noise, role=role, store_conn=st.conn,
                        name=f"evolve {st.loop_id[:6]} i{iteration} {label}",
                        candidates_dir=st.cfg.candidates_dir)
        planned = len(plan.task_ids) * plan.trials
        if st.cfg.budget_episodes is not None and \
                st.episodes_used + planned > st.cfg.budget_episodes:
            raise _Budget(f"the episode budget ({st.cfg.budget_episodes}) would be exceeded by "
                          f"{label} ({planned} episodes after {st.episodes_used})")
        if progress:
            progress(f"iteration {iteration}: {label} ({planned} episodes)")

        def started(run_id: str) -> None:
            _record(st, iteration, kind, {"run_id": run_id, "status": "running"})

        summary = execute_run(plan, st.store_path, on_start=started, cancel=st.cancel)
    st.episodes_used += summary.episodes
    _record(st, iteration, kind, {"run_id": summary.run_id, "status": summary.status,
                                  "reward": summary.reward})
    if summary.status == "interrupted" and st.cancel is not None and st.cancel.is_set():
        raise _Paused(f"paused during {label}")
    if summary.status != "complete":
        raise T2EError(f"evolve: run {label} ended {summary.status}; resume with "
                       f"t2e evolve --resume {st.loop_id[:8]}")
    return summary.run_id


class _Budget(Exception):
    pass


class _Paused(Exception):
    pass


def _task_rates(conn: Any, run_id: str) -> dict[str, float]:
    rows = conn.execute(
        "SELECT task_id, avg(CASE WHEN success THEN 1.0 ELSE 0.0 END) FROM episodes WHERE run_id = ?"
        " AND status = 'done' AND coalesce(termination_reason, '') != ? "
        "GROUP BY task_id", (run_id, INFRA)).fetchall()
    return {t: r for t, r in rows}


def pareto(scores: dict[str, dict[str, float]]) -> list[str]:
    """Keys whose per-task vector no other key dominates (>= everywhere, > somewhere)."""
    tasks = sorted({t for v in scores.values() for t in v})
    vec = {k: [v.get(t, 0.0) for t in tasks] for k, v in scores.items()}
    out = []
    for k, a in vec.items():
        dominated = any(all(x >= y for x, y in zip(b, a)) and any(x > y for x, y in zip(b, a))
                        for j, b in vec.items() if j != k)
        if not dominated:
            out.append(k)
    return out


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

    try:
        ids = list(load_domain(st.cfg.domain).splits[st.cfg.heldout])
    except KeyError:
        raise T2EError(f"--heldout {st.cfg.heldout}: not a split of {st.cfg.domain}") from None
    s = find_set(st.conn, st.cfg.domain, set(ids))
    if s is None:
        s = register_set(st.conn, f"{st.cfg.domain}-{st.cfg.heldout}-evolve-{st.loop_id[:8]}",
                         st.cfg.domain, ids, spec=st.cfg.heldout, author="t2e evolve")
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


def _cands_dir(cfg: EvolveConfig) -> Path:
    from ..paths import candidates_dir
    return Path(cfg.candidates_dir) if cfg.candidates_dir else candidates_dir()


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


def verdict(outcome: dict, transfer: str | None) -> tuple[bool, str]:
    """(promoted, why in one line) for an iteration: the gate said promote on clean heldout
    evidence and, with a transfer check, the transfer gate did not discard the candidate. One
    promoted on heldout but discarded on transfer has not generalised: the loop goes on."""
    from ..gate.transfer import TRANSFER_FLAG

    g = outcome.get("gate")
    if g is None:
        return False, outcome.get("why") or "no candidate was frozen"
    if g["decision"] != "promote":
        return False, f"the heldout gate (row {g['row_id']}) said {g['decision']}"
    if g["evidence_role"] != "heldout":
        return False, (f"the gate (row {g['row_id']}) said promote on {g['evidence_role']} "
                       "evidence, not clean heldout")
    if not transfer:
        return True, f"the gate (row {g['row_id']}) said promote on clean heldout evidence"
    tg = outcome["transfer_gate"]
    if tg["decision"] == "discard":
        return False, (f"{TRANSFER_FLAG} ({transfer}, row {tg['row_id']}: discard): it has not "
                       "generalised")
    return True, (f"promote on clean heldout (row {g['row_id']}), {tg['decision']} on transfer "
                  f"({transfer}, row {tg['row_id']})")


def _next_step(outcome: dict, it: int, iterations: int, spent: bool) -> str:
    """The line that says why the loop stops or goes on after iteration `it` (the decision
    first: a cut line keeps it)."""
    if outcome.get("promoted"):
        return f"iteration {it}: promoted, the loop stops: {outcome['verdict']}"
    then = ("the dollar budget is spent, the loop stops" if spent else
            f"going on to iteration {it + 1} (parent {outcome['next_parent'][:10]})"
            if it < iterations else f"that was the last of {iterations} iteration(s)")
    return f"iteration {it}: not promoted, {then}: {outcome['verdict']}"


def _iteration(st: _State, it: int, start: Candidate, parent: Candidate, prop: Any,
               policy: str, baseline_heldout: str, base_seed: int,
               progress: Progress | None) -> dict:
    cfg, conn = st.cfg, st.conn
    if _event(st, it, "start") is None:
        _record(st, it, "start", {"parent": parent.hash})
    disc = _run(st, it, "discovery", parent, cfg.discovery, "discovery", base_seed + 300 + it,
                progress=progress)
    # every run has its own seed, as a real model's runs have their own sampling noise: shared
    # seeds would make a no-op patch replay its parent exactly and never reach the gate
    dev_parent = _run(st, it, "dev-parent", parent, cfg.dev, "development",
                      base_seed + 500 + 10 * it, progress=progress)
    # proposals (recorded once: a resumed loop reuses them)
    saved = _event(st, it, "proposals")
    if saved is None:
        def refused(episode_id, run_id, role, why):
            n = conn.execute("SELECT count(*) FROM evolve_events WHERE loop_id = ? AND "
                             "iteration = ? AND kind LIKE 'refused%'", (st.loop_id, it)).fetchone()[0]
            _record(st, it, f"refused:{n}", {"episode_id": episode_id, "run_id": run_id,
                                              "role": role, "why": why})

        reader = TraceReader(conn, [disc, dev_parent], on_refused=refused,
                             drafting_candidate=parent.hash)
        entries = []
        try:
            proposals = prop.propose(parent, reader, [disc, dev_parent], policy, cfg.proposals)
        except (ProposalError, LeakageRefused) as exc:
            proposals, entries = None, [{"error": str(exc)}]
        for p in proposals or []:
            try:
                p = validate(p, parent.body)
            except ProposalError as exc:
                entries.append({"error": str(exc)})
                continue
            st.cost_usd += getattr(p, "cost_usd", 0.0)
            cand = Candidate(name=f"{parent.name.split('-evo')[0]}-evo{it}", body=p.body,
                             parent=parent.name, hypothesis=p.hypothesis,
                             meta={"author": p.author})
            try:
                res = save_version(conn, cand, hypothesis=p.hypothesis,
                                   candidates_dir=_cands_dir(cfg), parent_ref=parent.hash)
            except CandidateError as exc:
                entries.append({"error": str(exc)})
                continue
            entries.append({"hash": res.version.hash, "name": res.version.name,
                            "hypothesis": p.hypothesis, "author": p.author,
                            "motivations": p.to_dict()["motivations"]})
        saved = _record(st, it, "proposals", {"entries": entries, "short": _short(
            entries, proposals, cfg.proposals, getattr(prop, "shortfall", None))})
    saved = _adopt_hand_edits(st, it, saved, parent)
    good = [e for e in saved["entries"] if "hash" in e]
    dev_runs = {parent.hash: dev_parent}
    for k, e in enumerate(good):
        cand, _ = load_ref(conn, e["hash"], _cands_dir(cfg))
        dev_runs[e["hash"]] = _run(st, it, f"dev-{k}", cand, cfg.dev, "development",
                                   base_seed + 500 + 10 * it + k + 1, progress=progress)
    scores = {h: _task_rates(conn, r) for h, r in dev_runs.items()}
    means = {h: (sum(v.values()) / len(v) if v else 0.0) for h, v in scores.items()}
    front = pareto(scores)
    better = [h for h in front if h != parent.hash and means[h] > means[parent.hash]]
    frozen = max(better, key=lambda h: (means[h], h)) if better else None
    outcome: dict = {"parent": parent.hash, "discovery_run": disc, "dev_runs": dev_runs,
                     "dev_means": means, "pareto": front, "frozen": frozen,
                     "proposals": saved["entries"], "proposals_short": saved.get("short"),
                     "next_parent": frozen or parent.hash}
    if frozen is None:
        outcome["why"] = "no proposal beat the parent on the dev mean"
        outcome["promoted"], outcome["verdict"] = verdict(outcome, cfg.transfer)
        return outcome
    cand, _ = load_ref(conn, frozen, _cands_dir(cfg))
    held = _run(st, it, "heldout", cand, cfg.heldout, "heldout", base_seed + it,
                progress=progress)
    outcome["heldout_run"] = held
    outcome["gate"] = _gate(st, it, "gate", baseline_heldout, held)
    if cfg.transfer:
        dom, _, split = cfg.transfer.partition(":")
        # the baseline is the starting candidate, as on heldout: the claim is "better than
        # where the loop started", here and on the other domain (run once, at iteration 0)
        tb = _run(st, 0, "transfer-baseline", start, split or "heldout", "transfer",
                  base_seed + 900, domain=dom, progress=progress)
        tc = _run(st, it, "transfer", cand, split or "heldout", "transfer", base_seed + 900,
                  domain=dom, progress=progress)
        outcome["transfer_gate"] = _gate(st, it, "transfer-gate", tb, tc)
    outcome["promoted"], outcome["verdict"] = verdict(outcome, cfg.transfer)
    if outcome["promoted"]:
        g = outcome["gate"]
        if cfg.auto_promote:
            from ..gate.scoreboard import record_human_decision
            record_human_decision(conn, g["row_id"], "promote", author="t2e evolve --auto-promote",
                                  reason=outcome["verdict"])
            outcome["auto_promoted"] = True
    return outcome


def _adopt_hand_edits(st: _State, it: int, saved: dict, parent: Candidate) -> dict:
    """Versions a person saved from one of this iteration's proposals while the loop was paused
    join the iteration as proposals of their own (author: human), before the dev runs."""
    row = st.conn.execute("SELECT created_at FROM evolve_events WHERE loop_id = ? AND "
                          "iteration = ? AND kind = 'proposals'", (st.loop_id, it)).fetchone()
    known = {e["hash"] for e in saved["entries"] if "hash" in e}
    if not row or not known:
        return saved
    marks = ",".join("?" * len(known))
    edits = st.conn.execute(
        f"SELECT candidate_hash, name, hypothesis FROM candidates WHERE parent_hash IN ({marks})"
        " AND saved_at >= ? ORDER BY saved_at", (*known, row[0])).fetchall()
    new = [{"hash": h, "name": n, "hypothesis": hyp or "", "author": "human", "motivations": []}
           for h, n, hyp in edits if h not in known and h != parent.hash]
    if not new:
        return saved
    return _record(st, it, "proposals", {**saved, "entries": saved["entries"] + new})


def _short(entries: list[dict], proposals: list | None, m: int, shortfall: str | None
           ) -> str | None:
    """Why the iteration has fewer usable proposals than asked for (one line), or None."""
    good = sum("hash" in e for e in entries)
    if good >= m:
        return None
    if proposals is None:
        why = ["the proposer failed (below)"]
    else:
        why = [shortfall or f"the proposer returned {len(proposals)}"] if len(proposals) < m \
            else []
        if len(entries) > good:
            why.append(f"{len(entries) - good} skipped (below)")
    return f"{good} of the {m} proposal(s) asked for: {'; '.join(why)}"


def _gate(st: _State, it: int, kind: str, base: str, cand: str) -> dict:
    from ..gate import gate

    done = _event(st, it, kind)
    if done:
        return done
    res = gate(st.conn, base, cand)
    return _record(st, it, kind, {"row_id": res.row_id, "decision": res.decision,
                                  "evidence_role": res.evidence_role,
                                  "p_value": res.stats.get("p_value"),
                                  "regressions": res.stats.get("regressions"),
                                  "fixes": res.stats.get("fixes")})


def _summary(st: _State, status: str, why: str | None = None) -> dict:
    rows = st.conn.execute("SELECT iteration, data_json FROM evolve_events WHERE loop_id = ? AND "
                           "kind = 'iteration' ORDER BY iteration", (st.loop_id,)).fetchall()
    refused = [json.loads(r[0]) for r in st.conn.execute(
        "SELECT data_json FROM evolve_events WHERE loop_id = ? AND kind LIKE 'refused%'",
        (st.loop_id,))]
    return {"loop_id": st.loop_id, "status": status, "why": why,
            "iterations": [dict(json.loads(d), iteration=i) for i, d in rows],
            "refused_reads": refused, "episodes": st.episodes_used, "cost_usd": st.cost_usd,
            "proposer": st.cfg.proposer,
            "stand_in": st.cfg.proposer in ("offline", "noop")}
