"""The `scripted` backend: a deterministic support agent for the retail tools.

A stand-in for demos and tests: its results prove nothing about models. It sees only what a
model would see — the system prompt, the conversation and the tool results — never a task's
gold actions or scenario. Its behaviours are switched by rule phrases in the candidate
instructions (`scripted_rules.PHRASE_TABLE`; `t2e models` prints it), so editing a candidate
really changes its trajectories offline.

It is stateless: every turn re-reads the whole conversation (`_State`) and plans the next
step (`_Planner`), one tool call or one text message per turn. What it does, in order:
greet; transfer when asked for a human (or, with `transfer_upset`, when the customer sounds
upset); authenticate (email, else name+zip; a stated user id is trusted unless
`verify_stated_id`); load the profile; then work through the requests of the opening message
(only the first of each message unless `all_requests`): find the order (by id, else by the product the
customer names), collect details (asking at most twice), list the change and ask for a yes
(unless `skip_confirmation`), write, report; finally "Is there anything else I can help you
with?".

Noise: `ScriptedAgent(noise=p)` flips each behaviour with probability p on every turn, drawn
from the engine's seeded rng in a fixed order, so repeated trials differ reproducibly.
"""

from __future__ import annotations

import json
import random

from .scripted_rules import BEHAVIOURS, Behaviours, behaviours_from_prompt
from .scripted_text import (ACCOUNT_ADDRESS, HUMAN, SAME_AS_RECEIVED, UPSET, Request,
                            classify_confirmation, find_address, find_identity, find_payment_kind,
                            find_reason, mentioned_items, norm_order_id, option_matches,
                            parse_requests, ORDER_ID)
from .types import AgentReply, ToolCall

GREETING = "Hi! How can I help you today?"
TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
WRAP_UP = "Is there anything else I can help you with?"
ASK_IDENTITY = ("Could you please give me your email address, or your first name, last name "
                "and zip code?")
CONFIRM_TAIL = "Shall I go ahead? Please answer yes or no."
WRITE_TOOLS = {"cancel_pending_order", "modify_pending_order_items", "exchange_delivered_order_items",
               "modify_pending_order_address", "modify_pending_order_payment",
               "return_delivered_order_items", "modify_user_address"}
KIND_TOOLS = {"cancel": {"cancel_pending_order"}, "return": {"return_delivered_order_items"},
              "change_item": {"modify_pending_order_items", "exchange_delivered_order_items"},
              "order_address": {"modify_pending_order_address"}}
_ADDR_KEYS = ("address1", "address2", "city", "state", "country", "zip")


def _json(text):
    try:
        val = json.loads(text)
    except (TypeError, ValueError):
        return None
    return val if isinstance(val, dict) else None


def fmt_address(a: dict) -> str:
    line2 = f", {a['address2']}" if a.get("address2") else ""
    return f"{a['address1']}{line2}, {a['city']}, {a['state']} {a['zip']}, {a['country']}"


