"""Rules about the conversation: what was said, claimed or repeated, and how it ended."""

from __future__ import annotations

import re

from store import INFRA

from .classes import Verdict
from .facts import STOP, Facts, is_writeish

CANNOT = re.compile(
    r"\b(can(no|')t|can not|unable to|not able to|not allowed to|not possible to)\b[^.?!]{0,40}?"
    r"\b(cancel|return|exchange|modify|change|update|transfer|refund|process|help)\b"
    r"|\bnot (something|anything) (that )?I can (help|do|assist)", re.I)
DONE = re.compile(r"\b(has been|have been|is now|are now|I've|I have|successfully)\s+"
                  r"(cancel+ed|returned|exchanged|updated|changed|modified|processed|refunded)\b", re.I)
_VERB_TOOLS = {"change": ("modify", "exchange"), "update": ("modify",), "refund": ("return", "cancel"),
               "process": ("return", "cancel", "exchange", "modify")}
WRAP = re.compile(r"anything else|have a (great|nice|good) day|glad I could help", re.I)
# a stop message that still asks for work: a yes up front, or a request for a change
ASKS_WORK = re.compile(r"^\W*(yes|yeah|yep|go ahead|please (go ahead|proceed))\b|\b(please|can you|could you|"
                       r"I want (you )?to|I'd like (you )?to)\b[^.?!]{0,40}\b(cancel|return|exchange|"
                       r"change|update|modify|process|proceed|go ahead)\b", re.I)
