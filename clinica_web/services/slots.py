"""The slot engine: which start times a doctor can be booked at on one local day.

Pure: plain values in, a list of local start minutes out; no database, no request, no clock.
Windows and start times are wall-clock minutes since local midnight (0..1440) in the clinic's
time zone; busy intervals and `now` are instants. Every comparison is made on instants counted in
whole minutes since the epoch, so a day with a daylight-saving change has 23 or 25 real hours and
durations are real elapsed minutes. A local time that does not exist (spring forward) is never
offered; an ambiguous one (fall back) means its first occurrence.

The rules are DESIGN.md section 5, with the codes of rules.py; the booking check asks the same
Day.stops about the one time it books, again inside its transaction.
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
        wall = datetime.combine(day + timedelta(days=minute // 1440), time((minute % 1440) // 60, minute % 60))
        instant = gap_end(wall, tz)
    return epoch_minutes(instant)


def gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant where the spring-forward gap holding the (naive, skipped) wall time ends:
    the first real minute whose wall time is at or after it."""
    # fold=1 reads the skipped wall time with the later offset: an instant just before the gap.
    instant = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    while instant.astimezone(tz).replace(tzinfo=None) < wall:
        instant += timedelta(minutes=1)
    return instant


def inside_a_window(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(open_at <= start and end <= close_at for open_at, close_at in spans)


def overlaps_any(start: int, end: int, busy: list[tuple[int, int]]) -> bool:
    """Half-open overlap: back-to-back intervals do not overlap."""
    return any(b_start < end and start < b_end for b_start, b_end in busy)


def beyond_horizon(day: date, now: datetime, tz: ZoneInfo, policy: Policy) -> bool:
    return day > now.astimezone(tz).date() + timedelta(days=policy.horizon_days)


# What holds time, by the rule it breaks (rules.py): the doctor's bookings, their blocked periods,
# clinic closures, and the patient's own bookings with any doctor.
BOOKED, BLOCKED, CLOSED, PATIENT_BUSY = "booked", "blocked", "closed", "patient_busy"
BUSY_RULES = (BLOCKED, CLOSED, BOOKED, PATIENT_BUSY)  # in the order the booking check reports them


@dataclass(frozen=True)
class Busy:
    """[start, end) held by something: `rule` is the code it stops a time with, `ref` its row's id."""

    start: datetime
    end: datetime
    rule: str = BOOKED
    ref: int | None = None


class Day:
    """One doctor's local day, ready to say which time rules stop a start time (DESIGN.md sections
    5 and 6; the codes of rules.TIME_RULES, in their order).

    windows: (start_minute, end_minute) wall-clock pairs of the doctor's hours on `day`'s weekday.
    busy: Busy intervals (or plain (start, end) pairs, taken as bookings) overlapping the day.
    """

    def __init__(self, *, day: date, windows, busy, now: datetime, tz: ZoneInfo, policy: Policy = Policy()):
        self.day, self.windows, self.tz = day, list(windows), tz
        today = now.astimezone(tz).date()
        self.past = day < today
        self.beyond = day > today + timedelta(days=policy.horizon_days)
        self.earliest = epoch_minutes(now) + policy.min_notice_minutes
        self.busy = [item if isinstance(item, Busy) else Busy(*item) for item in busy]
        self._busy_minutes = [(epoch_minutes(item.start), epoch_minutes(item.end), item) for item in self.busy]
        self._busy_spans = [(start, end) for start, end, _item in self._busy_minutes]
        self._spans = None
        self._midnight = _steady_midnight(day, tz) if not self.closed_all_day else None

    @property
    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            if self._midnight is not None:
                self._spans = [(self._midnight + start, self._midnight + end) for start, end in self.windows]
            else:
                self._spans = [window_span(self.day, window, self.tz) for window in self.windows]
        return self._spans

    @property
    def closed_all_day(self) -> bool:
        """Whether no time of this day can be offered, whatever its minute (no need to try each)."""
        return self.past or self.beyond or not self.windows

    def _start(self, minute: int) -> tuple[bool, int]:
        """(whether local `minute` exists that day, its epoch minute). A local time skipped by a
        daylight-saving change has no instant: it is measured from the gap's end."""
        if self._midnight is not None and 0 <= minute < 1440:
            return True, self._midnight + minute
        instant = local_instant(self.day, minute, self.tz)
        return instant is not None, epoch_minutes(instant or local_instant(self.day, minute + 60, self.tz))

    @property
    def steady(self) -> bool:
        """Whether the day runs at one UTC offset from midnight to midnight (not a daylight-saving day)."""
        return self._midnight is not None

    def free_starts(self, minutes: list[int], duration: int) -> list[int]:
        """Of `minutes` (in order, on the grid), those no rule of `stops` stops, on a steady day.
        A local minute is midnight's epoch minute plus itself, and the rules are a sweep over the
        busy time, merged and in order (a busy day's timeline asks this of 50 doctors at once).
        tests/unit/test_slots.py holds it to exactly what `stops` lets through: change them together."""
        busy, found, ahead = _merged(self._busy_spans), [], 0
        for minute in minutes:
            start, end = self._midnight + minute, self._midnight + minute + duration
            if start <= self.earliest or not any(open_at <= minute and minute + duration <= close_at
                                                 for open_at, close_at in self.windows):
                continue
            while ahead < len(busy) and busy[ahead][1] <= start:
                ahead += 1
            if ahead == len(busy) or end <= busy[ahead][0]:
                found.append(minute)
        return found

    def stops(self, minute: int, duration: int, *, every=False) -> list[tuple[str, Busy | None]]:
        """The rules that stop [minute, minute + duration) as (code, the Busy in the way or None):
        only the first (what a booking reports), or with `every` all of them (the explainer)."""
        found = []

        def stopped(code, busy=None):
            found.append((code, busy))
            return not every

        if self.past and stopped("too_soon") or self.beyond and stopped("beyond_horizon"):
            return found
        try:
            exists, start = self._start(minute)
            spans = self.spans
        except OverflowError:  # year 1 or 9999: no instant to compare, and past or beyond already said so
            return found
        end = start + duration
        if (not self.past and start <= self.earliest and stopped("too_soon")
                or not self.windows and stopped("not_working_day")
                or self.windows and not inside_a_window(start, end, spans) and stopped("outside_hours")
                or (not exists or minute % STEP_MINUTES) and stopped("off_grid")):
            return found
        if not every and not overlaps_any(start, end, self._busy_spans):
            return found  # the common case, a free time: no need to ask which rule
        for rule in BUSY_RULES:
            for b_start, b_end, busy in self._busy_minutes:
                if busy.rule == rule and b_start < end and start < b_end and stopped(rule, busy):
                    return found
        return found


def free_slots(
    *,
    day: date,
    windows: list[tuple[int, int]],
    busy: list,
    duration: int,
    now: datetime,
    tz: ZoneInfo,
    policy: Policy = Policy(),
) -> list[int]:
    """Local start minutes s on the 15-minute grid where [s, s + duration) is bookable: the times
    no rule of Day.stops stops (busy: Busy intervals or (start, end) instants, half-open)."""
    calendar = Day(day=day, windows=windows, busy=busy, now=now, tz=tz, policy=policy)
    if calendar.closed_all_day:
        return []
    candidates = sorted({minute for window_start, window_end in windows
                         for minute in range(-(-window_start // STEP_MINUTES) * STEP_MINUTES,
                                             min(window_end, 1440), STEP_MINUTES)})
    if calendar.steady:
        return calendar.free_starts(candidates, duration)
    return [minute for minute in candidates if not calendar.stops(minute, duration)]  # a daylight-saving day


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intervals as disjoint ones in order (touching ones joined)."""
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _steady_midnight(day: date, tz: ZoneInfo) -> int | None:
    """The epoch minute of `day`'s local midnight when the whole day runs at one UTC offset (1440
    minutes from midnight to midnight, the same offset at both), else None: a daylight-saving day,
    whose times go through local_instant one by one. (No zone changes its offset twice in a day.)"""
    try:
        start, end = (datetime.combine(day + timedelta(days=n), time(0), tzinfo=tz) for n in (0, 1))
        if start.utcoffset() != end.utcoffset():
            return None
        midnight = epoch_minutes(start.astimezone(timezone.utc))
    except OverflowError:  # year 1 or 9999
        return None
    return midnight if epoch_minutes(end.astimezone(timezone.utc)) - midnight == 1440 else None


def format_minute(minute: int) -> str:
    return "%02d:%02d" % divmod(minute, 60)
