"""The built-in failure classes (registered on import). Several rules produce more than one
class (the write rules share one assignment of calls to gold actions); the class list names
each class once and points at the rule that can produce it."""

from __future__ import annotations

from store import INFRA as INFRA_TERMINATION

from . import rules_actions as A
from . import rules_talk as T
from .classes import AGENT, BLAME, INFRA, INFRASTRUCTURE, FailureClass, Verdict, register


def _infra(ep, f) -> list:
    if ep.termination == INFRA_TERMINATION:
        return [Verdict(INFRASTRUCTURE, [], "the model endpoint failed; excluded from every figure.",
                        kind=INFRA)]
    return []


def _only(rule, name: str):
    """The detector of class `name` when one rule judges several classes together (the write
    rules share one assignment of calls to gold actions): the rule runs once per episode."""
    def detect(ep, f) -> list:
        key = rule.__name__
        if key not in f.cache:
            f.cache[key] = rule(ep, f)
        return [v for v in f.cache[key] if v.name == name]
    detect.__name__ = f"{rule.__name__}[{name}]"
    return detect


BUILTIN = [
    FailureClass(INFRASTRUCTURE, "The episode ended with infrastructure_error (the model was not "
                 "reached). Excluded from every figure.", _infra, INFRA, 0),
    FailureClass("loop", "The episode hit max steps, or the agent repeated one identical tool "
                 "call or message three times.", T.loop_or_max_steps, AGENT, 10,
                 needs_gold=False),
    FailureClass("tool_error_storm", "Most tool calls returned errors (at least three), or the "
                 "episode stopped on too many errors.", T.tool_error_storm, AGENT, 11,
                 needs_gold=False),
    FailureClass("aborted", "The episode ended on an error of the agent's own run (an "
                 "exception or a timeout: agent_error, timeout, context_window_exceeded, "
                 "unexpected_error, a Harbor trial's exception), not by the conversation.",
                 T.aborted, AGENT, 12, needs_gold=False),
    FailureClass("auth_skipped", "A record was read or written before a find_user_id_* lookup "
                 "authenticated the customer, or for another user than the authenticated one.",
                 A.auth_skipped, AGENT, 20),
    FailureClass("unconfirmed_write", "A write that is not a met gold action came without an "
                 "explicit yes to the agent's question stating the change.", A.unconfirmed_write,
                 AGENT, 21),
    FailureClass("wrong_target", "The gold write's tool was called on another record (order, "
                 "item, payment method, user) than gold.", _only(A.write_rules, "wrong_target"), AGENT, 30),
    FailureClass("wrong_args", "The gold write's tool was called on the gold target with other "
                 "arguments (the diff is shown).", _only(A.write_rules, "wrong_args"), AGENT, 31),
    FailureClass("under_inspection", "A write acted on a record the agent had not read first.",
                 A.under_inspection, AGENT, 32),
    FailureClass("extra_write", "A successful write not in gold (unsafe when the record belongs to "
                 "another user than the authenticated one), with the DB check failed.",
                 _only(A.write_rules, "extra_write"),
                 AGENT, 33),
    FailureClass("ended_early", "The conversation ended with gold work undone: the agent "
                 "transferred (no transfer in gold) or the customer stopped while the agent's "
                 "question was open.", T.ended_early, AGENT, 40),
    FailureClass("reasoning_error", "Required information was in a tool result the agent had "
                 "read, yet its answer withheld or contradicted it (or stated another amount).",
                 _only(T.communicate_rules, "reasoning_error"), AGENT, 41),
    FailureClass("wrong_claim", "The agent said it cannot do what a gold action does, or claimed "
                 "a change it never made.", T.wrong_claim, AGENT, 42),
    FailureClass("missing_write", "A gold write (or transfer) was never attempted, including the "
                 "dropped parts of a multi-intent request.", _only(A.write_rules, "missing_write"),
                 AGENT, 50),
    FailureClass("communicate_miss", "Required information (communicate_info) was never said.",
                 _only(T.communicate_rules, "communicate_miss"), AGENT, 51),
    FailureClass("user_left_scenario", "Blame flag: the user simulator stopped in the message "
                 "that asked for more work, or stated facts its scenario does not contain.",
                 T.user_left_scenario, BLAME, 90),
    FailureClass("defective_task", "Blame flag: the gold contradicts the tools or the policy (the "
                 "exact gold call was refused, or gold acts on another user's record).",
                 A.defective_task, BLAME, 91),
]

for _fc in BUILTIN:
    register(_fc)
