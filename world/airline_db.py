"""The airline records (tau2 `db.json` shape: `{flights, users, reservations}`) with cheap forks.

The 7 MB file is loaded once per process; every environment is a copy-on-write fork
(world/cow.py): a write copies only the flight, user or reservation it touches.

On load every record is rebuilt in tau2's model field order and dump shape (SPEC-airline §1):
reservations carry `status: null`, `address2` is present (null when absent), gift-card and
certificate amounts are floats, everything else keeps its int type. That makes tool results
serialise exactly as tau2's pydantic dumps and dict equality equal to tau2's DB hash.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .cow import CowDB, copy_record, load_json_cached
from .errors import WorldError

CABINS = ("basic_economy", "economy", "business")
FLIGHT_TYPES = ("one_way", "round_trip")
MEMBERSHIPS = ("regular", "silver", "gold")
INSURANCE = ("yes", "no")
# Status literal -> the other keys of that status object, in model order.
FLIGHT_STATUS_FIELDS = {
    "available": ("available_seats", "prices"),
    "landed": ("actual_departure_time_est", "actual_arrival_time_est"),
    "cancelled": (),
    "delayed": ("estimated_departure_time_est", "estimated_arrival_time_est"),
    "on time": ("estimated_departure_time_est", "estimated_arrival_time_est"),
    "flying": ("actual_departure_time_est", "estimated_arrival_time_est"),
}
_ADDRESS_FIELDS = ("address1", "address2", "city", "country", "state", "zip")
_PERSON_FIELDS = ("first_name", "last_name", "dob")


class _Bad(Exception):
    """Internal: a shape error with a path inside the record; turned into WorldError."""


def _show(val: Any) -> str:
    return json.dumps(val, default=str)[:40]


def _get(rec: Any, key: str, where: str) -> Any:
    if not isinstance(rec, dict):
        raise _Bad(f"{where}: expected an object, got {type(rec).__name__}")
    if key not in rec:
        raise _Bad(f"{where}: missing field '{key}'")
    return rec[key]


def _str(rec: Any, key: str, where: str) -> str:
    val = _get(rec, key, where)
    if not isinstance(val, str):
        raise _Bad(f"{where}.{key}: expected a string, got {_show(val)}")
    return val


def _int(rec: Any, key: str, where: str) -> int:
    val = _get(rec, key, where)
    if isinstance(val, bool) or not isinstance(val, (int, float)) or val != int(val):
        raise _Bad(f"{where}.{key}: expected a whole number, got {_show(val)}")
    return int(val)


def _float(rec: Any, key: str, where: str) -> float:
    val = _get(rec, key, where)
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise _Bad(f"{where}.{key}: expected a number, got {_show(val)}")
    return float(val)


def _choice(rec: Any, key: str, allowed: tuple, where: str) -> str:
    val = _get(rec, key, where)
    if val not in allowed:
        raise _Bad(f"{where}.{key}: {_show(val)} is not one of {', '.join(allowed)}")
    return val


def _list(rec: Any, key: str, where: str) -> list:
    val = _get(rec, key, where)
    if not isinstance(val, list):
        raise _Bad(f"{where}.{key}: expected a list, got {type(val).__name__}")
    return val


def _dict(rec: Any, key: str, where: str) -> dict:
    val = _get(rec, key, where)
    if not isinstance(val, dict):
        raise _Bad(f"{where}.{key}: expected an object, got {type(val).__name__}")
    return val


def _cabins(rec: Any, key: str, where: str) -> dict:
    val = _dict(rec, key, where)
    return {c: _int(val, c, f"{where}.{key}") for c in CABINS}


def _flight(fid: str, rec: Any) -> dict:
    where = f"flights[{fid!r}]"
    dates = {}
    for day, st in _dict(rec, "dates", where).items():
        dw = f"{where}.dates[{day!r}]"
        status = _choice(st, "status", tuple(FLIGHT_STATUS_FIELDS), dw)
        out: dict[str, Any] = {"status": status}
        for f in FLIGHT_STATUS_FIELDS[status]:
            out[f] = _cabins(st, f, dw) if f in ("available_seats", "prices") else _str(st, f, dw)
        dates[day] = out
    return {
        "flight_number": _str(rec, "flight_number", where),
        "origin": _str(rec, "origin", where), "destination": _str(rec, "destination", where),
        "scheduled_departure_time_est": _str(rec, "scheduled_departure_time_est", where),
        "scheduled_arrival_time_est": _str(rec, "scheduled_arrival_time_est", where),
        "dates": dates,
    }


def _person(rec: Any, where: str) -> dict:
    return {f: _str(rec, f, where) for f in _PERSON_FIELDS}


def _payment_method(rec: Any, where: str) -> dict:
    source = _choice(rec, "source", ("credit_card", "gift_card", "certificate"), where)
    out = {"source": source, "id": _str(rec, "id", where)}
    if source == "credit_card":
        out["brand"] = _str(rec, "brand", where)
        out["last_four"] = _str(rec, "last_four", where)
    else:
        out["amount"] = _float(rec, "amount", where)
    return out


def _user(uid: str, rec: Any) -> dict:
    where = f"users[{uid!r}]"
    name = _dict(rec, "name", where)
    addr = _dict(rec, "address", where)
    address = {}
    for f in _ADDRESS_FIELDS:
        if f == "address2" and addr.get(f) is None:
            address[f] = None  # optional in tau2's model: dumped as null
        else:
            address[f] = _str(addr, f, f"{where}.address")
    pms = _dict(rec, "payment_methods", where)
    reservations = _list(rec, "reservations", where)
    for i, r in enumerate(reservations):
        if not isinstance(r, str):
            raise _Bad(f"{where}.reservations[{i}]: expected a string, got {_show(r)}")
    return {
        "user_id": _str(rec, "user_id", where),
        "name": {"first_name": _str(name, "first_name", f"{where}.name"),
                 "last_name": _str(name, "last_name", f"{where}.name")},
        "address": address,
        "email": _str(rec, "email", where),
        "dob": _str(rec, "dob", where),
        "payment_methods": {k: _payment_method(v, f"{where}.payment_methods[{k!r}]")
                            for k, v in pms.items()},
        "saved_passengers": [_person(p, f"{where}.saved_passengers[{i}]")
                             for i, p in enumerate(_list(rec, "saved_passengers", where))],
        "membership": _choice(rec, "membership", MEMBERSHIPS, where),
        "reservations": list(reservations),
    }


def _reservation(rid: str, rec: Any) -> dict:
    where = f"reservations[{rid!r}]"
    flights = []
    for i, seg in enumerate(_list(rec, "flights", where)):
        sw = f"{where}.flights[{i}]"
        flights.append({"flight_number": _str(seg, "flight_number", sw),
                        "origin": _str(seg, "origin", sw),
                        "destination": _str(seg, "destination", sw),
                        "date": _str(seg, "date", sw), "price": _int(seg, "price", sw)})
    payments = []
    for i, p in enumerate(_list(rec, "payment_history", where)):
        pw = f"{where}.payment_history[{i}]"
        payments.append({"payment_id": _str(p, "payment_id", pw), "amount": _int(p, "amount", pw)})
    status = rec.get("status") if isinstance(rec, dict) else None
    if status not in (None, "cancelled"):
        raise _Bad(f"{where}.status: {_show(status)} is not null or 'cancelled'")
    return {
        "reservation_id": _str(rec, "reservation_id", where),
        "user_id": _str(rec, "user_id", where),
        "origin": _str(rec, "origin", where), "destination": _str(rec, "destination", where),
        "flight_type": _choice(rec, "flight_type", FLIGHT_TYPES, where),
        "cabin": _choice(rec, "cabin", CABINS, where),
        "flights": flights,
        "passengers": [_person(p, f"{where}.passengers[{i}]")
                       for i, p in enumerate(_list(rec, "passengers", where))],
        "payment_history": payments,
        "created_at": _str(rec, "created_at", where),
        "total_baggages": _int(rec, "total_baggages", where),
        "nonfree_baggages": _int(rec, "nonfree_baggages", where),
        "insurance": _choice(rec, "insurance", INSURANCE, where),
        "status": status,
    }


class AirlineDB(CowDB):
    """Airline records with copy-on-write forks and tau2-equivalent equality.

    Read through `.flights`, `.users`, `.reservations` (dicts keyed by id); never mutate what
    they return. Writers use `for_write(table, key)` and `add("reservations", id, record)`."""

    TABLES = ("flights", "users", "reservations")

    def __init__(self, flights: dict, users: dict, reservations: dict):
        super().__init__(flights=flights, users=users, reservations=reservations)
        self._own_days: set[tuple[str, str]] = set()

    def day_for_write(self, flight_number: str, date: str) -> dict:
        """This fork's own copy of one flight date (KeyError when absent). The only way to
        write a flight: a flight holds 30 dates and a booking changes one, so the flight and
        its `dates` map are copied shallowly and only that date deeply."""
        own = self._own["flights"]
        if flight_number not in own:
            rec = self.flights[flight_number]
            self.flights[flight_number] = {**rec, "dates": dict(rec["dates"])}
            own.add(flight_number)
            self._dirty["flights"].add(flight_number)
        dates = self.flights[flight_number]["dates"]
        if (flight_number, date) not in self._own_days:
            dates[date] = copy_record(dates[date])
            self._own_days.add((flight_number, date))
        return dates[date]

    def for_write(self, table: str, key: str) -> dict:
        if table == "flights":  # a whole-flight copy would hide shared dates: refuse
            raise ValueError("write flights through day_for_write(flight_number, date)")
        return super().for_write(table, key)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<db>") -> "AirlineDB":
        """Validate and normalise a db.json-shaped dict (the input is not modified).

        Raises WorldError naming `source`, the record and what was wrong."""
        if not isinstance(data, dict):
            raise WorldError(f"{source}: expected a JSON object with flights, users, "
                             f"reservations; got {type(data).__name__}")
        for key in cls.TABLES:
            if not isinstance(data.get(key), dict):
                hint = (" (this looks like a retail db.json)"
                        if isinstance(data.get("orders"), dict) else "")
                raise WorldError(f"{source}: missing or malformed top-level '{key}' "
                                 f"(expected an object keyed by id){hint}")
        try:
            flights = {k: _flight(k, v) for k, v in data["flights"].items()}
            users = {k: _user(k, v) for k, v in data["users"].items()}
            reservations = {k: _reservation(k, v) for k, v in data["reservations"].items()}
        except _Bad as exc:
            raise WorldError(f"{source}: {exc}") from None
        return cls(flights, users, reservations)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AirlineDB":
        """Load db.json once per process (cached by path, size and mtime); returns a fresh fork."""
        return load_json_cached(cls, path, "airline", _LOAD_CACHE)


_LOAD_CACHE: dict[tuple, CowDB] = {}
