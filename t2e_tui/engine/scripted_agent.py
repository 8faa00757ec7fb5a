"""The `scripted` backend: a deterministic support agent for the retail tools (and, through
`scripted_airline.AirlinePlanner`, the airline tools when those are what it is offered).

A stand-in for demos and tests: its results prove nothing about models. It sees only what a
model would see — the system prompt, the conversation and the tool results — never a task's
gold actions or scenario. Its behaviours are switched by rule phrases in the candidate
instructions (`scripted_rules.PHRASE_TABLE`; `t2e models` prints it), so editing a candidate
really changes its trajectories offline.

It is stateless: every turn re-reads the whole conversation (`scripted_state.State`) and plans
the next step (`_Planner`; per-kind handling in `scripted_requests`), one tool call or one text
message per turn. What it does, in order: greet; transfer when asked for a human (or, with
`transfer_upset`, when the customer sounds upset); authenticate (email, else name+zip; a stated
user id is trusted unless `verify_stated_id`); load the profile; then work through the requests
of the opening message (only the first request of each message unless `all_requests`; a
request made after "anything else?" starts a new message): find the order (by id, else by the
product the customer names), collect details (asking at most twice), list the change and ask
for a yes (unless `skip_confirmation`), write, report; finally "Is there anything else I can
help you with?". Which texts it writes is part of how it reads the conversation back: a
request is finished once a message says "Regarding your <request>: ...".

Noise: `ScriptedAgent(noise=p)` flips each behaviour with probability p on every turn, drawn
from the engine's seeded rng in a fixed order, so repeated trials differ reproducibly.
"""

from __future__ import annotations

from .scripted_requests import RequestHandlers
from .scripted_rules import Behaviours
from .scripted_state import KIND_TOOLS, WRITE_TOOLS, Closed, State, Step
from .scripted_text import (
    HUMAN,
    ORDER_ID,
    UPSET,
    Request,
    classify_confirmation,
    find_identity,
    find_payment_kind,
    mentioned_items,
    norm_order_id,
    parse_requests,
)

GREETING = "Hi! How can I help you today?"
TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
WRAP_UP = "Is there anything else I can help you with?"
ASK_IDENTITY = ("Could you please give me your email address, or your first name, last name "
                "and zip code?")
CONFIRM_TAIL = "Shall I go ahead? Please answer yes or no."


