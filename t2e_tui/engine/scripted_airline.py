"""The scripted STAND-IN agent's airline planner (mini-airline; proves nothing about models).

Chosen by `ScriptedAgent` when the tool list is airline's. The behaviours are the same ones, switched
by the same rule phrases (scripted_rules.PHRASE_TABLE), so one candidate text runs on both
domains. What each does here:

* strict_yes / skip_confirmation: as in retail (a hedged answer is or is not a yes).
* all_requests: every request of the opening, else only the first of each message.
* check_owner: refuse a reservation whose user id is not the customer's.
* transfer_out_of_scope / transfer_upset: as in retail.
* cross_order_lookup (learned on retail: "the same as the one I already received" -> look it
  up in earlier records): when the customer wants bags "the same as I got on my previous trip",
  the agent copies the bag counts of the first other reservation it finds on the account. On
  airline that is wrong for a domain reason: free bags depend on the member tier and the cabin
  of the reservation being changed, so the paid-bag count must be computed (policy), and the
  first record found is not even the trip the customer means. This is the negative transfer.

Supported requests: cancel a reservation, set its checked bags, anything else (out of scope).
The customer is identified by the user id they state (tau2 airline practice).
"""

from __future__ import annotations

import re

from .scripted_agent import WRAP_UP, _Planner
from .scripted_state import Closed, Step, parse_json
from .scripted_text import SAME_AS_RECEIVED, USER_ID, Request, split_clauses

# What each behaviour does on airline (shown by `t2e models`); behaviours not listed do nothing
# there (mini-airline identifies by user id and has no addresses, items or tracking).
AIRLINE_EFFECTS = {
    "strict_yes": "on airline: the same (a hedged answer to 'cancel?' is asked again, then no)",
    "skip_confirmation": "on airline: cancels or changes bags without asking",
    "all_requests": "on airline: handles a cancel and a bag change asked in one message",
    "check_owner": "on airline: refuses another customer's reservation",
    "transfer_out_of_scope": "on airline: transfers complaints, compensation, lost luggage",
    "transfer_upset": "on airline: the same",
    "cross_order_lookup": "HURTS on airline: 'the same as I got on my previous trip' copies the "
                          "first earlier reservation's bag counts, while free bags depend on "
                          "this reservation's cabin and the member tier (mini-airline "
                          "stale_record_reuse)",
}
RES_ID = re.compile(r"\breservation ([A-Z0-9]{6})\b")
BAGS = re.compile(r"\b(\d+) checked bags\b", re.I)
_KINDS = (("cancel", re.compile(r"\bcancel", re.I)),
          ("bags", re.compile(r"\bbags?\b|baggage|luggage allowance", re.I)),
          ("out_of_scope", re.compile(r"\b(I'd like to|I need to|I want to|can you help me)\b", re.I)))
ASK_USER_ID = "Could you please give me your user id?"
# Free checked bags per passenger (mini-airline policy), by member tier and cabin.
FREE_BAGS = {"regular": {"basic_economy": 0, "economy": 1, "business": 2},
             "silver": {"basic_economy": 1, "economy": 1, "business": 2},
             "gold": {"basic_economy": 2, "economy": 2, "business": 3}}
AIRLINE_TOOLS = frozenset({"get_reservation_details", "update_reservation_baggages"})


def is_airline(tools: list[dict]) -> bool:
    """Whether a tool list (OpenAI function JSON) is airline's."""
    names = {((t.get("function") or t).get("name") if isinstance(t, dict) else None)
             for t in tools or ()}
    return bool(AIRLINE_TOOLS & names)


def parse_airline_requests(texts: list[str]) -> list[Request]:
    """Requests in the customer messages that can carry them (one per sentence with a kind)."""
    reqs: list[Request] = []
    for n_msg, text in enumerate(texts):
        for clause in split_clauses(text):
            kind = next((k for k, rx in _KINDS if rx.search(clause)), None)
            if kind is None:
                if reqs and reqs[-1].message == n_msg:
                    reqs[-1].clause += " " + clause
                continue
            ids = RES_ID.findall(clause)
            reqs.append(Request(len(reqs), kind, clause, ids, message=n_msg))
    for r in reqs:
        noun = {"cancel": "cancellation", "bags": "baggage change", "out_of_scope": "request"}[r.kind]
        r.label = f"{noun} of reservation {r.order_ids[0]}" if r.order_ids else noun
    return reqs


