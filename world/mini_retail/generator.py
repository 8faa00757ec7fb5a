"""Seeded generator of the mini-retail records (products, users, orders, payment methods).

The records have the shape of tau2's retail `db.json` (SPEC §2.1) so the same tools run on
both worlds. Everything is drawn from one `random.Random(seed)` in a fixed order, so the same
seed always gives the same records byte for byte. Names, products and addresses are our own.

The background data is random; the task builder (`tasks.py`) then *plants* the orders each
scenario needs with `plant_order`, which keeps payment histories and statuses consistent.
"""

from __future__ import annotations

import random

# Product catalogue: name -> option dimensions. Option values are written so that each one is
# an unambiguous word or phrase within its dimension (the scripted agent matches them in text).
PRODUCTS: list[tuple[str, dict[str, list[str]]]] = [
    ("Trail Running Shoes", {"size": ["7", "8", "9", "10", "11"], "color": ["black", "red", "teal"]}),
    ("Insulated Water Bottle", {"capacity": ["500ml", "750ml", "1000ml"], "color": ["silver", "green", "navy"]}),
    ("Desk Lamp", {"brightness": ["low", "medium", "high"], "power": ["battery", "USB", "AC"]}),
    ("Wool Sweater", {"size": ["S", "M", "L", "XL"], "color": ["grey", "navy", "cream"]}),
    ("Wireless Earbuds", {"color": ["white", "black", "blue"], "battery life": ["6 hours", "8 hours", "12 hours"]}),
    ("Yoga Mat", {"thickness": ["4mm", "6mm", "8mm"], "color": ["purple", "blue", "black"]}),
    ("Hiking Backpack", {"capacity": ["20L", "30L", "40L"], "color": ["black", "olive", "orange"]}),
    ("Coffee Grinder", {"type": ["manual", "electric"], "capacity": ["small", "large"]}),
    ("Ceramic Mug Set", {"pieces": ["2", "4", "6"], "glaze": ["white", "speckled", "cobalt"]}),
    ("Mechanical Keyboard", {"switch": ["linear", "tactile", "clicky"], "layout": ["full size", "tenkeyless"]}),
    ("Cotton T-Shirt", {"size": ["S", "M", "L", "XL"], "color": ["white", "black", "olive", "red"]}),
    ("Rain Jacket", {"size": ["S", "M", "L", "XL"], "color": ["yellow", "navy", "green"]}),
    ("Camping Tent", {"capacity": ["2-person", "4-person", "6-person"], "season": ["3-season", "4-season"]}),
    ("Smart Watch", {"strap": ["silicone", "leather", "steel"], "case size": ["40mm", "44mm"]}),
    ("Bluetooth Speaker", {"color": ["black", "red", "sand"], "waterproof": ["yes", "no"]}),
    ("Paper Notebook", {"paper": ["lined", "dotted", "blank"], "format": ["A5", "A4"]}),
    ("Chef Knife", {"blade length": ["6 inch", "8 inch", "10 inch"], "material": ["steel", "ceramic"]}),
    ("Sunglasses", {"frame": ["black", "tortoise", "gold"], "lens": ["polarized", "standard"]}),
    ("Electric Kettle", {"capacity": ["1L", "1.7L"], "finish": ["steel", "matte black", "white"]}),
    ("Office Chair", {"color": ["black", "grey", "blue"], "armrests": ["fixed", "adjustable"]}),
]
BASE_PRICE = {
    "Trail Running Shoes": 119.0, "Insulated Water Bottle": 29.0, "Desk Lamp": 54.0,
    "Wool Sweater": 89.0, "Wireless Earbuds": 129.0, "Yoga Mat": 39.0, "Hiking Backpack": 99.0,
    "Coffee Grinder": 74.0, "Ceramic Mug Set": 34.0, "Mechanical Keyboard": 149.0,
    "Cotton T-Shirt": 19.0, "Rain Jacket": 109.0, "Camping Tent": 229.0, "Smart Watch": 249.0,
    "Bluetooth Speaker": 79.0, "Paper Notebook": 12.0, "Chef Knife": 64.0, "Sunglasses": 139.0,
    "Electric Kettle": 45.0, "Office Chair": 289.0,
}

