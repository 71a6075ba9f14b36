"""Unit tests for the pure slot engine, `clinica_web.services.slots` (DESIGN.md sections 4 and 5).

No Flask app and no database: plain values in, local start minutes out. The last group is a
hypothesis property test against a brute-force oracle written here, independently of the engine.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clinica_web.services import slots
from clinica_web.services.slots import Policy

UTC = timezone.utc
SANTIAGO = ZoneInfo("America/Santiago")
ZONE_UTC = ZoneInfo("UTC")
BOTH_ZONES = pytest.mark.parametrize("tz", [SANTIAGO, ZONE_UTC], ids=["Santiago", "UTC"])
ONE_DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ORDINARY_DAY = date(2026, 6, 10)  # a Wednesday, no daylight-saving change anywhere near it


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def hm(text: str) -> int:
    """'09:30' -> 570 (wall-clock minutes since local midnight; '24:00' -> 1440)."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def hms(*texts: str) -> list[int]:
    return [hm(text) for text in texts]


def grid(first: str, last: str) -> list[int]:
    """Every quarter hour from `first` to `last`, both included."""
    return list(range(hm(first), hm(last) + 1, 15))


def wall(day: date, minute: int) -> datetime:
    """Naive wall-clock datetime of `minute` on `day` (1440 is the next midnight)."""
    return datetime.combine(day, time(0)) + timedelta(minutes=minute)


def at(day: date, minute: int, tz, fold: int = 0) -> datetime:
    """The aware UTC instant of wall minute `minute` on `day` in `tz`, straight from zoneinfo."""
    return wall(day, minute).replace(tzinfo=tz, fold=fold).astimezone(UTC)


def epoch_minute(instant: datetime) -> int:
    return (instant - EPOCH) // MINUTE


def long_before(day: date) -> datetime:
    """A `now` a week before `day`: nothing on `day` is in the past, and it is well inside the horizon."""
    return datetime.combine(day - 7 * ONE_DAY, time(12), tzinfo=UTC)


def free(day, windows, duration, *, busy=(), now=None, tz=SANTIAGO, policy=None):
    kwargs = dict(
        day=day,
        windows=list(windows),
        busy=list(busy),
        duration=duration,
        now=now or long_before(day),
        tz=tz,
    )
    if policy is not None:
        kwargs["policy"] = policy
    return slots.free_slots(**kwargs)


def offset_changes(tz, year: int) -> list[tuple[date, timedelta, timedelta]]:
    """(day, offset at noon on day, offset at noon the next day) for each day of `year` whose night
    carries a UTC-offset change."""
    changes = []
    day = date(year, 1, 1)
    while day.year == year:
        before = datetime.combine(day, time(12), tzinfo=tz).utcoffset()
        after = datetime.combine(day + ONE_DAY, time(12), tzinfo=tz).utcoffset()
        if before != after:
            changes.append((day, before, after))
        day += ONE_DAY
    return changes


def _santiago_transitions():
    changes = offset_changes(SANTIAGO, 2026)
    fall = [change for change in changes if change[2] < change[1]]
    spring = [change for change in changes if change[2] > change[1]]
    assert len(fall) == 1 and len(spring) == 1, changes
    return fall[0], spring[0]


(FALL_SAT, FALL_BEFORE, FALL_AFTER), (SPRING_SAT, SPRING_BEFORE, SPRING_AFTER) = _santiago_transitions()
FALL_SUN = FALL_SAT + ONE_DAY  # the night FALL_SAT -> FALL_SUN has 25 hours: 23:00..23:59 twice
SPRING_SUN = SPRING_SAT + ONE_DAY  # SPRING_SUN starts at 01:00: 00:00..00:59 do not exist


# --------------------------------------------------------------------------------------------
# 0. the computed daylight-saving dates are what we think they are
# --------------------------------------------------------------------------------------------


def test_santiago_2026_transition_dates_are_sane():
    """Chile: clocks go back on a Saturday night in April and forward on a Saturday night in September."""
    assert (FALL_SAT.month, FALL_SAT.weekday()) == (4, 5)
    assert (SPRING_SAT.month, SPRING_SAT.weekday()) == (9, 5)
    assert (FALL_BEFORE, FALL_AFTER) == (timedelta(hours=-3), timedelta(hours=-4))
    assert (SPRING_BEFORE, SPRING_AFTER) == (timedelta(hours=-4), timedelta(hours=-3))
    assert offset_changes(ZONE_UTC, 2026) == []