class AirlinePlanner(_Planner):
    """Plans one airline turn; confirmation and asking are the retail planner's."""

    def reservations(self) -> tuple[dict, set]:
        """Reservations the tools returned (reads and writes), and ids that failed to load."""
        out, bad = {}, set()
        for c in self.st.calls:
            rec = parse_json(c["content"]) if c["error"] is False else None
            if rec and "reservation_id" in rec:
                out[rec["reservation_id"]] = rec
            elif c["name"] == "get_reservation_details":
                bad.add(c["args"].get("reservation_id"))
        return out, bad

    def reservation(self, r: Request) -> dict:
        if not r.order_ids:
            self.ask(r, "reservation", f"For your {r.label}, which reservation is it? Could you "
                                       "give me the reservation id?",
                     "I couldn't identify the reservation.")
        rid = r.order_ids[0]
        known, bad = self.reservations()
        if rid in bad:
            raise Closed(f"Regarding your {r.label}: I couldn't find reservation {rid}.")
        if rid not in known:
            raise Step("get_reservation_details", {"reservation_id": rid})
        res = known[rid]
        if self.b.check_owner and res.get("user_id") != self.uid:
            raise Closed(f"Regarding your {r.label}: I'm sorry, but reservation {rid} is not on "
                         "your account, so I can't act on it or share its details.")
        return res

    def done(self, r: Request, tool: str, rid: str, note: str) -> None:
        for c in self.st.calls:
            if c["name"] == tool and c["args"].get("reservation_id") == rid and c["error"] is not None:
                if c["error"]:
                    raise Closed(f"Regarding your {r.label}: sorry, that change could not be "
                                 f"made: {c['content']}.")
                raise Closed(f"Regarding your {r.label}: done, {note}.")

    def cancel(self, r: Request) -> None:
        res = self.reservation(r)
        rid = res["reservation_id"]
        self.done(r, "cancel_reservation", rid, f"reservation {rid} is now cancelled; the refund "
                                                "goes back to the original payment method")
        if res.get("status") == "cancelled":
            raise Closed(f"Regarding your {r.label}: reservation {rid} is already cancelled.")
        if not (res.get("insurance") == "yes" or res.get("cabin") == "business"
                or res.get("created_at", "") >= "2024-05-14T15:00:00"):
            raise Closed(f"Regarding your {r.label}: I'm sorry, under our policy reservation "
                         f"{rid} can't be cancelled (no insurance, not business, booked more "
                         "than 24 hours ago).")
        self.confirm_then(r, "cancel_reservation", {"reservation_id": rid},
                          f"cancel reservation {rid}; the refund goes back to the original "
                          "payment method")

    def bags(self, r: Request) -> None:
        res = self.reservation(r)
        rid = res["reservation_id"]
        self.done(r, "update_reservation_baggages", rid, f"reservation {rid} has its new bags")
        hints = self.hints(r)
        m = next((BAGS.search(h) for h in hints if BAGS.search(h)), None)
        if m is None:
            self.ask(r, "bags", f"For your {r.label}, how many checked bags would you like in "
                                "total?", "I can't continue without the number of bags.")
        total = int(m.group(1))
        if self.b.cross_order_lookup and any(SAME_AS_RECEIVED.search(h) for h in hints):
            # the retail rule: act on the first earlier record found and reuse what it holds
            known, bad = self.reservations()
            prev = next((x for x in self.profile.get("reservations") or []
                         if x != rid and x not in bad), None)
            if prev is not None:
                if prev not in known:
                    raise Step("get_reservation_details", {"reservation_id": prev})
                total = known[prev]["total_baggages"]
                paid = known[prev]["nonfree_baggages"]
            else:
                paid = self._paid(res, total)
        else:
            paid = self._paid(res, total)
        if total < res.get("total_baggages", 0):
            raise Closed(f"Regarding your {r.label}: I'm sorry, bags cannot be removed from a "
                         "reservation.")
        card = next((pid for pid, p in sorted((self.profile.get("payment_methods") or {}).items())
                     if p.get("source") == "credit_card"), None)
        if card is None:
            raise Closed(f"Regarding your {r.label}: I'm sorry, there is no credit card on your "
                         "account.")
        fee = 50 * max(0, paid - res.get("nonfree_baggages", 0))
        self.confirm_then(r, "update_reservation_baggages",
                          {"reservation_id": rid, "total_baggages": total,
                           "nonfree_baggages": paid, "payment_id": card},
                          f"set reservation {rid} to {total} checked bags, {paid} of them paid; "
                          f"${fee} goes on {self.describe_pm(card)}")

    def _paid(self, res: dict, total: int) -> int:
        tier = FREE_BAGS.get(self.profile.get("membership"), FREE_BAGS["regular"])
        free = tier.get(res.get("cabin"), 0) * len(res.get("passengers") or [])
        return max(0, total - free)

    def out_of_scope(self, r: Request) -> None:
        if self.b.transfer_out_of_scope:
            raise Step("transfer_to_human_agents",
                       {"summary": f"The customer's request is out of scope: {r.clause[:200]}"})
        raise Closed(f"Regarding your {r.label}: I'm sorry, I can't help with that with the "
                     "tools I have.")

    # the retail planner's _plan runs the turn (greeting, transfers, identity, each request
    # in order); these are airline's parts of it
    def _identify(self) -> None:
        self._identify_by_id()

    def _requests(self) -> list:
        return parse_airline_requests(self.st.request_texts)

    def _reports(self) -> list[str]:
        return []

    def _work(self, r: Request) -> None:
        getattr(self, r.kind)(r)

    def _identify_by_id(self) -> None:
        st = self.st
        ids = [m.group(0) for t in st.user_texts for m in USER_ID.finditer(t)]
        uid = next((u for u in ids if u not in st.bad_users), None)
        if uid is None:
            if st.asked(ASK_USER_ID) >= 3:
                raise Step(text="I'm sorry, I couldn't find your account, so I can't help with "
                                f"it today. {WRAP_UP}")
            lead = "I couldn't find that user id. " if st.bad_users else "I'd be glad to help. "
            raise Step(text=lead + ASK_USER_ID)
        self.uid = uid
        if uid not in st.profiles:
            raise Step("get_user_details", {"user_id": uid})
        self.profile = st.profiles[uid] or {}
