"""Every airline tool rule and error text of SPEC-airline §3, on a small hand-made DB
(tests/airline_fixture.py). The real DB and recorded outputs are in test_airline_shared.py."""

from __future__ import annotations

import json

import pytest
from airline_fixture import make_airline

from world.airline_db import AirlineDB
from world.airline_tools import TOOL_KINDS, WRITE_TOOLS, AirlineEnv
from world.errors import WorldError

BOOK = dict(user_id="ann_lee_1", origin="JFK", destination="SFO", flight_type="one_way",
            cabin="economy",
            flights=[{"flight_number": "HAT001", "date": "2024-05-20", "origin": "JFK",
                      "price": 1},  # extra keys are dropped, as in tau2
                     {"flight_number": "HAT002", "date": "2024-05-20"}],
            passengers=[{"first_name": "Ann", "last_name": "Lee", "dob": "1980-01-01"},
                        {"first_name": "Tom", "last_name": "Lee", "dob": "2010-02-02"}],
            payment_methods=[{"payment_id": "gift_card_1", "amount": 400},
                             {"payment_id": "certificate_1", "amount": 200},
                             {"payment_id": "credit_card_1", "amount": 70}],
            total_baggages=3, nonfree_baggages=1, insurance="yes")
# (200 + 80) x 2 passengers + 30 x 2 insurance + 50 x 1 paid bag = 670


@pytest.fixture
def db() -> AirlineDB:
    return AirlineDB.from_dict(make_airline(), "fixture")


@pytest.fixture
def env(db) -> AirlineEnv:
    return AirlineEnv(db)


def ok(env, name, **args):
    res = env.call(name, args)
    assert not res.error, res.content
    return res.content


def err(env, name, **args) -> str:
    """The error text of a call that must fail without changing the DB."""
    before = env.db.canonical_hash()
    res = env.call(name, args)
    assert res.error, res.content
    assert env.db.canonical_hash() == before, "a failed tool call changed the DB"
    return res.content


def book(env, **changes):
    return env.call("book_reservation", {**BOOK, **changes})


# -- tool table, calling conventions ------------------------------------------------------------

def test_fourteen_tools_and_their_kinds():
    assert len(TOOL_KINDS) == 14
    assert WRITE_TOOLS == {"book_reservation", "cancel_reservation", "update_reservation_baggages",
                           "update_reservation_flights", "update_reservation_passengers",
                           "send_certificate"}
    assert TOOL_KINDS["calculate"] == TOOL_KINDS["transfer_to_human_agents"] == "generic"


def test_calling_conventions(env):
    assert err(env, "book_flight") == "Error: Tool 'book_flight' not found."
    assert err(env, "cancel_reservation", reservation_id="ABC123", x=1) == (
        "Error: AirlineTools.cancel_reservation() got an unexpected keyword argument 'x'")
    assert err(env, "get_user_details") == (
        "Error: AirlineTools.get_user_details() missing 1 required positional argument: "
        "'user_id'")
    assert ok(env, "calculate", expression="2 * (3 + 4)") == "14.0"
    assert err(env, "calculate", expression="10/0") == "Error: division by zero"
    assert err(env, "calculate", expression="2**3; x") == "Error: Invalid characters in expression"
    assert ok(env, "transfer_to_human_agents", summary="help") == "Transfer successful"


def test_schemas_cover_every_tool(env):
    schemas = env.tool_schemas()
    assert [s["function"]["name"] for s in schemas] == list(TOOL_KINDS)
    book_params = next(s for s in schemas if s["function"]["name"] == "book_reservation")
    flights = book_params["function"]["parameters"]["properties"]["flights"]
    assert flights["items"]["required"] == ["flight_number", "date"]


# -- reads ------------------------------------------------------------------------------------

