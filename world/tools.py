"""The 16 retail tools with tau2-bench's exact semantics, error texts and quirks (SPEC §3).

`RetailEnv(db).call(name, arguments)` never raises: a tool error is a `ToolResult` whose content
is `"Error: <message>"` and `error=True`, as tau2 records it. Results are serialised as tau2 does:
a record (model) becomes `json.dumps` of its fields in model order with default separators; a
plain string is returned raw.

The tool bodies are ordinary Python methods on a class named `RetailTools` whose parameter names
match tau2's, so a missing or unknown keyword argument produces the same TypeError text tau2
records (e.g. "RetailTools.get_user_details() missing 1 required positional argument: 'user_id'").
Checks run in tau2's order, because which error an agent sees depends on it.
"""

from __future__ import annotations

import json

from .db import RetailDB
from .toolenv import TOOL_VERSIONS, ToolEnv, ToolResult, calculate, check_version, serialise  # noqa: F401

# Tool order follows tau2's toolkit (definition order), so schema lists are stable.
TOOL_KINDS: dict[str, str] = {
    "calculate": "generic",
    "cancel_pending_order": "write",
    "exchange_delivered_order_items": "write",
    "find_user_id_by_name_zip": "read",
    "find_user_id_by_email": "read",
    "get_order_details": "read",
    "get_product_details": "read",
    "get_item_details": "read",
    "get_user_details": "read",
    "list_all_product_types": "read",
    "modify_pending_order_address": "write",
    "modify_pending_order_items": "write",
    "modify_pending_order_payment": "write",
    "modify_user_address": "write",
    "return_delivered_order_items": "write",
    "transfer_to_human_agents": "generic",
}
WRITE_TOOLS = frozenset(n for n, k in TOOL_KINDS.items() if k == "write")
# v0 (the June-2025 release and the published baselines) had no get_item_details.
V0_MISSING = frozenset({"get_item_details"})


def tool_names(version: str = "v1") -> list[str]:
    """The tool names of a tool-set version, in stable order."""
    check_version(version)
    return [n for n in TOOL_KINDS if not (version == "v0" and n in V0_MISSING)]


