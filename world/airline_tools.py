"""The 14 airline tools with tau2-bench's exact semantics, error texts and quirks
(../shared/tau2/SPEC-airline.md §3). The same tools serve tau2's v0 and v1.

The tool bodies are methods of a class named `AirlineTools` whose parameter names match tau2's,
so a missing or unknown keyword argument produces tau2's TypeError text. Checks run in tau2's
order, because which error an agent sees depends on it. The tools enforce only what the spec's
§3.3 lists; the policy's rules (basic economy, 24 h, membership allowances, ...) are the agent's
job and are deliberately NOT enforced here (§3.7).
"""

from __future__ import annotations

from typing import Any

from .airline_db import CABINS, FLIGHT_TYPES, INSURANCE, AirlineDB
from .airline_models import (
    FlightInfo,
    Passenger,
    Payment,
    ValidationError,
    as_float,
    check_int,
    check_str,
    convert,
    dump_list,
    literal,
    model_list,
)
from .toolenv import ToolEnv, calculate, check_version

# Tool order follows tau2's airline toolkit, so schema lists are stable.
TOOL_KINDS: dict[str, str] = {
    "book_reservation": "write",
    "calculate": "generic",
    "cancel_reservation": "write",
    "get_reservation_details": "read",
    "get_user_details": "read",
    "list_all_airports": "read",
    "search_direct_flight": "read",
    "search_onestop_flight": "read",
    "send_certificate": "write",
    "transfer_to_human_agents": "generic",
    "get_flight_status": "read",
    "update_reservation_baggages": "write",
    "update_reservation_flights": "write",
    "update_reservation_passengers": "write",
}
WRITE_TOOLS = frozenset(n for n, k in TOOL_KINDS.items() if k == "write")

NOW = "2024-05-15T15:00:00"  # policy: "The current time is 2024-05-15 15:00:00 EST"
NEW_RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")
NEW_CERTIFICATE_IDS = ("certificate_3221322", "certificate_3221323", "certificate_3221324")
AIRPORTS = (
    ("SFO", "San Francisco"), ("JFK", "New York"), ("LAX", "Los Angeles"), ("ORD", "Chicago"),
    ("DFW", "Dallas"), ("DEN", "Denver"), ("SEA", "Seattle"), ("ATL", "Atlanta"),
    ("MIA", "Miami"), ("BOS", "Boston"), ("PHX", "Phoenix"), ("IAH", "Houston"),
    ("LAS", "Las Vegas"), ("MCO", "Orlando"), ("EWR", "Newark"), ("CLT", "Charlotte"),
    ("MSP", "Minneapolis"), ("DTW", "Detroit"), ("PHL", "Philadelphia"), ("LGA", "LaGuardia"),
)


def _direct_flight(flight: dict, date: str | None, day: dict) -> dict:
    """tau2's DirectFlight dump (seats and prices of that date)."""
    return {"flight_number": flight["flight_number"], "origin": flight["origin"],
            "destination": flight["destination"], "status": "available",
            "scheduled_departure_time_est": flight["scheduled_departure_time_est"],
            "scheduled_arrival_time_est": flight["scheduled_arrival_time_est"],
            "date": date, "available_seats": dict(day["available_seats"]),
            "prices": dict(day["prices"])}