FIRST = ["Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Lena", "Omar", "Iris", "Hugo", "Nora",
         "Felix", "Sofia", "Ravi", "Chloe", "Mateo", "Priya", "Jonas", "Elena", "Kai", "Amara",
         "Theo", "Yara", "Leo", "Hana", "Milo", "Rosa", "Ivan", "Aisha", "Oscar", "Greta", "Tomas",
         "Leila", "Victor", "Mina", "Arjun", "Clara", "Diego", "Ines", "Sami"]
LAST = ["Moreno", "Okafor", "Lindqvist", "Tanaka", "Novak", "Haddad", "Fischer", "Kowalski",
        "Delgado", "Nakamura", "Osei", "Brennan", "Vasquez", "Petrov", "Adeyemi", "Laurent",
        "Sato", "Mendes", "Castillo", "Ibrahim", "Holm", "Rossi", "Quinn", "Varga", "Duarte",
        "Keller", "Morales", "Singh", "Weber", "Costa"]
STREETS = ["Maple Avenue", "Harbor Street", "Cedar Lane", "Willow Road", "Granite Way",
           "Orchard Drive", "Lakeview Terrace", "Birch Court", "Juniper Place", "Summit Boulevard",
           "Elm Street", "Riverside Drive", "Aspen Circle", "Meadow Lane", "Quarry Road"]
CITIES = [("Portland", "OR"), ("Austin", "TX"), ("Denver", "CO"), ("Columbus", "OH"),
          ("Raleigh", "NC"), ("Madison", "WI"), ("Tucson", "AZ"), ("Boise", "ID"),
          ("Albany", "NY"), ("Savannah", "GA"), ("Fresno", "CA"), ("Omaha", "NE"),
          ("Burlington", "VT"), ("Spokane", "WA"), ("Tampa", "FL")]
BRANDS = ["visa", "mastercard", "amex", "discover"]

# Background status mix; planted orders choose their own status.
STATUS_WEIGHTS = [("pending", 32), ("processed", 13), ("delivered", 40), ("cancelled", 15)]
CANCEL_REASONS = ["no longer needed", "ordered by mistake"]


class Ids:
    """Unique random ids of fixed widths, drawn from the generator's rng."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def digits(self, n: int, prefix: str = "") -> str:
        while True:
            s = prefix + "".join(str(self.rng.randrange(10)) for _ in range(n))
            if prefix == "" and s[0] == "0":
                continue
            if s not in self.used:
                self.used.add(s)
                return s


def _products(rng: random.Random, ids: Ids) -> dict:
    products: dict = {}
    for name, dims in PRODUCTS:
        pid = ids.digits(10)
        keys = list(dims)
        combos: list[dict] = [{}]
        for k in keys:
            combos = [dict(c, **{k: v}) for c in combos for v in dims[k]]
        keep = [c for c in combos if rng.random() < 0.75]
        if len(keep) < 4:
            keep = combos[:max(4, len(keep))]
        variants = {}
        base = BASE_PRICE[name]
        for opts in keep:
            iid = ids.digits(10)
            variants[iid] = {
                "item_id": iid,
                "options": opts,
                "available": rng.random() < 0.8,
                "price": round(base * rng.uniform(0.85, 1.2), 2),
            }
        products[pid] = {"name": name, "product_id": pid, "variants": variants}
    return products


def random_address(rng: random.Random) -> dict:
    """A made-up US address in tau2's address shape."""
    city, state = rng.choice(CITIES)
    return {
        "address1": f"{rng.randrange(10, 9999)} {rng.choice(STREETS)}",
        "address2": rng.choice(["", "", f"Apt {rng.randrange(1, 40)}", f"Suite {rng.randrange(100, 900)}"]),
        "city": city,
        "country": "USA",
        "state": state,
        "zip": f"{rng.randrange(10000, 99999)}",
    }