class RetailTools:
    """Tool bodies over one RetailDB fork. Methods raise; `RetailEnv.call` turns that into
    tau2's error text. Named like tau2's class so TypeError texts match."""

    def __init__(self, db: RetailDB):
        self.db = db

    # -- lookups (tau2's private helpers; same messages) --------------------------------------
    def _get_order(self, order_id: str) -> dict:
        if order_id not in self.db.orders:
            raise ValueError("Order not found")
        return self.db.orders[order_id]

    def _get_user(self, user_id: str) -> dict:
        if user_id not in self.db.users:
            raise ValueError("User not found")
        return self.db.users[user_id]

    def _get_product(self, product_id: str) -> dict:
        if product_id not in self.db.products:
            raise ValueError("Product not found")
        return self.db.products[product_id]

    def _get_variant(self, product_id: str, variant_id: str) -> dict:
        product = self._get_product(product_id)
        if variant_id not in product["variants"]:
            raise ValueError("Variant not found")
        return product["variants"][variant_id]

    def _get_payment_method(self, user_id: str, payment_method_id: str) -> dict:
        user = self._get_user(user_id)
        if payment_method_id not in user["payment_methods"]:
            raise ValueError("Payment method not found")
        return user["payment_methods"][payment_method_id]

    def _own_payment_method(self, user_id: str, payment_method_id: str) -> dict:
        """The payment method in this fork's own copy of the user (for balance changes)."""
        return self.db.user_for_write(user_id)["payment_methods"][payment_method_id]

    @staticmethod
    def _address(address1, address2, city, state, country, zip) -> dict:  # noqa: A002
        # Model field order of tau2's UserAddress (country before state).
        return {"address1": address1, "address2": address2, "city": city, "country": country,
                "state": state, "zip": zip}

    # -- generic --------------------------------------------------------------------------------
    def calculate(self, expression: str) -> str:
        return calculate(expression)

    def transfer_to_human_agents(self, summary: str) -> str:
        return "Transfer successful"

    # -- reads ----------------------------------------------------------------------------------
    def find_user_id_by_email(self, email: str) -> str:
        wanted = email.lower()
        for user_id, user in self.db.users.items():
            if user["email"].lower() == wanted:
                return user_id
        raise ValueError("User not found")

    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:  # noqa: A002
        first, last = first_name.lower(), last_name.lower()
        for user_id, user in self.db.users.items():
            name = user["name"]
            if (name["first_name"].lower() == first and name["last_name"].lower() == last
                    and user["address"]["zip"] == zip):
                return user_id
        raise ValueError("User not found")

    def get_order_details(self, order_id: str) -> dict:
        return self._get_order(order_id)

    def get_product_details(self, product_id: str) -> dict:
        return self._get_product(product_id)

    def get_item_details(self, item_id: str) -> dict:
        for product in self.db.products.values():
            if item_id in product["variants"]:
                return product["variants"][item_id]
        raise ValueError("Item not found")

    def get_user_details(self, user_id: str) -> dict:
        return self._get_user(user_id)

    def list_all_product_types(self) -> str:
        names = {p["name"]: p["product_id"] for p in self.db.products.values()}
        return json.dumps(names, sort_keys=True)

    # -- writes ---------------------------------------------------------------------------------
    def cancel_pending_order(self, order_id: str, reason: str) -> dict:
        order = self._get_order(order_id)
        if order["status"] != "pending":
            raise ValueError("Non-pending order cannot be cancelled")
        if reason not in {"no longer needed", "ordered by mistake"}:
            raise ValueError("Invalid reason")
        # Every payment entry (refunds included) is refunded again: tau2 does exactly this.
        refunds = []
        for payment in order["payment_history"]:
            pm_id = payment["payment_method_id"]
            refunds.append({"transaction_type": "refund", "amount": payment["amount"],
                            "payment_method_id": pm_id})
            user = self._get_user(order["user_id"])
            method = self._get_payment_method(user["user_id"], pm_id)
            if method["source"] == "gift_card":
                method = self._own_payment_method(user["user_id"], pm_id)
                method["balance"] = round(method["balance"] + payment["amount"], 2)
        order = self.db.order_for_write(order_id)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return order

    def exchange_delivered_order_items(self, order_id: str, item_ids: list, new_item_ids: list,
                                       payment_method_id: str) -> dict:
        order = self._get_order(order_id)
        if order["status"] != "delivered":
            raise ValueError("Non-delivered order cannot be exchanged")
        all_item_ids = [item["item_id"] for item in order["items"]]
        for item_id in item_ids:
            if item_ids.count(item_id) > all_item_ids.count(item_id):
                raise ValueError(f"Number of {item_id} not found.")
        if len(item_ids) != len(new_item_ids):
            raise ValueError("The number of items to be exchanged should match.")
        diff_price = 0
        for item_id, new_item_id in zip(item_ids, new_item_ids):
            item = next((it for it in order["items"] if it["item_id"] == item_id), None)
            if item is None:
                raise ValueError(f"Item {item_id} not found")
            variant = self._get_variant(item["product_id"], new_item_id)
            if not variant["available"]:
                raise ValueError(f"New item {new_item_id} not found or available")
            diff_price += variant["price"] - item["price"]
        diff_price = round(diff_price, 2)
        method = self._get_payment_method(order["user_id"], payment_method_id)
        if method["source"] == "gift_card" and method["balance"] < diff_price:
            raise ValueError("Insufficient gift card balance to pay for the price difference")
        # No payment record and no balance change: settled later, as in tau2.
        order = self.db.order_for_write(order_id)
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = diff_price
        return order

    def modify_pending_order_address(self, order_id: str, address1: str, address2: str,
                                     city: str, state: str, country: str, zip: str) -> dict:  # noqa: A002
        order = self._get_order(order_id)
        if "pending" not in order["status"]:
            raise ValueError("Non-pending order cannot be modified")
        order = self.db.order_for_write(order_id)
        order["address"] = self._address(address1, address2, city, state, country, zip)
        return order

    def modify_pending_order_items(self, order_id: str, item_ids: list, new_item_ids: list,
                                   payment_method_id: str) -> dict:
        order = self._get_order(order_id)
        if order["status"] != "pending":
            raise ValueError("Non-pending order cannot be modified")
        all_item_ids = [item["item_id"] for item in order["items"]]
        for item_id in item_ids:
            if item_ids.count(item_id) > all_item_ids.count(item_id):
                raise ValueError(f"{item_id} not found")
        if len(item_ids) != len(new_item_ids):
            raise ValueError("The number of items to be exchanged should match")
        diff_price = 0
        variant = None
        for item_id, new_item_id in zip(item_ids, new_item_ids):
            if item_id == new_item_id:
                raise ValueError("The new item id should be different from the old item id")
            item = next((it for it in order["items"] if it["item_id"] == item_id), None)
            if item is None:
                raise ValueError(f"Item {item_id} not found")
            variant = self._get_variant(item["product_id"], new_item_id)
            if not variant["available"]:
                raise ValueError(f"New item {new_item_id} not found or available")
            diff_price += variant["price"] - item["price"]  # not rounded (tau2)
        method = self._get_payment_method(order["user_id"], payment_method_id)
        if method["source"] == "gift_card" and method["balance"] < diff_price:
            raise ValueError("Insufficient gift card balance to pay for the new item")
        order = self.db.order_for_write(order_id)
        order["payment_history"].append({
            "transaction_type": "payment" if diff_price > 0 else "refund",
            "amount": abs(diff_price), "payment_method_id": payment_method_id})
        if method["source"] == "gift_card":
            method = self._own_payment_method(order["user_id"], payment_method_id)
            method["balance"] = round(method["balance"] - diff_price, 2)
        for item_id, new_item_id in zip(item_ids, new_item_ids):
            item = next((it for it in order["items"] if it["item_id"] == item_id), None)
            if item is None:
                raise ValueError(f"Item {item_id} not found")
            item["item_id"] = new_item_id
            # tau2 bug kept on purpose: price/options come from the LAST variant checked above,
            # for every modified line. Gold replays share it, so DB equality depends on it.
            if variant is not None:
                item["price"] = variant["price"]
                item["options"] = dict(variant["options"])
        order["status"] = "pending (item modified)"
        return order

    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> dict:
        order = self._get_order(order_id)
        if "pending" not in order["status"]:
            raise ValueError("Non-pending order cannot be modified")
        method = self._get_payment_method(order["user_id"], payment_method_id)
        history = order["payment_history"]
        if len(history) != 1 or history[0]["transaction_type"] != "payment":
            raise ValueError("There should be exactly one payment for a pending order")
        old_id = history[0]["payment_method_id"]
        if old_id == payment_method_id:
            raise ValueError("The new payment method should be different from the current one")
        amount = history[0]["amount"]
        if method["source"] == "gift_card" and method["balance"] < amount:
            raise ValueError("Insufficient gift card balance to pay for the order")
        order = self.db.order_for_write(order_id)
        order["payment_history"].extend([
            {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id},
        ])
        if method["source"] == "gift_card":
            method = self._own_payment_method(order["user_id"], payment_method_id)
            method["balance"] = round(method["balance"] - amount, 2)
        old_method = self._get_payment_method(order["user_id"], old_id)
        if old_method["source"] == "gift_card":
            old_method = self._own_payment_method(order["user_id"], old_id)
            old_method["balance"] = round(old_method["balance"] + amount, 2)
        return order

    def modify_user_address(self, user_id: str, address1: str, address2: str, city: str,
                            state: str, country: str, zip: str) -> dict:  # noqa: A002
        self._get_user(user_id)
        user = self.db.user_for_write(user_id)
        user["address"] = self._address(address1, address2, city, state, country, zip)
        return user

    def return_delivered_order_items(self, order_id: str, item_ids: list,
                                     payment_method_id: str) -> dict:
        order = self._get_order(order_id)
        if order["status"] != "delivered":
            raise ValueError("Non-delivered order cannot be returned")
        user = self._get_user(order["user_id"])
        method = self._get_payment_method(user["user_id"], payment_method_id)
        if (method["source"] != "gift_card"
                and payment_method_id != order["payment_history"][0]["payment_method_id"]):
            raise ValueError("Payment method should be the original payment method")
        all_item_ids = [item["item_id"] for item in order["items"]]
        for item_id in item_ids:
            if item_ids.count(item_id) > all_item_ids.count(item_id):
                raise ValueError("Some item not found")
        # No refund record: the refund happens when the items arrive (tau2).
        order = self.db.order_for_write(order_id)
        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        return order


class RetailEnv(ToolEnv):
    """A retail tool environment over its own fork of `db`.

    `version="v0"` is the June-2025 tool set (no get_item_details). `.db` is this env's fork:
    the caller's DB is never changed.
    """

    tool_kinds = TOOL_KINDS
    write_tools = WRITE_TOOLS

    def __init__(self, db: RetailDB, version: str = "v1"):
        check_version(version)
        self.db = db.fork()
        super().__init__(RetailTools(self.db), tool_names(version), version)

    def tool_schemas(self) -> list[dict]:
        """OpenAI function-tool JSON for this tool set, in stable order."""
        from .tool_schemas import schemas_for

        return schemas_for(self._names)
