"""Proposers: read failing discovery/dev episodes (through a TraceReader) and return patches.

A proposal is a whole new instruction body, a hypothesis and, for every changed rule, the
episode/step references that motivated it. Proposals are validated before anything is saved:
a malformed one is recorded and skipped, never applied in part.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..candidates import Candidate, normalise
from ..errors import T2EError

PROTECTED_ROLES = ("heldout", "transfer")
STAND_IN = "offline proposer (a stand-in: maps failure classes to the scripted agent's phrases)"


class ProposalError(ValueError):
    """A proposal that cannot be applied; the message says what was wrong with it."""


class LeakageRefused(T2EError):
    """The proposer asked for a trace it must not read (a heldout or transfer run)."""


@dataclass
class Motivation:
    rule: str                 # the rule line added or changed
    refs: list[dict]          # [{"episode_id", "step", "class"}]


@dataclass
class Proposal:
    body: str
    hypothesis: str
    motivations: list[Motivation] = field(default_factory=list)
    author: str = "proposer"
    cost_usd: float = 0.0

    def diff(self, old_body: str) -> str:
        return "\n".join(difflib.unified_diff(normalise(old_body).split("\n"),
                                              normalise(self.body).split("\n"),
                                              "parent", "proposal", lineterm=""))

    def to_dict(self) -> dict:
        return {"hypothesis": self.hypothesis, "author": self.author, "cost_usd": self.cost_usd,
                "motivations": [{"rule": m.rule, "refs": m.refs} for m in self.motivations]}


def validate(p: Any, parent_body: str) -> Proposal:
    """A usable proposal or ProposalError: non-empty body that differs from its parent, a
    hypothesis, and motivations that cite episodes."""
    if not isinstance(p, Proposal):
        raise ProposalError(f"not a proposal: {type(p).__name__}")
    if not isinstance(p.body, str) or not normalise(p.body).strip():
        raise ProposalError("the proposed instruction is empty")
    if normalise(p.body) == normalise(parent_body):
        raise ProposalError("the proposed instruction equals its parent (no change)")
    if not isinstance(p.hypothesis, str) or not p.hypothesis.strip():
        raise ProposalError("the proposal has no hypothesis")
    for m in p.motivations:
        if not isinstance(m.rule, str) or not all(isinstance(r, dict) and
                                                  isinstance(r.get("episode_id"), int)
                                                  for r in m.refs):
            raise ProposalError("a motivation must name its rule and cite episode ids")
    return p


def breadth_first(analyses: list) -> list:
    """Distinct tasks first: every task's first failing trial in run order, then every task's
    second, and so on. A run keeps a task's trials together, so in run order the reading budget
    went on repeated trials of the first tasks and `--trials 3` read a third of the tasks."""
    seen: Counter = Counter()
    ranked = []
    for i, a in enumerate(analyses):
        ranked.append((seen[a.task_id], i, a))
        seen[a.task_id] += 1
    return [a for _, _, a in sorted(ranked, key=lambda r: r[:2])]


class TraceReader:
    """The proposer's only door to traces. Reads of runs whose role is heldout or transfer are
    refused (LeakageRefused) and reported to `on_refused`; every allowed read of an episode is
    recorded as an evidence view (via 'proposer'), like a person opening it."""

    def __init__(self, conn: Any, allowed_runs: list[str], *, on_refused=None,
                 drafting_candidate: str | None = None, context_steps: int = 3,
                 budget_chars: int = 6000):
        self.conn = conn
        self.allowed = set(allowed_runs)
        self.on_refused = on_refused
        self.drafting = drafting_candidate
        self.context_steps = context_steps
        self.budget_chars = budget_chars
        self.read: dict[str, dict[str, int]] = {}     # run -> failing/read episodes and tasks

    def _check(self, episode_id: int) -> tuple[str, str]:
        row = self.conn.execute(
            "SELECT e.run_id, r.role FROM episodes e JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.episode_id = ?", (int(episode_id),)).fetchone()
        if row is None:
            raise LeakageRefused(f"no episode {episode_id} in this store")
        run_id, role = row
        if role in PROTECTED_ROLES or run_id not in self.allowed:
            why = (f"episode {episode_id} belongs to run {run_id} (role {role}); the proposer "
                   "reads only the loop's discovery and development runs")
            if self.on_refused:
                self.on_refused(int(episode_id), run_id, role, why)
            raise LeakageRefused(why)
        return run_id, role

    def failures(self, run_id: str) -> list[dict]:
        """Failing episodes of an allowed run, each with its classes, first divergence and the
        steps around it (compacted to the budget)."""
        from ..analysis.cache import analyse_run

        if run_id not in self.allowed:
            role = self.conn.execute("SELECT role FROM runs WHERE run_id = ?",
                                     (run_id,)).fetchone()
            why = f"run {run_id} (role {role[0] if role else '?'}) is not one the proposer may read"
            if self.on_refused:
                self.on_refused(None, run_id, role[0] if role else None, why)
            raise LeakageRefused(why)
        failing = breadth_first([a for a in analyse_run(self.conn, run_id)
                                 if not a.infra and a.classes])
        out, used = [], 0
        for a in failing:
            item = self.episode(a.episode_id, analysis=a)
            used += sum(len(s.get("text", "")) for s in item["steps"])
            if out and used > self.budget_chars:
                break
            out.append(item)
        self.read[run_id] = {"failing": len(failing), "read": len(out),
                             "failing_tasks": len({a.task_id for a in failing}),
                             "read_tasks": len({f["task_id"] for f in out})}
        return out

    def reading(self) -> str:
        """What the failures read so far covered, in a few words (for a proposer's shortfall)."""
        n = {k: sum(r[k] for r in self.read.values())
             for k in ("failing", "read", "failing_tasks", "read_tasks")}
        if n["read"] < n["failing"]:
            return (f"{n['read']} of the {n['failing']} failing episodes, {n['read_tasks']} of "
                    f"{n['failing_tasks']} tasks, as far as the reading budget went")
        return f"all {n['read']} failing episodes, {n['read_tasks']} tasks"

    def episode(self, episode_id: int, analysis: Any = None) -> dict:
        from store.queries import record_view

        self._check(episode_id)
        if analysis is None:
            from ..analysis.cache import analysis_of
            analysis = analysis_of(self.conn, episode_id)
        step = ((analysis.first_divergence or {}).get("step") if analysis else None)
        rows = self.conn.execute(
            "SELECT idx, role, coalesce(content, ''), coalesce(tool_calls, '') FROM steps "
            "WHERE episode_id = ? ORDER BY idx", (int(episode_id),)).fetchall()
        if step is None:
            step = rows[-1][0] if rows else 0
        lo, hi = step - self.context_steps, step + 1
        steps = [{"idx": i, "role": r, "text": (c + (" " + t if t else ""))[:400]}
                 for i, r, c, t in rows if lo <= i <= hi]
        record_view(self.conn, int(episode_id), "proposer", self.drafting)
        task = self.conn.execute("SELECT task_id FROM episodes WHERE episode_id = ?",
                                 (int(episode_id),)).fetchone()[0]
        return {"episode_id": int(episode_id), "task_id": task,
                "classes": [v.to_dict() for v in (analysis.classes if analysis else [])],
                "first_divergence": analysis.first_divergence if analysis else None,
                "steps": steps}


class Proposer(Protocol):
    """`shortfall`, after `propose`: why it returned fewer than `m` proposals (one line), or
    None; the loop records and prints it."""
    name: str
    shortfall: str | None

    def propose(self, parent: Candidate, reader: TraceReader, runs: list[str], policy: str,
                m: int) -> list[Any]: ...


# Which scripted behaviour answers which failure, and the words that tell them apart. The
# offline proposer knows the stand-in's phrase table, as a person reading `t2e models` would.
_CUES: list[tuple[str, set[str], str | None]] = [
    ("verify_stated_id", {"auth_skipped"}, None),
    ("strict_yes", {"unconfirmed_write"}, None),
    ("check_owner", {"extra_write", "wrong_target"}, r"another (customer|user)|not (yours|your)"),
    ("cross_order_lookup", {"missing_write", "ended_early", "wrong_args", "wrong_target"},
     r"same (one )?as|already (received|got|have)"),
    ("address_from_records", {"wrong_args", "missing_write", "ended_early"},
     r"address|on (my|the) account|on file"),
    ("cancelled_tracking", {"communicate_miss", "wrong_claim", "reasoning_error"},
     r"tracking|cancel"),
    ("transfer_out_of_scope", {"missing_write", "ended_early", "wrong_claim"},
     r"complain|compensat|manager|human|transfer"),
    ("all_requests", {"missing_write", "communicate_miss", "ended_early"},
     r"\balso\b|another thing|one more|and (then|also)"),
]


class OfflineProposer:
    """Maps failure classes (and the words at the failing steps) to the scripted stand-in's
    rule phrases: one proposal per candidate behaviour, most supported first. A stand-in: it
    exercises the loop with no model and proves nothing about models."""

    name = "offline"
    author = STAND_IN
    shortfall: str | None = None

    def propose(self, parent: Candidate, reader: TraceReader, runs: list[str], policy: str,
                m: int) -> list[Any]:
        from ..engine.scripted_rules import PHRASE_TABLE, matched_phrases

        examples = {row["behaviour"]: row["example"] for row in PHRASE_TABLE}
        have = set(matched_phrases(normalise(parent.body)))
        support: dict[str, list[dict]] = {}
        for run in runs:
            for f in reader.failures(run):
                names = {c["name"] for c in f["classes"]}
                text = " ".join(s["text"] for s in f["steps"]).lower()
                step = (f["first_divergence"] or {}).get("step")
                for behaviour, classes, cue in _CUES:
                    if behaviour in have or not (names & classes):
                        continue
                    if cue and not re.search(cue, text):
                        continue
                    support.setdefault(behaviour, []).append(
                        {"episode_id": f["episode_id"], "step": step,
                         "class": sorted(names & classes)[0]})
        ranked = sorted(support.items(), key=lambda kv: (-len({r["episode_id"] for r in kv[1]}),
                                                         kv[0]))
        self.shortfall = None
        if len(ranked) < m:
            lacks = sum(b not in have for b, _, _ in _CUES)
            self.shortfall = (f"the failures read ({reader.reading()}) support {len(ranked)} of "
                              f"the {lacks} rule(s) it knows that the parent lacks")
        out = []
        for behaviour, refs in ranked[:m]:
            rule = examples[behaviour]
            body = normalise(parent.body) + "\n" + rule
            classes = Counter(r["class"] for r in refs)
            out.append(Proposal(
                body=body, author=self.author,
                hypothesis=(f"{len(refs)} failing episode(s) ({', '.join(sorted(classes))}) "
                            f"point at '{behaviour}': add the rule that switches it on"),
                motivations=[Motivation(rule=rule, refs=refs[:8])]))
        return out


class NoopProposer:
    """Returns patches that change no behaviour (a sentence the stand-in ignores): the null
    model for the loop's false-promotion test."""

    name = "noop"
    author = "no-op proposer (test stand-in)"

    def __init__(self):
        self.n = 0

    def propose(self, parent: Candidate, reader: TraceReader, runs: list[str], policy: str,
                m: int) -> list[Any]:
        out = []
        for _ in range(m):
            self.n += 1
            out.append(Proposal(body=normalise(parent.body) + f"\nBe courteous (note {self.n}).",
                                hypothesis="no-op: a courtesy sentence", author=self.author))
        return out
