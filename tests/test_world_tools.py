"""Every retail tool rule and error text of SPEC §3, on a small hand-made DB (plus the real
tau2 DB and recorded tool outputs when ../shared exists)."""

from __future__ import annotations

import json

import pytest

from world.db import RetailDB
from world.errors import WorldError
from world.tools import TOOL_KINDS, RetailEnv, tool_names


def _addr(city="Austin", zip_="11111"):
    return {"address1": "1 Main St", "address2": "Apt 2", "city": city, "country": "USA",
            "state": "TX", "zip": zip_}


def _order(oid, uid, status, items, payments, **extra):
    return {"order_id": oid, "user_id": uid, "address": _addr(), "items": items,
            "status": status, "fulfillments": [], "payment_history": payments, **extra}


def _item(pid, iid, price, name="Water Bottle", **opts):
    return {"name": name, "product_id": pid, "item_id": iid, "price": price,
            "options": opts or {"size": "s"}}


def _pay(pm, amount, kind="payment"):
    return {"transaction_type": kind, "amount": amount, "payment_method_id": pm}


def make_data() -> dict:
    products = {
        "P1": {"name": "Water Bottle", "product_id": "P1", "variants": {
            "V1": {"item_id": "V1", "options": {"size": "s"}, "available": True, "price": 10.1},
            "V2": {"item_id": "V2", "options": {"size": "m"}, "available": True, "price": 12.2},
            "V3": {"item_id": "V3", "options": {"size": "l"}, "available": False, "price": 15.0},
            "V4": {"item_id": "V4", "options": {"size": "xl"}, "available": True, "price": 20.3},
        }},
        "P2": {"name": "Desk Lamp", "product_id": "P2", "variants": {
            "L1": {"item_id": "L1", "options": {"bulb": "led"}, "available": True, "price": 30.0},
            "L2": {"item_id": "L2", "options": {"bulb": "cfl"}, "available": True, "price": 25.5},
        }},
        "P0": {"name": "Action Camera", "product_id": "P0", "variants": {}},
    }
    users = {
        "ann_lee_1": {"user_id": "ann_lee_1", "name": {"first_name": "Ann", "last_name": "Lee"},
                      "address": _addr(), "email": "Ann.Lee@example.com",
                      "payment_methods": {
                          "gift_card_1": {"source": "gift_card", "id": "gift_card_1", "balance": 50.0},
                          "gift_card_2": {"source": "gift_card", "id": "gift_card_2", "balance": 1},
                          "credit_card_1": {"source": "credit_card", "id": "credit_card_1",
                                            "brand": "visa", "last_four": "1234"},
                          "paypal_1": {"source": "paypal", "id": "paypal_1"}},
                      "orders": ["#W1", "#W2"]},
        "ann_lee_2": {"user_id": "ann_lee_2", "name": {"first_name": "Ann", "last_name": "Lee"},
                      "address": _addr(), "email": "ann2@example.com",
                      "payment_methods": {"paypal_2": {"source": "paypal", "id": "paypal_2"}},
                      "orders": []},
        "bob_ray_3": {"user_id": "bob_ray_3", "name": {"first_name": "Bob", "last_name": "Ray"},
                      "address": _addr("Boston", "22222"), "email": "bob@example.com",
                      "payment_methods": {"paypal_3": {"source": "paypal", "id": "paypal_3"}},
                      "orders": []},
    }
    u = "ann_lee_1"
    orders = {
        "#W1": _order("#W1", u, "pending", [_item("P1", "V1", 10.1), _item("P2", "L1", 30.0, "Desk Lamp")],
                      [_pay("credit_card_1", 40.1)]),
        "#W2": _order("#W2", u, "delivered",
                      [_item("P1", "V1", 10.1), _item("P1", "V1", 10.1), _item("P2", "L1", 30.0, "Desk Lamp")],
                      [_pay("paypal_1", 50.2)]),
        "#W3": _order("#W3", u, "processed", [_item("P1", "V1", 10.1)], [_pay("credit_card_1", 10.1)]),
        "#W4": _order("#W4", u, "pending", [_item("P1", "V1", 10.1)], [_pay("gift_card_1", 10.1)]),
        "#W5": _order("#W5", u, "pending (item modified)", [_item("P1", "V2", 12.2)],
                      [_pay("credit_card_1", 10.1), _pay("credit_card_1", 2.1)]),
        "#W6": _order("#W6", u, "pending", [_item("P1", "V1", 10.1), _item("P1", "V2", 12.2)],
                      [_pay("gift_card_1", 5.0), _pay("credit_card_1", 17.3)]),
        "#W7": _order("#W7", u, "delivered", [_item("P1", "V1", 10.1)], [_pay("credit_card_1", 10.1)]),
    }
    return {"products": products, "users": users, "orders": orders}