def test_santiago_transitions_happen_at_local_midnight():
    """Spring: Sunday 00:00 does not exist (round trip moves it); fall: Saturday 23:00..23:59 happen twice."""
    gap = datetime.combine(SPRING_SUN, time(0, 30), tzinfo=SANTIAGO)
    assert gap.astimezone(UTC).astimezone(SANTIAGO).replace(tzinfo=None) != gap.replace(tzinfo=None)
    assert at(SPRING_SUN, hm("01:00"), SANTIAGO) - at(SPRING_SAT, hm("23:59"), SANTIAGO) == MINUTE
    for minute in hms("23:00", "23:30", "23:59"):
        assert at(FALL_SAT, minute, SANTIAGO, fold=1) - at(FALL_SAT, minute, SANTIAGO, fold=0) == timedelta(hours=1)
    assert at(FALL_SAT, hm("22:59"), SANTIAGO, fold=1) == at(FALL_SAT, hm("22:59"), SANTIAGO, fold=0)


# --------------------------------------------------------------------------------------------
# 1. the grid and the windows (rules 1 and 2)
# --------------------------------------------------------------------------------------------


@BOTH_ZONES
def test_quarter_hour_grid_in_a_morning_window(tz):
    """Rule 1: starts are on :00/:15/:30/:45; rule 2: a 15-minute slot may start at 12:45 in 09:00-13:00."""
    assert free(ORDINARY_DAY, [(540, 780)], 15, tz=tz) == grid("09:00", "12:45")


@BOTH_ZONES
def test_slot_must_end_by_the_window_end(tz):
    """Rule 2: 30 minutes in 09:00-10:00 gives 09:00, 09:15, 09:30 only."""
    assert free(ORDINARY_DAY, [(hm("09:00"), hm("10:00"))], 30, tz=tz) == hms("09:00", "09:15", "09:30")
    assert free(ORDINARY_DAY, [(540, 780)], 30, tz=tz) == grid("09:00", "12:30")


@BOTH_ZONES
def test_two_windows_per_day(tz):
    """Rule 2: each window is filled on its own; the lunch gap offers nothing."""
    windows = [(hm("09:00"), hm("13:00")), (hm("15:00"), hm("18:00"))]
    assert free(ORDINARY_DAY, windows, 60, tz=tz) == grid("09:00", "12:00") + grid("15:00", "17:00")


def test_windows_given_out_of_order_give_sorted_starts():
    windows = [(hm("15:00"), hm("16:00")), (hm("09:00"), hm("10:00"))]
    assert free(ORDINARY_DAY, windows, 30) == hms("09:00", "09:15", "09:30", "15:00", "15:15", "15:30")


@BOTH_ZONES
def test_slot_cannot_straddle_two_adjacent_windows(tz):
    """Rule 2: 'inside ONE window': 09:45 + 30 min would need both 09:00-10:00 and 10:00-11:00."""
    windows = [(hm("09:00"), hm("10:00")), (hm("10:00"), hm("11:00"))]
    assert free(ORDINARY_DAY, windows, 30, tz=tz) == hms("09:00", "09:15", "09:30", "10:00", "10:15", "10:30")
    assert free(ORDINARY_DAY, windows, 120, tz=tz) == []
    assert free(ORDINARY_DAY, windows, 60, tz=tz) == hms("09:00", "10:00")


@BOTH_ZONES
@pytest.mark.parametrize(
    "window, duration, expected",
    [
        (("09:00", "10:00"), 1, grid("09:00", "09:45")),
        (("09:00", "10:00"), 15, grid("09:00", "09:45")),
        (("09:00", "10:00"), 45, hms("09:00", "09:15")),
        (("09:00", "13:00"), 45, grid("09:00", "12:15")),
        (("09:00", "10:00"), 61, []),
        (("08:00", "16:00"), 480, hms("08:00")),
        (("08:00", "15:45"), 480, []),
        (("00:00", "24:00"), 480, grid("00:00", "16:00")),
        (("00:00", "24:00"), 1, grid("00:00", "23:45")),
    ],
)
def test_durations(tz, window, duration, expected):
    """Rule 2 for durations 1, 15, 45, 480 (and one minute too long)."""
    assert free(ORDINARY_DAY, [tuple(hms(*window))], duration, tz=tz) == expected


def test_window_edge_off_the_grid():
    """Rule 1: a window opening at 09:10 first offers 09:15; one closing at 09:50 fits 09:30 + 20 only."""
    assert free(ORDINARY_DAY, [(hm("09:10"), hm("10:00"))], 15) == hms("09:15", "09:30", "09:45")
    assert free(ORDINARY_DAY, [(hm("09:00"), hm("09:50"))], 20) == hms("09:00", "09:15", "09:30")


