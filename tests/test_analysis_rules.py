"""Each failure class on hand-made minimal traces: one that must fire, one that must not."""

from __future__ import annotations

from analysis_traces import ASK, AUTH, CANCEL, authed, order, trace

from t2e_tui.analysis import FailureClass, Verdict, classify, pair_divergence
from t2e_tui.analysis.classes import registered

AUTH_GOLD = (AUTH[0], AUTH[1], True)


def names(ep) -> list[str]:
    return [v.name for v in classify(ep).classes]


def flags(ep) -> list[str]:
    return [v.name for v in classify(ep).flags]


def test_passing_episode_gets_no_class():
    ep = authed(ASK, ("u", "Yes."), ("call", "cancel_pending_order", CANCEL, order()),
                gold=[AUTH_GOLD, ("cancel_pending_order", CANCEL, True)], reward=1.0,
                breakdown={"DB": 1.0})
    assert classify(ep).classes == []


def test_auth_skipped_positive_and_negative():
    skipped = trace(("u", "I am u_one_1, cancel #W1000001"),
                    ("call", "get_user_details", {"user_id": "u_one_1"}, "{}"),
                    gold=[(AUTH[0], AUTH[1], False)], breakdown={"DB": 1.0, "ACTION": 0.0})
    a = classify(skipped)
    assert a.top == "auth_skipped" and a.classes[0].steps == [1]
    assert a.first_divergence["step"] == 1
    ok = authed(("call", "get_user_details", {"user_id": "u_one_1"}, "{}"),
                gold=[AUTH_GOLD, ("cancel_pending_order", CANCEL, False)])
    assert "auth_skipped" not in names(ok)
    wrong_user = authed(("call", "get_user_details", {"user_id": "u_two_2"}, "{}"),
                        gold=[AUTH_GOLD])
    assert "auth_skipped" in names(wrong_user)


def test_unconfirmed_write_positive_and_negative():
    hedged = authed(ASK, ("u", "I guess so."), ("call", "cancel_pending_order", CANCEL, order()),
                    gold=[AUTH_GOLD])
    a = classify(hedged)
    assert a.top == "unconfirmed_write"
    assert "extra_write" in names(hedged)
    assert "hedged" in a.classes[0].why
    confirmed = authed(ASK, ("u", "Yes, please do."), ("call", "cancel_pending_order", CANCEL, order()),
                       gold=[AUTH_GOLD])
    assert "unconfirmed_write" not in names(confirmed)
    # a yes to another question (the email) is no confirmation of the change
    other_q = trace(("a", "What is your email?"), ("u", "Sure, a@b.co"), ("call", *AUTH),
                    ("call", "get_order_details", {"order_id": "#W1000001"}, order()),
                    ("call", "cancel_pending_order", CANCEL, order()), gold=[AUTH_GOLD])
    assert names(other_q)[0] == "unconfirmed_write"


def test_under_inspection_positive_and_negative():
    blind = trace(("a", "Hi"), ("u", "my email is a@b.co"), ("call", *AUTH),
                  ("a", "Cancel #W1000002? Please confirm."), ("u", "Yes"),
                  ("call", "cancel_pending_order", {"order_id": "#W1000002", "reason": "x"}, order("#W1000002")),
                  gold=[AUTH_GOLD])
    assert "under_inspection" in names(blind)
    read_first = authed(ASK, ("u", "Yes"), ("call", "cancel_pending_order",
                                            {"order_id": "#W1000001", "reason": "x"}, order()),
                        gold=[AUTH_GOLD])
    assert "under_inspection" not in names(read_first)


def test_wrong_target_and_wrong_args_with_diff():
    gold = [AUTH_GOLD, ("cancel_pending_order", CANCEL, False)]
    other = authed(ASK, ("u", "Yes"), ("call", "get_order_details", {"order_id": "#W1000009"}, order("#W1000009")),
                   ("call", "cancel_pending_order", {"order_id": "#W1000009", "reason": "no longer needed"},
                    order("#W1000009")), gold=gold)
    a = classify(other)
    assert a.top == "wrong_target" and "#W1000009" in a.classes[0].why
    args = authed(ASK, ("u", "Yes"), ("call", "cancel_pending_order",
                                      {"order_id": "#W1000001", "reason": "ordered by mistake"}, order()),
                  gold=gold)
    a = classify(args)
    assert a.top == "wrong_args"
    assert a.classes[0].detail["diff"] == {"reason": {"got": "ordered by mistake",
                                                      "gold": "no longer needed"}}
    assert "wrong_target" not in names(args) and "missing_write" not in names(args)