class _State:
    """Facts read from the conversation: texts, tool calls and what the tools returned."""

    def __init__(self, messages: list[dict]):
        self.user_texts: list[str] = []
        self.request_texts: list[str] = []      # messages that may carry requests
        self.agent_texts: list[str] = []
        self.qa: list[tuple[str | None, str]] = []  # (agent's preceding text, customer's reply)
        self.calls: list[dict] = []
        self.last_text_pos = -1
        self.last_role = None
        by_id: dict = {}
        prev = None
        for pos, m in enumerate(messages):
            if not isinstance(m, dict):
                continue
            role = m.get("role")
            self.last_role = role
            if role == "user" and isinstance(m.get("content"), str):
                text = m["content"]
                if not self.user_texts or (prev and "anything else" in prev.lower()):
                    self.request_texts.append(text)
                self.user_texts.append(text)
                self.qa.append((prev, text))
            elif role == "assistant":
                if m.get("content") and not m.get("tool_calls"):
                    self.agent_texts.append(m["content"])
                    prev = m["content"]
                    self.last_text_pos = pos
                for c in m.get("tool_calls") or []:
                    args = c.get("arguments")
                    if isinstance(args, str):
                        args = _json(args) or {}
                    call = {"id": c.get("id"), "name": c.get("name"), "args": args or {},
                            "content": None, "error": None, "pos": pos}
                    by_id[c.get("id")] = call
                    self.calls.append(call)
            elif role == "tool":
                call = by_id.get(m.get("id"))
                if call is not None:
                    call["content"] = m.get("content")
                    call["error"] = bool(m.get("error"))
        self.auth_uid = None
        self.profiles: dict = {}
        self.bad_users: set = set()
        self.orders: dict = {}
        self.bad_orders: set = set()
        self.products: dict = {}
        for c in self.calls:
            ok = c["error"] is False
            name, content = c["name"], c["content"]
            if name in ("find_user_id_by_email", "find_user_id_by_name_zip") and ok:
                self.auth_uid = (content or "").strip()
            elif name == "get_user_details":
                if ok:
                    self.profiles[c["args"].get("user_id")] = _json(content)
                else:
                    self.bad_users.add(c["args"].get("user_id"))
            elif name == "get_order_details" and not ok:
                self.bad_orders.add(c["args"].get("order_id"))
            elif name == "get_product_details" and ok and _json(content):
                self.products[c["args"].get("product_id")] = _json(content)
            if ok and name in WRITE_TOOLS | {"get_order_details"}:
                rec = _json(content)
                if rec and "order_id" in rec:
                    self.orders[rec["order_id"]] = rec
                elif rec and "user_id" in rec and name == "modify_user_address":
                    self.profiles[rec["user_id"]] = rec

    def tried(self, name: str, args: dict) -> bool:
        return any(c["name"] == name and c["args"] == args for c in self.calls)

    def asked(self, text: str) -> int:
        return sum(1 for t in self.agent_texts if text in t)

    def answers_to(self, marker: str) -> list[str]:
        return [a for q, a in self.qa if q and marker in q]


class _Step(Exception):
    """Raised by the planner with the turn's decision (a tool call or a text)."""

    def __init__(self, tool: str | None = None, args: dict | None = None, text: str | None = None):
        super().__init__(tool or text)
        self.tool, self.arguments, self.text = tool, args or {}, text


class _Closed(Exception):
    """The current request is finished; `note` (if any) is told to the customer."""

    def __init__(self, note: str | None = None):
        super().__init__(note)
        self.note = note