def test_no_windows_no_slots():
    assert free(ORDINARY_DAY, [], 15) == []


# --------------------------------------------------------------------------------------------
# 2. busy intervals (rules 3 and 4): half-open, given as aware instants
# --------------------------------------------------------------------------------------------


@BOTH_ZONES
def test_appointment_blocks_overlapping_starts_only(tz):
    """Rule 3, half-open: 10:00-10:30 blocks 09:45 and 10:15 (and 10:00) for 30 min; 09:30 and 10:30 stay."""
    appointment = (at(ORDINARY_DAY, hm("10:00"), tz), at(ORDINARY_DAY, hm("10:30"), tz))
    assert appointment[0].tzinfo is UTC
    got = free(ORDINARY_DAY, [(540, 780)], 30, busy=[appointment], tz=tz)
    assert hm("09:30") in got and hm("10:30") in got
    for blocked in hms("09:45", "10:00", "10:15"):
        assert blocked not in got
    assert got == [m for m in grid("09:00", "12:30") if m not in hms("09:45", "10:00", "10:15")]


@BOTH_ZONES
def test_back_to_back_fifteen_minute_slots(tz):
    """Rule 3: a 15-minute slot at 09:45 ends exactly when the 10:00 appointment starts."""
    appointment = (at(ORDINARY_DAY, hm("10:00"), tz), at(ORDINARY_DAY, hm("10:30"), tz))
    got = free(ORDINARY_DAY, [(540, 660)], 15, busy=[appointment], tz=tz)
    assert got == hms("09:00", "09:15", "09:30", "09:45", "10:30", "10:45")


@BOTH_ZONES
def test_one_minute_busy_interval_blocks(tz):
    """Rule 4: a block of a single minute, 10:29-10:30, still blocks every slot covering it."""
    block = (at(ORDINARY_DAY, hm("10:29"), tz), at(ORDINARY_DAY, hm("10:30"), tz))
    got = free(ORDINARY_DAY, [(hm("10:00"), hm("11:00"))], 30, busy=[block], tz=tz)
    assert got == hms("10:30")
    got = free(ORDINARY_DAY, [(hm("10:00"), hm("11:00"))], 15, busy=[block], tz=tz)
    assert got == hms("10:00", "10:30", "10:45")


def test_busy_instants_in_another_zone_are_the_same_instants():
    """Busy intervals are instants: the same 10:00-10:30 given in local time or UTC blocks the same slots."""
    start, end = at(ORDINARY_DAY, hm("10:00"), SANTIAGO), at(ORDINARY_DAY, hm("10:30"), SANTIAGO)
    as_utc = free(ORDINARY_DAY, [(540, 780)], 30, busy=[(start, end)])
    as_local = free(ORDINARY_DAY, [(540, 780)], 30, busy=[(start.astimezone(SANTIAGO), end.astimezone(SANTIAGO))])
    assert as_utc == as_local
    assert hm("10:00") not in as_utc


def test_busy_is_not_read_as_utc_wall_clock():
    """Santiago is 4 hours behind UTC in June: 10:00 UTC is 06:00 local and must not block 10:00 local."""
    ten_utc = datetime.combine(ORDINARY_DAY, time(10), tzinfo=UTC)
    got = free(ORDINARY_DAY, [(hm("06:00"), hm("11:00"))], 30, busy=[(ten_utc, ten_utc + 30 * MINUTE)])
    assert hm("10:00") in got
    assert hm("06:00") not in got and hm("05:45") not in got
    assert got == [m for m in grid("06:00", "10:30") if m not in hms("06:00", "06:15")]


@BOTH_ZONES
def test_several_busy_intervals_and_one_covering_the_window(tz):
    """Rules 3 and 4 together: appointment, blocked period and clinic closure all remove starts."""
    busy = [
        (at(ORDINARY_DAY, hm("08:00"), tz), at(ORDINARY_DAY, hm("09:15"), tz)),  # overlaps the opening
        (at(ORDINARY_DAY, hm("10:00"), tz), at(ORDINARY_DAY, hm("10:15"), tz)),
        (at(ORDINARY_DAY, hm("11:30"), tz), at(ORDINARY_DAY, hm("13:30"), tz)),  # past the closing
    ]
    got = free(ORDINARY_DAY, [(540, 780)], 30, busy=busy, tz=tz)
    assert got == hms("09:15", "09:30", "10:15", "10:30", "10:45", "11:00")
    whole_day = [(at(ORDINARY_DAY, 0, tz), at(ORDINARY_DAY, 1440, tz))]
    assert free(ORDINARY_DAY, [(0, 1440)], 1, busy=whole_day, tz=tz) == []