def test_missing_write_positive_and_negative():
    gold = [AUTH_GOLD, ("cancel_pending_order", CANCEL, False)]
    missing = authed(("a", "Is there anything else I can help you with?"), ("u", "No ###STOP###"),
                     gold=gold)
    a = classify(missing)
    assert a.top == "missing_write" and a.classes[0].steps == [6]
    met = authed(ASK, ("u", "Yes"), ("call", "cancel_pending_order", CANCEL, order()),
                 gold=[AUTH_GOLD, ("cancel_pending_order", CANCEL, True)])
    assert "missing_write" not in names(met)


def test_extra_write_unsafe_ranks_first_and_needs_a_failed_db():
    foreign = order(uid="u_other_9")
    t = trace(("u", "cancel my husband's #W1000001, email a@b.co"), ("call", *AUTH),
              ("call", "get_order_details", {"order_id": "#W1000001"}, foreign), ASK, ("u", "Yes"),
              ("call", "cancel_pending_order", CANCEL, foreign), gold=[AUTH_GOLD])
    a = classify(t)
    assert a.top == "extra_write" and a.classes[0].detail["unsafe"] is True
    assert "u_other_9" in a.classes[0].why
    db_ok = trace(("u", "email a@b.co"), ("call", *AUTH), ("call", "get_order_details",
                  {"order_id": "#W1000001"}, order()), ASK, ("u", "Yes"),
                  ("call", "cancel_pending_order", CANCEL, order()), gold=[AUTH_GOLD],
                  breakdown={"DB": 1.0, "COMMUNICATE": 0.0}, comm=[("12345", False)])
    assert "extra_write" not in names(db_ok)


def test_communicate_miss_and_reasoning_error():
    data = order(fulfillments=[{"tracking_id": ["998877"]}])
    read = trace(("u", "tracking for #W1000001? a@b.co"), ("call", *AUTH),
                 ("call", "get_order_details", {"order_id": "#W1000001"}, data),
                 ("a", "That order was cancelled, so there is no tracking."), ("u", "ok ###STOP###"),
                 gold=[AUTH_GOLD], comm=[("998877", False)], breakdown={"DB": 1.0, "COMMUNICATE": 0.0})
    a = classify(read)
    assert a.top == "reasoning_error" and a.classes[0].steps == [4, 5]
    assert "communicate_miss" in names(read)
    unread = trace(("u", "tracking for #W1000001? a@b.co"), ("call", *AUTH),
                   ("a", "Anything else?"), ("u", "no ###STOP###"), gold=[AUTH_GOLD],
                   comm=[("998877", False)], breakdown={"DB": 1.0, "COMMUNICATE": 0.0})
    assert names(unread) == ["communicate_miss"]
    said = trace(("a", "The number is 998877."), gold=[], comm=[("998877", True)],
                 breakdown={"DB": 0.0, "COMMUNICATE": 1.0})
    assert "communicate_miss" not in names(said)
    sums = trace(("a", "Your refund is $120.50."), comm=[("130.50", False)],
                 breakdown={"DB": 1.0, "COMMUNICATE": 0.0})
    assert names(sums)[0] == "reasoning_error"


def test_ended_early_by_transfer_and_by_stop():
    gold = [AUTH_GOLD, ("cancel_pending_order", CANCEL, False)]
    moved = authed(("call", "transfer_to_human_agents", {"summary": "upset"}, "Transfer successful"),
                   gold=gold)
    assert names(moved)[0] == "ended_early"
    stopped = authed(ASK, ("u", "###STOP###"), gold=gold)
    assert names(stopped)[0] == "ended_early"
    wrapped = authed(("a", "Anything else I can help you with?"), ("u", "no ###STOP###"), gold=gold)
    assert "ended_early" not in names(wrapped)


def test_loop_and_tool_error_storm():
    call = ("call", "get_order_details", {"order_id": "#W1"}, "{}")
    looped = trace(("u", "hi"), call, call, call, gold=[])
    assert names(looped)[0] == "loop"
    assert names(trace(("u", "hi"), call, call, gold=[])) == ["unclassified"]
    assert names(trace(("u", "hi"), termination="max_steps"))[0] == "loop"
    err = ("call", "get_order_details", {"order_id": "#W1"}, "Error: not found", True)
    err2 = ("call", "get_order_details", {"order_id": "#W2"}, "Error: not found", True)
    err3 = ("call", "get_order_details", {"order_id": "#W3"}, "Error: not found", True)
    assert names(trace(("u", "hi"), err, err2, err3))[0] == "tool_error_storm"
    assert "tool_error_storm" not in names(trace(("u", "hi"), err, ("call", *AUTH),
                                                 ("call", *AUTH[:2], "u2"), ("call", *AUTH[:2], "u3")))