class _Planner:
    """Plans one turn from a `_State` and the effective behaviours."""

    def __init__(self, st: _State, b: Behaviours):
        self.st, self.b = st, b
        self.uid: str | None = None
        self.profile: dict = {}

    # -- small helpers ---------------------------------------------------------------------
    def ask(self, r: Request, field: str, question: str, unable: str) -> None:
        """Ask the customer (at most twice), then give up on the request."""
        if self.st.asked(question) >= 2:
            raise _Closed(f"Regarding your {r.label}: I'm sorry, {unable}")
        raise _Step(text=question)

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
                raise _Closed(f"Regarding your {r.label}: I couldn't find order {oid}.")
            else:
                raise _Step("get_order_details", {"order_id": oid})
        else:
            order = self._search(r, statuses)
        if self.b.check_owner and order.get("user_id") != self.uid:
            raise _Closed(f"Regarding your {r.label}: I'm sorry, but order {order['order_id']} is not "
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
                raise _Step("get_order_details", {"order_id": oid})
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
            self.ask(r, "payment", question, "I can't proceed without a payment method.")
        if kind == "original":
            pm = order["payment_history"][0]["payment_method_id"]
        else:
            pm = next((pid for pid, p in sorted((self.profile.get("payment_methods") or {}).items())
                       if p.get("source") == kind), None)
        if pm is None:
            raise _Closed(f"Regarding your {r.label}: I'm sorry, there is no {kind.replace('_', ' ')} "
                          "on your account.")
        return pm, pm.replace("_", " ")

    def confirm_then(self, r: Request, tool: str, args: dict, summary: str) -> None:
        """List the change, get a yes (as the behaviours understand it), then write."""
        if self.b.skip_confirmation:
            raise _Step(tool, args)
        marker = f"For your {r.label}, here is what I will do:"
        question = f"{marker} {summary}. {CONFIRM_TAIL}"
        answers = [classify_confirmation(a) for a in self.st.answers_to(marker)]
        if not answers:
            raise _Step(text=question)
        if "no" in answers:
            raise _Closed(f"Regarding your {r.label}: understood, I won't change anything.")
        last = answers[-1]
        if last == "yes" or not self.b.strict_yes:
            raise _Step(tool, args)
        if len(answers) >= 2:
            raise _Closed(f"Regarding your {r.label}: without a clear yes I won't change anything.")
        raise _Step(text=f"I need a clear yes or no before I change anything. {question}")

    # -- the turn ----------------------------------------------------------------------------
    def plan(self) -> _Step:
        try:
            self._plan()
        except _Step as step:
            return step
        raise AssertionError("the planner ended without a step")

    def _plan(self) -> None:
        st, b = self.st, self.b
        if not st.user_texts:
            raise _Step(text=GREETING)
        if any(c["name"] == "transfer_to_human_agents" for c in st.calls):
            raise _Step(text=TRANSFER_MESSAGE)
        if b.transfer_upset and any(UPSET.search(t) for t in st.user_texts):
            raise _Step("transfer_to_human_agents",
                        {"summary": "The customer is upset and is handed to a human agent."})
        if HUMAN.search(st.user_texts[-1]):
            raise _Step("transfer_to_human_agents",
                        {"summary": f"The customer asked for a human agent: {st.user_texts[-1][:200]}"})
        self._identify()
        reqs = parse_requests(st.request_texts)
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
            except _Closed as done:
                handled.add(r.message)
                if done.note:
                    notes.append(done.note)
                continue
            except _Step as step:
                if step.tool and notes:
                    # one turn is a tool call or a text: tell the customer first
                    raise _Step(text=" ".join(notes) + " Let me now look into your next request.")
                if step.text and notes:
                    step.text = " ".join(notes) + " " + step.text
                raise
        if not reqs:
            raise _Step(text=" ".join(notes + ["What can I help you with today?"]))
        raise _Step(text=" ".join(notes + [WRAP_UP]))

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
                    raise _Step("find_user_id_by_email", {"email": email})
            if ident["name_zip"]:
                first, last, zip_ = ident["name_zip"]
                args = {"first_name": first, "last_name": last, "zip": zip_}
                if not st.tried("find_user_id_by_name_zip", args):
                    raise _Step("find_user_id_by_name_zip", args)
            if st.asked(ASK_IDENTITY) >= 3:
                raise _Step(text="I'm sorry, I couldn't verify your identity, so I can't help with "
                                 f"your account today. {WRAP_UP}")
            failed = any(c["name"].startswith("find_user_id") for c in st.calls)
            lead = ("I couldn't find an account with those details. " if failed else
                    "Before I can look at your account, I need to verify your identity. "
                    if ident["user_id"] else "I'd be glad to help. ")
            raise _Step(text=lead + ASK_IDENTITY)
        self.uid = uid
        if uid not in st.profiles:
            raise _Step("get_user_details", {"user_id": uid})
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

    # -- requests --------------------------------------------------------------------------
    def _work(self, r: Request) -> None:
        getattr(self, f"_do_{r.kind}")(r)

    def _do_human(self, r: Request) -> None:
        raise _Step("transfer_to_human_agents", {"summary": f"The customer asked: {r.clause[:200]}"})

    def _do_out_of_scope(self, r: Request) -> None:
        if self.b.transfer_out_of_scope:
            raise _Step("transfer_to_human_agents",
                        {"summary": f"Request outside the agent's tools: {r.clause[:200]}"})
        raise _Closed(f"Regarding your {r.label}: I'm sorry, but that's not something I can help with.")

    def _do_cancel(self, r: Request) -> None:
        o = self.order_for(r, {"pending"})
        oid = o["order_id"]
        if self.written(r, {"cancel_pending_order"}, "order_id", oid):
            raise _Closed()
        if o["status"] != "pending":
            raise _Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so it can't be cancelled.")
        reason = find_reason(self.hints(r))
        if reason is None:
            self.ask(r, "reason", f"For your {r.label}, what is the reason for cancelling order {oid}: "
                     "is it no longer needed, or was it ordered by mistake?",
                     "I need one of those two reasons to cancel.")
        items = ", ".join(i["name"] for i in o["items"])
        self.confirm_then(r, "cancel_pending_order", {"order_id": oid, "reason": reason},
                          f"cancel order {oid} ({items}) because it is {reason}")

    def _do_return(self, r: Request) -> None:
        o = self.order_for(r, {"delivered"})
        oid = o["order_id"]
        if self.written(r, {"return_delivered_order_items"}, "order_id", oid):
            raise _Closed()
        if o["status"] != "delivered":
            raise _Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so it can't be returned.")
        items = mentioned_items(o, self.hints(r))
        if not items:
            names = ", ".join(i["name"] for i in o["items"])
            self.ask(r, "items", f"For your {r.label}, which items of order {oid} ({names}) would "
                     "you like to return?", "I couldn't tell which items to return.")
        pm, pm_desc = self.payment(r, o, f"For your {r.label} (order {oid}), should the refund go to "
                                   "the original payment method or to a gift card on your account?")
        total = round(sum(i["price"] for i in items), 2)
        self.confirm_then(r, "return_delivered_order_items",
                          {"order_id": oid, "item_ids": [i["item_id"] for i in items],
                           "payment_method_id": pm},
                          f"return the {', '.join(i['name'] for i in items)} from order {oid}, with a "
                          f"refund of ${total} to {pm_desc}")

    def _do_change_item(self, r: Request) -> None:
        o = self.order_for(r, [{"pending"}, {"delivered"}])
        oid = o["order_id"]
        tool = ("modify_pending_order_items" if o["status"] == "pending"
                else "exchange_delivered_order_items")
        if self.written(r, {"modify_pending_order_items", "exchange_delivered_order_items"}, "order_id", oid):
            raise _Closed()
        if o["status"] not in ("pending", "delivered"):
            raise _Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so its items "
                          "can't be changed.")
        hints = self.hints(r)
        items = mentioned_items(o, hints)
        if not items:
            self.ask(r, "items", f"For your {r.label}, which item of order {oid} would you like to change?",
                     "I couldn't tell which item to change.")
        old = items[0]
        new = self._target(r, o, old, hints)
        pm, pm_desc = self.payment(r, o, f"For your {r.label} (order {oid}), which payment method should "
                                   "I use for any price difference?")
        opts = ", ".join(f"{k} {v}" for k, v in new["options"].items()) if new.get("options") else ""
        self.confirm_then(r, tool, {"order_id": oid, "item_ids": [old["item_id"]],
                                    "new_item_ids": [new["item_id"]], "payment_method_id": pm},
                          f"change the {old['name']} in order {oid} to item {new['item_id']}"
                          f"{f' ({opts})' if opts else ''}, settling any price difference with {pm_desc}")

    def _target(self, r: Request, order: dict, old: dict, hints: list[str]) -> dict:
        """The variant the customer wants instead of `old`."""
        if any(SAME_AS_RECEIVED.search(h) for h in hints) and self.b.cross_order_lookup:
            for oid in self.profile.get("orders") or []:
                if oid == order["order_id"]:
                    continue
                if oid not in self.st.orders and oid not in self.st.bad_orders:
                    raise _Step("get_order_details", {"order_id": oid})
                prev = self.st.orders.get(oid)
                if prev and prev["status"] == "delivered":
                    for it in prev["items"]:
                        if it["product_id"] == old["product_id"] and it["item_id"] != old["item_id"]:
                            return it
            raise _Closed(f"Regarding your {r.label}: I'm sorry, I couldn't find that item in your "
                          "delivered orders.")
        pid = old["product_id"]
        product = self.st.products.get(pid)
        if product is None:
            raise _Step("get_product_details", {"product_id": pid})
        scored = sorted(((option_matches(v, hints), v["item_id"], v) for v in product["variants"].values()
                         if v.get("available") and v["item_id"] != old["item_id"]),
                        key=lambda x: (-x[0], x[1]))
        if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return scored[0][2]
        dims = ", ".join(old.get("options", {}))
        self.ask(r, "options", f"For your {r.label} (order {order['order_id']}), which options would you like for the new "
                 f"{old['name']} ({dims})?", "I can't tell which variant you want without its options.")
        raise AssertionError("unreachable")

    def _do_order_address(self, r: Request) -> None:
        o = self.order_for(r, {"pending", "pending (item modified)"})
        oid = o["order_id"]
        if self.written(r, {"modify_pending_order_address"}, "order_id", oid):
            raise _Closed()
        if "pending" not in o["status"]:
            raise _Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so its address "
                          "can't be changed.")
        hints = self.hints(r)
        addr = find_address(hints)
        if addr is None and self.b.address_from_records and any(ACCOUNT_ADDRESS.search(h) for h in hints):
            addr = {k: self.profile["address"][k] for k in _ADDR_KEYS}
        if addr is None:
            self.ask(r, "address", f"For your {r.label} (order {oid}), what is the full new shipping address "
                     "(street, apartment if any, city, state, zip code and country)?",
                     "I need the full address to change it.")
        self.confirm_then(r, "modify_pending_order_address", {"order_id": oid, **addr},
                          f"ship order {oid} to {fmt_address(addr)}")

    def _do_user_address(self, r: Request) -> None:
        if self.written(r, {"modify_user_address"}, "user_id", self.uid):
            raise _Closed()
        hints = self.hints(r)
        addr = find_address(hints)
        if addr is None and self.b.address_from_records and any(ORDER_ID.search(h) for h in hints):
            o = self.order_for(r, None)
            addr = {k: o["address"][k] for k in _ADDR_KEYS}
        if addr is None:
            self.ask(r, "address", f"For your {r.label}, what is the full new address (street, "
                     "apartment if any, city, state, zip code and country)?",
                     "I need the full address to change it.")
        self.confirm_then(r, "modify_user_address", {"user_id": self.uid, **addr},
                          f"change the default address on your account to {fmt_address(addr)}")

    def _do_tracking(self, r: Request) -> None:
        o = self.order_for(r, None)
        oid = o["order_id"]
        tids = [t for f in o.get("fulfillments") or [] for t in f.get("tracking_id") or []]
        if o["status"] == "cancelled" and not self.b.cancelled_tracking:
            raise _Closed(f"Regarding your {r.label}: order {oid} was cancelled, so there is no "
                          "tracking information for it.")
        if tids:
            lead = ("the order was cancelled, but a parcel had already shipped; "
                    if o["status"] == "cancelled" else "")
            raise _Closed(f"Regarding your {r.label}: {lead}the tracking number for order {oid} is "
                          f"{', '.join(tids)}.")
        raise _Closed(f"Regarding your {r.label}: order {oid} has not shipped, so it has no tracking number.")