def test_busy_interval_on_another_day_is_ignored():
    previous = ORDINARY_DAY - ONE_DAY
    busy = [(at(previous, hm("09:00"), SANTIAGO), at(previous, hm("13:00"), SANTIAGO))]
    assert free(ORDINARY_DAY, [(540, 780)], 30, busy=busy) == grid("09:00", "12:30")


# --------------------------------------------------------------------------------------------
# 3. now, minimum notice and horizon (rules 5 and 6)
# --------------------------------------------------------------------------------------------


@BOTH_ZONES
def test_now_exactly_on_a_start_excludes_it(tz):
    """Rule 5: s must be LATER than now; 10:00 is not offered at 10:00 sharp."""
    now = at(ORDINARY_DAY, hm("10:00"), tz)
    assert free(ORDINARY_DAY, [(540, 780)], 30, now=now, tz=tz) == grid("10:15", "12:30")


@BOTH_ZONES
@pytest.mark.parametrize(
    "delta, first",
    [
        (timedelta(seconds=30), "10:15"),  # 10:00:30 is after 10:00
        (timedelta(microseconds=1), "10:15"),
        (timedelta(seconds=-30), "10:00"),  # 09:59:30 is before 10:00
        (timedelta(microseconds=-1), "10:00"),
        (timedelta(minutes=7), "10:15"),
    ],
)
def test_now_with_seconds(tz, delta, first):
    """Rule 5 with a now that is not on a whole minute."""
    now = at(ORDINARY_DAY, hm("10:00"), tz) + delta
    assert free(ORDINARY_DAY, [(540, 780)], 30, now=now, tz=tz) == grid(first, "12:30")


@BOTH_ZONES
@pytest.mark.parametrize(
    "notice, now_delta, first",
    [
        (60, timedelta(0), "10:15"),  # 09:00 + 60 = 10:00: not later, so 10:15
        (59, timedelta(0), "10:00"),
        (60, timedelta(seconds=-1), "10:00"),  # 08:59:59 + 60 min = 09:59:59
        (60, timedelta(seconds=1), "10:15"),
        (0, timedelta(0), "09:15"),
    ],
)
def test_minimum_notice(tz, notice, now_delta, first):
    """Rule 5: s > now + MIN_NOTICE_MINUTES."""
    now = at(ORDINARY_DAY, hm("09:00"), tz) + now_delta
    got = free(ORDINARY_DAY, [(540, 780)], 30, now=now, tz=tz, policy=Policy(min_notice_minutes=notice))
    assert got == grid(first, "12:30")


@BOTH_ZONES
def test_past_day_and_past_times(tz):
    """Rule 5: a past day gives nothing; today after closing gives nothing."""
    now = at(ORDINARY_DAY, hm("08:00"), tz)
    assert free(ORDINARY_DAY - ONE_DAY, [(0, 1440)], 15, now=now, tz=tz) == []
    assert free(ORDINARY_DAY - 30 * ONE_DAY, [(0, 1440)], 15, now=now, tz=tz) == []
    assert free(ORDINARY_DAY, [(0, 1440)], 15, now=now, tz=tz) == grid("08:15", "23:45")
    assert free(ORDINARY_DAY, [(540, 780)], 15, now=at(ORDINARY_DAY, hm("13:00"), tz), tz=tz) == []


@BOTH_ZONES
def test_default_horizon_is_90_days(tz):
    """Rule 6 with the default policy: today + 90 is bookable, today + 91 is not."""
    now = at(ORDINARY_DAY, hm("12:00"), tz)
    assert free(ORDINARY_DAY + 90 * ONE_DAY, [(540, 780)], 30, now=now, tz=tz) == grid("09:00", "12:30")
    assert free(ORDINARY_DAY + 91 * ONE_DAY, [(540, 780)], 30, now=now, tz=tz) == []


@pytest.mark.parametrize("horizon", [0, 1, 14])
def test_custom_horizon(horizon):
    """Rule 6: day == today + BOOKING_HORIZON_DAYS is allowed, one more day gives []."""
    now = at(ORDINARY_DAY, hm("08:00"), SANTIAGO)
    policy = Policy(horizon_days=horizon)
    last = ORDINARY_DAY + horizon * ONE_DAY
    assert free(last, [(540, 780)], 30, now=now, policy=policy) == grid("09:00", "12:30")
    assert free(last + ONE_DAY, [(540, 780)], 30, now=now, policy=policy) == []


