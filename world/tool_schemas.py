"""OpenAI function-tool JSON for the retail tools (descriptions in our own words), and the
schema builder every domain uses.

Kept apart from world/tools.py so the tool semantics stay short to read. The parameter names and
types are the contract with tau2 trajectories; the wording is ours.
"""

from __future__ import annotations

_ORDER_ID = ("string", "The order id, such as '#W0000000'. Note the '#' at the start.")
_USER_ID = ("string", "The user id, such as 'sara_doe_496'.")
_PM_ID = ("string", "A payment method id of the user, such as 'gift_card_0000000' or "
                    "'credit_card_0000000' (see the user or order details).")
_ITEM_IDS = ("array", "Item ids, each such as '1008292230'. The same id may appear more than once.")
_ADDRESS = [
    ("address1", ("string", "First address line, such as '123 Main St'.")),
    ("address2", ("string", "Second address line, such as 'Apt 1' or ''.")),
    ("city", ("string", "City, such as 'San Francisco'.")),
    ("state", ("string", "State, such as 'CA'.")),
    ("country", ("string", "Country, such as 'USA'.")),
    ("zip", ("string", "Zip code, such as '12345'.")),
]

_CONFIRM = (" Before calling, explain the change to the user and obtain an explicit 'yes'.")

_SPECS: dict[str, tuple[str, list]] = {
    "calculate": (
        "Evaluate an arithmetic expression (numbers, + - * /, parentheses, spaces); the result "
        "is rounded to 2 decimals.",
        [("expression", ("string", "The expression, such as '2 + 2'."))]),
    "cancel_pending_order": (
        "Cancel a pending order (processed or delivered orders cannot be cancelled). Every "
        "payment is refunded: at once to a gift card, otherwise in 5-7 business days. Returns "
        "the order after cancellation." + _CONFIRM,
        [("order_id", _ORDER_ID),
         ("reason", ("string", "Either 'no longer needed' or 'ordered by mistake'."))]),
    "exchange_delivered_order_items": (
        "Exchange items of a delivered order for other variants of the same products. A "
        "delivered order allows a single return or exchange. Returns the order." + _CONFIRM,
        [("order_id", _ORDER_ID), ("item_ids", _ITEM_IDS),
         ("new_item_ids", ("array", "The new item ids, position by position matching item_ids, "
                                    "each a variant of the same product.")),
         ("payment_method_id", ("string", "Payment method to pay or receive the price "
                                          "difference. " + _PM_ID[1]))]),
    "find_user_id_by_name_zip": (
        "Find a user id from first name, last name and zip code. Use only when the user cannot "
        "be found by email.",
        [("first_name", ("string", "First name, such as 'John'.")),
         ("last_name", ("string", "Last name, such as 'Doe'.")),
         ("zip", ("string", "Zip code, such as '12345'."))]),
    "find_user_id_by_email": (
        "Find a user id from the user's email address.",
        [("email", ("string", "The email, such as 'something@example.com'."))]),
    "get_order_details": (
        "Get the status, items, fulfillments and payments of an order.",
        [("order_id", _ORDER_ID)]),
    "get_product_details": (
        "Get a product and all its variants (item ids, options, availability, price). A "
        "product id is not an item id.",
        [("product_id", ("string", "The product id, such as '6086499569'."))]),
    "get_item_details": (
        "Get one item (variant): its options, availability and price. An item id is not a "
        "product id.",
        [("item_id", ("string", "The item id, such as '6086499569'."))]),
    "get_user_details": (
        "Get a user's name, address, email, payment methods and order ids.",
        [("user_id", _USER_ID)]),
    "list_all_product_types": (
        "List every product type as a JSON object from product name to product id, sorted by "
        "name. There are about 50 product types.",
        []),
    "modify_pending_order_address": (
        "Change the shipping address of a pending order. Returns the order." + _CONFIRM,
        [("order_id", _ORDER_ID)] + _ADDRESS),
    "modify_pending_order_items": (
        "Change items of a pending order to other variants of the same products. Possible only "
        "once per order. Returns the order." + _CONFIRM,
        [("order_id", _ORDER_ID), ("item_ids", _ITEM_IDS),
         ("new_item_ids", ("array", "The new item ids, position by position matching item_ids, "
                                    "each a variant of the same product.")),
         ("payment_method_id", ("string", "Payment method to pay or receive the price "
                                          "difference. " + _PM_ID[1]))]),
    "modify_pending_order_payment": (
        "Change the payment method of a pending order. Returns the order." + _CONFIRM,
        [("order_id", _ORDER_ID), ("payment_method_id", _PM_ID)]),
    "modify_user_address": (
        "Change the default address of a user. Returns the user." + _CONFIRM,
        [("user_id", _USER_ID)] + _ADDRESS),
    "return_delivered_order_items": (
        "Request the return of items of a delivered order; the status becomes 'return "
        "requested' and the user gets return instructions by email. The refund goes to the "
        "original payment method or to a gift card. Returns the order." + _CONFIRM,
        [("order_id", _ORDER_ID), ("item_ids", _ITEM_IDS),
         ("payment_method_id", ("string", "Payment method for the refund: the original one or "
                                          "a gift card. " + _PM_ID[1]))]),
    "transfer_to_human_agents": (
        "Transfer the user to a human agent with a summary of the issue. Only when the user "
        "explicitly asks for a human, or the issue cannot be solved with the policy and tools.",
        [("summary", ("string", "A summary of the user's issue."))]),
}


def schemas_for(names: list[str], specs: dict | None = None) -> list[dict]:
    """The OpenAI function-tool objects for `names`, in that order (from `specs`, default the
    retail table). A parameter is (type, description) or (type, description, items schema)."""
    specs = _SPECS if specs is None else specs
    out = []
    for name in names:
        description, params = specs[name]
        props = {}
        for pname, (ptype, pdesc, *items) in params:
            prop: dict = {"type": ptype, "description": pdesc}
            if ptype == "array":
                prop["items"] = items[0] if items else {"type": "string"}
            props[pname] = prop
        out.append({"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": props,
                           "required": [p for p, _ in params]},
        }})
    return out
