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

import ast
import json
import operator
from dataclasses import dataclass
from typing import Any

from .db import RetailDB

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
TOOL_VERSIONS = ("v1", "v0")


def tool_names(version: str = "v1") -> list[str]:
    """The tool names of a tool-set version, in stable order."""
    _check_version(version)
    return [n for n in TOOL_KINDS if not (version == "v0" and n in V0_MISSING)]


def _check_version(version: str) -> None:
    if version not in TOOL_VERSIONS:
        raise ValueError(f"unknown tool version {version!r} (expected v1 or v0)")


@dataclass(frozen=True)
class ToolResult:
    """What a tool message carries: the content string and whether it is an error."""
    content: str
    error: bool = False


def serialise(value: Any) -> str:
    """tau2's tool-result text: strings raw, everything else as JSON (default separators)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return json.dumps(value, default=str)


# -- calculate: tau2 evals the expression after a character check; we evaluate the same
# arithmetic on the AST instead of eval, so a hostile expression cannot run code or hang.
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        val = _arith(node.operand)
        return val if isinstance(node.op, ast.UAdd) else -val
    if isinstance(node, ast.BinOp):
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.Pow):
            if abs(right) > 1000 or abs(left) > 1e100:
                raise ValueError("Invalid expression: exponent too large")
            return left ** right
        fn = _BINOPS.get(type(node.op))
        if fn is not None:
            return fn(left, right)
    raise ValueError("Invalid expression")


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
        if not all(char in "0123456789+-*/(). " for char in expression):
            raise ValueError("Invalid characters in expression")
        tree = ast.parse(expression.lstrip(" \t"), filename="<string>", mode="eval")
        return str(round(float(_arith(tree)), 2))

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


class RetailEnv:
    """A retail tool environment over its own fork of `db`.

    `version="v0"` is the June-2025 tool set (no get_item_details). `.db` is this env's fork:
    the caller's DB is never changed.
    """

    def __init__(self, db: RetailDB, version: str = "v1"):
        _check_version(version)
        self.version = version
        self.db = db.fork()
        self._tools = RetailTools(self.db)
        self._names = tool_names(version)
        self._name_set = frozenset(self._names)

    def has_tool(self, name: str) -> bool:
        """Whether this tool set has a tool of that name."""
        return name in self._name_set

    def call(self, name: Any, arguments: Any = None) -> ToolResult:
        """Run one tool call; never raises. Errors come back as tau2's "Error: ..." text."""
        if not isinstance(name, str) or name not in self._name_set:
            return ToolResult(f"Error: Tool '{name}' not found.", True)
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            # Engines may hand over the model's raw JSON text; decode it like a client would.
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return ToolResult(f"Error: tool arguments are not valid JSON ({exc.msg})", True)
        if not isinstance(arguments, dict):
            return ToolResult("Error: tool arguments must be a JSON object, got "
                              f"{type(arguments).__name__}", True)
        if not all(isinstance(k, str) for k in arguments):
            return ToolResult("Error: tool argument names must be strings", True)
        try:
            value = getattr(self._tools, name)(**arguments)
            return ToolResult(serialise(value), False)
        except RecursionError:
            return ToolResult("Error: expression too deeply nested", True)
        except Exception as exc:  # noqa: BLE001 - a tool error is data, never an escape
            return ToolResult(f"Error: {exc}", True)

    def tool_schemas(self) -> list[dict]:
        """OpenAI function-tool JSON for this tool set, in stable order."""
        from .tool_schemas import schemas_for

        return schemas_for(self._names)