def test_horizon_counts_from_the_clinic_local_date():
    """Rule 6: at 21:00 in Santiago it is already tomorrow in UTC; 'today' is still the local date."""
    now = at(ORDINARY_DAY, hm("21:00"), SANTIAGO)
    assert now.date() == ORDINARY_DAY + ONE_DAY  # UTC date has moved on
    policy = Policy(horizon_days=1)
    assert free(ORDINARY_DAY + ONE_DAY, [(540, 780)], 30, now=now, policy=policy) == grid("09:00", "12:30")
    assert free(ORDINARY_DAY + 2 * ONE_DAY, [(540, 780)], 30, now=now, policy=policy) == []


# --------------------------------------------------------------------------------------------
# 4. daylight saving in America/Santiago (DESIGN.md section 4)
# --------------------------------------------------------------------------------------------


def test_local_instant_ordinary_times():
    """local_instant returns the aware UTC instant; 1440 is the next day's midnight."""
    instant = slots.local_instant(ORDINARY_DAY, hm("10:00"), SANTIAGO)
    assert instant == datetime.combine(ORDINARY_DAY, time(14), tzinfo=UTC)
    assert instant.utcoffset() == timedelta(0)
    assert slots.local_instant(ORDINARY_DAY, 1440, SANTIAGO) == slots.local_instant(ORDINARY_DAY + ONE_DAY, 0, SANTIAGO)
    assert slots.local_instant(ORDINARY_DAY, 1439, ZONE_UTC) == datetime.combine(ORDINARY_DAY, time(23, 59), tzinfo=UTC)


def test_local_instant_nonexistent_times_are_none():
    """Spring forward: 00:00..00:59 on SPRING_SUN (and SPRING_SAT's 24:00) do not exist."""
    for minute in range(0, 60):
        assert slots.local_instant(SPRING_SUN, minute, SANTIAGO) is None, minute
    assert slots.local_instant(SPRING_SAT, 1440, SANTIAGO) is None
    one_am = slots.local_instant(SPRING_SUN, hm("01:00"), SANTIAGO)
    assert one_am == (wall(SPRING_SUN, hm("01:00")) - SPRING_AFTER).replace(tzinfo=UTC)
    assert one_am - slots.local_instant(SPRING_SAT, hm("23:59"), SANTIAGO) == MINUTE
    for minute in range(0, 60):  # the same wall times exist in UTC
        assert slots.local_instant(SPRING_SUN, minute, ZONE_UTC) == at(SPRING_SUN, minute, UTC)


@pytest.mark.parametrize("text", ["23:00", "23:15", "23:59"])
def test_local_instant_ambiguous_times_are_the_first_occurrence(text):
    """Fall back: an ambiguous wall time is its first occurrence: the larger offset (-03), the earlier instant."""
    instant = slots.local_instant(FALL_SAT, hm(text), SANTIAGO)
    first = (wall(FALL_SAT, hm(text)) - FALL_BEFORE).replace(tzinfo=UTC)
    assert instant == first
    assert instant == at(FALL_SAT, hm(text), SANTIAGO, fold=0)
    assert instant == at(FALL_SAT, hm(text), SANTIAGO, fold=1) - timedelta(hours=1)
    assert instant.astimezone(SANTIAGO).utcoffset() == FALL_BEFORE > FALL_AFTER


def test_local_instant_around_fall_back_midnight():
    """FALL_SAT 24:00 is FALL_SUN 00:00 at the new offset (-04), 25 real hours after FALL_SAT 00:00."""
    midnight = slots.local_instant(FALL_SAT, 1440, SANTIAGO)
    assert midnight == (wall(FALL_SUN, 0) - FALL_AFTER).replace(tzinfo=UTC)
    assert midnight - slots.local_instant(FALL_SAT, 0, SANTIAGO) == timedelta(hours=25)


def test_spring_forward_gap_is_never_offered():
    """Section 4: on SPRING_SUN, window 00:00-03:00 offers nothing before 01:00."""
    window = [(hm("00:00"), hm("03:00"))]
    assert free(SPRING_SUN, window, 15) == grid("01:00", "02:45")
    assert free(SPRING_SUN, window, 1) == grid("01:00", "02:45")
    # the same window in UTC has no gap
    assert free(SPRING_SUN, window, 15, tz=ZONE_UTC) == grid("00:00", "02:45")