def test_user_and_reservation_details_in_dump_shape(env):
    bob = json.loads(ok(env, "get_user_details", user_id="bob_ray_2"))
    assert bob["address"]["address2"] is None  # optional: dumped as null
    ann = ok(env, "get_user_details", user_id="ann_lee_1")
    assert '"gift_card_1": {"source": "gift_card", "id": "gift_card_1", "amount": 500.0}' in ann
    assert err(env, "get_user_details", user_id="nobody") == "Error: User nobody not found"
    res = ok(env, "get_reservation_details", reservation_id="ABC123")
    assert res.startswith('{"reservation_id": "ABC123", "user_id": "ann_lee_1", "origin": "JFK"')
    assert ('{"flight_number": "HAT001", "origin": "JFK", "destination": "LAX", '
            '"date": "2024-05-20", "price": 180}') in res  # model order, not the file's
    assert res.endswith('"insurance": "no", "status": null}')
    assert err(env, "get_reservation_details", reservation_id="NOPE") == (
        "Error: Reservation NOPE not found")


def test_list_all_airports(env):
    airports = json.loads(ok(env, "list_all_airports"))
    assert len(airports) == 20
    assert airports[0] == {"iata": "SFO", "city": "San Francisco"}
    assert airports[-1] == {"iata": "LGA", "city": "LaGuardia"}
    assert [a["iata"] for a in airports][12:15] == ["LAS", "MCO", "EWR"]


def test_flight_status(env):
    assert ok(env, "get_flight_status", flight_number="HAT005", date="2024-05-15") == "delayed"
    assert ok(env, "get_flight_status", flight_number="HAT001", date="2024-05-15") == "landed"
    assert err(env, "get_flight_status", flight_number="HAT999", date="2024-05-15") == (
        "Error: Flight HAT999 not found")
    assert err(env, "get_flight_status", flight_number="HAT001", date="2024-06-01") == (
        "Error: Flight HAT001 not found on date 2024-06-01")


def test_search_direct_only_available_date_null(env):
    found = json.loads(ok(env, "search_direct_flight", origin="JFK", destination="LAX",
                          date="2024-05-20"))
    assert [f["flight_number"] for f in found] == ["HAT001", "HAT003"]
    assert list(found[0]) == ["flight_number", "origin", "destination", "status",
                              "scheduled_departure_time_est", "scheduled_arrival_time_est",
                              "date", "available_seats", "prices"]
    assert found[0]["date"] is None and found[0]["status"] == "available"
    assert found[0]["prices"] == {"basic_economy": 100, "economy": 200, "business": 500}
    # HAT001 is cancelled on 05-21 and HAT003 does not fly that day
    assert ok(env, "search_direct_flight", origin="JFK", destination="LAX",
              date="2024-05-21") == "[]"


def test_search_onestop_connections_and_next_day(env):
    pairs = json.loads(ok(env, "search_onestop_flight", origin="JFK", destination="SFO",
                          date="2024-05-20"))
    got = [(a["flight_number"], a["date"], b["flight_number"], b["date"]) for a, b in pairs]
    # HAT004 leaves at 06:00, before HAT001 lands (11:00): no same-day connection. HAT003
    # lands "01:00:00+1", so its second leg is looked up the next day.
    assert got == [("HAT001", "2024-05-20", "HAT002", "2024-05-20"),
                   ("HAT003", "2024-05-20", "HAT002", "2024-05-21"),
                   ("HAT003", "2024-05-20", "HAT004", "2024-05-21")]
    # tau2's next-day date is not zero padded: 05-05 + 1 looks up "2024-05-6", finding nothing
    assert ok(env, "search_onestop_flight", origin="JFK", destination="SFO",
              date="2024-05-05") == "[]"


# -- book_reservation ---------------------------------------------------------------------------

