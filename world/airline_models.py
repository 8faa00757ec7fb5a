"""The few pydantic behaviours the airline tools depend on, restated (SPEC-airline §3.1).

tau2 builds models from tool arguments only in a few places: list items given as dicts become
FlightInfo / Passenger / Payment (extra keys dropped, missing keys or bad types an error), a new
reservation is validated as a whole, and a certificate's amount becomes a float. Errors read
`N validation error(s) for <Model>` like pydantic's; the rest of pydantic's text embeds a
version URL, so tests compare such errors by flag only.

Converted items are small objects with attributes, because tau2's code reads `.flight_number`
etc.: an item that was not converted (not every item was a dict) then fails with Python's own
AttributeError text, as in tau2.
"""

from __future__ import annotations

import re
from typing import Any

_INT_TEXT = re.compile(r"\s*[+-]?\d+(\.0*)?\s*")


class ValidationError(ValueError):
    """A pydantic-style validation error: `N validation error(s) for Model` + one block each."""

    def __init__(self, model: str, errors: list[tuple[str, str, str, Any]]):
        n = len(errors)
        lines = [f"{n} validation error{'s' if n != 1 else ''} for {model}"]
        for loc, msg, kind, value in errors:
            lines.append(loc)
            lines.append(f"  {msg} [type={kind}, input_value={value!r}, "
                         f"input_type={type(value).__name__}]")
        super().__init__("\n".join(lines))


_Err = tuple[str, str, str, Any]


def _str(data: dict, key: str, loc: str, errs: list[_Err]) -> Any:
    if key not in data:
        errs.append((loc, "Field required", "missing", data))
        return None
    val = data[key]
    if not isinstance(val, str):
        errs.append((loc, "Input should be a valid string", "string_type", val))
    return val


def as_int(val: Any) -> int | None:
    """pydantic's lax int: ints, bools, integral floats, decimal strings; else None."""
    if isinstance(val, bool):
        return int(val)
    if isinstance(val, int):
        return val
    if isinstance(val, float):
        return int(val) if val == val and val not in (float("inf"), float("-inf")) \
            and val == int(val) else None
    if isinstance(val, str) and _INT_TEXT.fullmatch(val):
        return int(float(val)) if "." in val else int(val)
    return None


def _int(data: dict, key: str, loc: str, errs: list[_Err]) -> Any:
    if key not in data:
        errs.append((loc, "Field required", "missing", data))
        return None
    val = data[key]
    out = as_int(val)
    if out is None:
        if isinstance(val, float):
            errs.append((loc, "Input should be a valid integer, got a number with a fractional "
                              "part", "int_from_float", val))
        elif isinstance(val, str):
            errs.append((loc, "Input should be a valid integer, unable to parse string as an "
                              "integer", "int_parsing", val))
        else:
            errs.append((loc, "Input should be a valid integer", "int_type", val))
    return out


def as_float(val: Any) -> float | None:
    """pydantic's lax float: numbers and numeric strings; else None."""
    if isinstance(val, (bool, int, float)):
        return float(val)
    if isinstance(val, str):
        try:
            return float(val.strip())
        except ValueError:
            return None
    return None


class FlightInfo:
    """{flight_number, date} of a requested flight."""
    __slots__ = ("flight_number", "date")

    def __init__(self, data: dict):
        errs: list[_Err] = []
        self.flight_number = _str(data, "flight_number", "flight_number", errs)
        self.date = _str(data, "date", "date", errs)
        if errs:
            raise ValidationError("FlightInfo", errs)


class Passenger:
    """{first_name, last_name, dob}."""
    __slots__ = ("first_name", "last_name", "dob")

    def __init__(self, data: dict):
        errs: list[_Err] = []
        self.first_name = _str(data, "first_name", "first_name", errs)
        self.last_name = _str(data, "last_name", "last_name", errs)
        self.dob = _str(data, "dob", "dob", errs)
        if errs:
            raise ValidationError("Passenger", errs)

    def dump(self) -> dict:
        return {"first_name": self.first_name, "last_name": self.last_name, "dob": self.dob}


class Payment:
    """{payment_id, amount: int}."""
    __slots__ = ("payment_id", "amount")

    def __init__(self, data: dict):
        errs: list[_Err] = []
        self.payment_id = _str(data, "payment_id", "payment_id", errs)
        self.amount = _int(data, "amount", "amount", errs)
        if errs:
            raise ValidationError("Payment", errs)

    def dump(self) -> dict:
        return {"payment_id": self.payment_id, "amount": self.amount}


def convert(items: Any, model: type) -> Any:
    """tau2's conversion: a list whose items are all dicts becomes models; anything else is
    passed through untouched (and fails later, as in tau2)."""
    if all(isinstance(x, dict) for x in items):
        return [model(x) for x in items]
    return items


def dump_list(items: Any) -> Any:
    """A field's dump: models as dicts, anything else as given."""
    if isinstance(items, list):
        return [x.dump() if isinstance(x, (Passenger, Payment)) else x for x in items]
    return items


def literal(val: Any, allowed: tuple, loc: str, errs: list[_Err]) -> Any:
    """A Literal field: one of `allowed`, else pydantic's literal_error."""
    if not (isinstance(val, str) and val in allowed):
        choices = " or ".join(", ".join(f"'{a}'" for a in allowed).rsplit(", ", 1))
        errs.append((loc, f"Input should be {choices}", "literal_error", val))
    return val


def model_list(items: Any, model: type, loc: str, errs: list[_Err]) -> list:
    """A list[Model] field: models kept, dicts validated, anything else an error."""
    if not isinstance(items, list):
        errs.append((loc, "Input should be a valid list", "list_type", items))
        return []
    out = []
    for i, x in enumerate(items):
        if isinstance(x, model):
            out.append(x)
        elif isinstance(x, dict):
            try:
                out.append(model(x))
            except ValidationError:
                errs.append((f"{loc}.{i}", f"Input should be a valid {model.__name__}",
                             "model_type", x))
        else:
            errs.append((f"{loc}.{i}", "Input should be a valid dictionary or instance of "
                                       f"{model.__name__}", "model_type", x))
    return out


def check_str(val: Any, loc: str, errs: list[_Err]) -> Any:
    """A str field given directly."""
    if not isinstance(val, str):
        errs.append((loc, "Input should be a valid string", "string_type", val))
    return val


def check_int(val: Any, loc: str, errs: list[_Err]) -> Any:
    """An int field given directly (coerced as pydantic does)."""
    return _int({loc: val}, loc, loc, errs)