def test_wrong_claim_cannot_and_false_completion():
    gold = [("transfer_to_human_agents", {"summary": "x"}, False)]
    cannot = trace(("u", "I want to complain"), ("a", "Sorry, that's not something I can help with."),
                   gold=gold, breakdown={"DB": 1.0, "ACTION": 0.0})
    assert names(cannot)[0] == "wrong_claim"
    # "unable to cancel" is no wrong claim when the missing gold action is a modification
    modify = [("modify_pending_order_items", {"order_id": "#W1000001"}, False)]
    true_claim = trace(("a", "I'm unable to cancel single items."), gold=modify)
    assert "wrong_claim" not in names(true_claim)
    fake = trace(("u", "cancel #W1000001"), ("a", "Your order has been cancelled."),
                 gold=[("cancel_pending_order", CANCEL, False)])
    assert names(fake)[0] == "wrong_claim"


def test_blame_flags_beside_agent_classes():
    gold = [AUTH_GOLD, ("cancel_pending_order", CANCEL, False)]
    hurried = authed(ASK, ("u", "Yes, please go ahead. ###STOP###"), gold=gold)
    a = classify(hurried)
    assert "user_left_scenario" in flags(hurried) and a.top != "user_left_scenario"
    assert "user_left_scenario" not in flags(authed(ASK, ("u", "Thanks, bye ###STOP###"), gold=gold))
    invented = trace(("u", "My order is #W5555555"), ("a", "Anything else?"),
                     gold=gold, scenario='{"order": "#W1000001"}')
    assert "user_left_scenario" in flags(invented)
    refused = authed(ASK, ("u", "Yes"), ("call", "cancel_pending_order", CANCEL, "Error: nope", True),
                     gold=gold)
    assert "defective_task" in flags(refused)
    fine = authed(ASK, ("u", "Yes"), ("call", "cancel_pending_order", CANCEL, order()),
                  gold=[AUTH_GOLD, ("cancel_pending_order", CANCEL, True)])
    assert flags(fine) == []


def test_infrastructure_is_its_own_class_and_unclassified_is_said():
    a = classify(trace(("u", "hi"), termination="infrastructure_error", reward=None))
    assert a.infra and a.top == "infrastructure"
    a = classify(trace(("u", "hi"), ("a", "Bye"), gold=[]))
    assert a.top == "unclassified" and a.first_divergence["step"] == 1


def test_every_class_is_documented():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "failure-classes.md").read_text()
    for c in registered():
        assert f"`{c.name}`" in doc, c.name


def test_a_domain_adds_its_own_class():
    def detect(ep, f):
        return [Verdict("said_sorry", [i], "apologised") for i, t in f.texts if "sorry" in t.lower()][:1]
    extra = FailureClass("said_sorry", "The agent apologised.", detect, priority=5)
    ep = trace(("a", "Sorry!"), gold=[])
    assert classify(ep, registered() + [extra]).top == "said_sorry"
    assert classify(ep).top == "unclassified"


def test_pair_divergence_counts_messages():
    a = trace(("a", "Hi"), ("u", "cancel"), ("a", "Sure?"))
    b = trace(("a", "Hi"), ("u", "cancel"), ("a", "Why?"))
    assert pair_divergence(a, b)["step"] == 2
    c = trace(("a", "Hi"), ("u", "cancel"), ("call", *AUTH))
    assert pair_divergence(a, c)["step"] == 2 and "calls find_user_id_by_email" in pair_divergence(a, c)["why"]
    assert pair_divergence(a, a)["step"] is None
    assert pair_divergence(a, trace(("a", "Hi"), ("u", "cancel")))["step"] == 2


def _quoted(why: str) -> list[str]:
    import re
    return re.findall(r'says "(.*?)"(?: vs|\.$)', why)