def test_book_prices_pays_and_takes_seats(env, db):
    res = book(env)
    assert not res.error, res.content
    rec = json.loads(res.content)
    assert rec["reservation_id"] == "HATHAT" and rec["created_at"] == "2024-05-15T15:00:00"
    assert [s["price"] for s in rec["flights"]] == [200, 80]
    assert rec["flights"][0] == {"flight_number": "HAT001", "origin": "JFK", "destination": "LAX",
                                 "date": "2024-05-20", "price": 200}
    assert rec["payment_history"] == BOOK["payment_methods"] and rec["status"] is None
    ann = env.db.users["ann_lee_1"]
    assert ann["payment_methods"]["gift_card_1"]["amount"] == 100.0
    assert "certificate_1" not in ann["payment_methods"]  # deleted, 50 unused is lost
    assert ann["reservations"] == ["ABC123", "HATHAT"]
    assert env.db.flights["HAT001"]["dates"]["2024-05-20"]["available_seats"]["economy"] == 3
    assert env.db.flights["HAT002"]["dates"]["2024-05-20"]["available_seats"]["economy"] == 1
    # the caller's DB is a separate fork: untouched
    assert db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["amount"] == 500.0
    assert "HATHAT" not in db.reservations


def test_book_ids_run_out_after_three(env):
    one = dict(flights=[{"flight_number": "HAT004", "date": "2024-05-20"}],
               passengers=BOOK["passengers"][:1], cabin="basic_economy", insurance="no",
               nonfree_baggages=0, payment_methods=[{"payment_id": "credit_card_1", "amount": 40}])
    assert book(env, **one).error is False
    assert book(env, **{**one, "payment_methods": [{"payment_id": "credit_card_1",
                                                    "amount": 41}]}).error  # not consumed
    ids = [json.loads(book(env, **one).content)["reservation_id"] for _ in range(2)]
    assert ids == ["HATHAU", "HATHAV"]
    assert err(env, "book_reservation", **{**BOOK, **one}) == "Error: Too many reservations"


@pytest.mark.parametrize("changes, message", [
    ({"user_id": "nobody"}, "Error: User nobody not found"),
    ({"flights": [{"flight_number": "HAT999", "date": "2024-05-20"}]},
     "Error: Flight HAT999 not found"),
    ({"flights": [{"flight_number": "HAT001", "date": "2024-06-01"}]},
     "Error: Flight HAT001 not found on date 2024-06-01"),
    ({"flights": [{"flight_number": "HAT001", "date": "2024-05-21"}]},
     "Error: Flight HAT001 not available on date 2024-05-21"),
    ({"cabin": "business"}, "Error: Not enough seats on flight HAT002"),
    ({"payment_methods": [{"payment_id": "credit_card_9", "amount": 670}]},
     "Error: Payment method credit_card_9 not found"),
    ({"payment_methods": [{"payment_id": "gift_card_1", "amount": 600},
                          {"payment_id": "credit_card_1", "amount": 70}]},
     "Error: Not enough balance in payment method gift_card_1"),
    ({"payment_methods": [{"payment_id": "credit_card_1", "amount": 669}]},
     "Error: Payment amount does not add up, total price is 670, but paid 669"),
])
def test_book_errors_in_tau2_order(env, changes, message):
    assert err(env, "book_reservation", **{**BOOK, **changes}) == message


@pytest.mark.parametrize("changes, model", [
    ({"payment_methods": [{"payment_id": "credit_card_1", "amount": 670.5}]}, "Payment"),
    ({"passengers": [{"first_name": "Ann", "last_name": "Lee"}]}, "Passenger"),
    ({"flights": [{"flight_number": "HAT001"}]}, "FlightInfo"),
    ({"cabin": "first"}, "Reservation"),
    ({"flight_type": "return"}, "Reservation"),
    ({"insurance": "maybe"}, "Reservation"),
    ({"total_baggages": "three"}, "Reservation"),
])
def test_book_validation_errors(env, changes, model):
    text = err(env, "book_reservation", **{**BOOK, **changes})
    assert text.startswith("Error: 1 validation error for " + model)


