"""Finding a time in one look (DESIGN.md section 17): a doctor's month of days, and the earliest
free times of one or many doctors.

Both run the slot engine of slots.py on busy time read a stretch at a time: a month view is two
queries (the busy time of the month, the reasons of its closures), the earliest free times at most
one query a week of the booking horizon, whatever the number of appointments.
"""
import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import Appointment, Doctor
from clinica_web.services import availability, clinic, slots, values

OPEN, FULL, DAY_OFF, CLOSED, PAST, BEYOND_HORIZON = "open", "full", "day_off", "closed", "past", "beyond_horizon"
# A day's DayOffer.why_none, as the month view says it: today with its hours behind us is past.
MONTH_STATUS = {None: OPEN, "full": FULL, "day_off": DAY_OFF, "closed": CLOSED, "past": PAST, "over": PAST,
                "beyond_horizon": BEYOND_HORIZON}
# The earliest free times are looked for in three reads of busy time at most, whatever the
# appointments: the first week (where they usually are), the three weeks after it, the rest of the
# horizon (each for the doctors still short of times).
SCAN_CHUNKS = (7, 21)


@dataclass(frozen=True)
class CalendarDay:
    date: date
    status: str  # OPEN, FULL, DAY_OFF, CLOSED, PAST, BEYOND_HORIZON
    free: int  # the number of free start times
    reason: str = ""  # a closure's reason


@dataclass(frozen=True)
class FreeTime:
    doctor: Doctor
    day: date
    minute: int  # local minutes after midnight
    starts_at: datetime


def bookable_months(now: datetime) -> tuple[date, date]:
    """The first days of the first and the last month with days that can be booked: this month
    and the booking horizon's."""
    today = clinic.local_today(now)
    return today.replace(day=1), (today + timedelta(days=clinic.policy().horizon_days)).replace(day=1)


def within_bookable_months(first: date, *, now: datetime) -> date:
    """A month (its first day) brought within bookable_months: an old or far link shows this
    month or the horizon's."""
    earliest, latest = bookable_months(now)
    return min(max(first, earliest), latest)


def bookable_month(asked: str, *, now: datetime) -> date:
    """The month a page shows for ?month=YYYY-MM (its first day): within_bookable_months. A
    month that is no month is refused (InvalidInput)."""
    return within_bookable_months(date(*values.parse_month(asked), 1), now=now)


def months_around(first: date, *, now: datetime) -> tuple[date | None, date | None]:
    """The months before and after `first` (their first days), where they are bookable_months."""
    earliest, latest = bookable_months(now)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    return (previous if previous >= earliest else None), (following if following <= latest else None)


def first_open_day(days: list["CalendarDay"]) -> date | None:
    """The first day of a month (month()) with a free time."""
    return next((day.date for day in days if day.status == OPEN), None)


def month_days(year: int, month: int) -> list[date]:
    return [date(year, month, day) for day in range(1, calendar.monthrange(year, month)[1] + 1)]


def month(doctor: Doctor, year: int, month_number: int, duration: int, *, now: datetime,
          moving: Appointment | None = None, patient_id=None) -> list[CalendarDay]:
    """Every day of the month with its status and number of free times (the doctor's hours loaded).

    For a patient (`patient_id`; a visit moving: its patient), the times they could book: clear of
    their own visits with any doctor, as availability.day_offer counts them.
    moving: an appointment being moved, counted as a day picker counts it
    (availability.times_to_move_to): its own time is free for the times around it, but not one
    to move to."""
    days = month_days(year, month_number)
    start, end = clinic.local_day_span(days[0], days[-1])
    busy = availability.busy_intervals(doctor.id, start, end, patient_id=availability.whose_visits(moving, patient_id),
                                       exclude_id=moving.id if moving else None)
    windows = availability.weekly_windows(doctor)
    offers = [(day, availability.classify_day(day, windows.get(day.weekday(), []), _within(busy, day), duration,
                                              now=now)) for day in days]
    reasons = availability.period_reasons([ref for _day, offer in offers for ref in offer.closures])
    return [_calendar_day(day, offer, reasons, doctor, moving) for day, offer in offers]