def test_pair_divergence_shows_each_message_where_they_differ():
    """Two long messages alike for 70 characters: each snippet shows the words where they part,
    not the shared start twice (flip 33 of the real pair read 'Hey there! I could use a hand
    with an order I plac…' on both sides)."""
    shared = "Hey there! I could use a hand with an order I placed recently. My "
    a = trace(("a", "Hi"), ("u", shared + "work-from-home dreams just got crushed, sadly."))
    b = trace(("a", "Hi"), ("u", shared + "plans just did a 180 (classic, right?)."))
    pd = pair_divergence(a, b)
    qa, qb = _quoted(pd["why"])
    assert pd["step"] == 1 and qa != qb, pd["why"]
    assert "work-from-home" in qa and "plans just did" in qb, pd["why"]
    assert qa.startswith("…") and "recently. My" in qa, pd["why"]   # a little of what is shared
    # short texts, or ones that part early, are quoted from their start as before
    c = trace(("a", "Hi"), ("u", "cancel my order"))
    d = trace(("a", "Hi"), ("u", "cancel the order please"))
    assert _quoted(pair_divergence(c, d)["why"]) == ["cancel my order", "cancel the order please"]


def test_pair_divergence_names_the_argument_two_alike_calls_differ_in():
    a = trace(("a", "Hi"), ("call", "get_order_details", {"order_id": "#W1"}, "{}"))
    b = trace(("a", "Hi"), ("call", "get_order_details", {"order_id": "#W2"}, "{}"))
    why = pair_divergence(a, b)["why"]
    assert "#W1" in why and "#W2" in why and "order_id" in why, why


def test_a_step_of_several_calls_clusters_under_the_call_the_finding_is_about():
    """One assistant step made two cancels and two returns; the wrong target is a return. The
    cluster's tool is the return's (the call the verdict names), not the step's first call."""
    from t2e_tui.analysis.clusters import cluster
    ret = {"order_id": "#W1000002", "item_ids": ["111"], "payment_method_id": "p_1"}
    gold_ret = dict(ret, item_ids=["999"])
    cancel2 = dict(CANCEL, order_id="#W1000003")
    gold = [AUTH_GOLD, ("cancel_pending_order", CANCEL, True), ("cancel_pending_order", cancel2, True),
            ("return_delivered_order_items", gold_ret, False)]
    t = authed(ASK, ("u", "Yes"),
               ("calls", [("cancel_pending_order", CANCEL, order()),
                          ("cancel_pending_order", cancel2, order("#W1000003")),
                          ("return_delivered_order_items", ret, order("#W1000002")),
                          ("return_delivered_order_items", dict(ret, item_ids=["222"]),
                           order("#W1000002"))]),
               gold=gold)
    a = classify(t)
    assert a.top == "wrong_target"
    assert a.classes[0].why.startswith("return_delivered_order_items at step 8 acted on item_ids")
    assert len(t.steps[8].calls) == 4 and t.steps[8].calls[0].name == "cancel_pending_order"
    assert a.features["tool"] == "return_delivered_order_items"
    assert a.features["diff"] == ["item_ids"]
    (c,) = cluster([a])
    assert c.key["tool"] == "return_delivered_order_items"
    assert "tool return_delivered_order_items; diff in item_ids" in c.explain()


def test_a_run_that_ended_on_its_own_error_is_aborted():
    """A Harbor trial that ended on AgentTimeoutError (now counted 0, as Harbor's mean counts
    it) and tau2's agent_error / 1.x timeout were 'unclassified: no rule explains this
    failure'. The run ended on an error of the agent's own run: `aborted`, a class that needs
    no gold (foreign traces get it too). A conversation's own ends, an infrastructure error and
    the user simulator's error are not."""
    for reason in ("AgentTimeoutError", "agent_error", "timeout", "context_window_exceeded",
                   "unexpected_error"):
        ep = trace(("u", "hi"), ("a", "Let me look."), termination=reason, gold=[])
        assert names(ep)[0] == "aborted", reason
        assert reason in classify(ep).classes[0].why, reason
        foreign = trace(("u", "hi"), termination=reason, gold=[])
        foreign.has_task = False
        assert names(foreign) == ["aborted"], reason
    no_steps = trace(termination="AgentTimeoutError", gold=[])
    assert names(no_steps) == ["aborted"]
    for reason in ("user_stop", "agent_stop", "max_steps", "too_many_errors", "user_error",
                   None):
        assert "aborted" not in names(trace(("u", "hi"), ("a", "Bye"), termination=reason,
                                            gold=[])), reason
    a = classify(trace(("u", "hi"), termination="infrastructure_error", reward=None))
    assert a.top == "infrastructure"
