"""The slot engine: which start times a doctor can be booked at on one local day.

Pure: plain values in, a list of local start minutes out; no database, no request, no clock.
Windows and start times are wall-clock minutes since local midnight (0..1440) in the clinic's
time zone; busy intervals and `now` are instants. Every comparison is made on instants counted in
whole minutes since the epoch, so a day with a daylight-saving change has 23 or 25 real hours and
durations are real elapsed minutes. A local time that does not exist (spring forward) is never
offered; an ambiguous one (fall back) means its first occurrence.

The rules are DESIGN.md section 5; `booking.book()` checks the same rules again, in its transaction.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

STEP_MINUTES = 15
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Policy:
    min_notice_minutes: int = 0
    horizon_days: int = 90


def epoch_minutes(instant: datetime) -> int:
    """Whole minutes since the epoch (instants here are always on whole minutes)."""
    return int((instant - EPOCH).total_seconds() // 60)


def local_instant(day: date, minute: int, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of wall-clock `minute` (0..1440) on `day`, or None if that time does not exist.

    Minute 1440 is the next day's midnight. Ambiguous times resolve to the first occurrence (fold=0).
    """
    day = day + timedelta(days=minute // 1440)
    minute %= 1440
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    instant = wall.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) != wall.replace(tzinfo=None):
        return None  # skipped by a spring-forward change
    return instant


def window_span(day: date, window: tuple[int, int], tz: ZoneInfo) -> tuple[int, int]:
    """A wall-clock window on `day` as epoch minutes [open, close).

    An edge inside a spring-forward gap is where the gap ends (the first real minute after it).
    """
    return tuple(_edge(day, minute, tz) for minute in window)


def _edge(day, minute, tz):
    instant = local_instant(day, minute, tz)
    if instant is None:
        # fold=1 reads the skipped wall time with the later offset: an instant just before the
        # gap. Walk forward to the first real minute whose wall time is at or after the edge.
        wall = datetime.combine(day + timedelta(days=minute // 1440), time((minute % 1440) // 60, minute % 60))
        instant = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
        while instant.astimezone(tz).replace(tzinfo=None) < wall:
            instant += timedelta(minutes=1)
    return epoch_minutes(instant)


def inside_a_window(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(open_at <= start and end <= close_at for open_at, close_at in spans)


def overlaps_any(start: int, end: int, busy: list[tuple[int, int]]) -> bool:
    """Half-open overlap: back-to-back intervals do not overlap."""
    return any(b_start < end and start < b_end for b_start, b_end in busy)


def beyond_horizon(day: date, now: datetime, tz: ZoneInfo, policy: Policy) -> bool:
    return day > now.astimezone(tz).date() + timedelta(days=policy.horizon_days)


def free_slots(
    *,
    day: date,
    windows: list[tuple[int, int]],
    busy: list[tuple[datetime, datetime]],
    duration: int,
    now: datetime,
    tz: ZoneInfo,
    policy: Policy = Policy(),
) -> list[int]:
    """Local start minutes s (on the 15-minute grid) where [s, s + duration) is bookable.

    windows: (start_minute, end_minute) wall-clock pairs of the doctor's hours on `day`'s weekday.
    busy: (start, end) instants of appointments, blocked periods and closures (half-open).
    """
    if beyond_horizon(day, now, tz, policy):
        return []
    earliest = epoch_minutes(now) + policy.min_notice_minutes
    busy_minutes = [(epoch_minutes(start), epoch_minutes(end)) for start, end in busy]
    spans = [window_span(day, window, tz) for window in windows]
    starts = set()
    for window_start, window_end in windows:
        first = -(-window_start // STEP_MINUTES) * STEP_MINUTES
        for minute in range(first, min(window_end, 1440), STEP_MINUTES):
            instant = local_instant(day, minute, tz)
            if instant is None:
                continue
            start = epoch_minutes(instant)
            end = start + duration
            if start > earliest and inside_a_window(start, end, spans) and not overlaps_any(start, end, busy_minutes):
                starts.add(minute)
    return sorted(starts)


def format_minute(minute: int) -> str:
    return "%02d:%02d" % divmod(minute, 60)