@pytest.fixture
def db() -> RetailDB:
    return RetailDB.from_dict(make_data(), "test-db")


@pytest.fixture
def env(db) -> RetailEnv:
    return RetailEnv(db)


def ok(env, name, **args):
    res = env.call(name, args)
    assert not res.error, res.content
    return res.content


def err(env, name, **args):
    before = env.db.canonical_hash()
    res = env.call(name, args)
    assert res.error, res.content
    assert env.db.canonical_hash() == before, "a failed tool call changed the DB"
    return res.content


# -- call plumbing ---------------------------------------------------------------------------

def test_tool_kinds_and_versions():
    assert len(TOOL_KINDS) == 16
    assert tool_names("v0") == [n for n in TOOL_KINDS if n != "get_item_details"]
    assert sum(k == "write" for k in TOOL_KINDS.values()) == 7
    assert TOOL_KINDS["calculate"] == TOOL_KINDS["transfer_to_human_agents"] == "generic"


def test_unknown_tool_and_bad_arguments_never_raise(env):
    assert err(env, "teleport") == "Error: Tool 'teleport' not found."
    assert env.call("get_user_details", {}).content == (
        "Error: RetailTools.get_user_details() missing 1 required positional argument: 'user_id'")
    assert env.call("get_user_details", {"user_id": "x", "foo": 1}).content == (
        "Error: RetailTools.get_user_details() got an unexpected keyword argument 'foo'")
    res = env.call("modify_user_address", {"user_id": "ann_lee_1"})
    assert res.error and "missing 6 required positional arguments: 'address1', 'address2'" in res.content
    assert env.call("get_user_details", ["ann_lee_1"]).error
    assert env.call("get_user_details", "not json").error
    assert env.call("get_user_details", '{"user_id": "bob_ray_3"}').content.startswith('{"user_id": "bob_ray_3"')
    assert env.call(None, {}).content == "Error: Tool 'None' not found."
    # Wrong argument types give Python's own error text, as in tau2.
    assert env.call("calculate", {"expression": 5}).content == "Error: 'int' object is not iterable"


def test_v0_lacks_get_item_details(db):
    v0 = RetailEnv(db, "v0")
    assert v0.call("get_item_details", {"item_id": "V1"}).content == \
        "Error: Tool 'get_item_details' not found."
    assert [s["function"]["name"] for s in v0.tool_schemas()] == tool_names("v0")


def test_tool_schemas_are_openai_function_tools(env):
    schemas = env.tool_schemas()
    assert [s["function"]["name"] for s in schemas] == list(TOOL_KINDS)
    by_name = {s["function"]["name"]: s["function"] for s in schemas}
    items = by_name["modify_pending_order_items"]["parameters"]
    assert items["required"] == ["order_id", "item_ids", "new_item_ids", "payment_method_id"]
    assert items["properties"]["item_ids"] == {"type": "array", "description": items["properties"]["item_ids"]["description"],
                                               "items": {"type": "string"}}
    assert by_name["list_all_product_types"]["parameters"]["required"] == []
    assert all(s["type"] == "function" and s["function"]["description"] for s in schemas)
    json.dumps(schemas)


# -- reads -------------------------------------------------------------------------------------

def test_find_user_by_email_is_case_insensitive(env):
    assert ok(env, "find_user_id_by_email", email="ann.lee@EXAMPLE.com") == "ann_lee_1"
    assert err(env, "find_user_id_by_email", email="nobody@example.com") == "Error: User not found"


def test_find_user_by_name_zip_first_match_exact_zip(env):
    assert ok(env, "find_user_id_by_name_zip", first_name="ANN", last_name="lee", zip="11111") == "ann_lee_1"
    assert err(env, "find_user_id_by_name_zip", first_name="Ann", last_name="Lee", zip="11112") == \
        "Error: User not found"