def test_book_coerces_model_fields_but_prices_the_raw_bag_count(env, db):
    res = json.loads(book(env, payment_methods=[{"payment_id": "credit_card_1", "amount": "670"}],
                          total_baggages=3.0, nonfree_baggages=1.0).content)
    assert res["payment_history"] == [{"payment_id": "credit_card_1", "amount": 670}]
    assert res["total_baggages"] == 3 and isinstance(res["nonfree_baggages"], int)
    # total_baggages is never priced; nonfree is, from the raw argument
    env = AirlineEnv(db)
    assert err(env, "book_reservation", **{**BOOK, "nonfree_baggages": 2, "payment_methods": [
        {"payment_id": "credit_card_1", "amount": 670}]}) == (
        "Error: Payment amount does not add up, total price is 720, but paid 670")


def test_book_duplicate_certificate_partial_mutation(env):
    """tau2's one partial write: the gift card is debited and the certificate deleted before
    the second certificate lookup fails; no reservation is created."""
    res = env.call("book_reservation", {**BOOK, "cabin": "basic_economy", "insurance": "no",
                                        "nonfree_baggages": 0, "passengers": BOOK["passengers"][:1],
                                        "flights": [{"flight_number": "HAT004",
                                                     "date": "2024-05-20"}],
                                        "payment_methods": [
                                            {"payment_id": "gift_card_1", "amount": 20},
                                            {"payment_id": "certificate_1", "amount": 10},
                                            {"payment_id": "certificate_1", "amount": 10}]})
    assert (res.content, res.error) == ("Error: 'certificate_1'", True)
    ann = env.db.users["ann_lee_1"]
    assert ann["payment_methods"]["gift_card_1"]["amount"] == 480.0
    assert "certificate_1" not in ann["payment_methods"]
    assert ann["reservations"] == ["ABC123"] and "HATHAT" not in env.db.reservations
    assert env.db.flights["HAT004"]["dates"]["2024-05-20"]["available_seats"]["basic_economy"] == 4


# -- cancel --------------------------------------------------------------------------------------

def test_cancel_appends_negations_and_restores_nothing(env):
    assert not book(env).error
    rec = json.loads(ok(env, "cancel_reservation", reservation_id="HATHAT"))
    assert rec["status"] == "cancelled"
    assert [p["amount"] for p in rec["payment_history"]] == [400, 200, 70, -400, -200, -70]
    ann = env.db.users["ann_lee_1"]
    assert ann["payment_methods"]["gift_card_1"]["amount"] == 100.0  # not credited back
    assert "certificate_1" not in ann["payment_methods"]  # stays deleted
    assert env.db.flights["HAT001"]["dates"]["2024-05-20"]["available_seats"]["economy"] == 3
    assert ann["reservations"] == ["ABC123", "HATHAT"]
    # no status check: cancelling twice negates all 2n entries again
    again = json.loads(ok(env, "cancel_reservation", reservation_id="HATHAT"))
    assert [p["amount"] for p in again["payment_history"]][6:] == [-400, -200, -70, 400, 200, 70]
    assert err(env, "cancel_reservation", reservation_id="NOPE") == (
        "Error: Reservation NOPE not found")
    # a flown reservation cancels too: the tools check no eligibility
    assert json.loads(ok(env, "cancel_reservation", reservation_id="XYZ789"))["status"] == "cancelled"


# -- updates ----------------------------------------------------------------------------------

def test_baggage_update_charges_increases_only(env):
    rec = json.loads(ok(env, "update_reservation_baggages", reservation_id="ABC123",
                        total_baggages=3, nonfree_baggages=2, payment_id="gift_card_1"))
    assert rec["payment_history"][-1] == {"payment_id": "gift_card_1", "amount": 100}
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["amount"] == 400.0
    rec = json.loads(ok(env, "update_reservation_baggages", reservation_id="ABC123",
                        total_baggages=1, nonfree_baggages=0, payment_id="credit_card_1"))
    assert len(rec["payment_history"]) == 2  # decreases cost and refund nothing
    assert (rec["total_baggages"], rec["nonfree_baggages"]) == (1, 0)