class AirlineTools:
    """Tool bodies over one AirlineDB fork. Methods raise; the env turns that into tau2's
    error text. Named like tau2's class so TypeError texts match."""

    def __init__(self, db: AirlineDB):
        self.db = db

    # -- lookups (tau2's private helpers; same messages) --------------------------------------
    def _get_user(self, user_id: str) -> dict:
        if user_id not in self.db.users:
            raise ValueError(f"User {user_id} not found")
        return self.db.users[user_id]

    def _get_reservation(self, reservation_id: str) -> dict:
        if reservation_id not in self.db.reservations:
            raise ValueError(f"Reservation {reservation_id} not found")
        return self.db.reservations[reservation_id]

    def _get_flight(self, flight_number: str) -> dict:
        if flight_number not in self.db.flights:
            raise ValueError(f"Flight {flight_number} not found")
        return self.db.flights[flight_number]

    def _get_flight_instance(self, flight_number: str, date: str) -> dict:
        flight = self._get_flight(flight_number)
        if date not in flight["dates"]:
            raise ValueError(f"Flight {flight_number} not found on date {date}")
        return flight["dates"][date]

    def _bookable(self, info: FlightInfo, cabin: Any, seats_needed: int) -> tuple[dict, dict]:
        """The flight and its date record, checked as booking and flight changes do."""
        flight = self._get_flight(info.flight_number)
        day = self._get_flight_instance(info.flight_number, info.date)
        if day["status"] != "available":
            raise ValueError(f"Flight {info.flight_number} not available on date {info.date}")
        if day["available_seats"][cabin] < seats_needed:  # unknown cabin: KeyError, as tau2
            raise ValueError(f"Not enough seats on flight {info.flight_number}")
        return flight, day

    def _payment_for_update(self, user_id: str, payment_id: str, total: Any) -> Payment | None:
        """The shared payment step of the update tools (SPEC-airline §3.3)."""
        methods = self.db.users[user_id]["payment_methods"]
        if payment_id not in methods:
            raise ValueError("Payment method not found")
        method = methods[payment_id]
        if method["source"] == "certificate":
            raise ValueError("Certificate cannot be used to update reservation")
        if method["source"] == "gift_card" and method["amount"] < total:
            raise ValueError("Gift card balance is not enough")
        if method["source"] == "gift_card":
            own = self.db.for_write("users", user_id)["payment_methods"][payment_id]
            own["amount"] -= total  # a negative total credits the gift card
        if total != 0:
            return Payment({"payment_id": payment_id, "amount": total})
        return None

    # -- generic --------------------------------------------------------------------------------
    def calculate(self, expression: str) -> str:
        return calculate(expression)

    def transfer_to_human_agents(self, summary: str) -> str:
        return "Transfer successful"

    # -- reads ----------------------------------------------------------------------------------
    def get_user_details(self, user_id: str) -> dict:
        return self._get_user(user_id)

    def get_reservation_details(self, reservation_id: str) -> dict:
        return self._get_reservation(reservation_id)

    def list_all_airports(self) -> list:
        return [{"iata": code, "city": city} for code, city in AIRPORTS]

    def search_direct_flight(self, origin: str, destination: str, date: str) -> list:
        out = []
        for flight in self.db.flights.values():
            if flight["origin"] == origin and flight["destination"] == destination:
                day = flight["dates"].get(date)
                if day is not None and day["status"] == "available":
                    out.append(_direct_flight(flight, None, day))
        return out

    def search_onestop_flight(self, origin: str, destination: str, date: str) -> list:
        flights = self.db.flights.values()
        out = []
        for first in flights:
            if first["origin"] != origin:
                continue
            day1 = first["dates"].get(date)
            if day1 is None or day1["status"] != "available":
                continue
            arrival = first["scheduled_arrival_time_est"]
            # tau2's next-day date: May fixed, no zero padding (harmless: 05-31 finds nothing).
            date2 = f"2024-05-{int(date[-2:]) + 1}" if "+1" in arrival else date
            for second in flights:
                if second["origin"] != first["destination"] or second["destination"] != destination:
                    continue
                if second["scheduled_departure_time_est"] < arrival:  # plain string comparison
                    continue
                day2 = second["dates"].get(date2)
                if day2 is None or day2["status"] != "available":
                    continue
                out.append([_direct_flight(first, date, day1), _direct_flight(second, date2, day2)])
        return out

    def get_flight_status(self, flight_number: str, date: str) -> str:
        return self._get_flight_instance(flight_number, date)["status"]

    # -- writes ---------------------------------------------------------------------------------
    def book_reservation(self, user_id: str, origin: str, destination: str, flight_type: str,
                         cabin: str, flights: list, passengers: list, payment_methods: list,
                         total_baggages: int, nonfree_baggages: int, insurance: str) -> dict:
        flights = convert(flights, FlightInfo)
        passengers = convert(passengers, Passenger)
        payment_methods = convert(payment_methods, Payment)
        user = self._get_user(user_id)
        new_id = next((r for r in NEW_RESERVATION_IDS if r not in self.db.reservations), None)
        if new_id is None:
            raise ValueError("Too many reservations")
        errs: list = []
        record = {
            "reservation_id": new_id, "user_id": check_str(user_id, "user_id", errs),
            "origin": check_str(origin, "origin", errs),
            "destination": check_str(destination, "destination", errs),
            "flight_type": literal(flight_type, FLIGHT_TYPES, "flight_type", errs),
            "cabin": literal(cabin, CABINS, "cabin", errs),
            "flights": [],
            "passengers": model_list(passengers, Passenger, "passengers", errs),
            "payment_history": model_list(payment_methods, Payment, "payment_history", errs),
            "created_at": NOW,
            "total_baggages": check_int(total_baggages, "total_baggages", errs),
            "nonfree_baggages": check_int(nonfree_baggages, "nonfree_baggages", errs),
            "insurance": literal(insurance, INSURANCE, "insurance", errs),
            "status": None,
        }
        if errs:
            raise ValidationError("Reservation", errs)
        n = len(passengers)
        total: Any = 0
        for info in flights:
            flight, day = self._bookable(info, cabin, n)
            price = day["prices"][cabin]
            record["flights"].append({"flight_number": info.flight_number,
                                      "origin": flight["origin"],
                                      "destination": flight["destination"],
                                      "date": info.date, "price": price})
            total += price * n
        if insurance == "yes":
            total += 30 * n
        total += 50 * nonfree_baggages  # the raw argument, as tau2 prices it
        methods = user["payment_methods"]
        for pay in payment_methods:
            if pay.payment_id not in methods:
                raise ValueError(f"Payment method {pay.payment_id} not found")
            method = methods[pay.payment_id]
            if method["source"] in ("gift_card", "certificate") and method["amount"] < pay.amount:
                raise ValueError(f"Not enough balance in payment method {pay.payment_id}")
        paid = sum(pay.amount for pay in payment_methods)
        if paid != total:
            raise ValueError(f"Payment amount does not add up, total price is {total}, "
                             f"but paid {paid}")
        own_user = self.db.for_write("users", user_id)
        for pay in payment_methods:
            # A certificate listed twice fails here after the earlier entries were applied
            # (tau2's partial mutation, kept on purpose).
            method = own_user["payment_methods"][pay.payment_id]
            if method["source"] == "gift_card":
                method["amount"] -= pay.amount
            elif method["source"] == "certificate":
                del own_user["payment_methods"][pay.payment_id]
        for info in flights:
            day = self.db.day_for_write(info.flight_number, info.date)
            day["available_seats"][cabin] -= n
        record["passengers"] = [p.dump() for p in record["passengers"]]
        record["payment_history"] = [p.dump() for p in record["payment_history"]]
        self.db.add("reservations", new_id, record)
        own_user["reservations"].append(new_id)
        return record

    def cancel_reservation(self, reservation_id: str) -> dict:
        self._get_reservation(reservation_id)
        res = self.db.for_write("reservations", reservation_id)
        # Refund entries only: no balances, seats or status checks (tau2).
        refunds = [{"payment_id": p["payment_id"], "amount": -p["amount"]}
                   for p in res["payment_history"]]
        res["payment_history"].extend(refunds)
        res["status"] = "cancelled"
        return res

    def update_reservation_baggages(self, reservation_id: str, total_baggages: int,
                                    nonfree_baggages: int, payment_id: str) -> dict:
        res = self._get_reservation(reservation_id)
        self._get_user(res["user_id"])
        total = 50 * max(0, nonfree_baggages - res["nonfree_baggages"])
        payment = self._payment_for_update(res["user_id"], payment_id, total)
        res = self.db.for_write("reservations", reservation_id)
        if payment is not None:
            res["payment_history"].append(payment.dump())
        res["total_baggages"] = total_baggages  # stored raw (2.0 stays a float), as tau2
        res["nonfree_baggages"] = nonfree_baggages
        return res

    def update_reservation_flights(self, reservation_id: str, cabin: str, flights: list,
                                   payment_id: str) -> dict:
        flights = convert(flights, FlightInfo)
        res = self._get_reservation(reservation_id)
        self._get_user(res["user_id"])
        n = len(res["passengers"])
        new_segments = []
        total: Any = 0
        for info in flights:
            kept = next((seg for seg in res["flights"]
                         if seg["flight_number"] == info.flight_number
                         and seg["date"] == info.date and cabin == res["cabin"]), None)
            if kept is not None:
                total += kept["price"] * n
                new_segments.append(kept)
                continue
            flight, day = self._bookable(info, cabin, n)
            price = day["prices"][cabin]
            new_segments.append({"flight_number": info.flight_number, "origin": flight["origin"],
                                 "destination": flight["destination"], "date": info.date,
                                 "price": price})
            total += price * n
        total -= sum(seg["price"] for seg in res["flights"]) * n
        payment = self._payment_for_update(res["user_id"], payment_id, total)
        res = self.db.for_write("reservations", reservation_id)
        if payment is not None:
            res["payment_history"].append(payment.dump())
        res["flights"] = [dict(seg) for seg in new_segments]
        res["cabin"] = cabin  # raw, no seat inventory change (tau2)
        return res

    def update_reservation_passengers(self, reservation_id: str, passengers: list) -> dict:
        passengers = convert(passengers, Passenger)
        res = self._get_reservation(reservation_id)
        if len(passengers) != len(res["passengers"]):
            raise ValueError("Number of passengers does not match")
        res = self.db.for_write("reservations", reservation_id)
        res["passengers"] = dump_list(passengers)
        return res

    def send_certificate(self, user_id: str, amount: int) -> str:
        self._get_user(user_id)
        methods = self.db.users[user_id]["payment_methods"]
        for cert_id in NEW_CERTIFICATE_IDS:
            if cert_id not in methods:
                value = as_float(amount)
                if value is None:
                    raise ValidationError("Certificate", [(
                        "amount", "Input should be a valid number", "float_type", amount)])
                own = self.db.for_write("users", user_id)["payment_methods"]
                own[cert_id] = {"source": "certificate", "id": cert_id, "amount": value}
                return f"Certificate {cert_id} added to user {user_id} with amount {amount}."
        raise ValueError("Too many certificates")


def tool_names(version: str = "v1") -> list[str]:
    """The airline tool names (the same in v0 and v1), in stable order."""
    check_version(version)
    return list(TOOL_KINDS)


class AirlineEnv(ToolEnv):
    """An airline tool environment over its own fork of `db` (the caller's is never changed)."""

    tool_kinds = TOOL_KINDS
    write_tools = WRITE_TOOLS

    def __init__(self, db: AirlineDB, version: str = "v1"):
        check_version(version)
        self.db = db.fork()
        super().__init__(AirlineTools(self.db), tool_names(version), version)

    def tool_schemas(self) -> list[dict]:
        """OpenAI function-tool JSON for the airline tools, in stable order."""
        from .airline_schemas import schemas_for

        return schemas_for(self._names)