def test_get_details_and_not_found_errors(env):
    user = json.loads(ok(env, "get_user_details", user_id="ann_lee_1"))
    assert list(user) == ["user_id", "name", "address", "email", "payment_methods", "orders"]
    assert list(user["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    assert user["payment_methods"]["gift_card_2"] == {"source": "gift_card", "id": "gift_card_2", "balance": 1.0}
    order_text = ok(env, "get_order_details", order_id="#W1")
    order = json.loads(order_text)
    # Optional order fields appear as null, in model order, with json.dumps default separators.
    assert list(order)[-7:] == ["cancel_reason", "exchange_items", "exchange_new_items",
                                "exchange_payment_method_id", "exchange_price_difference",
                                "return_items", "return_payment_method_id"]
    assert order_text.endswith('"return_items": null, "return_payment_method_id": null}')
    assert err(env, "get_order_details", order_id="W1") == "Error: Order not found"
    assert err(env, "get_user_details", user_id="nobody") == "Error: User not found"
    assert json.loads(ok(env, "get_product_details", product_id="P2"))["variants"]["L2"]["price"] == 25.5
    assert err(env, "get_product_details", product_id="V1") == "Error: Product not found"
    assert ok(env, "get_item_details", item_id="L2") == \
        '{"item_id": "L2", "options": {"bulb": "cfl"}, "available": true, "price": 25.5}'
    assert err(env, "get_item_details", item_id="P1") == "Error: Item not found"


def test_list_all_product_types_sorted_json(env):
    assert ok(env, "list_all_product_types") == \
        '{"Action Camera": "P0", "Desk Lamp": "P2", "Water Bottle": "P1"}'


def test_calculate_and_transfer(env):
    assert ok(env, "calculate", expression="2 * (3 + 1.945)") == "9.89"
    assert ok(env, "calculate", expression="120 / 2") == "60.0"
    assert ok(env, "calculate", expression=" -3 + 1") == "-2.0"
    assert err(env, "calculate", expression="2 ** x") == "Error: Invalid characters in expression"
    assert err(env, "calculate", expression="__import__('os')") == "Error: Invalid characters in expression"
    assert err(env, "calculate", expression="1 / 0") == "Error: division by zero"
    assert err(env, "calculate", expression="1 +") == "Error: invalid syntax (<string>, line 1)"
    assert err(env, "calculate", expression="9**9**9**9").startswith("Error: Invalid expression")
    assert ok(env, "transfer_to_human_agents", summary="wants a human") == "Transfer successful"


# -- cancel ------------------------------------------------------------------------------------

def test_cancel_errors(env):
    assert err(env, "cancel_pending_order", order_id="#W3", reason="no longer needed") == \
        "Error: Non-pending order cannot be cancelled"
    assert err(env, "cancel_pending_order", order_id="#W5", reason="no longer needed") == \
        "Error: Non-pending order cannot be cancelled"
    assert err(env, "cancel_pending_order", order_id="#W1", reason="changed my mind") == \
        "Error: Invalid reason"
    assert err(env, "cancel_pending_order", order_id="#W0", reason="no longer needed") == \
        "Error: Order not found"


def test_cancel_refunds_every_payment_gift_card_at_once(env):
    order = json.loads(ok(env, "cancel_pending_order", order_id="#W6", reason="ordered by mistake"))
    assert order["status"] == "cancelled" and order["cancel_reason"] == "ordered by mistake"
    assert order["payment_history"][2:] == [_pay("gift_card_1", 5.0, "refund"),
                                            _pay("credit_card_1", 17.3, "refund")]
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == 55.0


# -- modify address / payment ------------------------------------------------------------------

ADDR = dict(address1="9 Elm", address2="", city="Reno", state="NV", country="USA", zip="89501")


def test_modify_order_address_contains_pending(env):
    order = json.loads(ok(env, "modify_pending_order_address", order_id="#W5", **ADDR))
    assert order["address"] == {"address1": "9 Elm", "address2": "", "city": "Reno",
                                "country": "USA", "state": "NV", "zip": "89501"}
    assert list(order["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    assert err(env, "modify_pending_order_address", order_id="#W2", **ADDR) == \
        "Error: Non-pending order cannot be modified"


def test_modify_user_address(env):
    user = json.loads(ok(env, "modify_user_address", user_id="bob_ray_3", **ADDR))
    assert user["address"]["city"] == "Reno"
    assert err(env, "modify_user_address", user_id="nobody", **ADDR) == "Error: User not found"


def test_modify_payment_errors_in_tau2_order(env):
    assert err(env, "modify_pending_order_payment", order_id="#W3", payment_method_id="paypal_1") == \
        "Error: Non-pending order cannot be modified"
    assert err(env, "modify_pending_order_payment", order_id="#W1", payment_method_id="paypal_2") == \
        "Error: Payment method not found"
    assert err(env, "modify_pending_order_payment", order_id="#W5", payment_method_id="paypal_1") == \
        "Error: There should be exactly one payment for a pending order"
    assert err(env, "modify_pending_order_payment", order_id="#W1", payment_method_id="credit_card_1") == \
        "Error: The new payment method should be different from the current one"
    assert err(env, "modify_pending_order_payment", order_id="#W1", payment_method_id="gift_card_2") == \
        "Error: Insufficient gift card balance to pay for the order"


def test_modify_payment_moves_money(env):
    order = json.loads(ok(env, "modify_pending_order_payment", order_id="#W1",
                          payment_method_id="gift_card_1"))
    assert order["status"] == "pending"
    assert order["payment_history"] == [_pay("credit_card_1", 40.1), _pay("gift_card_1", 40.1),
                                        _pay("credit_card_1", 40.1, "refund")]
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == 9.9
    # Paying back from a gift card: the old gift card is credited.
    json.loads(ok(env, "modify_pending_order_payment", order_id="#W4", payment_method_id="paypal_1"))
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == 20.0


# -- modify items ------------------------------------------------------------------------------

def test_modify_items_errors(env):
    base = dict(order_id="#W1", payment_method_id="credit_card_1")
    assert err(env, "modify_pending_order_items", **{**base, "order_id": "#W5"}, item_ids=["V2"],
               new_item_ids=["V1"]) == "Error: Non-pending order cannot be modified"
    assert err(env, "modify_pending_order_items", **base, item_ids=["V1", "V1"],
               new_item_ids=["V2", "V2"]) == "Error: V1 not found"
    assert err(env, "modify_pending_order_items", **base, item_ids=["V1"],
               new_item_ids=["V2", "V4"]) == "Error: The number of items to be exchanged should match"
    assert err(env, "modify_pending_order_items", **base, item_ids=["V1"], new_item_ids=["V1"]) == \
        "Error: The new item id should be different from the old item id"
    assert err(env, "modify_pending_order_items", **base, item_ids=["V1"], new_item_ids=["L2"]) == \
        "Error: Variant not found"
    assert err(env, "modify_pending_order_items", **base, item_ids=["V1"], new_item_ids=["V3"]) == \
        "Error: New item V3 not found or available"
    assert err(env, "modify_pending_order_items", **{**base, "payment_method_id": "paypal_2"},
               item_ids=["V1"], new_item_ids=["V2"]) == "Error: Payment method not found"
    assert err(env, "modify_pending_order_items", **{**base, "payment_method_id": "gift_card_2"},
               item_ids=["V1"], new_item_ids=["V4"]) == \
        "Error: Insufficient gift card balance to pay for the new item"


def test_modify_items_unrounded_diff_and_last_variant_bug(env):
    order = json.loads(ok(env, "modify_pending_order_items", order_id="#W6",
                          item_ids=["V1", "V2"], new_item_ids=["V2", "V4"],
                          payment_method_id="gift_card_1"))
    diff = (12.2 - 10.1) + (20.3 - 12.2)
    assert diff != round(diff, 2)  # the float really is unrounded
    assert order["payment_history"][-1] == _pay("gift_card_1", abs(diff))
    assert order["status"] == "pending (item modified)"
    # First line V1 -> V2; then the next line with id V2 ... which is the line just modified.
    assert [i["item_id"] for i in order["items"]] == ["V4", "V2"]
    # The bug: price/options of the LAST variant (V4) are written to every modified line.
    assert order["items"][0]["price"] == 20.3 and order["items"][0]["options"] == {"size": "xl"}
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == round(50.0 - diff, 2)
    assert err(env, "modify_pending_order_items", order_id="#W6", item_ids=["V4"],
               new_item_ids=["V1"], payment_method_id="gift_card_1") == \
        "Error: Non-pending order cannot be modified"


def test_modify_items_cheaper_is_a_refund_and_zero_diff_records_zero(env):
    order = json.loads(ok(env, "modify_pending_order_items", order_id="#W1", item_ids=["L1"],
                          new_item_ids=["L2"], payment_method_id="credit_card_1"))
    assert order["payment_history"][-1] == _pay("credit_card_1", 4.5, "refund")
    order = json.loads(ok(env, "modify_pending_order_items", order_id="#W4", item_ids=[],
                          new_item_ids=[], payment_method_id="credit_card_1"))
    assert order["payment_history"][-1] == _pay("credit_card_1", 0.0, "refund")


# -- exchange / return -------------------------------------------------------------------------

def test_exchange_errors(env):
    base = dict(order_id="#W2", payment_method_id="paypal_1")
    assert err(env, "exchange_delivered_order_items", **{**base, "order_id": "#W1"},
               item_ids=["V1"], new_item_ids=["V2"]) == "Error: Non-delivered order cannot be exchanged"
    assert err(env, "exchange_delivered_order_items", **base, item_ids=["L1", "L1"],
               new_item_ids=["L2", "L2"]) == "Error: Number of L1 not found."
    assert err(env, "exchange_delivered_order_items", **base, item_ids=["V1"], new_item_ids=[]) == \
        "Error: The number of items to be exchanged should match."
    assert err(env, "exchange_delivered_order_items", **base, item_ids=["V1"], new_item_ids=["L1"]) == \
        "Error: Variant not found"
    assert err(env, "exchange_delivered_order_items", **base, item_ids=["V1"], new_item_ids=["V3"]) == \
        "Error: New item V3 not found or available"
    assert err(env, "exchange_delivered_order_items", **{**base, "payment_method_id": "gift_card_2"},
               item_ids=["V1"], new_item_ids=["V4"]) == \
        "Error: Insufficient gift card balance to pay for the price difference"


def test_exchange_records_request_only(env):
    order = json.loads(ok(env, "exchange_delivered_order_items", order_id="#W2",
                          item_ids=["V1", "L1", "V1"], new_item_ids=["V4", "L2", "V1"],
                          payment_method_id="gift_card_1"))
    assert order["status"] == "exchange requested"
    assert order["exchange_items"] == ["L1", "V1", "V1"]
    assert order["exchange_new_items"] == ["L2", "V1", "V4"]
    assert order["exchange_payment_method_id"] == "gift_card_1"
    assert order["exchange_price_difference"] == round((20.3 - 10.1) + (25.5 - 30.0), 2)
    assert order["payment_history"] == [_pay("paypal_1", 50.2)]  # no payment record
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == 50.0
    assert err(env, "exchange_delivered_order_items", order_id="#W2", item_ids=["V1"],
               new_item_ids=["V2"], payment_method_id="paypal_1") == \
        "Error: Non-delivered order cannot be exchanged"


def test_return_rules(env):
    assert err(env, "return_delivered_order_items", order_id="#W1", item_ids=["V1"],
               payment_method_id="credit_card_1") == "Error: Non-delivered order cannot be returned"
    assert err(env, "return_delivered_order_items", order_id="#W2", item_ids=["V1"],
               payment_method_id="credit_card_1") == \
        "Error: Payment method should be the original payment method"
    assert err(env, "return_delivered_order_items", order_id="#W2", item_ids=["V1"],
               payment_method_id="paypal_2") == "Error: Payment method not found"
    assert err(env, "return_delivered_order_items", order_id="#W2", item_ids=["L1", "L1"],
               payment_method_id="paypal_1") == "Error: Some item not found"
    order = json.loads(ok(env, "return_delivered_order_items", order_id="#W2",
                          item_ids=["V1", "L1", "V1"], payment_method_id="gift_card_1"))
    assert order["status"] == "return requested"
    assert order["return_items"] == ["L1", "V1", "V1"]
    assert order["return_payment_method_id"] == "gift_card_1"
    assert order["payment_history"] == [_pay("paypal_1", 50.2)]  # no refund record
    order = json.loads(ok(env, "return_delivered_order_items", order_id="#W7", item_ids=["V1"],
                          payment_method_id="credit_card_1"))
    assert order["return_payment_method_id"] == "credit_card_1"


# -- the DB: forks, equality, loading ---------------------------------------------------------

def test_env_writes_never_touch_the_base_db(db):
    before = db.canonical_hash()
    env = RetailEnv(db)
    ok(env, "cancel_pending_order", order_id="#W4", reason="no longer needed")
    assert db.canonical_hash() == before
    assert db.orders["#W4"]["status"] == "pending"
    assert env.db != db
    # Untouched records stay shared with the base: copy-on-write, not a deep copy.
    assert env.db.orders["#W1"] is db.orders["#W1"]
    assert env.db.orders["#W4"] is not db.orders["#W4"]
    assert env.db.diff_keys(db) == ["users/ann_lee_1", "orders/#W4"]


def test_equality_is_path_independent_and_matches_hash(db):
    a, b = RetailEnv(db), RetailEnv(db)
    ok(a, "modify_user_address", user_id="bob_ray_3", **ADDR)
    ok(a, "modify_user_address", user_id="bob_ray_3", **{**ADDR, "city": "Elko"})
    ok(b, "modify_user_address", user_id="bob_ray_3", **{**ADDR, "city": "Elko"})
    assert a.db == b.db and a.db.canonical_hash() == b.db.canonical_hash()
    ok(b, "modify_user_address", user_id="bob_ray_3", **ADDR)
    assert a.db != b.db and a.db.canonical_hash() != b.db.canonical_hash()


def test_optional_fields_absent_equal_null_and_ints_are_floats():
    data = make_data()
    data2 = make_data()
    for o in data2["orders"].values():
        o["cancel_reason"] = None
    data2["users"]["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] = 50
    assert RetailDB.from_dict(data) == RetailDB.from_dict(data2)
    assert RetailDB.from_dict(data).canonical_hash() == RetailDB.from_dict(data2).canonical_hash()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["orders"]["#W1"].pop("status"), "orders['#W1']: missing field 'status'"),
    (lambda d: d["orders"]["#W1"].update(status="lost"), "orders['#W1'].status: unknown status 'lost'"),
    (lambda d: d["users"]["bob_ray_3"]["payment_methods"]["paypal_3"].update(source="cash"),
     "users['bob_ray_3'].payment_methods['paypal_3'].source: unknown payment source 'cash'"),
    (lambda d: d["products"]["P1"]["variants"]["V1"].update(price="cheap"),
     "products['P1'].variants['V1'].price: expected a number"),
    (lambda d: d.pop("users"), "missing or malformed top-level 'users'"),
])
def test_bad_db_is_refused_naming_the_record(mutate, message):
    data = make_data()
    mutate(data)
    with pytest.raises(WorldError) as exc:
        RetailDB.from_dict(data, "my-db.json")
    assert str(exc.value).startswith("my-db.json: ")
    assert message in str(exc.value)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(WorldError, match="db.json: cannot read"):
        RetailDB.load(tmp_path / "db.json")
    bad = tmp_path / "trunc.json"
    bad.write_text('{"products": {')
    with pytest.raises(WorldError, match="trunc.json: not valid JSON"):
        RetailDB.load(bad)


# -- the real tau2 DB -------------------------------------------------------------------------

def test_real_db_loads_once_and_forks_cheaply(tau2_dir):
    a = RetailDB.load(tau2_dir / "retail" / "db.json")
    b = RetailDB.load(tau2_dir / "retail" / "db.json")
    assert len(a.orders) == 1000 and len(a.users) == 500 and len(a.products) == 50
    assert a == b and a is not b
    assert all(a.orders[k] is b.orders[k] for k in list(a.orders)[:50])  # shared base records


def test_real_recorded_tool_outputs_are_reproduced_exactly(tau2_dir, shared_results):
    """Every tool call in both shared files, replayed in order, gives the recorded text."""
    base = RetailDB.load(tau2_dir / "retail" / "db.json")
    n = 0
    for path in shared_results:
        for sim in json.loads(path.read_text())["simulations"]:
            env = RetailEnv(base)
            calls = {}
            for msg in sim["messages"]:
                for call in msg.get("tool_calls") or []:
                    calls[call["id"]] = call
                if msg["role"] == "tool":
                    call = calls[msg["id"]]
                    res = env.call(call["name"], call["arguments"])
                    assert (res.content, res.error) == (msg["content"], msg["error"]), call
                    n += 1
    assert n > 500


def test_fast_fork_equality_agrees_with_full_comparison():
    """Forks of one root compare only copied records; forks of different roots compare all."""
    one, two = RetailDB.from_dict(make_data()), RetailDB.from_dict(make_data())
    envs = [RetailEnv(one), RetailEnv(one), RetailEnv(two)]
    for env in envs:
        ok(env, "cancel_pending_order", order_id="#W4", reason="no longer needed")
    assert envs[0].db == envs[1].db == envs[2].db
    ok(envs[1], "modify_pending_order_address", order_id="#W1", **ADDR)
    assert envs[0].db != envs[1].db and envs[1].db != envs[2].db
    ok(envs[0], "modify_pending_order_address", order_id="#W1", **ADDR)
    ok(envs[2], "modify_pending_order_address", order_id="#W1", **ADDR)
    assert envs[0].db == envs[1].db == envs[2].db
    # A fork of a fork still knows which records left the root.
    child = envs[1].db.fork()
    assert child == envs[1].db and child != one
