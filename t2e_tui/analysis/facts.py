"""Facts every rule needs, computed once per episode: which calls matched which gold action,
who authenticated, who owns a record, what the customer answered before a write.

Rules (rules_*.py) only read these; the matching follows tau2's action check (a call matches a
gold action when the name is equal and the compared arguments are equal).
"""

from __future__ import annotations

import json
import re

from .trace import Call, EpisodeTrace

STOP = "###STOP###"
AUTH_PREFIX = "find_user_id"
# Arguments that pick the record a write acts on (wrong target); the rest are its details.
# Domain-neutral: any *_id / *_ids argument except the new_* ones (what it becomes).
_TARGET = re.compile(r"^(?!new_).*_ids?$")

YES = re.compile(r"\b(yes|yeah|yep|yup|sure|confirm(ed|s)?|go ahead|proceed|please do|do it|correct|"
                 r"that's right|that is right|absolutely|ok(ay)?|please (cancel|return|exchange|"
                 r"change|update|modify|process))\b", re.I)
NO = re.compile(r"^\W*(no|nope|nah)\b|\b(don't|do not|changed my mind|rather not|not now|"
                r"keep (it|things|them))\b", re.I)
VAGUE = re.compile(r"\b(i guess|maybe|perhaps|i suppose|not (completely |totally |entirely |"
                   r"really )?sure|i think|probably|if you think)\b", re.I)


def is_target_key(key: str) -> bool:
    return bool(_TARGET.match(key))


def is_writeish(name: str, kind: str) -> bool:
    """A call that changes the outcome: a write, or a hand-over to a human."""
    return kind == "write" or "transfer" in name


def matches(gold, call: Call) -> bool:
    """tau2's Action.compare_with_tool_call."""
    if gold.name != call.name:
        return False
    keys = gold.compare_args if gold.compare_args is not None else list(call.args.keys())
    if not keys:
        return True
    return ({k: v for k, v in call.args.items() if k in keys}
            == {k: v for k, v in gold.args.items() if k in keys})


def arg_diff(gold, call: Call) -> dict:
    """{key: {"got": .., "gold": ..}} over the compared keys that differ."""
    keys = gold.compare_args if gold.compare_args is not None else sorted(set(gold.args) | set(call.args))
    return {k: {"got": call.args.get(k), "gold": gold.args.get(k)}
            for k in keys if call.args.get(k) != gold.args.get(k)}


def confirmation_of(text: str) -> str:
    """'yes' (explicit), 'no', 'vague' or 'none' for a customer's reply."""
    if NO.search(text):
        return "no"
    if VAGUE.search(text):
        return "vague"
    if YES.search(text):
        return "yes"
    return "none"


def _parse(text):
    try:
        v = json.loads(text)
    except (TypeError, ValueError):
        return None
    return v if isinstance(v, dict) else None


class Facts:
    """Derived facts about one episode (computed lazily where costly)."""

    def __init__(self, ep: EpisodeTrace):
        self.ep = ep
        self.calls = ep.calls
        self.gold_met = {g.pos: (g.met if g.met is not None else any(matches(g, c) for c in self.calls))
                         for g in ep.gold}
        # calls consumed by a matching gold action (one call may satisfy several, as in tau2)
        self.matched_calls = {id(c) for g in ep.gold for c in self.calls if matches(g, c)}
        self.auth_step, self.auth_uid = None, None
        for c in self.calls:
            if c.name.startswith(AUTH_PREFIX) and c.ok and c.result:
                self.auth_step, self.auth_uid = c.step, c.result.strip().strip('"')
                break
        self.texts = [(s.idx, s.text) for s in ep.steps if s.role == "assistant" and s.text.strip()
                      and not s.calls]
        self.user_msgs = [(s.idx, s.text) for s in ep.steps if s.role == "user"]
        self.last_step = ep.steps[-1].idx if ep.steps else 0
        self._owners: dict | None = None
        self.cache: dict = {}     # results of rules shared by several classes

    @property
    def unmet_gold(self) -> list:
        return [g for g in self.ep.gold if self.gold_met.get(g.pos) is False]

    def unmet_work(self) -> bool:
        """Some outcome-changing gold action or communicate info is still missing."""
        return (any(is_writeish(g.name, g.kind) for g in self.unmet_gold)
                or any(m is False for _, m in self.ep.communicate))

    def db_failed(self) -> bool:
        bd = self.ep.breakdown or {}
        return "DB" not in bd or (bd["DB"] is not None and bd["DB"] < 1.0)

    def owners(self) -> dict:
        """record id -> owning user id, as the tool results showed it."""
        if self._owners is None:
            self._owners = {}
            for c in self.calls:
                if c.ok and c.result and '"user_id"' in c.result and (
                        '"order_id"' in c.result or '"reservation_id"' in c.result):
                    rec = _parse(c.result)
                    if rec and isinstance(rec.get("user_id"), str):
                        for key in ("order_id", "reservation_id"):
                            if isinstance(rec.get(key), str):
                                self._owners[rec[key]] = rec["user_id"]
        return self._owners

    def last_text_before(self, idx: int):
        prev = None
        for i, t in self.texts:
            if i >= idx:
                break
            prev = (i, t)
        return prev

    def user_between(self, lo: int, hi: int) -> list:
        return [(i, t) for i, t in self.user_msgs if lo < i < hi]

    def closing_step(self) -> int:
        """Where the conversation ended for the agent: its last text, else the last step."""
        return self.texts[-1][0] if self.texts else self.last_step

    def seen_before(self, idx: int) -> str:
        """Everything the agent had been shown (tool results, user text) before step `idx`."""
        parts = []
        for s in self.ep.steps:
            if s.idx >= idx:
                break
            if s.role in ("tool", "user") and s.text:
                parts.append(s.text)
        return "\n".join(parts)