def test_baggage_update_stores_raw_values(env, db):
    same = AirlineEnv(db)
    ok(same, "update_reservation_baggages", reservation_id="ABC123", total_baggages=2,
       nonfree_baggages=0, payment_id="credit_card_1")
    out = ok(env, "update_reservation_baggages", reservation_id="ABC123", total_baggages=2.0,
             nonfree_baggages=0, payment_id="credit_card_1")
    assert '"total_baggages": 2.0' in out
    assert env.db != same.db and env.db.canonical_hash() != same.db.canonical_hash()


@pytest.mark.parametrize("args, message", [
    ({"payment_id": "credit_card_2"}, "Error: Payment method not found"),
    ({"payment_id": "certificate_1", "nonfree_baggages": 0},
     "Error: Certificate cannot be used to update reservation"),
    ({"payment_id": "gift_card_1", "nonfree_baggages": 11}, "Error: Gift card balance is not enough"),
    ({"reservation_id": "NOPE"}, "Error: Reservation NOPE not found"),
])
def test_baggage_update_errors(env, args, message):
    call = {"reservation_id": "ABC123", "total_baggages": 3, "nonfree_baggages": 1,
            "payment_id": "credit_card_1", **args}
    assert err(env, "update_reservation_baggages", **call) == message


def _legs(*pairs):
    return [{"flight_number": fn, "date": d} for fn, d in pairs]


def test_flight_update_same_cabin_keeps_old_prices(env, db):
    same = _legs(("HAT001", "2024-05-20"), ("HAT002", "2024-05-20"))
    ok(env, "update_reservation_flights", reservation_id="ABC123", cabin="economy",
       flights=same, payment_id="credit_card_1")
    assert env.db == db  # zero difference records nothing: byte-identical
    rec = json.loads(ok(env, "update_reservation_flights", reservation_id="ABC123",
                        cabin="economy", flights=_legs(("HAT001", "2024-05-20"),
                                                       ("HAT002", "2024-05-21")),
                        payment_id="credit_card_1"))
    assert [s["price"] for s in rec["flights"]] == [180, 85]  # kept 180, new at today's 85
    assert rec["payment_history"][-1] == {"payment_id": "credit_card_1", "amount": 15}


def test_flight_update_cabin_change_reprices_all_and_refunds_to_gift_card(env):
    rec = json.loads(ok(env, "update_reservation_flights", reservation_id="ABC123",
                        cabin="basic_economy",
                        flights=_legs(("HAT001", "2024-05-20"), ("HAT002", "2024-05-20")),
                        payment_id="gift_card_1"))
    assert [s["price"] for s in rec["flights"]] == [100, 50] and rec["cabin"] == "basic_economy"
    assert rec["payment_history"][-1] == {"payment_id": "gift_card_1", "amount": -100}
    assert env.db.users["ann_lee_1"]["payment_methods"]["gift_card_1"]["amount"] == 600.0
    # flight changes never touch seat inventory
    seats = env.db.flights["HAT001"]["dates"]["2024-05-20"]["available_seats"]
    assert seats == {"basic_economy": 5, "economy": 5, "business": 2}


def test_flight_update_empty_itinerary_refunds_the_fare(env):
    rec = json.loads(ok(env, "update_reservation_flights", reservation_id="ABC123",
                        cabin="economy", flights=[], payment_id="credit_card_1"))
    assert rec["flights"] == []
    assert rec["payment_history"][-1] == {"payment_id": "credit_card_1", "amount": -250}


def test_flight_update_flown_segment_kept_only_without_cabin_change(env):
    flown = _legs(("HAT001", "2024-05-15"))
    ok(env, "update_reservation_flights", reservation_id="XYZ789", cabin="basic_economy",
       flights=flown, payment_id="credit_card_2")
    assert err(env, "update_reservation_flights", reservation_id="XYZ789", cabin="economy",
               flights=flown, payment_id="credit_card_2") == (
        "Error: Flight HAT001 not available on date 2024-05-15")


