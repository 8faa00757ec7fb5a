"""Rules about what the agent did with the tools: authentication, confirmation, writes.

Each rule returns a list of Verdicts (empty when its condition does not hold). Step indices
are the trace's `idx`. Definitions in words: docs/failure-classes.md.
"""

from __future__ import annotations

import json
import re

from .classes import Verdict
from .facts import AUTH_PREFIX, Facts, arg_diff, confirmation_of, is_target_key, is_writeish

# words of a confirmation question (else the question must name a value of the write)
ASKS = re.compile(r"\b(confirm|proceed|go ahead|shall I|should I|would you like me to|do you want me to|"
                  r"is (this|that) (correct|right)|reply (with )?['\"\u201c]?yes)", re.I)


def _short(v, n: int = 60) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def auth_skipped(ep, f: Facts) -> list:
    """A record read or write before the customer was authenticated, or on another user."""
    if not any(g.name.startswith(AUTH_PREFIX) for g in ep.gold):
        return []   # the task does not expect authentication by lookup (e.g. airline)
    for c in f.calls:
        if c.name.startswith(AUTH_PREFIX) or c.kind not in ("read", "write"):
            continue
        if not any(k in c.args for k in ("user_id", "order_id")):
            continue
        if f.auth_step is None or c.step < f.auth_step:
            who = c.args.get("user_id") or c.args.get("order_id")
            return [Verdict("auth_skipped", [c.step],
                            f"{c.name} on {_short(who)} at step {c.step} came before any "
                            f"{AUTH_PREFIX}_* lookup authenticated the customer.", tool=c.name)]
        uid = c.args.get("user_id")
        if uid is not None and f.auth_uid and uid != f.auth_uid:
            return [Verdict("auth_skipped", [f.auth_step, c.step],
                            f"{c.name} at step {c.step} used user {_short(uid)}, but step "
                            f"{f.auth_step} authenticated {_short(f.auth_uid)}.", tool=c.name)]
    return []


def _gold_assignment(ep, f: Facts):
    """For each unmet outcome-changing gold action: the unconsumed call of the same name (if
    any) that was meant for it. Returns [(gold, call or None)]."""
    used = set(f.matched_calls)
    out = []
    for g in f.unmet_gold:
        if not is_writeish(g.name, g.kind):
            continue
        same = [c for c in f.calls if c.name == g.name and id(c) not in used]
        # prefer the call on the same target, then the first one
        same.sort(key=lambda c: (any(c.args.get(k) != v for k, v in g.args.items() if is_target_key(k)),
                                 c.step))
        call = same[0] if same else None
        if call is not None:
            used.add(id(call))
        out.append((g, call))
    return out, used


def write_rules(ep, f: Facts) -> list:
    """wrong_target, wrong_args, missing_write and extra_write, from one assignment of calls to
    the unmet gold actions (so a call is blamed once)."""
    out = []
    pairs, used = _gold_assignment(ep, f)
    close = f.closing_step()
    for g, c in pairs:
        if c is None:
            out.append(Verdict("missing_write", [close],
                               f"gold {g.name} on {_short(_target_of(g.args))} was never attempted; "
                               f"the agent closed at step {close} without it.", tool=g.name))
            continue
        diff = arg_diff(g, c)
        tdiff = {k: v for k, v in diff.items() if is_target_key(k)}
        if tdiff:
            k = next(iter(tdiff))
            out.append(Verdict("wrong_target", [c.step],
                               f"{c.name} at step {c.step} acted on {k}={_short(tdiff[k]['got'])}; "
                               f"gold is {_short(tdiff[k]['gold'])}.", detail={"diff": diff},
                               tool=c.name))
        elif diff:
            shown = "; ".join(f"{k}: {_short(v['got'], 30)} vs gold {_short(v['gold'], 30)}"
                              for k, v in diff.items())
            out.append(Verdict("wrong_args", [c.step],
                               f"{c.name} at step {c.step} had the gold target but different "
                               f"arguments ({shown}).", detail={"diff": diff}, tool=c.name))
    if f.db_failed():
        owners = f.owners()
        for c in f.calls:
            if id(c) in used or not c.ok or c.kind != "write":
                continue
            oid = c.args.get("order_id") or c.args.get("reservation_id")
            owner = owners.get(oid) if oid else None
            unsafe = bool(owner and f.auth_uid and owner != f.auth_uid)
            why = (f"{c.name} at step {c.step} is not in gold"
                   + (f" and acted on {_short(oid)} of user {_short(owner)}, not the authenticated "
                      f"{_short(f.auth_uid)}." if unsafe else "; it changed the records anyway."))
            # an unsafe write is the cause whatever else went wrong: it ranks first
            out.append(Verdict("extra_write", [c.step], why, detail={"unsafe": unsafe},
                               rank=15 if unsafe else None, tool=c.name))
    return out


