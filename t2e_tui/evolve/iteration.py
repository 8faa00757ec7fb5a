"""One iteration of the evolve loop: proposals (recorded once, hand edits adopted), the dev runs,
the Pareto set over dev tasks, the frozen candidate, its heldout (and transfer) runs and gates, and
the verdict that says whether the loop stops.
"""

from __future__ import annotations

from typing import Any

from ..candidate_versions import load_ref, save_version
from ..candidates import Candidate, CandidateError
from .proposer import LeakageRefused, ProposalError, TraceReader, validate
from .state import Progress, _cands_dir, _event, _record, _run, _State, _task_rates


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