@pytest.mark.parametrize("args, message", [
    ({"cabin": "first"}, "Error: 'first'"),
    ({"reservation_id": "XYZ789", "flights": _legs(("HAT005", "2024-05-20")),
      "payment_id": "credit_card_2"}, "Error: Not enough seats on flight HAT005"),
    ({"flights": _legs(("HAT009", "2024-05-20"))}, "Error: Flight HAT009 not found"),
    ({"payment_id": "certificate_1"}, "Error: Certificate cannot be used to update reservation"),
    ({"payment_id": "credit_card_2"}, "Error: Payment method not found"),
    ({"reservation_id": "NOPE"}, "Error: Reservation NOPE not found"),
])
def test_flight_update_errors(env, args, message):
    call = {"reservation_id": "ABC123", "cabin": "business",
            "flights": _legs(("HAT001", "2024-05-20")), "payment_id": "credit_card_1", **args}
    assert err(env, "update_reservation_flights", **call) == message


def test_passenger_update(env):
    two = [{"first_name": "A", "last_name": "B", "dob": "2000-01-01"}] * 2
    assert err(env, "update_reservation_passengers", reservation_id="ABC123",
               passengers=two) == "Error: Number of passengers does not match"
    rec = json.loads(ok(env, "update_reservation_passengers", reservation_id="ABC123",
                        passengers=[{**two[0], "seat": "1A"}]))
    assert rec["passengers"] == [two[0]] and rec["payment_history"] == [
        {"payment_id": "credit_card_1", "amount": 250}]
    # the passengers are converted before the reservation is looked up
    assert err(env, "update_reservation_passengers", reservation_id="NOPE",
               passengers=[{"first_name": "A"}]).startswith(
        "Error: 2 validation errors for Passenger")


def test_send_certificate_ids_per_user(env):
    assert ok(env, "send_certificate", user_id="ann_lee_1", amount=100) == (
        "Certificate certificate_3221322 added to user ann_lee_1 with amount 100.")
    assert env.db.users["ann_lee_1"]["payment_methods"]["certificate_3221322"] == {
        "source": "certificate", "id": "certificate_3221322", "amount": 100.0}
    # bob already holds certificate_3221322; the amount is echoed as passed
    assert ok(env, "send_certificate", user_id="bob_ray_2", amount=50.0) == (
        "Certificate certificate_3221323 added to user bob_ray_2 with amount 50.0.")
    ok(env, "send_certificate", user_id="ann_lee_1", amount=1)
    ok(env, "send_certificate", user_id="ann_lee_1", amount=1)
    assert err(env, "send_certificate", user_id="ann_lee_1", amount=1) == (
        "Error: Too many certificates")
    assert err(env, "send_certificate", user_id="nobody", amount=1) == (
        "Error: User nobody not found")


def test_booking_with_a_certificate_frees_its_id_for_reuse(env):
    ok(env, "send_certificate", user_id="ann_lee_1", amount=700)
    ok(env, "book_reservation", **{**BOOK, "payment_methods": [
        {"payment_id": "certificate_3221322", "amount": 670}]})
    assert ok(env, "send_certificate", user_id="ann_lee_1", amount=5).startswith(
        "Certificate certificate_3221322 added")


# -- the DB: shape, forks, hash -----------------------------------------------------------------

def test_hash_shape_defaults_and_types():
    a = make_airline()
    b = make_airline()
    b["users"]["ann_lee_1"]["payment_methods"]["gift_card_1"]["amount"] = 500.0
    b["users"]["bob_ray_2"]["address"]["address2"] = None
    b["reservations"]["ABC123"]["status"] = None
    one, two = AirlineDB.from_dict(a), AirlineDB.from_dict(b)
    assert one == two and one.canonical_hash() == two.canonical_hash()
    assert one.reservations["XYZ789"]["status"] is None


