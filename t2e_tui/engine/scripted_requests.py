"""The scripted agent's handling of each request kind (a mixin of the planner).

Each `_do_<kind>` raises `Step` (the turn's tool call or text) or `Closed` (the request is
finished, with a note for the customer). Nothing here sees gold actions or scenarios.
"""

from __future__ import annotations

from .scripted_state import ADDR_KEYS, Closed, Step, fmt_address
from .scripted_text import (
    ACCOUNT_ADDRESS,
    ORDER_ID,
    SAME_AS_RECEIVED,
    Request,
    find_address,
    find_reason,
    mentioned_items,
    option_matches,
)


class RequestHandlers:
    """Per-kind request handling; needs the planner's helpers (order_for, ask, confirm_then...)."""

    def _work(self, r: Request) -> None:
        getattr(self, f"_do_{r.kind}")(r)

    def _do_human(self, r: Request) -> None:
        raise Step("transfer_to_human_agents", {"summary": f"The customer asked: {r.clause[:200]}"})

    def _do_out_of_scope(self, r: Request) -> None:
        if self.b.transfer_out_of_scope:
            raise Step("transfer_to_human_agents",
                        {"summary": f"Request outside the agent's tools: {r.clause[:200]}"})
        raise Closed(f"Regarding your {r.label}: I'm sorry, but that's not something I can help with.")

    def _do_cancel(self, r: Request) -> None:
        o = self.order_for(r, {"pending"})
        oid = o["order_id"]
        if self.written(r, {"cancel_pending_order"}, "order_id", oid):
            raise Closed()
        if o["status"] != "pending":
            raise Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so it can't be cancelled.")
        reason = find_reason(self.hints(r))
        if reason is None:
            self.ask(r, "reason", f"For your {r.label}, what is the reason for cancelling order {oid}: "
                     "is it no longer needed, or was it ordered by mistake?",
                     "I need one of those two reasons to cancel.")
        items = ", ".join(i["name"] for i in o["items"])
        self.confirm_then(r, "cancel_pending_order", {"order_id": oid, "reason": reason},
                          f"cancel order {oid} ({items}) because it "
                          f"{'was ordered by mistake' if reason == 'ordered by mistake' else 'is no longer needed'}")

    def _do_return(self, r: Request) -> None:
        o = self.order_for(r, {"delivered"})
        oid = o["order_id"]
        if self.written(r, {"return_delivered_order_items"}, "order_id", oid):
            raise Closed()
        if o["status"] != "delivered":
            raise Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so it can't be returned.")
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
            raise Closed()
        if o["status"] not in ("pending", "delivered"):
            raise Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so its items "
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
                    raise Step("get_order_details", {"order_id": oid})
                prev = self.st.orders.get(oid)
                if prev and prev["status"] == "delivered":
                    for it in prev["items"]:
                        if it["product_id"] == old["product_id"] and it["item_id"] != old["item_id"]:
                            return it
            raise Closed(f"Regarding your {r.label}: I'm sorry, I couldn't find that item in your "
                          "delivered orders.")
        pid = old["product_id"]
        product = self.st.products.get(pid)
        if product is None:
            raise Step("get_product_details", {"product_id": pid})
        variants = (product.get("variants") or {}).values()   # {} when the lookup failed
        scored = sorted(((option_matches(v, hints), v["item_id"], v) for v in variants
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
            raise Closed()
        if "pending" not in o["status"]:
            raise Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so its address "
                          "can't be changed.")
        hints = self.hints(r)
        addr = find_address(hints)
        if addr is None and self.b.address_from_records and any(ACCOUNT_ADDRESS.search(h) for h in hints):
            addr = {k: self.profile["address"][k] for k in ADDR_KEYS}
        if addr is None:
            self.ask(r, "address", f"For your {r.label} (order {oid}), what is the full new shipping address "
                     "(street, apartment if any, city, state, zip code and country)?",
                     "I need the full address to change it.")
        self.confirm_then(r, "modify_pending_order_address", {"order_id": oid, **addr},
                          f"ship order {oid} to {fmt_address(addr)}")

    def _do_order_payment(self, r: Request) -> None:
        o = self.order_for(r, [{"pending", "pending (item modified)"}])
        oid = o["order_id"]
        if self.written(r, {"modify_pending_order_payment"}, "order_id", oid):
            raise Closed()
        if "pending" not in o["status"]:
            raise Closed(f"Regarding your {r.label}: order {oid} is {o['status']}, so its payment "
                         "method can't be changed.")
        pm, pm_desc = self.payment(r, o, f"For your {r.label} (order {oid}), which payment method "
                                   "on your account should the order be paid with?")
        self.confirm_then(r, "modify_pending_order_payment", {"order_id": oid, "payment_method_id": pm},
                          f"pay order {oid} with {pm_desc} instead of the current payment method")

    def _do_user_address(self, r: Request) -> None:
        if self.written(r, {"modify_user_address"}, "user_id", self.uid):
            raise Closed()
        hints = self.hints(r)
        addr = find_address(hints)
        if addr is None and self.b.address_from_records and any(ORDER_ID.search(h) for h in hints):
            o = self.order_for(r, None)
            addr = {k: o["address"][k] for k in ADDR_KEYS}
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
            raise Closed(f"Regarding your {r.label}: order {oid} was cancelled, so there is no "
                          "tracking information for it.")
        if tids:
            lead = ("the order was cancelled, but a parcel had already shipped; "
                    if o["status"] == "cancelled" else "")
            raise Closed(f"Regarding your {r.label}: {lead}the tracking number for order {oid} is "
                          f"{', '.join(tids)}.")
        raise Closed(f"Regarding your {r.label}: order {oid} has not shipped, so it has no tracking number.")


