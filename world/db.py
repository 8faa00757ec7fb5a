"""The retail records (tau2 `db.json` shape: `{products, users, orders}`) with cheap forks.

The copy-on-write mechanism is world/cow.py's, shared with airline: a fork shares every record
with its parent and copies a record only when a write tool first touches it (`user_for_write`,
`order_for_write`).

On load every record is rebuilt in tau2's model field order, with the optional order fields present
as null and money as floats. That makes (a) tool results serialise exactly as tau2's pydantic dumps
and (b) plain dict equality equivalent to tau2's DB hash (SHA-256 of the sorted-key JSON dump).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .cow import CowDB, load_json_cached
from .errors import WorldError

ORDER_STATUSES = (
    "processed", "pending", "pending (item modified)", "delivered", "cancelled",
    "exchange requested", "return requested",
)
CANCEL_REASONS = ("no longer needed", "ordered by mistake")
ORDER_OPTIONAL = (
    "cancel_reason", "exchange_items", "exchange_new_items", "exchange_payment_method_id",
    "exchange_price_difference", "return_items", "return_payment_method_id",
)
_ADDRESS_FIELDS = ("address1", "address2", "city", "country", "state", "zip")
_PM_FIELDS = {
    "credit_card": (("brand", str), ("last_four", str)),
    "paypal": (),
    "gift_card": (("balance", float),),
}


class _Bad(Exception):
    """Internal: a shape error with a path inside the record; turned into WorldError."""


def _req(rec: Any, key: str, typ: type, where: str) -> Any:
    if not isinstance(rec, dict):
        raise _Bad(f"{where}: expected an object, got {type(rec).__name__}")
    if key not in rec:
        raise _Bad(f"{where}: missing field '{key}'")
    return _typed(rec[key], typ, f"{where}.{key}")


def _typed(val: Any, typ: type, where: str) -> Any:
    if typ is float:
        # pydantic coerces ints to float; bools are not money.
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise _Bad(f"{where}: expected a number, got {json.dumps(val)[:40]}")
        return float(val)
    if typ is str and not isinstance(val, str):
        raise _Bad(f"{where}: expected a string, got {json.dumps(val)[:40]}")
    if typ is bool and not isinstance(val, bool):
        raise _Bad(f"{where}: expected true/false, got {json.dumps(val)[:40]}")
    if typ is list and not isinstance(val, list):
        raise _Bad(f"{where}: expected a list, got {type(val).__name__}")
    if typ is dict and not isinstance(val, dict):
        raise _Bad(f"{where}: expected an object, got {type(val).__name__}")
    return val


def _str_list(val: Any, where: str) -> list[str]:
    _typed(val, list, where)
    for i, x in enumerate(val):
        _typed(x, str, f"{where}[{i}]")
    return list(val)


def _str_dict(val: Any, where: str) -> dict[str, str]:
    _typed(val, dict, where)
    for k, x in val.items():
        _typed(x, str, f"{where}.{k}")
    return dict(val)


def _address(val: Any, where: str) -> dict:
    return {f: _req(val, f, str, where) for f in _ADDRESS_FIELDS}


def _product(pid: str, rec: Any) -> dict:
    where = f"products[{pid!r}]"
    variants = _req(rec, "variants", dict, where)
    out_v = {}
    for vid, v in variants.items():
        vw = f"{where}.variants[{vid!r}]"
        out_v[vid] = {
            "item_id": _req(v, "item_id", str, vw),
            "options": _str_dict(_req(v, "options", dict, vw), f"{vw}.options"),
            "available": _req(v, "available", bool, vw),
            "price": _req(v, "price", float, vw),
        }
    return {"name": _req(rec, "name", str, where), "product_id": _req(rec, "product_id", str, where),
            "variants": out_v}


def _payment_method(rec: Any, where: str) -> dict:
    source = _req(rec, "source", str, where)
    if source not in _PM_FIELDS:
        raise _Bad(f"{where}.source: unknown payment source {source!r} "
                   f"(expected one of {', '.join(_PM_FIELDS)})")
    out = {"source": source, "id": _req(rec, "id", str, where)}
    for f, typ in _PM_FIELDS[source]:
        out[f] = _req(rec, f, typ, where)
    return out


def _user(uid: str, rec: Any) -> dict:
    where = f"users[{uid!r}]"
    name = _req(rec, "name", dict, where)
    pms = _req(rec, "payment_methods", dict, where)
    return {
        "user_id": _req(rec, "user_id", str, where),
        "name": {"first_name": _req(name, "first_name", str, f"{where}.name"),
                 "last_name": _req(name, "last_name", str, f"{where}.name")},
        "address": _address(_req(rec, "address", dict, where), f"{where}.address"),
        "email": _req(rec, "email", str, where),
        "payment_methods": {k: _payment_method(v, f"{where}.payment_methods[{k!r}]")
                            for k, v in pms.items()},
        "orders": _str_list(_req(rec, "orders", list, where), f"{where}.orders"),
    }


def _order(oid: str, rec: Any) -> dict:
    where = f"orders[{oid!r}]"
    items = []
    for i, it in enumerate(_req(rec, "items", list, where)):
        iw = f"{where}.items[{i}]"
        items.append({
            "name": _req(it, "name", str, iw), "product_id": _req(it, "product_id", str, iw),
            "item_id": _req(it, "item_id", str, iw), "price": _req(it, "price", float, iw),
            "options": _str_dict(_req(it, "options", dict, iw), f"{iw}.options"),
        })
    fulfillments = []
    for i, f in enumerate(_req(rec, "fulfillments", list, where)):
        fw = f"{where}.fulfillments[{i}]"
        fulfillments.append({
            "tracking_id": _str_list(_req(f, "tracking_id", list, fw), f"{fw}.tracking_id"),
            "item_ids": _str_list(_req(f, "item_ids", list, fw), f"{fw}.item_ids"),
        })
    payments = []
    for i, p in enumerate(_req(rec, "payment_history", list, where)):
        pw = f"{where}.payment_history[{i}]"
        ttype = _req(p, "transaction_type", str, pw)
        if ttype not in ("payment", "refund"):
            raise _Bad(f"{pw}.transaction_type: {ttype!r} is not 'payment' or 'refund'")
        payments.append({"transaction_type": ttype, "amount": _req(p, "amount", float, pw),
                         "payment_method_id": _req(p, "payment_method_id", str, pw)})
    status = _req(rec, "status", str, where)
    if status not in ORDER_STATUSES:
        raise _Bad(f"{where}.status: unknown status {status!r}")
    out = {
        "order_id": _req(rec, "order_id", str, where), "user_id": _req(rec, "user_id", str, where),
        "address": _address(_req(rec, "address", dict, where), f"{where}.address"),
        "items": items, "status": status, "fulfillments": fulfillments, "payment_history": payments,
    }
    for f in ORDER_OPTIONAL:
        val = rec.get(f)
        if val is not None:
            if f in ("exchange_items", "exchange_new_items", "return_items"):
                val = _str_list(val, f"{where}.{f}")
            elif f == "exchange_price_difference":
                val = _typed(val, float, f"{where}.{f}")
            else:
                val = _typed(val, str, f"{where}.{f}")
        out[f] = val
    return out


class RetailDB(CowDB):
    """Retail records with copy-on-write forks and tau2-equivalent equality (world/cow.py).

    Read records through `.products`, `.users`, `.orders` (dicts keyed by id); never mutate what
    they return. Writers call `user_for_write(uid)` / `order_for_write(oid)`, which give this fork
    its own copy of the record first.
    """

    TABLES = ("products", "users", "orders")

    def __init__(self, products: dict, users: dict, orders: dict):
        super().__init__(products=products, users=users, orders=orders)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = "<db>") -> "RetailDB":
        """Validate and normalise a db.json-shaped dict (the input is not modified).

        Raises WorldError naming `source`, the record and what was wrong."""
        if not isinstance(data, dict):
            raise WorldError(f"{source}: expected a JSON object with products, users, orders; "
                             f"got {type(data).__name__}")
        for key in ("products", "users", "orders"):
            if not isinstance(data.get(key), dict):
                raise WorldError(f"{source}: missing or malformed top-level '{key}' "
                                 "(expected an object keyed by id)")
        try:
            products = {k: _product(k, v) for k, v in data["products"].items()}
            users = {k: _user(k, v) for k, v in data["users"].items()}
            orders = {k: _order(k, v) for k, v in data["orders"].items()}
        except _Bad as exc:
            raise WorldError(f"{source}: {exc}") from None
        return cls(products, users, orders)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RetailDB":
        """Load db.json once per process (cached by path, size and mtime); returns a fresh fork."""
        return load_json_cached(cls, path, "retail", _LOAD_CACHE)

    def user_for_write(self, user_id: str) -> dict:
        """This fork's own, mutable copy of a user record (KeyError when absent)."""
        return self.for_write("users", user_id)

    def order_for_write(self, order_id: str) -> dict:
        """This fork's own, mutable copy of an order record (KeyError when absent)."""
        return self.for_write("orders", order_id)


_LOAD_CACHE: dict[tuple, CowDB] = {}
