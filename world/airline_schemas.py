"""OpenAI function-tool JSON for the airline tools (descriptions in our own words).

The parameter names and types are the contract with tau2 trajectories; the wording is ours.
"""

from __future__ import annotations

from . import tool_schemas

_USER_ID = ("string", "The user id, such as 'sara_doe_496'.")
_RES_ID = ("string", "The reservation id, six letters or digits such as 'ZFA04Y'.")
_DATE = ("string", "The date in YYYY-MM-DD form, such as '2024-05-01'.")
_AIRPORT = "IATA airport code, such as 'JFK'."
_CONFIRM = " Before calling, explain the change to the user and obtain an explicit 'yes'."


def _obj(props: dict[str, tuple[str, str]]) -> dict:
    return {"type": "object",
            "properties": {k: {"type": t, "description": d} for k, (t, d) in props.items()},
            "required": list(props)}


_FLIGHTS = ("array", "Every flight segment of the itinerary, each {flight_number, date}.",
            _obj({"flight_number": ("string", "Flight number, such as 'HAT001'."),
                  "date": _DATE}))
_PASSENGERS = ("array", "The passengers, each {first_name, last_name, dob}.",
               _obj({"first_name": ("string", "First name."),
                     "last_name": ("string", "Last name."),
                     "dob": ("string", "Date of birth, YYYY-MM-DD.")}))
_PAYMENTS = ("array", "How the total is paid: each {payment_id, amount}; amounts must add up "
                      "to the total price exactly.",
             _obj({"payment_id": ("string", "A payment method id of the user."),
                   "amount": ("integer", "Amount in whole dollars.")}))
_PAYMENT_ID = ("string", "A payment method id of the user (a credit card or gift card; "
                         "certificates cannot pay for changes), such as 'credit_card_7815826'.")

SPECS: dict[str, tuple[str, list]] = {
    "book_reservation": (
        "Book a new reservation for the user. Returns the reservation." + _CONFIRM,
        [("user_id", _USER_ID),
         ("origin", ("string", "Trip origin, " + _AIRPORT)),
         ("destination", ("string", "Trip destination, " + _AIRPORT)),
         ("flight_type", ("string", "'one_way' or 'round_trip'.")),
         ("cabin", ("string", "'basic_economy', 'economy' or 'business'.")),
         ("flights", _FLIGHTS), ("passengers", _PASSENGERS), ("payment_methods", _PAYMENTS),
         ("total_baggages", ("integer", "Total checked bags of the reservation.")),
         ("nonfree_baggages", ("integer", "Checked bags that are paid for ($50 each).")),
         ("insurance", ("string", "'yes' or 'no' (travel insurance, $30 per passenger)."))]),
    "calculate": (
        "Evaluate an arithmetic expression (numbers, + - * /, parentheses, spaces); the result "
        "is rounded to 2 decimals.",
        [("expression", ("string", "The expression, such as '2 + 2'."))]),
    "cancel_reservation": (
        "Cancel a whole reservation; every payment is refunded to its method. Returns the "
        "reservation." + _CONFIRM,
        [("reservation_id", _RES_ID)]),
    "get_reservation_details": (
        "Get a reservation: flights, passengers, cabin, baggage, insurance and payments.",
        [("reservation_id", _RES_ID)]),
    "get_user_details": (
        "Get a user's profile: name, address, membership, payment methods, saved passengers "
        "and reservation ids.",
        [("user_id", _USER_ID)]),
    "list_all_airports": (
        "List every airport served, as IATA code and city.",
        []),
    "search_direct_flight": (
        "Search direct flights between two airports on a date (bookable flights only).",
        [("origin", ("string", "Origin, " + _AIRPORT)),
         ("destination", ("string", "Destination, " + _AIRPORT)), ("date", _DATE)]),
    "search_onestop_flight": (
        "Search itineraries with one connection between two airports, departing on a date.",
        [("origin", ("string", "Origin, " + _AIRPORT)),
         ("destination", ("string", "Destination, " + _AIRPORT)), ("date", _DATE)]),
    "send_certificate": (
        "Give the user a travel certificate (compensation) of a whole-dollar amount." + _CONFIRM,
        [("user_id", _USER_ID),
         ("amount", ("integer", "Certificate amount in dollars."))]),
    "transfer_to_human_agents": (
        "Transfer the user to a human agent with a summary of the issue. Only when the user "
        "explicitly asks for a human, or the issue cannot be solved with the policy and tools.",
        [("summary", ("string", "A summary of the user's issue."))]),
    "get_flight_status": (
        "Get the status of a flight on a date (available, on time, delayed, flying, landed, "
        "cancelled).",
        [("flight_number", ("string", "Flight number, such as 'HAT001'.")), ("date", _DATE)]),
    "update_reservation_baggages": (
        "Set the checked bags of a reservation; added paid bags are charged to a payment "
        "method. Returns the reservation." + _CONFIRM,
        [("reservation_id", _RES_ID),
         ("total_baggages", ("integer", "New total of checked bags.")),
         ("nonfree_baggages", ("integer", "New number of paid bags.")),
         ("payment_id", _PAYMENT_ID)]),
    "update_reservation_flights": (
        "Replace a reservation's flights (give the complete new itinerary, unchanged segments "
        "included) and/or its cabin; the price difference is charged or refunded. Returns the "
        "reservation." + _CONFIRM,
        [("reservation_id", _RES_ID),
         ("cabin", ("string", "'basic_economy', 'economy' or 'business'.")),
         ("flights", _FLIGHTS), ("payment_id", _PAYMENT_ID)]),
    "update_reservation_passengers": (
        "Replace the passenger details of a reservation (the number of passengers cannot "
        "change). Returns the reservation." + _CONFIRM,
        [("reservation_id", _RES_ID), ("passengers", _PASSENGERS)]),
}


def schemas_for(names: list[str]) -> list[dict]:
    """The OpenAI function-tool objects for airline tool `names`, in that order."""
    return tool_schemas.schemas_for(names, SPECS)