def test_spring_forward_durations_are_real_minutes():
    """A 60-minute slot at 01:00 ends at real 02:00: 00:00-03:00 holds only 2 real hours that night."""
    window = [(hm("00:00"), hm("03:00"))]
    assert free(SPRING_SUN, window, 60) == grid("01:00", "02:00")
    assert free(SPRING_SUN, window, 120) == hms("01:00")
    assert free(SPRING_SUN, window, 180) == []
    assert free(SPRING_SUN, [(hm("00:00"), hm("02:00"))], 120) == []
    # a busy interval from 02:00 does not touch 01:00 + 60 (it ends at real 02:00) but blocks 01:15
    busy = [(at(SPRING_SUN, hm("02:00"), SANTIAGO), at(SPRING_SUN, hm("02:15"), SANTIAGO))]
    assert free(SPRING_SUN, window, 60, busy=busy) == hms("01:00")
    # and one in the last real minute before 02:00 blocks it
    busy = [(at(SPRING_SUN, hm("01:59"), SANTIAGO), at(SPRING_SUN, hm("02:00"), SANTIAGO))]
    assert hm("01:00") not in free(SPRING_SUN, window, 60, busy=busy)


def test_spring_forward_whole_day_has_23_hours():
    """SPRING_SUN runs from 01:00 to midnight: 23 real hours, so 480 minutes fit from 01:00 to 16:00."""
    assert free(SPRING_SUN, [(0, 1440)], 480) == grid("01:00", "16:00")


def test_window_ending_at_midnight_before_spring_forward():
    """SPRING_SAT 22:00-24:00: 24:00 falls in the gap, so the window ends where the gap ends (SPRING_SUN
    01:00, the same instant as 24:00 at the old offset). 23:00..23:59 on SPRING_SAT exist, and the
    window holds 2 real hours."""
    window = [(hm("22:00"), hm("24:00"))]
    assert free(SPRING_SAT, window, 15) == grid("22:00", "23:45")
    assert free(SPRING_SAT, window, 60) == grid("22:00", "23:00")
    assert free(SPRING_SAT, window, 120) == hms("22:00")
    assert free(SPRING_SAT, window, 121) == []


def test_whole_day_before_spring_forward_has_24_hours():
    """SPRING_SAT is an ordinary 24-hour day even though its midnight does not exist."""
    assert free(SPRING_SAT, [(0, 1440)], 480) == grid("00:00", "16:00")


def test_fall_back_window_to_midnight_holds_three_real_hours():
    """FALL_SAT 22:00-24:00 lasts 3 real hours; starts are the first occurrences of 22:00..23:45."""
    window = [(hm("22:00"), hm("24:00"))]
    assert free(FALL_SAT, window, 15) == grid("22:00", "23:45")
    assert free(FALL_SAT, window, 60) == grid("22:00", "23:45")
    assert free(FALL_SAT, window, 120) == grid("22:00", "23:00")
    assert free(FALL_SAT, window, 180) == hms("22:00")
    assert free(FALL_SAT, window, 181) == []
    # in UTC the same window is 2 hours
    assert free(FALL_SAT, window, 180, tz=ZONE_UTC) == []


def test_fall_back_whole_day_has_25_hours():
    """FALL_SAT is 25 real hours long: 480 minutes fit up to 17:00 (16:00 on other days)."""
    assert free(FALL_SAT, [(0, 1440)], 480) == grid("00:00", "17:00")
    assert free(FALL_SUN, [(0, 1440)], 480) == grid("00:00", "16:00")


def test_fall_back_busy_at_second_occurrence_does_not_block_the_first():
    """Section 4: 23:15 means its first occurrence; a busy interval at the SECOND 23:15 leaves it free,
    one at the FIRST 23:15 blocks it."""
    window = [(hm("22:00"), hm("24:00"))]
    second = at(FALL_SAT, hm("23:15"), SANTIAGO, fold=1)
    first = at(FALL_SAT, hm("23:15"), SANTIAGO, fold=0)
    assert second - first == timedelta(hours=1)

    got = free(FALL_SAT, window, 15, busy=[(second, second + 15 * MINUTE)])
    assert got == grid("22:00", "23:45")
    got = free(FALL_SAT, window, 15, busy=[(first, first + 15 * MINUTE)])
    assert got == [m for m in grid("22:00", "23:45") if m != hm("23:15")]


def test_fall_back_slot_runs_into_the_repeated_hour():
    """Durations are real minutes across the repeated hour: 45 minutes from the first 23:45 end at the
    second 23:30, so a busy interval at the second 23:15-23:30 blocks 23:45; from the first 23:30 they end
    at the second 23:15 exactly (back-to-back, free)."""
    window = [(hm("22:00"), hm("24:00"))]
    second = at(FALL_SAT, hm("23:15"), SANTIAGO, fold=1)
    got = free(FALL_SAT, window, 45, busy=[(second, second + 15 * MINUTE)])
    assert got == grid("22:00", "23:30")


