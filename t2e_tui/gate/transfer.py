"""Transfer evidence: does a candidate promoted on its home domain hold on another domain?

The protocol's fifth kind of evidence. A run whose role is `transfer` is a rerun of the same
candidate (and of the baseline) on another domain's chosen split; gating that pair is an
ordinary gate decision whose evidence role is `transfer`. This module reads the scoreboard per
candidate and says what the two verdicts mean together:

* promoted on heldout (the gate, or a human decision in force) and **discarded** on transfer
  -> `TRANSFER_FLAG` ("promoted on heldout, rejected on transfer"), with the regressing tasks;
* promoted on heldout and not discarded on transfer -> "held on transfer";
* promoted on heldout with no transfer verdict -> "never checked outside its domain".

A transfer verdict counts only if its domain differs from the home verdict's domain. Candidates
may declare the domains they target (front matter `domains: [retail]`); `declared_domains`
reads that list. Core layer: no textual.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .runs import conn_of

TRANSFER_FLAG = "promoted on heldout, rejected on transfer"
HELD = "promoted on heldout, held on transfer"
UNCHECKED = "promoted on heldout, never checked outside its domain"
KINDS = ("retail", "airline")


def domain_kind(domain: str | None) -> str | None:
    """'retail' / 'airline' for a run's domain name (world.kinds), else the name itself."""
    from world.kinds import kind_of

    return kind_of(domain) or domain


def declared_domains(meta: dict | None) -> list[str]:
    """The `domains:` front matter of a candidate as a list ("[retail]", "retail, airline")."""
    raw = (meta or {}).get("domains")
    if raw is None:
        return []
    if isinstance(raw, list):
        items = raw
    else:
        items = str(raw).strip().strip("[]").split(",")
    return [str(x).strip().strip("'\"") for x in items if str(x).strip().strip("'\"")]


@dataclass
class Verdict:
    """One gate row, as transfer evidence sees it."""
    row: int
    role: str
    domain: str | None
    decision: str              # the gate's verdict
    human: str | None          # the human decision in force, if any
    regressions: list[str] = field(default_factory=list)
    candidate_run: str | None = None

    @property
    def promoted(self) -> bool:
        return (self.human or self.decision) == "promote"

    @property
    def rejected(self) -> bool:
        return (self.human or self.decision) == "discard"

    def to_dict(self) -> dict:
        return {"row": self.row, "role": self.role, "domain": self.domain,
                "decision": self.decision, "human": self.human,
                "regressions": self.regressions, "candidate_run": self.candidate_run}


@dataclass
class TransferStatus:
    """A candidate's home (heldout) and transfer verdicts, latest of each, and what they say."""
    candidate_hash: str
    home: Verdict | None = None
    transfer: Verdict | None = None

    @property
    def note(self) -> str | None:
        if self.home is None or not self.home.promoted:
            return None
        if self.transfer is None:
            return UNCHECKED
        if self.transfer.rejected:
            regs = ", ".join(self.transfer.regressions) or "none named"
            return (f"{TRANSFER_FLAG} (row {self.transfer.row}, {self.transfer.domain}; "
                    f"regressions: {regs})")
        return f"{HELD} (row {self.transfer.row}, {self.transfer.domain})"

    @property
    def flagged(self) -> bool:
        return bool(self.note and self.note.startswith(TRANSFER_FLAG))

    def to_dict(self) -> dict:
        return {"candidate_hash": self.candidate_hash,
                "home": self.home.to_dict() if self.home else None,
                "transfer": self.transfer.to_dict() if self.transfer else None,
                "note": self.note, "flagged": self.flagged}


def transfer_statuses(db: Any) -> dict[str, TransferStatus]:
    """Per candidate hash: the latest heldout verdict and the latest transfer verdict on a
    domain other than the heldout one's. Reads the scoreboard in two queries."""
    conn = conn_of(db)
    human: dict[int, str] = {}
    for row_id, decision in conn.execute(
            "SELECT row_id, decision FROM human_decisions ORDER BY decision_id"):
        human[row_id] = decision        # the latest one is in force
    rows = conn.execute(
        # a rejection on transfer needs no clean evidence: a gate whose candidate run was made
        # as transfer counts as a transfer verdict even when #10's rule graded it development
        "SELECT g.row_id, g.candidate_hash, CASE WHEN g.evidence_role IN ('heldout', "
        "'transfer') THEN g.evidence_role WHEN r.role = 'transfer' THEN 'transfer' ELSE "
        "g.evidence_role END, g.decision, g.stats_json, "
        "g.candidate_run_id, r.domain FROM gate_decisions g "
        "LEFT JOIN runs r ON r.run_id = g.candidate_run_id "
        "WHERE g.candidate_hash IS NOT NULL ORDER BY g.row_id").fetchall()
    out: dict[str, TransferStatus] = {}
    transfers: dict[str, list[Verdict]] = {}
    for row_id, chash, role, decision, stats, crun, domain in rows:
        try:
            regs = list((json.loads(stats or "{}") or {}).get("regressions") or [])
        except ValueError:
            regs = []
        v = Verdict(row_id, role, domain, decision, human.get(row_id), regs, crun)
        st = out.setdefault(chash, TransferStatus(chash))
        if role == "heldout":
            st.home = v
        elif role == "transfer":
            transfers.setdefault(chash, []).append(v)
    for chash, vs in transfers.items():
        st = out[chash]
        home_kind = domain_kind(st.home.domain) if st.home else None
        other = [v for v in vs if home_kind is None or domain_kind(v.domain) != home_kind]
        if other:
            st.transfer = other[-1]
    return out


def transfer_status(db: Any, candidate_hash: str | None) -> TransferStatus | None:
    """The transfer status of one candidate (None without a hash)."""
    if not candidate_hash:
        return None
    return transfer_statuses(db).get(candidate_hash) or TransferStatus(candidate_hash)


def other_domain(domain: str | None) -> str | None:
    """The transfer domain for a home domain: our mini worlds pair with each other, tau2's
    with tau2's (mini-retail <-> mini-airline, tau2-retail <-> tau2-airline)."""
    pairs = {"mini-retail": "mini-airline", "mini-airline": "mini-retail",
             "tau2-retail": "tau2-airline", "tau2-airline": "tau2-retail",
             "retail": "tau2-airline", "airline": "tau2-retail"}
    return pairs.get(domain or "")


def unchecked_outside(db: Any, candidate_hash: str | None, declared: list[str],
                      home_domain: str | None) -> str | None:
    """A sentence for the gate screen when a candidate was never run outside its domain(s)."""
    if not candidate_hash:
        return None
    conn = conn_of(db)
    kinds = {domain_kind(d) for (d,) in conn.execute(
        "SELECT DISTINCT domain FROM runs WHERE candidate_hash = ?", (candidate_hash,))}
    home = {domain_kind(d) for d in declared} or {domain_kind(home_domain)}
    if kinds - home or set(KINDS) <= home:
        return None  # checked elsewhere, or it targets every domain there is
    where = ", ".join(sorted(k for k in home if k)) or "its domain"
    target = f" (declared: {', '.join(declared)})" if declared else ""
    return f"never checked outside {where}{target}"
