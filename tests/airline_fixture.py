"""A small hand-made airline world (tau2 db.json shape) for the airline tool tests."""

from __future__ import annotations


def _avail(seats, prices):
    cabins = ("basic_economy", "economy", "business")
    return {"status": "available", "available_seats": dict(zip(cabins, seats)),
            "prices": dict(zip(cabins, prices))}


def _flight(fn, origin, dest, dep, arr, dates):
    return {"flight_number": fn, "origin": origin, "destination": dest,
            "scheduled_departure_time_est": dep, "scheduled_arrival_time_est": arr,
            "dates": dates}


def _person(first, last, dob):
    return {"first_name": first, "last_name": last, "dob": dob}


def make_airline() -> dict:
    flights = {
        "HAT001": _flight("HAT001", "JFK", "LAX", "08:00:00", "11:00:00", {
            "2024-05-15": {"status": "landed", "actual_departure_time_est": "2024-05-15T08:05:00",
                           "actual_arrival_time_est": "2024-05-15T11:02:00"},
            "2024-05-20": _avail((5, 5, 2), (100, 200, 500)),
            "2024-05-21": {"status": "cancelled"}}),
        "HAT002": _flight("HAT002", "LAX", "SFO", "12:00:00", "13:00:00", {
            "2024-05-20": _avail((3, 3, 1), (50, 80, 300)),
            "2024-05-21": _avail((3, 3, 1), (55, 85, 310))}),
        "HAT003": _flight("HAT003", "JFK", "LAX", "22:00:00", "01:00:00+1", {
            "2024-05-05": _avail((9, 9, 9), (90, 190, 490)),
            "2024-05-20": _avail((9, 9, 9), (90, 190, 490))}),
        "HAT004": _flight("HAT004", "LAX", "SFO", "06:00:00", "07:00:00", {
            "2024-05-06": _avail((4, 4, 4), (40, 70, 270)),
            "2024-05-20": _avail((4, 4, 4), (40, 70, 270)),
            "2024-05-21": _avail((4, 4, 4), (40, 70, 270))}),
        "HAT005": _flight("HAT005", "JFK", "SFO", "09:00:00", "15:00:00", {
            "2024-05-15": {"status": "delayed",
                           "estimated_departure_time_est": "2024-05-15T10:00:00",
                           "estimated_arrival_time_est": "2024-05-15T16:00:00"},
            "2024-05-20": _avail((1, 1, 1), (300, 400, 900))}),
    }
    users = {
        "ann_lee_1": {
            "user_id": "ann_lee_1", "name": {"first_name": "Ann", "last_name": "Lee"},
            "address": {"address1": "1 Main St", "address2": "Apt 2", "city": "Boston",
                        "country": "USA", "state": "MA", "zip": "02101"},
            "email": "ann@example.com", "dob": "1980-01-01",
            "payment_methods": {
                "credit_card_1": {"source": "credit_card", "id": "credit_card_1",
                                  "brand": "visa", "last_four": "1111"},
                "gift_card_1": {"source": "gift_card", "id": "gift_card_1", "amount": 500},
                "certificate_1": {"source": "certificate", "id": "certificate_1",
                                  "amount": 250.0}},
            "saved_passengers": [_person("Tom", "Lee", "2010-02-02")],
            "membership": "gold", "reservations": ["ABC123"]},
        "bob_ray_2": {
            "user_id": "bob_ray_2", "name": {"first_name": "Bob", "last_name": "Ray"},
            "address": {"address1": "2 Elm St", "city": "Austin", "country": "USA",
                        "state": "TX", "zip": "73301"},
            "email": "bob@example.com", "dob": "1975-03-03",
            "payment_methods": {
                "credit_card_2": {"source": "credit_card", "id": "credit_card_2",
                                  "brand": "amex", "last_four": "2222"},
                "certificate_3221322": {"source": "certificate", "id": "certificate_3221322",
                                        "amount": 100.0}},
            "saved_passengers": [], "membership": "regular", "reservations": ["XYZ789"]},
    }
    reservations = {
        "ABC123": {
            "reservation_id": "ABC123", "user_id": "ann_lee_1", "origin": "JFK",
            "destination": "SFO", "flight_type": "one_way", "cabin": "economy",
            "flights": [
                {"origin": "JFK", "destination": "LAX", "flight_number": "HAT001",
                 "date": "2024-05-20", "price": 180},
                {"origin": "LAX", "destination": "SFO", "flight_number": "HAT002",
                 "date": "2024-05-20", "price": 70}],
            "passengers": [_person("Ann", "Lee", "1980-01-01")],
            "payment_history": [{"payment_id": "credit_card_1", "amount": 250}],
            "created_at": "2024-05-14T10:00:00", "total_baggages": 1, "nonfree_baggages": 0,
            "insurance": "no"},
        "XYZ789": {
            "reservation_id": "XYZ789", "user_id": "bob_ray_2", "origin": "JFK",
            "destination": "LAX", "flight_type": "one_way", "cabin": "basic_economy",
            "flights": [{"flight_number": "HAT001", "origin": "JFK", "destination": "LAX",
                         "date": "2024-05-15", "price": 90}],
            "passengers": [_person("Bob", "Ray", "1975-03-03"), _person("Sue", "Ray", "1977-04-04")],
            "payment_history": [{"payment_id": "credit_card_2", "amount": 180}],
            "created_at": "2024-05-10T09:00:00", "total_baggages": 0, "nonfree_baggages": 0,
            "insurance": "yes"},
    }
    return {"flights": flights, "users": users, "reservations": reservations}
