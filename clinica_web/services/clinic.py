"""The clinic's settings as the services need them: time zone, booking policy, clock."""
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app

from clinica_web.services import slots
from clinica_web.services.slots import Policy


@lru_cache(maxsize=8)
def _zone(name):
    return ZoneInfo(name)


def tz() -> ZoneInfo:
    return _zone(current_app.config["CLINIC_TIMEZONE"])


def policy() -> Policy:
    config = current_app.config
    return Policy(min_notice_minutes=config["MIN_NOTICE_MINUTES"], horizon_days=config["BOOKING_HORIZON_DAYS"])


def now() -> datetime:
    """The current instant: the one clock of the app. Views and commands call this and pass it to
    services as `now=`.

    `CLOCK` (a callable returning an aware datetime) replaces the wall clock: the tests set it,
    so that they pass at any instant they are run at (tests/conftest.py).
    """
    clock = current_app.config.get("CLOCK")
    return clock() if clock is not None else datetime.now(timezone.utc)


def local_today(at: datetime) -> date:
    return at.astimezone(tz()).date()


def to_local(instant: datetime) -> datetime:
    return instant.astimezone(tz())


def format_local(instant: datetime) -> str:
    """'Mon 23 Nov 2026, 09:30 -03': clinic-local time with the zone abbreviation."""
    local = to_local(instant)
    return local.strftime("%a %d %b %Y, %H:%M ") + local.tzname()


def local_day_span(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """UTC instants from local midnight of `first` to local midnight after `last` (default `first`)."""
    zone = tz()
    start = slots.local_instant(first, 0, zone) or slots.local_instant(first, 60, zone)
    last = last or first
    end = slots.local_instant(last, 1440, zone) or slots.local_instant(last, 1500, zone)
    return start, end
