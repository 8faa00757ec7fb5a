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

REJECTED = "rejected on transfer"
TRANSFER_FLAG = f"promoted on heldout, {REJECTED}"
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


_HOME_WORD = {"promote": "promoted", "discard": "discarded"}
_AWAY_WORD = {"discard": "rejected", "inconclusive": "inconclusive"}  # else: held


def _home_part(v: Verdict, cite: bool) -> str:
    said = v.human or v.decision
    where = f" (row {v.row}, {v.domain})" if cite else ""
    return f"{_HOME_WORD.get(said, said)} on heldout{where}"


def _away_part(v: Verdict, cite: bool) -> str:
    word = _AWAY_WORD.get(v.human or v.decision, "held")
    if not cite:  # the row itself: its tasks are on the row
        return f"{word} on transfer ({v.domain})"
    regs = f"; regressions: {', '.join(v.regressions) or 'none named'}" if v.rejected else ""
    return f"{word} on transfer (row {v.row}, {v.domain}{regs})"


@dataclass
class TransferStatus:
    """A candidate's home (heldout) and transfer verdicts, latest of each, and what they say."""
    candidate_hash: str
    home: Verdict | None = None
    transfer: Verdict | None = None
    rows: dict[int, Verdict] = field(default_factory=dict)  # every gate row of the candidate

    def note_for(self, row: int | None) -> str | None:
        """What the candidate's heldout and transfer verdicts say together, told from
        scoreboard row `row` (the one function the CLI, --json, the scoreboard and the app
        read): the row's own verdict first and uncited, the other verdicts cited by row, so a
        row never points at itself. None when there is nothing to say."""
        me = self.rows.get(row) if row is not None else None
        if me is not None and me.role == "transfer":
            if self.home is None:
                return None  # nothing to hold it against
            return f"{_away_part(me, False)}; {_home_part(self.home, True)}"
        home, cite_home = (me, False) if me is not None and me.role == "heldout" \
            else (self.home, True)
        away = self.transfer
        if away is None:
            if home is None or not home.promoted:
                return None
            return UNCHECKED if not cite_home else \
                f"{_home_part(home, True)}, never checked outside its domain"
        if home is None:
            return _away_part(away, True)
        return f"{_home_part(home, cite_home)}, {_away_part(away, True)}"

    @property
    def note(self) -> str | None:
        """The note told from the latest heldout row (note_for)."""
        return self.note_for(self.home.row if self.home else None)

    @property
    def flagged(self) -> bool:
        """Promoted on heldout and rejected on transfer: the two verdicts disagree."""
        return bool(self.home and self.home.promoted and self.rejected)

    @property
    def rejected(self) -> bool:
        """Its transfer verdict is a rejection (whatever heldout said): the lineage's ✗T."""
        return bool(self.transfer and self.transfer.rejected)

    def to_dict(self, row: int | None = None) -> dict:
        """The status; with `row`, `note` is told from that scoreboard row (note_for)."""
        return {"candidate_hash": self.candidate_hash,
                "home": self.home.to_dict() if self.home else None,
                "transfer": self.transfer.to_dict() if self.transfer else None,
                "note": self.note if row is None else self.note_for(row),
                "flagged": self.flagged, "rejected": self.rejected}


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
        st.rows[row_id] = v
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


def gate_transfer(db: Any, candidate_hash: str | None, row_id: int | None,
                  home_domain: str | None) -> dict | None:
    """The transfer evidence a gate verdict shows, for `t2e gate` (its line and --json
    `transfer`) and the app's gate screen alike: the candidate's status with `note` told from
    the verdict's row (TransferStatus.note_for), `unchecked` ("never checked outside retail"
    while it never ran elsewhere) and `target` (the domain a transfer check runs on). None
    for a run with no candidate (an imported one)."""
    if not candidate_hash:
        return None
    conn = conn_of(db)
    st = transfer_status(conn, candidate_hash)
    row = conn.execute("SELECT front_matter_json FROM candidates WHERE candidate_hash = ?",
                       (candidate_hash,)).fetchone()
    try:
        meta = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        meta = {}
    declared = declared_domains(meta if isinstance(meta, dict) else {})
    doc = {**st.to_dict(row_id), "row": row_id,
           "unchecked": unchecked_outside(conn, candidate_hash, declared, home_domain),
           "target": other_domain(home_domain)}
    if doc["unchecked"] and doc["note"] and st.transfer is None:  # one sentence, not two
        home = doc["note"].rsplit(", never checked outside", 1)[0]
        doc["unchecked"], doc["note"] = f"{home}, {doc['unchecked']}", None
    return doc