class ScriptedAgent:
    """The deterministic scripted agent (AgentBackend). `noise` = per-turn slip probability."""

    name = "scripted"
    model = "scripted"

    def __init__(self, noise: float = 0.0):
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise must be between 0 and 1, got {noise}")
        self.noise = noise
        self._cache: dict[str, Behaviours] = {}

    def behaviours(self, system_prompt: str) -> Behaviours:
        """Behaviours switched on by the candidate part of `system_prompt` (before noise)."""
        if system_prompt not in self._cache:
            self._cache[system_prompt] = behaviours_from_prompt(system_prompt)
        return self._cache[system_prompt]

    def respond(self, system_prompt: str, messages: list[dict], tools: list[dict],
                rng: random.Random) -> AgentReply:
        """One turn: a text message or one tool call, decided from what a model would see."""
        b = self.behaviours(system_prompt)
        if self.noise > 0:
            # always draw one number per behaviour so the rng stream does not depend on the result
            draws = [rng.random() for _ in BEHAVIOURS]
            b = b.flipped({n for n, d in zip(BEHAVIOURS, draws) if d < self.noise})
        step = _Planner(_State(messages), b).plan()
        if step.tool:
            call = ToolCall(id=f"call_{len(messages)}_{step.tool}", name=step.tool, arguments=step.arguments)
            return AgentReply(content=None, tool_calls=[call], model=self.model)
        return AgentReply(content=step.text, model=self.model)