def _target_of(args: dict):
    for k, v in args.items():
        if is_target_key(k):
            return v
    return args


def unconfirmed_write(ep, f: Facts) -> list:
    """A write that hurt the outcome (not a met gold action) without an explicit yes after the
    agent last stated what it would do."""
    out = []
    for c in f.calls:
        if c.kind != "write" or id(c) in f.matched_calls:
            continue
        prev = f.last_text_before(c.step)
        if prev is None:
            out.append(Verdict("unconfirmed_write", [c.step],
                               f"{c.name} at step {c.step} came before the agent said anything to "
                               "the customer.", tool=c.name))
            continue
        replies = f.user_between(prev[0], c.step)
        answer = confirmation_of(replies[-1][1]) if replies else "none"
        stated = bool(ASKS.search(prev[1])) or ("?" in prev[1] and any(
            isinstance(v, str) and len(v) > 3 and v in prev[1] for v in c.args.values()))
        if answer == "yes" and stated:
            continue
        if not replies:
            why = f"{c.name} at step {c.step} followed the agent's step {prev[0]} with no reply."
        elif not stated:
            why = (f"{c.name} at step {c.step} was never put to the customer: the agent's last "
                   f"question (step {prev[0]}) did not state the change.")
        else:
            word = {"no": "a no", "vague": "a hedged answer", "none": "no yes"}.get(answer, answer)
            why = (f"{c.name} at step {c.step} followed {word} (step {replies[-1][0]}) to the "
                   f"question at step {prev[0]}.")
        out.append(Verdict("unconfirmed_write", [x for x in (prev[0], c.step)], why, tool=c.name))
        break   # the first one explains it
    return out


def under_inspection(ep, f: Facts) -> list:
    """A write decided without reading the record it depends on."""
    for c in f.calls:
        if c.kind != "write" or id(c) in f.matched_calls:
            continue
        for key in ("order_id", "reservation_id", "user_id"):
            rid = c.args.get(key)
            if not isinstance(rid, str):
                continue
            read = any(p.step < c.step and p.ok and (p.args.get(key) == rid or
                                                     (p.result and rid in p.result))
                       for p in f.calls if p is not c)
            if not read:
                return [Verdict("under_inspection", [c.step],
                                f"{c.name} at step {c.step} acted on {key}={_short(rid)} without "
                                "reading that record first.", tool=c.name)]
    return []


def defective_task(ep, f: Facts) -> list:
    """Blame flag: the task's gold cannot be right under its own tools or policy."""
    for g in ep.gold:
        if not is_writeish(g.name, g.kind):
            continue
        for c in f.calls:
            if not (c.error and c.name == g.name and c.args == g.args):
                continue
            # refused on its own, not because an earlier write of the agent changed the record
            earlier = any(p.step < c.step and p.kind == "write" and p.ok and
                          p.args.get("order_id") == c.args.get("order_id") for p in f.calls)
            if not earlier:
                return [Verdict("defective_task", [c.step],
                                f"the agent made the gold {g.name} call exactly at step {c.step} "
                                "and the tool refused it.", kind="blame", tool=g.name)]
        oid = g.args.get("order_id")
        owner = f.owners().get(oid) if oid else None
        if owner and f.auth_uid and owner != f.auth_uid:
            steps = [c.step for c in f.calls if c.args.get("order_id") == oid][:1]
            return [Verdict("defective_task", steps,
                            f"gold {g.name} acts on {_short(oid)} of user {_short(owner)}, not the "
                            f"authenticated {_short(f.auth_uid)}: the policy forbids it.", kind="blame",
                            tool=g.name)]
    return []