def test_forks_share_untouched_records(db):
    env = AirlineEnv(db)
    ok(env, "cancel_reservation", reservation_id="ABC123")
    assert env.db.reservations["XYZ789"] is db.reservations["XYZ789"]
    assert env.db.flights["HAT001"] is db.flights["HAT001"]
    assert env.db.diff_keys(db) == ["reservations/ABC123"]
    assert book(env).error is False
    assert env.db.diff_keys(db) == ["flights/HAT001", "flights/HAT002", "users/ann_lee_1",
                                    "reservations/ABC123", "reservations/HATHAT"]
    # a booking copies only the flight dates it touches (a flight holds 30 of them)
    mine, base = env.db.flights["HAT001"]["dates"], db.flights["HAT001"]["dates"]
    assert mine["2024-05-15"] is base["2024-05-15"] and mine["2024-05-20"] is not base["2024-05-20"]
    assert base["2024-05-20"]["available_seats"]["economy"] == 5


def test_fork_equality_with_added_records_agrees_with_hash(db):
    a, b = AirlineEnv(db), AirlineEnv(db)
    assert book(a).error is False and book(b).error is False
    assert a.db == b.db and a.db.canonical_hash() == b.db.canonical_hash()
    ok(a, "cancel_reservation", reservation_id="HATHAT")
    assert a.db != b.db and a.db.canonical_hash() != b.db.canonical_hash()
    # an equal DB built independently (another root) compares equal too
    other = AirlineEnv(AirlineDB.from_dict(make_airline()))
    assert book(other).error is False and other.db == b.db


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["flights"]["HAT001"]["dates"]["2024-05-20"].update(status="boarding"),
     "flights['HAT001'].dates['2024-05-20'].status: \"boarding\" is not one of"),
    (lambda d: d["users"]["ann_lee_1"].update(membership="platinum"),
     "users['ann_lee_1'].membership: \"platinum\" is not one of regular, silver, gold"),
    (lambda d: d["reservations"]["ABC123"]["flights"][0].pop("price"),
     "reservations['ABC123'].flights[0]: missing field 'price'"),
    (lambda d: d.pop("flights"), "missing or malformed top-level 'flights'"),
])
def test_bad_db_is_refused_naming_the_record(mutate, message):
    data = make_airline()
    mutate(data)
    with pytest.raises(WorldError) as exc:
        AirlineDB.from_dict(data, "air.json")
    assert str(exc.value).startswith("air.json: ") and message in str(exc.value)


def test_a_retail_db_is_named_as_such():
    with pytest.raises(WorldError, match="this looks like a retail db.json"):
        AirlineDB.from_dict({"products": {}, "users": {}, "orders": {}}, "db.json")


def test_book_checks_each_payment_entry_alone(env):
    """The same gift card listed twice is checked per entry (not aggregated), so the balance
    can go negative; zero-amount entries are kept; a certificate used for 0 is still deleted."""
    pays = [{"payment_id": "gift_card_1", "amount": 335}, {"payment_id": "certificate_1",
                                                          "amount": 0},
            {"payment_id": "gift_card_1", "amount": 335}]
    rec = json.loads(ok(env, "book_reservation", **{**BOOK, "payment_methods": pays}))
    assert rec["payment_history"] == pays
    ann = env.db.users["ann_lee_1"]["payment_methods"]
    assert ann["gift_card_1"]["amount"] == -170.0 and "certificate_1" not in ann


def test_lists_are_converted_only_when_every_item_is_a_dict(env):
    assert err(env, "book_reservation", **{**BOOK, "flights": ["HAT001"]}) == (
        "Error: 'str' object has no attribute 'flight_number'")
    assert err(env, "update_reservation_flights", reservation_id="ABC123", cabin="economy",
               flights=[{"flight_number": "HAT001", "date": "2024-05-20"}, "HAT002"],
               payment_id="credit_card_1") == (
        "Error: 'dict' object has no attribute 'flight_number'")  # the unconverted first item


@pytest.mark.parametrize("amount, accepted", [
    ("670.0", True), (670.0, True), ("1e2", False), ("abc", False), (None, False)])
def test_int_coercion_of_payment_amounts(env, amount, accepted):
    res = book(env, payment_methods=[{"payment_id": "credit_card_1", "amount": amount}])
    if accepted:
        assert not res.error and json.loads(res.content)["payment_history"][0]["amount"] == 670
    else:
        assert res.error and res.content.startswith("Error: 1 validation error for Payment")
