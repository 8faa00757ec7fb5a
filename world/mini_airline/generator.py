"""Seeded generator of the mini-airline records (flights, users, reservations).

The records have the shape of tau2's airline `db.json` (SPEC-airline §1) so the same 14 tools
run on both worlds. Everything is drawn from one `random.Random(seed)` in a fixed order: the
same seed gives the same records byte for byte. Names, routes, fares and ids are our own.
The task builder (`tasks.py`) then *plants* the reservations each scenario needs.
"""

from __future__ import annotations

import random
import string

AIRPORTS = ["SFO", "JFK", "ORD", "SEA", "ATL", "BOS", "DEN", "MIA"]
CABINS = ("basic_economy", "economy", "business")
FIRST = ["Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Lena", "Omar", "Iris", "Hugo", "Nora",
         "Felix", "Sofia", "Ravi", "Chloe", "Mateo", "Priya", "Jonas", "Elena", "Kai", "Amara",
         "Theo", "Yara", "Leo", "Hana", "Milo", "Rosa", "Ivan", "Aisha", "Oscar"]
LAST = ["Moreno", "Okafor", "Lindqvist", "Tanaka", "Novak", "Haddad", "Fischer", "Kowalski",
        "Delgado", "Nakamura", "Osei", "Brennan", "Vasquez", "Petrov", "Adeyemi", "Laurent",
        "Sato", "Mendes", "Castillo", "Ibrahim"]
CITIES = [("Portland", "OR", "97201"), ("Austin", "TX", "73301"), ("Denver", "CO", "80202"),
          ("Columbus", "OH", "43004"), ("Raleigh", "NC", "27601"), ("Madison", "WI", "53703")]
DAYS = [f"2024-05-{d:02d}" for d in range(10, 31)]   # landed before the 15th, bookable after
BOOKABLE = [d for d in DAYS if d >= "2024-05-16"]
N_USERS = 200


class Ids:
    """Reservation and payment ids, unique within the world."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = {"HATHAT", "HATHAU", "HATHAV"}  # the tools' new-booking ids

    def reservation(self) -> str:
        while True:
            rid = "".join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
            if rid not in self.used:
                self.used.add(rid)
                return rid

    def payment(self, kind: str) -> str:
        while True:
            pid = f"{kind}_{self.rng.randrange(1000000, 9999999)}"
            if pid not in self.used:
                self.used.add(pid)
                return pid


def _status(rng: random.Random, day: str) -> dict:
    if day < "2024-05-15":
        if rng.random() < 0.06:
            return {"status": "cancelled"}
        return {"status": "landed", "actual_departure_time_est": f"{day}T08:00:00",
                "actual_arrival_time_est": f"{day}T11:00:00"}
    if day == "2024-05-15":
        return {"status": "on time", "estimated_departure_time_est": f"{day}T08:00:00",
                "estimated_arrival_time_est": f"{day}T11:00:00"}
    base = rng.randrange(60, 160)
    return {"status": "available",
            "available_seats": {c: rng.randrange(6, 20) for c in CABINS},
            "prices": {"basic_economy": base, "economy": base + rng.randrange(60, 140),
                       "business": base + rng.randrange(300, 600)}}


def _flights(rng: random.Random) -> dict:
    flights = {}
    n = 0
    for a in AIRPORTS:
        for b in AIRPORTS:
            if a == b or rng.random() < 0.45:
                continue
            n += 1
            fn = f"MA{n:03d}"
            dep = rng.randrange(6, 20)
            flights[fn] = {"flight_number": fn, "origin": a, "destination": b,
                           "scheduled_departure_time_est": f"{dep:02d}:00:00",
                           "scheduled_arrival_time_est": f"{dep + rng.randrange(1, 5):02d}:30:00",
                           "dates": {d: _status(rng, d) for d in DAYS}}
    return flights


def _user(rng: random.Random, ids: Ids, taken: set) -> dict:
    while True:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        uid = f"{first.lower()}_{last.lower()}_{rng.randrange(1000, 9999)}"
        if uid not in taken:
            taken.add(uid)
            break
    city, state, zip_ = rng.choice(CITIES)
    card = ids.payment("credit_card")
    methods = {card: {"source": "credit_card", "id": card,
                      "brand": rng.choice(["visa", "mastercard"]),
                      "last_four": f"{rng.randrange(0, 10000):04d}"}}
    if rng.random() < 0.5:
        gift = ids.payment("gift_card")
        methods[gift] = {"source": "gift_card", "id": gift, "amount": float(rng.randrange(50, 400))}
    return {"user_id": uid, "name": {"first_name": first, "last_name": last},
            "address": {"address1": f"{rng.randrange(1, 999)} Harbor Street", "address2": None,
                        "city": city, "country": "USA", "state": state, "zip": zip_},
            "email": f"{first.lower()}.{last.lower()}{rng.randrange(10, 99)}@example.com",
            "dob": f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
            "payment_methods": methods,
            "saved_passengers": [],
            "membership": rng.choice(["regular", "silver", "gold"]),
            "reservations": []}


def credit_card(user: dict) -> str:
    """The user's credit card id (every generated user has exactly one)."""
    return next(pid for pid, m in sorted(user["payment_methods"].items())
                if m["source"] == "credit_card")


def plant_reservation(db: dict, ids: Ids, rng: random.Random, user: dict, *, cabin: str,
                      day: str | None = None, passengers: int = 1, insurance: str = "no",
                      total_bags: int = 0, nonfree_bags: int = 0,
                      created_at: str = "2024-05-08T10:00:00") -> dict:
    """A one-way reservation on an existing flight, paid by the user's credit card; appended
    to the user's reservations (the order of that list is the order the agent finds them)."""
    day = day or rng.choice(BOOKABLE)
    fn = rng.choice(sorted(db["flights"]))
    flight = db["flights"][fn]
    st = flight["dates"][day]
    price = st["prices"][cabin] if st["status"] == "available" else rng.randrange(80, 400)
    people = [{"first_name": user["name"]["first_name"], "last_name": user["name"]["last_name"],
               "dob": user["dob"]}]
    for _ in range(passengers - 1):
        people.append({"first_name": rng.choice(FIRST), "last_name": user["name"]["last_name"],
                       "dob": f"20{rng.randrange(10, 20)}-0{rng.randrange(1, 9)}-2{rng.randrange(0, 9)}"})
    total = price * passengers + (30 * passengers if insurance == "yes" else 0) + 50 * nonfree_bags
    rid = ids.reservation()
    res = {"reservation_id": rid, "user_id": user["user_id"], "origin": flight["origin"],
           "destination": flight["destination"], "flight_type": "one_way", "cabin": cabin,
           "flights": [{"flight_number": fn, "origin": flight["origin"],
                        "destination": flight["destination"], "date": day, "price": price}],
           "passengers": people,
           "payment_history": [{"payment_id": credit_card(user), "amount": total}],
           "created_at": created_at, "total_baggages": total_bags,
           "nonfree_baggages": nonfree_bags, "insurance": insurance, "status": None}
    db["reservations"][rid] = res
    user["reservations"].append(rid)
    return res


def generate(seed: int) -> tuple[dict, Ids, random.Random]:
    """The background world for `seed` (tasks are planted on top by tasks.py)."""
    rng = random.Random(seed)
    ids = Ids(rng)
    db: dict = {"flights": _flights(rng), "users": {}, "reservations": {}}
    taken: set = set()
    for _ in range(N_USERS):
        user = _user(rng, ids, taken)
        db["users"][user["user_id"]] = user
    return db, ids, rng
