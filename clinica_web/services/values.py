"""Parsing the plain values of booking requests, refused by the rules of DESIGN.md section 6 (rules.py)."""
import re
import unicodedata
from datetime import date

from clinica_web.i18n import N_
from clinica_web.models.appointment import MAX_DURATION
from clinica_web.services.errors import InvalidInput
from clinica_web.services.rules import refusal

_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")  # [0-9], not \d: no other scripts' digits
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The dates the clinic deals in. Outside them no rule means anything, and date arithmetic near
# year 1 or 9999 overflows: such dates are refused where they come in, not half-way through a
# change (a blocked period in year 1 was once saved before its page failed).
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database (PostgreSQL refuses to compare with more)


def valid_id(value) -> bool:
    """Whether `value` is an int that can be a row's id (booleans are ints to Python, not ids)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def whole_number(value) -> int | None:
    """An int, or a string of ASCII digits, as an int; None for anything else.

    ASCII only: "²".isdigit() is true but int() refuses it, and int("١") reads Arabic-Indic digits.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value.strip())
    return None


def positive_number(text, maximum: int) -> int | None:
    """A string of ASCII digits (no sign, no spaces) as an int from 1 to `maximum`; None otherwise.

    Checked as text first: "²".isdigit() is true but int() refuses it, and int() of a 5 000-digit
    string raises ValueError (Python's limit on such conversions).
    """
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= len(str(maximum))):
        return None
    number = int(text)
    return number if 0 < number <= maximum else None


def parse_date(value, *, bounded=True) -> date:
    """A YYYY-MM-DD date; with `bounded` (the default) only one from FIRST_DATE to LAST_DATE.

    Booking leaves it unbounded and answers an outlying date with its own rules (in the past,
    beyond the horizon), checked before any date arithmetic.
    """
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise refusal("invalid_date")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise refusal("invalid_date") from None
    if bounded and not in_range(day):
        raise InvalidInput("Choose a date from %(first)s to %(last)s", field="date", first=FIRST_DATE,
                           last=LAST_DATE)
    return day


def in_range(day: date) -> bool:
    return FIRST_DATE <= day <= LAST_DATE


_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
INVALID_MONTH = N_("Invalid month format (YYYY-MM)")


def parse_month(value) -> tuple[int, int]:
    """A YYYY-MM month from FIRST_DATE's to LAST_DATE's, as (year, month); InvalidInput otherwise."""
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise InvalidInput(INVALID_MONTH, field="month")
    if not FIRST_DATE.year <= int(match[1]) <= LAST_DATE.year:  # well written: say what is allowed
        raise InvalidInput("Choose a month from %(first)s to %(last)s", field="month",
                           first=FIRST_DATE.strftime("%Y-%m"), last=LAST_DATE.strftime("%Y-%m"))
    return int(match[1]), int(match[2])


def parse_time(value) -> int:
    """'HH:MM' (24-hour) to minutes since midnight."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise refusal("invalid_time")
    return int(match[1]) * 60 + int(match[2])


def parse_duration(value, default: int) -> int:
    if value is None or value == "":
        return default
    value = whole_number(value)
    if value is None or not 1 <= value <= MAX_DURATION:
        raise refusal("invalid_duration")
    return value


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape "\\") for lower-cased values containing `text`: its % and _ are literal."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def one_line(value, *, field: str, max_length: int, empty: str, too_long: str, **values) -> str:
    """One line of printable text, whitespace folded; InvalidInput(`empty` or `too_long`, with
    `values` for their placeholders) otherwise. Line breaks, tabs and other control characters are
    refused, not folded into spaces."""
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(empty, field=field, **values)
    controls = any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value)
    if len(text) > max_length or not text.isprintable() or controls:
        raise InvalidInput(too_long, field=field, **values)
    return text


# Characters that change how the text around them reads (its direction), unseen: U+061C, U+200E/F,
# U+202A-U+202E, U+2066-U+2069.
_DIRECTION_MARKS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def has_hidden_controls(text: str) -> bool:
    """Whether a text has control characters or direction marks: what a short public text (a
    closure's reason) must not carry. Emoji sequences and soft hyphens are fine."""
    return bool(_DIRECTION_MARKS.search(text)) or any(unicodedata.category(char) == "Cc" for char in text)


def csv_cell(value) -> str:
    """A value as a CSV cell that spreadsheets show as text: one starting like a formula ("=", "+",
    "-", "@", a tab or a return) gets a leading apostrophe (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
