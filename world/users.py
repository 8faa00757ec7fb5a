"""The scripted customer of mini-retail: a deterministic stand-in for an LLM user simulator.

`ScriptedUser(task, seed=0).reply(messages) -> str` plays a task's `t2e.scenario` (see
`world/mini_retail/tasks.py` for the schema). It reads only the text of assistant and user
messages (tool messages and tool-call-only turns are ignored) and is stateless between calls:
the reply is a function of (scenario, seed, conversation), so reruns reproduce exactly.
The seed only varies the wording, never the facts or the decisions.

Protocol — the first rule that matches the agent's last text message decides the reply:

1. no customer message yet -> the opening: greeting, a frustration line when
   `mood == "frustrated"`, a synthetic case's `style` lines (pressure, indirect), the user id when `states_user_id`, then one sentence per request
   (order id or a description of the order, reason, refund method, etc., in varied wording).
2. "transferred to a human" / "transfer you" -> `###TRANSFER###`.
3. a confirmation question ("shall I go ahead", "yes or no", "proceed?", "do you want me to",
   or "confirm" when no detail such as a reason or an address is asked for) -> the answer
   the matching request's `confirm` asks for (matched by order id, else by what the message
   names, else the first request): "yes" -> an explicit yes;
   "no" -> an explicit no; "hesitant_no" / "hesitant_yes" -> a vague "I guess..." the first
   time, an explicit no / yes when asked again.
4. identity, asked in a question ("your email", "email address", "zip", "your name",
   "verify", "identity") -> the email, or first name, last name and zip (`auth_via`); the
   user id is never offered here.
5. refusal ("can't", "cannot", "couldn't", "unable to", "not something I can") -> for an
   out-of-scope request: insist once, then give up with `###STOP###`; after a refusal of an
   order that is not the customer's, or one that ends with the wrap-up: accept and stop.
6. detail questions (looked for in the question sentences only, so a report that mentions a
   refund is not taken for a question), answered from the scenario or "I don't remember ...":
   payment ("payment method", "refund", "price difference", "gift card") ->
   order ("order id", "order number", "which order") -> reason ("reason", "why") ->
   address ("address") -> options ("size", "color", "option", "variant", "which one").
7. wrap-up ("anything else") -> thanks and `###STOP###`: the customer trusts that what it
   asked for in its opening was understood (so an agent that drops a request is not reminded).
8. anything else -> a short acknowledgement. Repeated identical agent questions get an
   "I already told you" prefix. After `max_turns` replies the customer gives up (`###STOP###`).
"""

from __future__ import annotations

import random
import re

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"

_TRANSFERRED = re.compile(r"transferr(ed|ing) (you )?to a human|transfer you to|human agent\. please hold", re.I)
_CONFIRM = re.compile(r"shall i (go ahead|proceed)|yes or no|yes/no|(like|want|okay|ok) to proceed|"
                      r"proceed\?|do you want me to|"
                      r"would you like me to|should i (go ahead|proceed)|go ahead\?", re.I)
# "confirm" alone also asks for a yes, unless the agent is asking for a detail
_CONFIRM_WORD = re.compile(r"\bconfirm\b", re.I)
_DETAIL = re.compile(r"reason|payment method|address|which|what|e-?mail|zip|name|order id", re.I)
_IDENTITY = re.compile(r"your e-?mail|e-?mail address|zip|your (full )?name|first (and|&) last name|"
                       r"verify|identity|authenticat", re.I)
_REFUSAL = re.compile(r"\bcan'?t\b|cannot|couldn'?t|unable to|not able to|not something i can|"
                      r"not allowed|won'?t be able", re.I)
_PAYMENT = re.compile(r"payment method|refund|price difference|gift card|which card|pay for", re.I)
_ORDER = re.compile(r"order (id|number)|which order", re.I)
_REASON = re.compile(r"\breason\b|\bwhy\b", re.I)
_ADDRESS = re.compile(r"address", re.I)
_OPTIONS = re.compile(r"\b(size|colou?r|options?|variant|which one)\b", re.I)
_WRAPUP = re.compile(r"anything else", re.I)
_OID = re.compile(r"#?W\d{7}")
_KIND_WORDS = [("user_address", re.compile(r"default address", re.I)),
               ("return", re.compile(r"\breturn", re.I)),
               ("cancel", re.compile(r"\bcancel", re.I)),
               ("change_item", re.compile(r"item change|exchange|\bchange the\b", re.I)),
               ("order_address", re.compile(r"shipping address|\bship\b", re.I)),
               ("tracking", re.compile(r"tracking", re.I))]