MONEY = re.compile(r"\$?\b\d[\d,]*\.\d{2}\b")
# facts a user may state: order ids, emails, user ids (each searched only when its marker is there)
FACTS = (("#", re.compile(r"#W\d{7}\b")), ("@", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
         ("_", re.compile(r"\b[a-z]+_[a-z]+_\d{3,5}\b")))


def _norm(s: str) -> str:
    return s.lower().replace(",", "")


def communicate_rules(ep, f: Facts) -> list:
    """communicate_miss for each unmet info; reasoning_error when the agent had read it (or
    stated another amount)."""
    out = []
    close = f.closing_step()
    for info, met in ep.communicate:
        if met is not False:
            continue
        out.append(Verdict("communicate_miss", [close],
                           f"required information '{info}' was never said to the customer."))
        needle = _norm(info)
        seen = next((c for c in f.calls if c.ok and c.result and c.result_step is not None
                     and c.result_step < close and needle in _norm(c.result)), None)
        if seen is not None:
            out.append(Verdict("reasoning_error", [seen.result_step, close],
                               f"'{info}' was in the tool result at step {seen.result_step}, yet the "
                               f"agent's answer (step {close}) did not give it."))
            continue
        if MONEY.fullmatch(info.strip().lstrip("$")):
            said = [(i, m.group(0)) for i, t in f.texts for m in MONEY.finditer(t)]
            if said:
                i, amount = said[-1]
                out.append(Verdict("reasoning_error", [i],
                                   f"the agent stated {amount} at step {i}; the right figure is {info}."))
    return out


def wrong_claim(ep, f: Facts) -> list:
    """The agent says it cannot do what a gold action does, or claims a change it never made."""
    unmet_acts = [g for g in f.unmet_gold if is_writeish(g.name, g.kind)]
    writes_ok = [c for c in f.calls if c.kind == "write" and c.ok]
    undone = f.unmet_work()
    if not unmet_acts and not undone:
        return []
    for i, t in f.texts:
        m = CANNOT.search(t) if unmet_acts else None
        verb = (m.group(3) or "help").lower() if m else None
        # the verb must name what the unmet gold action does ("help" covers any)
        able = [g for g in unmet_acts if verb == "help" or any(
            w in g.name for w in _VERB_TOOLS.get(verb, (verb,)))] if m else []
        if able:
            return [Verdict("wrong_claim", [i],
                            f"at step {i} the agent said \"{m.group(0)[:60]}\", but the gold "
                            f"{able[0].name} shows it could.", tool=able[0].name)]
        d = DONE.search(t) if undone and not any(c.step < i for c in writes_ok) else None
        if d:
            return [Verdict("wrong_claim", [i],
                            f"at step {i} the agent said \"{d.group(0)}\" with no successful write "
                            "before it.")]
    return []


def _final_stop(f: Facts):
    for i, t in reversed(f.user_msgs):
        if STOP in t:
            return i, t
    return None


def ended_early(ep, f: Facts) -> list:
    """The conversation ended (transfer, or a stop mid-request) before the work was done."""
    if not f.unmet_work():
        return []
    gold_transfer = any("transfer" in g.name for g in ep.gold)
    for c in f.calls:
        if "transfer" in c.name and not gold_transfer:
            return [Verdict("ended_early", [c.step],
                            f"the agent transferred to a human at step {c.step} with gold work "
                            "still undone.", tool=c.name)]
    stop = _final_stop(f)
    if stop is not None:
        prev = f.last_text_before(stop[0])
        if prev is not None and "?" in prev[1] and not WRAP.search(prev[1]):
            return [Verdict("ended_early", [prev[0], stop[0]],
                            f"the customer stopped at step {stop[0]} while the agent's question at "
                            f"step {prev[0]} was still open and gold work was undone.")]
    if ep.termination == "agent_stop" and f.texts and not WRAP.search(f.texts[-1][1]):
        return [Verdict("ended_early", [f.last_step],
                        "the agent ended the conversation with gold work undone.")]
    return []


def loop_or_max_steps(ep, f: Facts) -> list:
    """Max steps reached, or the same call / the same text three times in a row."""
    if ep.termination == "max_steps":
        return [Verdict("loop", [f.last_step], "the episode hit the step limit.")]
    run, prev = [], None
    for c in f.calls:
        key = (c.name, repr(sorted(c.args.items())))
        run = run + [c.step] if key == prev else [c.step]
        prev = key
        if len(run) >= 3:
            return [Verdict("loop", run[:3], f"{c.name} was called with identical arguments "
                                             f"three times in a row (steps {run[0]}-{run[2]}).",
                                    tool=c.name)]
    seen: dict = {}
    for i, t in f.texts:
        seen.setdefault(t.strip(), []).append(i)
        if len(seen[t.strip()]) >= 3:
            s = seen[t.strip()]
            return [Verdict("loop", s[:3], f"the agent sent the same message three times "
                                           f"(steps {', '.join(map(str, s[:3]))}).")]
    return []


def tool_error_storm(ep, f: Facts) -> list:
    errs = [c.result_step for c in f.calls if c.error and c.result_step is not None]
    if ep.termination == "too_many_errors" or (len(errs) >= 3 and len(errs) * 2 >= len(f.calls)):
        return [Verdict("tool_error_storm", errs[:5] or [f.last_step],
                        f"{len(errs)} of {len(f.calls)} tool calls returned errors"
                        + (" and the episode stopped on too many errors." if ep.termination ==
                           "too_many_errors" else "."))]
    return []


# how a conversation itself ends (tau2's reasons), and the ends that are not the agent's run
# failing: the infrastructure's (its own class) and the user simulator's
NOT_ABORTED = frozenset({"user_stop", "agent_stop", "max_steps", "too_many_errors", INFRA,
                         "user_error"})


def aborted(ep, f: Facts) -> list:
    """The episode ended on an error of the agent's own run, not by the conversation: tau2's
    agent_error, 1.x's timeout, context_window_exceeded and unexpected_error, or the exception
    a Harbor trial recorded (its type is the termination reason: AgentTimeoutError, ...)."""
    reason = ep.termination
    if not reason or reason in NOT_ABORTED:
        return []
    return [Verdict("aborted", [f.last_step],
                    f"the run ended on {reason} before the conversation did.")]


def user_left_scenario(ep, f: Facts) -> list:
    """Blame flag: the user simulator stopped while asking for work, or stated facts its
    scenario does not contain."""
    out = []
    stop = _final_stop(f)
    if stop is not None and f.unmet_work():
        rest = stop[1].replace(STOP, "")
        if ASKS_WORK.search(rest):
            out.append(Verdict("user_left_scenario", [stop[0]],
                               f"the user asked for more work and stopped in the same message (step "
                               f"{stop[0]}), so the agent could not act.", kind="blame"))
    if ep.scenario_text:
        scen = None
        for i, t in f.user_msgs:
            for m in (m for mark, rx in FACTS if mark in t for m in rx.finditer(t)):
                fact = m.group(0).lower()
                scen = scen if scen is not None else ep.scenario_text.lower()
                if fact in scen or fact in f.seen_before(i).lower() or any(
                        fact in x.lower() for j, x in f.texts if j < i):
                    continue
                out.append(Verdict("user_left_scenario", [i],
                                   f"the user gave {m.group(0)} at step {i}, which its scenario "
                                   "does not contain.", kind="blame"))
                return out
    return out
