"""Parsing the plain values of booking requests, with the exact messages of DESIGN.md section 6."""
import re
from datetime import date

from clinica_web.models.appointment import MAX_DURATION
from clinica_web.services.errors import InvalidInput

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def whole_number(value) -> int | None:
    """An int, or a string of ASCII digits, as an int; None for anything else.

    ASCII only: "²".isdigit() is true but int() refuses it, and int("١") reads Arabic-Indic digits.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value.strip())
    return None


def parse_date(value) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidInput("Invalid date format (YYYY-MM-DD)", field="date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Invalid date format (YYYY-MM-DD)", field="date") from None


def parse_time(value) -> int:
    """'HH:MM' (24-hour) to minutes since midnight."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise InvalidInput("Invalid time format (HH:MM)", field="time")
    return int(match[1]) * 60 + int(match[2])


def parse_duration(value, default: int) -> int:
    if value is None or value == "":
        return default
    value = whole_number(value)
    if value is None or not 1 <= value <= MAX_DURATION:
        raise InvalidInput("Invalid duration", field="duration")
    return value