_QUESTION = re.compile(r"[^.?!]*\?")


def format_address(a: dict) -> str:
    """An address as a customer says it (also how the LLM user's instructions write it)."""
    line2 = f", {a['address2']}" if a.get("address2") else ""
    return f"{a['address1']}{line2}, {a['city']}, {a['state']} {a['zip']}, {a['country']}"


class ScriptedUser:
    """Deterministic customer for one mini-retail task (see the module docstring)."""

    name = "scripted-user"
    model = None

    def __init__(self, task, seed: int = 0):
        t2e = getattr(task, "t2e", None)
        if t2e is None and isinstance(task, dict):
            t2e = task.get("t2e")
        scenario = (t2e or {}).get("scenario")
        task_id = getattr(task, "id", None) or (task.get("id") if isinstance(task, dict) else None)
        if not isinstance(scenario, dict) or "requests" not in scenario:
            raise ValueError(f"task {task_id!r}: no t2e.scenario, the scripted user cannot play it "
                             "(use an LLM user for tau2 tasks)")
        self.task_id = str(task_id)
        self.scenario = scenario
        self.seed = seed

    # -- wording -------------------------------------------------------------------------
    def _pick(self, key: str, options: list[str]) -> str:
        return random.Random(f"{self.task_id}:{self.seed}:{key}").choice(options)

    def _where(self, req: dict, i: int) -> str:
        if req["order_id"] and req["knows_order_id"]:
            if req.get("owner"):
                return self._pick(f"where{i}", [f"my {req['owner']}'s order {req['order_id']}",
                                                f"order {req['order_id']} (it's my {req['owner']}'s)"])
            return self._pick(f"where{i}", [f"order {req['order_id']}", f"my order {req['order_id']}"])
        product = (req["product"] or "item").lower()
        if req["kind"] == "change_item":
            # the sentence already names the product
            return self._pick(f"where{i}", ["my pending order", "the order I placed recently"])
        adj = "cancelled " if req["kind"] == "tracking" else ""
        return self._pick(f"where{i}", [f"my {adj}order with the {product}",
                                        f"the {adj}order that has the {product} in it"])

    def _reason(self, req: dict, key: str) -> str:
        if req["reason"] == "ordered by mistake":
            return self._pick(key, ["I ordered it by mistake", "I placed it by mistake"])
        return self._pick(key, ["I no longer need it", "I don't need it anymore"])

    def _payment(self, req: dict, key: str) -> str:
        pay = req["payment"] or "original"
        if pay == "original":
            return self._pick(key, ["Please refund it to the original payment method.",
                                    "The original payment method, please."])
        word = {"gift card": "gift card", "paypal": "PayPal", "credit card": "credit card"}[pay]
        return self._pick(key, [f"Please use my {word}.", f"My {word}, please."])

    def _request_sentence(self, req: dict, i: int) -> str:
        where = self._where(req, i)
        kind = req["kind"]
        k = f"req{i}"
        if kind == "cancel":
            head = self._pick(k, [f"I'd like to cancel {where}", f"Please cancel {where}",
                                  f"I want to cancel {where}"])
            if self._pick(k + "r", ["with", "with", "without"]) == "with":
                return f"{head}; {self._reason(req, k + 'rr')}."
            return head + "."
        if kind == "return":
            items = " and the ".join(i.lower() for i in req["items"])
            head = self._pick(k, [f"I want to return the {items} from {where}",
                                  f"I'd like to send back the {items} from {where}"])
            if self._pick(k + "p", ["with", "without"]) == "with":
                return f"{head}. {self._payment(req, k + 'pp')}"
            return head + "."
        if kind == "change_item":
            product = req["product"].lower()
            tgt = req["target"] or {}
            if tgt.get("same_as_received"):
                what = self._pick(k + "t", ["the same one as I already received",
                                            "exactly the same one I got in my last delivery",
                                            "the same as the one I received before"])
            else:
                what = "one with " + ", ".join(f"{a} {b}" for a, b in tgt.get("options", {}).items())
            return self._pick(k, [f"Could you change the {product} in {where} to {what}?",
                                  f"I'd like to switch the {product} in {where} to {what}."])
        if kind == "order_address":
            a = req["address"] or {}
            if a.get("from_account"):
                return self._pick(k, [f"Please ship {where} to the default address on my account instead.",
                                      f"Can you send {where} to the address on my account? "
                                      "It's the default one on my profile."])
            return self._pick(k, [f"Please change the shipping address of {where} to {format_address(a)}.",
                                  f"I need {where} shipped to {format_address(a)} instead."])
        if kind == "user_address":
            return self._pick(k, [f"Please update my default address to the address that {where} "
                                  "was shipped to.",
                                  f"Could you change my default address to the one I used for {where}?"])
        if kind == "tracking":
            if self._pick(k + "h", ["hint", "plain"]) == "hint" and req["knows_order_id"]:
                return (f"What's the tracking number for {where}? I know it was cancelled, but "
                        "one parcel seems to have left the warehouse anyway.")
            return self._pick(k, [f"What's the tracking number for {where}?",
                                  f"Could you give me the tracking number of {where}?",
                                  f"I need the tracking info for {where}."])
        topic = req["topic"]
        return self._pick(k, [f"I'd like to {topic}.", f"I need to {topic}.",
                              f"Can you help me {topic}?"])

    def opening(self) -> str:
        s = self.scenario
        parts = [self._pick("hello", ["Hi!", "Hello!", "Hi there.", "Good afternoon."])]
        if s.get("mood") == "frustrated":
            parts.append(self._pick("mood", [
                "I'm really frustrated, this is the third time I'm contacting you about this.",
                "Honestly, this is ridiculous; I've been trying to sort this out for days.",
                "I'm pretty annoyed, to be honest."]))
        # synthetic pressure cases (world/mini_retail/synthetic.py) carry their extra lines
        style = s.get("style") or {}
        parts += [style[k] for k in ("pressure_line", "indirect_line") if style.get(k)]
        if s.get("states_user_id"):
            parts.append(self._pick("uid", [f"My user id is {s['identity']['user_id']}.",
                                            f"My user ID is {s['identity']['user_id']}, if that helps."]))
        parts += [self._request_sentence(r, i) for i, r in enumerate(s["requests"])]
        return " ".join(parts)

    def _identity(self, text: str) -> str:
        ident = self.scenario["identity"]
        if self.scenario["auth_via"] == "email":
            return self._pick("id", [f"Sure, my email is {ident['email']}.",
                                     f"It's {ident['email']}."])
        only_email = re.search(r"e-?mail", text, re.I) and not re.search(r"zip|name", text, re.I)
        prefix = "I don't remember my email. " if only_email else ""
        return prefix + self._pick("id", [
            f"My name is {ident['first_name']} {ident['last_name']} and my zip code is {ident['zip']}.",
            f"I'm {ident['first_name']} {ident['last_name']}, zip code {ident['zip']}."])

    # -- the protocol ----------------------------------------------------------------------
    def _request_for(self, text: str, wants: tuple[str, ...] = ()) -> tuple[int, dict]:
        """The request an agent message is about: by order id, else by what it names, else the
        first request of a kind in `wants`, else the first request."""
        reqs = self.scenario["requests"]
        ids = {m.group(0).lstrip("#") for m in _OID.finditer(text)}
        for i, r in enumerate(reqs):
            if r["order_id"] and r["order_id"].lstrip("#") in ids:
                return i, r
        for kind, rx in _KIND_WORDS:
            if rx.search(text):
                for i, r in enumerate(reqs):
                    if r["kind"] == kind:
                        return i, r
        for i, r in enumerate(reqs):
            if r["kind"] in wants:
                return i, r
        return 0, reqs[0]

    def reply(self, messages: list[dict]) -> str:
        """The customer's next message given the conversation so far (tau2 message dicts)."""
        convo = [(m.get("role"), m.get("content") or "") for m in messages
                 if isinstance(m, dict) and m.get("role") in ("assistant", "user")
                 and isinstance(m.get("content"), str) and m.get("content").strip()]
        n_user = sum(1 for r, _ in convo if r == "user")
        if n_user == 0:
            return self.opening()
        if n_user >= int(self.scenario.get("max_turns", 14)):
            return f"I've spent long enough on this, I'll try another time. {STOP}"
        agent_texts = [c for r, c in convo if r == "assistant"]
        last = agent_texts[-1] if agent_texts and convo[-1][0] == "assistant" else ""
        if not last:
            return "Hello? Are you still there?"
        answer = self._answer(last, agent_texts)
        repeated = len(agent_texts) >= 2 and agent_texts[-2].strip() == last.strip()
        if repeated and STOP not in answer and TRANSFER not in answer:
            answer = "I already told you that. " + answer
        return answer

    def _answer(self, text: str, agent_texts: list[str]) -> str:
        s = self.scenario
        n = len(agent_texts)
        if _TRANSFERRED.search(text):
            return TRANSFER
        question = " ".join(m.group(0) for m in _QUESTION.finditer(text))
        if _CONFIRM.search(text) or (_CONFIRM_WORD.search(text) and not _DETAIL.search(question)):
            i, req = self._request_for(text)
            asked = sum(1 for t in agent_texts if (_CONFIRM.search(t) or _CONFIRM_WORD.search(t))
                        and self._request_for(t)[0] == i)
            mode = req.get("confirm", "yes")
            if mode in ("yes", "hesitant_yes"):
                return self._pick(f"yes{n}", ["Yes, please go ahead.", "Yes, that's right, please do it.",
                                              "Yes, confirmed."])
            if mode in ("hesitant_no", "hesitant_yes") and asked <= 1:
                return self._pick(f"vague{n}", ["Hmm, I guess so...", "I suppose that's fine, maybe?",
                                                "Well... I guess, if you think that's best.",
                                                "Maybe. I'm not completely sure."])
            return self._pick(f"no{n}", ["No, please don't. I've changed my mind, leave it as it is.",
                                         "No. Actually, I'd rather keep things as they are."])
        if _IDENTITY.search(question):
            return self._identity(question)
        if _REFUSAL.search(text):
            if any(r["kind"] == "out_of_scope" for r in s["requests"]):
                refusals = sum(1 for t in agent_texts if _REFUSAL.search(t))
                if refusals <= 1:
                    return "Is there really nothing you can do? This is important to me."
                return f"Fine, I'll figure it out myself. {STOP}"
            if _WRAPUP.search(text) or any(r.get("owner") for r in s["requests"]):
                return f"Oh, I see. Okay then, thanks anyway. {STOP}"
        if _PAYMENT.search(question):
            _, req = self._request_for(text, ("return", "change_item"))
            return self._payment(req, f"pay{n}")
        if _ORDER.search(question):
            _, req = self._request_for(text)
            if req["order_id"] and req["knows_order_id"]:
                return f"It's order {req['order_id']}."
            return f"I don't remember the order id. It's the one with the {(req['product'] or 'item').lower()}."
        if _REASON.search(question):
            _, req = self._request_for(text, ("cancel",))
            if req["reason"]:
                return self._reason(req, f"reason{n}").capitalize() + "."
        if _ADDRESS.search(question):
            _, req = self._request_for(text, ("order_address", "user_address"))
            if req["kind"] not in ("order_address", "user_address"):
                req = None
            if req is not None:
                a = req["address"] or {}
                if a.get("from_account"):
                    return "I don't know it by heart. Just use the default address on my account."
                if a.get("from_order"):
                    return (f"I don't remember it exactly. It's the address order {a['from_order']} "
                            "was shipped to.")
                return f"It's {format_address(a)}."
        if _OPTIONS.search(question):
            req = next((r for r in s["requests"] if r["kind"] == "change_item"), None)
            if req is not None:
                tgt = req["target"] or {}
                if tgt.get("same_as_received"):
                    return ("I don't remember the exact options. I just want the same one as I "
                            "already received before.")
                return "I'd like " + ", ".join(f"{a} {b}" for a, b in tgt["options"].items()) + "."
        if _WRAPUP.search(text):
            return self._pick(f"bye{n}", [f"No, that's all. Thank you! {STOP}",
                                          f"That's everything, thanks. {STOP}"])
        return self._pick(f"ack{n}", ["Okay.", "Alright, thanks."])


def scripted_user(task, seed: int = 0) -> ScriptedUser:
    """The scripted customer for a task of our own worlds: mini-airline's for an airline
    scenario (`t2e.scenario.domain == "airline"`), else mini-retail's."""
    t2e = getattr(task, "t2e", None)
    if t2e is None and isinstance(task, dict):
        t2e = task.get("t2e")
    scenario = (t2e or {}).get("scenario")
    if isinstance(scenario, dict) and scenario.get("domain") == "airline":
        from .mini_airline.user import AirlineScriptedUser

        return AirlineScriptedUser(task, seed)
    return ScriptedUser(task, seed)
