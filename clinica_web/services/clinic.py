"""The clinic's settings as the services need them: time zone, booking policy, clock."""
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app

from clinica_web import i18n
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


def zone_name() -> str:
    """The clinic's time zone as people say it: "Santiago time" for America/Santiago (whose
    abbreviation is only "-03"). Pages and emails name it once; times are shown plainly."""
    return f"{zone_city()} time"


def zone_city() -> str:
    """The place the clinic's time zone is named after: "Santiago" for America/Santiago."""
    return current_app.config["CLINIC_TIMEZONE"].rsplit("/", 1)[-1].replace("_", " ")


def format_local(instant: datetime) -> str:
    """'Mon 23 Nov 2026, 09:30': clinic-local time. In the hour repeated when clocks go back, the
    offset tells the two 23:30s apart: 'Sat 04 Apr 2026, 23:30 (UTC-04)'."""
    local = to_local(instant)
    text = f"{i18n.format_day(local, 'short_date')}, {local:%H:%M}"
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        hours, minutes = divmod(abs(int(local.utcoffset().total_seconds())) // 60, 60)
        sign = "-" if local.utcoffset() < timedelta(0) else "+"
        text += f" (UTC{sign}{hours:02d}" + (f":{minutes:02d})" if minutes else ")")
    return text


def format_period(start: datetime, end: datetime) -> str:
    """A blocked period or closure as people read it: whole local days as dates ("Mon 07 Dec 2026",
    "Mon 07 Dec 2026 – Wed 09 Dec 2026"), else with times ("Mon 07 Dec 2026, 14:00–18:00")."""
    first_day, last_day = local_today(start), local_today(end - timedelta(minutes=1))
    if start == local_day_span(first_day)[0] and end == local_day_span(last_day)[1]:
        if first_day == last_day:
            return i18n.format_day(first_day, "short_date")
        return f"{i18n.format_day(first_day, 'short_date')} – {i18n.format_day(last_day, 'short_date')}"
    if first_day == local_today(end):
        return f"{format_local(start)}–{to_local(end):%H:%M}"
    return f"{format_local(start)} – {format_local(end)}"


def local_day_span(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """UTC instants from local midnight of `first` to local midnight after `last` (default `first`)."""
    return _day_span(first, last or first, tz())


@lru_cache(maxsize=1024)
def _day_span(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    # Worked out once per worker for each day (every slot request asks it of its day).
    start = slots.local_instant(first, 0, zone) or slots.local_instant(first, 60, zone)
    end = slots.local_instant(last, 1440, zone) or slots.local_instant(last, 1500, zone)
    return start, end