def _user(rng: random.Random, ids: Ids, taken: set[str]) -> dict:
    while True:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        uid = f"{first.lower()}_{last.lower()}_{rng.randrange(1000, 9999)}"
        email = f"{first.lower()}.{last.lower()}{rng.randrange(10, 99)}@example.com"
        # ids and emails must be unique: the find_user_id_* tools return the first match
        if uid not in taken and email not in taken:
            break
    taken.update((uid, email))
    pms: dict = {}
    kinds = rng.sample(["credit_card", "paypal", "gift_card"], rng.choice([1, 2, 2, 3, 3]))
    for kind in kinds:
        pid = f"{kind}_{ids.digits(7)}"
        if kind == "credit_card":
            pms[pid] = {"source": kind, "id": pid, "brand": rng.choice(BRANDS),
                        "last_four": ids.digits(4, prefix="")[-4:]}
        elif kind == "gift_card":
            pms[pid] = {"source": kind, "id": pid, "balance": float(rng.randrange(20, 400))}
        else:
            pms[pid] = {"source": kind, "id": pid}
    return {
        "user_id": uid,
        "name": {"first_name": first, "last_name": last},
        "address": random_address(rng),
        "email": email,
        "payment_methods": pms,
        "orders": [],
    }


def pick_variant(rng: random.Random, product: dict, available: bool | None = None,
                 exclude: set[str] = frozenset()) -> dict | None:
    """A variant of `product` (optionally only available ones), or None."""
    vs = [v for v in product["variants"].values()
          if v["item_id"] not in exclude and (available is None or v["available"] == available)]
    return rng.choice(vs) if vs else None


def line_item(product: dict, variant: dict) -> dict:
    """An order line in tau2's shape."""
    return {"name": product["name"], "product_id": product["product_id"],
            "item_id": variant["item_id"], "price": variant["price"],
            "options": dict(variant["options"])}


def plant_order(db: dict, ids: Ids, rng: random.Random, user: dict, items: list[dict],
                status: str, *, address: dict | None = None, payment_method_id: str | None = None,
                shipped_item_ids: list[str] | None = None) -> dict:
    """Add a consistent order for `user`: payment history, fulfillments and refunds follow the status.

    `shipped_item_ids` lists the items that went out (with a tracking id) — for cancelled orders
    this models a parcel that shipped before the rest was cancelled.
    """
    oid = "#W" + ids.digits(7)
    pm = payment_method_id or rng.choice(sorted(user["payment_methods"]))
    total = round(sum(i["price"] for i in items), 2)
    history = [{"transaction_type": "payment", "amount": total, "payment_method_id": pm}]
    fulfillments: list = []
    if status in ("processed", "delivered"):
        fulfillments = [{"tracking_id": [ids.digits(12)], "item_ids": [i["item_id"] for i in items]}]
    if status == "cancelled":
        history.append({"transaction_type": "refund", "amount": total, "payment_method_id": pm})
        if shipped_item_ids:
            fulfillments = [{"tracking_id": [ids.digits(12)], "item_ids": list(shipped_item_ids)}]
    order = {
        "order_id": oid,
        "user_id": user["user_id"],
        "address": dict(address or user["address"]),
        "items": items,
        "status": status,
        "fulfillments": fulfillments,
        "payment_history": history,
    }
    if status == "cancelled":
        order["cancel_reason"] = rng.choice(CANCEL_REASONS)
    db["orders"][oid] = order
    user["orders"].append(oid)
    return order


def generate(seed: int, n_users: int = 200) -> tuple[dict, Ids, random.Random]:
    """Background records for `seed`; returns the db plus the id source and rng the task
    builder continues with (so planting stays deterministic)."""
    rng = random.Random(f"mini-retail:{seed}")
    ids = Ids(rng)
    db: dict = {"products": _products(rng, ids), "users": {}, "orders": {}}
    products = list(db["products"].values())
    taken: set[str] = set()
    for _ in range(n_users):
        user = _user(rng, ids, taken)
        db["users"][user["user_id"]] = user
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            chosen = rng.sample(products, rng.choice([1, 1, 2, 3]))
            items = [line_item(p, pick_variant(rng, p)) for p in chosen]
            status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
            shipped = None
            if status == "cancelled" and rng.random() < 0.3:
                shipped = [items[0]["item_id"]]
            plant_order(db, ids, rng, user, items, status, shipped_item_ids=shipped)
    return db, ids, rng