# --------------------------------------------------------------------------------------------
# 5. property test against a brute-force oracle
# --------------------------------------------------------------------------------------------


def oracle_edge(day: date, minute: int, tz) -> int:
    """Epoch minute where wall minute `minute` of `day` begins: the first real minute whose local wall
    time is at or after it. An ambiguous time is thus its first occurrence; a time in a gap is where the
    gap ends."""
    target = wall(day, minute)
    candidate = epoch_minute(min(at(day, minute, tz, fold=0), at(day, minute, tz, fold=1))) - 180
    while (EPOCH + candidate * MINUTE).astimezone(tz).replace(tzinfo=None) < target:
        candidate += 1
    return candidate


def oracle(day, windows, busy, duration, now, tz, policy) -> list[int]:
    """Brute force over every grid minute and every real minute of every candidate slot."""
    if day > now.astimezone(tz).date() + timedelta(days=policy.horizon_days):
        return []
    earliest = now + timedelta(minutes=policy.min_notice_minutes)
    spans = [(oracle_edge(day, start, tz), oracle_edge(day, end, tz)) for start, end in windows]
    busy_minutes = set()
    for start, end in busy:
        busy_minutes.update(range(epoch_minute(start), epoch_minute(end)))
    found = []
    for s in range(0, 1440, 15):
        naive = wall(day, s)
        instant = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) != naive:
            continue  # does not exist
        if not instant > earliest:
            continue
        real = range(epoch_minute(instant), epoch_minute(instant) + duration)
        if not any(all(open_at <= m < close_at for m in real) for open_at, close_at in spans):
            continue
        if any(m in busy_minutes for m in real):
            continue
        found.append(s)
    return found


DAYS = [FALL_SAT, FALL_SUN, SPRING_SAT, SPRING_SUN, FALL_SAT - ONE_DAY, ORDINARY_DAY, date(2026, 12, 31)]


@dataclass(frozen=True)
class Case:
    day: date
    tz: ZoneInfo
    windows: list
    busy: list
    duration: int
    now: datetime
    policy: Policy


@st.composite
def windows_strategy(draw):
    """1..3 non-overlapping windows, in order, on quarter-hour edges in 0..1440. Adjacent windows are
    allowed; edges favour midnight (both ends of the day) and the hours around the DST changes."""
    windows = []
    start = draw(st.one_of(st.sampled_from([0, 4, 36, 88, 92]), st.integers(0, 95)))  # in quarter hours
    for _ in range(draw(st.integers(1, 3))):
        if start >= 96:
            break
        end = draw(st.one_of(st.sampled_from([96, min(start + 4, 96)]), st.integers(start + 1, 96)))
        windows.append((start * 15, end * 15))
        start = end + draw(st.one_of(st.just(0), st.integers(0, 48)))
    return windows


@st.composite
def cases(draw):
    day = draw(st.sampled_from(DAYS))
    tz = draw(st.sampled_from([SANTIAGO, ZONE_UTC]))
    anchor = at(day, 0, tz)
    busy = []
    for _ in range(draw(st.integers(0, 5))):
        start = anchor + draw(st.integers(-120, 1560)) * MINUTE
        busy.append((start, start + draw(st.integers(1, 300)) * MINUTE))
    duration = draw(st.one_of(st.sampled_from([1, 15, 30, 45, 60, 120, 480]), st.integers(1, 480)))
    policy = Policy(
        min_notice_minutes=draw(st.one_of(st.just(0), st.sampled_from([15, 60, 1440]), st.integers(0, 600))),
        horizon_days=draw(st.one_of(st.just(90), st.integers(0, 100))),
    )
    near = st.integers(-2 * 1440, 1440).map(lambda m: anchor + m * MINUTE)  # before, during or after the day
    at_horizon = st.integers(-1440, 1440).map(lambda m: anchor - policy.horizon_days * ONE_DAY + m * MINUTE)
    now = draw(st.one_of(near, at_horizon, st.just(anchor - 7 * ONE_DAY)))
    now += timedelta(seconds=draw(st.sampled_from([0, 0, 1, 30, 59])), microseconds=draw(st.sampled_from([0, 1])))
    return Case(day, tz, draw(windows_strategy()), busy, duration, now, policy)