def _calendar_day(day, offer, reasons, doctor, moving) -> CalendarDay:
    offer = availability.for_a_move(offer, moving, doctor.id, day)
    return CalendarDay(day, MONTH_STATUS[offer.why_none], len(offer.free_minutes),
                       availability.closure_reasons(offer.closures, reasons))


def _within(busy, day, span=None):
    day_start, day_end = span or clinic.local_day_span(day)
    return [interval for interval in busy if interval.start < day_end and interval.end > day_start]


def earliest(doctors: list[Doctor], duration: int, *, now: datetime, start_day: date | None = None, limit: int = 10,
             per_doctor: int | None = None, moving: Appointment | None = None, patient_id=None) -> list[FreeTime]:
    """The earliest free times of these doctors (hours loaded), earliest first (then by doctor's
    name), from `start_day` (default today) to the booking horizon: `limit` in all, and at most
    `per_doctor` of each. The busy time is read in SCAN_CHUNKS, for all of them at once. For a
    visit `moving`, the times it can move to (availability.times_to_move_to); for a patient
    (`patient_id`, or the moving visit's), times clear of their own visits (as month())."""
    today = clinic.local_today(now)
    last = today + timedelta(days=clinic.policy().horizon_days)
    day = max(start_day or today, today)
    windows = {doctor.id: availability.weekly_windows(doctor) for doctor in doctors}
    working = [doctor for doctor in doctors if windows[doctor.id]]
    found, counts = [], {doctor.id: 0 for doctor in working}
    # A doctor's day gives at most this many of its times (its earliest): the rest could not be taken.
    per_day = limit if per_doctor is None else min(limit, per_doctor)
    chunks = iter(SCAN_CHUNKS)
    while day <= last and working and len(found) < limit:
        chunk_end = min(day + timedelta(days=next(chunks, (last - day).days + 1) - 1), last)
        start, end = clinic.local_day_span(day, chunk_end)
        busy = availability.busy_by_doctor([doctor.id for doctor in working], start, end,
                                           exclude_id=moving.id if moving else None,
                                           patient_id=availability.whose_visits(moving, patient_id))
        in_chunk = _free_times(working, windows, busy, day, chunk_end, duration, per_day=per_day, now=now,
                               moving=moving)
        day = chunk_end + timedelta(days=1)
        # The chunk's times are all earlier than the next chunk's: take them in order.
        for time in sorted(in_chunk, key=lambda t: (t.starts_at, t.doctor.display_name, t.doctor.id)):
            if len(found) == limit:
                break
            if per_doctor is None or counts[time.doctor.id] < per_doctor:
                found.append(time)
                counts[time.doctor.id] += 1
        if per_doctor is not None:
            working = [doctor for doctor in working if counts[doctor.id] < per_doctor]
    return found


def _free_times(doctors, windows, busy, first, last, duration, *, per_day, now, moving) -> list[FreeTime]:
    """Each doctor's earliest `per_day` free times of each day from `first` to `last` (their
    weekly windows and busy time read already); for a visit `moving`, those it can move to."""
    tz, found, day = clinic.tz(), [], first
    while day <= last:
        span = clinic.local_day_span(day)
        for doctor in doctors:
            day_windows = windows[doctor.id].get(day.weekday())
            if not day_windows:
                continue
            minutes = availability.free_minutes(day, day_windows, _within(busy[doctor.id], day, span), duration,
                                                now=now)
            if moving is not None:
                minutes = availability.times_to_move_to(minutes, moving, doctor.id, day)
            found += [FreeTime(doctor, day, minute, slots.local_instant(day, minute, tz))
                      for minute in minutes[:per_day]]
        day += timedelta(days=1)
    return found


def active_doctors(*, specialty=None, doctor_id=None) -> list[Doctor]:
    """Active doctors (of a specialty, or one), with their hours (two queries)."""
    query = select(Doctor).where(Doctor.active).options(db.selectinload(Doctor.weekly_hours))
    if specialty:
        query = query.where(Doctor.specialty == specialty)
    if doctor_id is not None:
        query = query.where(Doctor.id == doctor_id)
    return list(db.session.scalars(query.order_by(Doctor.display_name)))