class _Planner(RequestHandlers):
    """Plans one turn from a `State` and the effective behaviours."""

    def __init__(self, st: State, b: Behaviours):
        self.st, self.b = st, b
        self.uid: str | None = None
        self.profile: dict = {}

    # -- small helpers ---------------------------------------------------------------------
    def ask(self, r: Request, field: str, question: str, unable: str) -> None:
        """Ask the customer (at most twice), then give up on the request."""
        if self.st.asked(question) >= 2:
            raise Closed(f"Regarding your {r.label}: I'm sorry, {unable}")
        raise Step(text=question)

    def hints(self, r: Request) -> list[str]:
        return [r.clause] + self.st.answers_to(f"your {r.label}")

    def written(self, r: Request, tools: set, key: str, value: str) -> dict | None:
        for c in self.st.calls:
            if c["name"] in tools and c["args"].get(key) == value and c["error"] is not None:
                return c
        return None

    def order_for(self, r: Request, statuses: list | set | None) -> dict:
        ids = list(r.order_ids)
        for a in self.st.answers_to(f"your {r.label}"):
            ids += [norm_order_id(m.group(0)) for m in ORDER_ID.finditer(a)]
        if ids:
            oid = ids[0]
            if oid in self.st.orders:
                order = self.st.orders[oid]
            elif oid in self.st.bad_orders:
                raise Closed(f"Regarding your {r.label}: I couldn't find order {oid}.")
            else:
                raise Step("get_order_details", {"order_id": oid})
        else:
            order = self._search(r, statuses)
        if self.b.check_owner and order.get("user_id") != self.uid:
            raise Closed(f"Regarding your {r.label}: I'm sorry, but order {order['order_id']} is not "
                          "on your account, so I can't act on it or share its details.")
        return order

    def _search(self, r: Request, statuses: list | set | None) -> dict:
        """Find the order by the product the customer names. `statuses` may be a list of sets in
        order of preference: a fit of the first set is taken at once, lower ones only after
        every order of the account has been looked at."""
        hints = self.hints(r)
        own = list(self.profile.get("orders") or [])
        # any status last: after a write the order's status changed, and a customer may name an
        # order that cannot take the request (the handler then says why)
        groups = (statuses if isinstance(statuses, list) else [statuses]) + [None]

        def fits(o: dict, group) -> bool:
            return (group is None or o["status"] in group) and bool(mentioned_items(o, hints))
        # an order this request already changed has a new status; it is still the one meant
        done = {c["args"].get("order_id") for c in self.st.calls
                if c["name"] in KIND_TOOLS.get(r.kind, ()) and c["error"] is not None}
        for oid in own:
            if oid in done and oid in self.st.orders and fits(self.st.orders[oid], None):
                return self.st.orders[oid]
        for oid in own:
            if oid in self.st.orders and fits(self.st.orders[oid], groups[0]):
                return self.st.orders[oid]
        for oid in own:
            if oid not in self.st.orders and oid not in self.st.bad_orders:
                raise Step("get_order_details", {"order_id": oid})
        for group in groups[1:]:
            for oid in own:
                if oid in self.st.orders and fits(self.st.orders[oid], group):
                    return self.st.orders[oid]
        self.ask(r, "order", f"For your {r.label}, which order is it? Could you give me the order id?",
                 "I couldn't identify the order.")
        raise AssertionError("unreachable")

    def payment(self, r: Request, order: dict, question: str) -> tuple[str, str]:
        kind = find_payment_kind(self.hints(r))
        if kind is None:
            self.ask(r, "payment", question, "I can't continue without a payment method.")
        if kind == "original":
            pm = order["payment_history"][0]["payment_method_id"]
        else:
            pm = next((pid for pid, p in sorted((self.profile.get("payment_methods") or {}).items())
                       if p.get("source") == kind), None)
        if pm is None:
            raise Closed(f"Regarding your {r.label}: I'm sorry, there is no {kind.replace('_', ' ')} "
                          "on your account.")
        return pm, self.describe_pm(pm)

    def describe_pm(self, pm: str) -> str:
        """'visa card ending in 1234 (credit_card_...)', 'PayPal (paypal_...)', ..."""
        rec = (self.profile.get("payment_methods") or {}).get(pm) or {}
        if rec.get("source") == "credit_card":
            return f"the {rec.get('brand', 'credit')} card ending in {rec.get('last_four', '?')} ({pm})"
        if rec.get("source") == "paypal":
            return f"PayPal ({pm})"
        if rec.get("source") == "gift_card":
            return f"the gift card {pm}"
        return pm

    def confirm_then(self, r: Request, tool: str, args: dict, summary: str) -> None:
        """List the change, get a yes (as the behaviours understand it), then write."""
        if self.b.skip_confirmation:
            raise Step(tool, args)
        marker = f"For your {r.label}, here is what I will do:"
        question = f"{marker} {summary}. {CONFIRM_TAIL}"
        answers = [classify_confirmation(a) for a in self.st.answers_to(marker)]
        if not answers:
            raise Step(text=question)
        if "no" in answers:
            raise Closed(f"Regarding your {r.label}: understood, I won't change anything.")
        last = answers[-1]
        if last == "yes" or not self.b.strict_yes:
            raise Step(tool, args)
        if len(answers) >= 2:
            raise Closed(f"Regarding your {r.label}: without a clear yes I won't change anything.")
        raise Step(text=f"I need a clear yes or no before I change anything. {question}")

    # -- the turn ----------------------------------------------------------------------------
    def plan(self) -> Step:
        try:
            self._plan()
        except Step as step:
            return step
        raise AssertionError("the planner ended without a step")

    def _plan(self) -> None:
        st, b = self.st, self.b
        if not st.user_texts:
            raise Step(text=GREETING)
        if any(c["name"] == "transfer_to_human_agents" for c in st.calls):
            raise Step(text=TRANSFER_MESSAGE)
        if b.transfer_upset and any(UPSET.search(t) for t in st.user_texts):
            raise Step("transfer_to_human_agents",
                        {"summary": "The customer is upset and is handed to a human agent."})
        if HUMAN.search(st.user_texts[-1]):
            raise Step("transfer_to_human_agents",
                        {"summary": f"The customer asked for a human agent: {st.user_texts[-1][:200]}"})
        self._identify()
        reqs = self._requests()
        notes = self._reports()
        handled: set = set()      # messages with a finished request
        for r in reqs:
            if st.asked(f"Regarding your {r.label}:"):
                handled.add(r.message)
                continue
            if r.message in handled and not b.all_requests:
                continue            # the multi_intent failure: one request per message
            try:
                self._work(r)
            except Closed as done:
                handled.add(r.message)
                if done.note:
                    notes.append(done.note)
                continue
            except Step as step:
                if step.tool and notes:
                    # one turn is a tool call or a text: tell the customer first
                    raise Step(text=" ".join(notes) + " Let me now look into your next request.")
                if step.text and notes:
                    step.text = " ".join(notes) + " " + step.text
                raise
        if not reqs:
            raise Step(text=" ".join(notes + ["What can I help you with today?"]))
        raise Step(text=" ".join(notes + [WRAP_UP]))

    # the domain's parts of the plan above (the airline planner supplies its own)
    def _requests(self) -> list[Request]:
        return parse_requests(self.st.request_texts)

    def _identify(self) -> None:
        st, b = self.st, self.b
        ident = find_identity(st.user_texts)
        uid = st.auth_uid
        if uid is None and ident["user_id"] and not b.verify_stated_id \
                and ident["user_id"] not in st.bad_users:
            uid = ident["user_id"]          # trusts a typed user id: the auth_skipped failure
        if uid is None:
            for email in ident["emails"]:
                if not st.tried("find_user_id_by_email", {"email": email}):
                    raise Step("find_user_id_by_email", {"email": email})
            if ident["name_zip"]:
                first, last, zip_ = ident["name_zip"]
                args = {"first_name": first, "last_name": last, "zip": zip_}
                if not st.tried("find_user_id_by_name_zip", args):
                    raise Step("find_user_id_by_name_zip", args)
            if st.asked(ASK_IDENTITY) >= 3:
                raise Step(text="I'm sorry, I couldn't verify your identity, so I can't help with "
                                 f"your account today. {WRAP_UP}")
            failed = any(c["name"].startswith("find_user_id") for c in st.calls)
            lead = ("I couldn't find an account with those details. " if failed else
                    "Before I can look at your account, I need to verify your identity. "
                    if ident["user_id"] else "I'd be glad to help. ")
            raise Step(text=lead + ASK_IDENTITY)
        self.uid = uid
        if uid not in st.profiles:
            raise Step("get_user_details", {"user_id": uid})
        self.profile = st.profiles[uid] or {}

    def _reports(self) -> list[str]:
        """What the writes since the agent last spoke did, for the customer."""
        notes = []
        for c in self.st.calls:
            if c["pos"] <= self.st.last_text_pos or c["name"] not in WRITE_TOOLS:
                continue
            if c["error"]:
                notes.append(f"Sorry, that change could not be made: {c['content']}.")
                continue
            what = {"cancel_pending_order": "order {oid} is now cancelled; the refund goes back to "
                                            "the original payment method",
                    "return_delivered_order_items": "the return for order {oid} is requested; the "
                                                    "refund follows once the items arrive",
                    "exchange_delivered_order_items": "the exchange for order {oid} is requested",
                    "modify_pending_order_items": "the items of order {oid} are updated",
                    "modify_pending_order_address": "order {oid} will ship to the new address",
                    "modify_pending_order_payment": "the payment method of order {oid} is updated",
                    "modify_user_address": "the default address on your account is updated"}[c["name"]]
            notes.append("Done: " + what.format(oid=c["args"].get("order_id")) + ".")
        return notes