SPRING_SATURDAY_TO_MIDNIGHT = Case(
    SPRING_SAT, SANTIAGO, [(1320, 1440)], [], 15, long_before(SPRING_SAT), Policy()
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@example(case=SPRING_SATURDAY_TO_MIDNIGHT)
@given(case=cases())
def test_free_slots_match_brute_force_oracle(case):
    """Rules 1-6 and section 4 together: the engine equals the minute-by-minute oracle."""
    got = slots.free_slots(
        day=case.day,
        windows=case.windows,
        busy=case.busy,
        duration=case.duration,
        now=case.now,
        tz=case.tz,
        policy=case.policy,
    )
    assert got == oracle(case.day, case.windows, case.busy, case.duration, case.now, case.tz, case.policy)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(case=cases())
def test_free_slots_are_the_times_day_stops_lets_through(case):
    """free_slots sweeps a day at one UTC offset (Day.free_starts) instead of asking Day.stops
    each time (a busy timeline asks for 50 doctors): the sweep is the same rules as the booking
    check and the explainer, time by time."""
    calendar = slots.Day(day=case.day, windows=case.windows, busy=case.busy, now=case.now, tz=case.tz,
                         policy=case.policy)
    grid = sorted({minute for start, end in case.windows for minute in range(-(-start // 15) * 15, min(end, 1440), 15)})
    expected = [] if calendar.closed_all_day else [m for m in grid if not calendar.stops(m, case.duration)]
    assert slots.free_slots(day=case.day, windows=case.windows, busy=case.busy, duration=case.duration,
                            now=case.now, tz=case.tz, policy=case.policy) == expected


def test_oracle_agrees_with_hand_computed_cases():
    """The oracle itself reproduces a few answers worked out by hand above."""
    long = long_before(FALL_SAT)
    assert oracle(FALL_SAT, [(1320, 1440)], [], 180, long, SANTIAGO, Policy()) == hms("22:00")
    assert oracle(SPRING_SUN, [(0, 180)], [], 60, long_before(SPRING_SUN), SANTIAGO, Policy()) == grid("01:00", "02:00")
    spring_saturday = oracle(SPRING_SAT, [(1320, 1440)], [], 15, long_before(SPRING_SAT), SANTIAGO, Policy())
    assert spring_saturday == grid("22:00", "23:45")
    appointment = [(at(ORDINARY_DAY, 600, SANTIAGO), at(ORDINARY_DAY, 630, SANTIAGO))]
    got = oracle(ORDINARY_DAY, [(540, 660)], appointment, 30, long_before(ORDINARY_DAY), SANTIAGO, Policy())
    assert got == hms("09:00", "09:15", "09:30", "10:30")


# --------------------------------------------------------------------------------------------
# 6. small helpers: format_minute, overlaps_any, inside_a_window
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "minute, text",
    [(0, "00:00"), (5, "00:05"), (75, "01:15"), (540, "09:00"), (780, "13:00"), (1439, "23:59"), (1440, "24:00")],
)
def test_format_minute(minute, text):
    assert slots.format_minute(minute) == text


@pytest.mark.parametrize(
    "start, end, busy, expected",
    [
        (10, 20, [], False),
        (10, 20, [(0, 10)], False),  # busy ends where the slot starts
        (10, 20, [(20, 30)], False),  # busy starts where the slot ends
        (10, 20, [(0, 11)], True),  # one minute of overlap at the start
        (10, 20, [(19, 30)], True),  # one minute of overlap at the end
        (10, 20, [(12, 15)], True),  # busy inside the slot
        (10, 20, [(0, 30)], True),  # slot inside busy
        (10, 20, [(10, 20)], True),  # identical
        (10, 20, [(0, 10), (20, 30)], False),  # snug between two
        (10, 20, [(0, 10), (30, 40), (15, 16)], True),  # any one is enough
    ],
)
def test_overlaps_any_is_half_open(start, end, busy, expected):
    assert slots.overlaps_any(start, end, busy) is expected


@pytest.mark.parametrize(
    "start, end, spans, expected",
    [
        (0, 10, [], False),
        (0, 10, [(0, 10)], True),  # exact fit
        (0, 11, [(0, 10)], False),  # one minute past the close
        (-1, 10, [(0, 10)], False),  # one minute before the open
        (2, 8, [(0, 10)], True),
        (5, 15, [(0, 10), (10, 20)], False),  # straddles adjacent spans
        (12, 18, [(0, 10), (10, 20)], True),  # the second span
        (10, 20, [(0, 10), (10, 20)], True),
    ],
)
def test_inside_a_window_edges(start, end, spans, expected):
    assert slots.inside_a_window(start, end, spans) is expected
