"""What a doctor's calendar looks like: working windows, busy time, and the free slots it leaves.

Each function runs a fixed number of queries, whatever the number of appointments.
"""
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, Appointment, BlockedPeriod, Doctor, WeeklyHours
from clinica_web.services import clinic, slots

DEFAULT_DURATION = 30


def local_day_span(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """UTC instants from local midnight of `first` to local midnight after `last` (default `first`)."""
    tz = clinic.tz()
    start = slots.local_instant(first, 0, tz) or slots.local_instant(first, 60, tz)
    last = last or first
    end = slots.local_instant(last, 1440, tz) or slots.local_instant(last, 1500, tz)
    return start, end


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


def active_doctor(doctor_id) -> Doctor | None:
    if isinstance(doctor_id, bool) or not isinstance(doctor_id, int) or not 0 < doctor_id <= MAX_ID:
        return None
    return db.session.scalars(select(Doctor).where(Doctor.id == doctor_id, Doctor.active)).first()


def weekly_windows(doctor_id) -> dict[int, list[tuple[int, int]]]:
    """{weekday: [(start_minute, end_minute), ...]} for one doctor."""
    rows = db.session.execute(
        select(WeeklyHours.weekday, WeeklyHours.start_minute, WeeklyHours.end_minute)
        .where(WeeklyHours.doctor_id == doctor_id)
        .order_by(WeeklyHours.weekday, WeeklyHours.start_minute)
    )
    windows = {}
    for weekday, start, end in rows:
        windows.setdefault(weekday, []).append((start, end))
    return windows


def booked_intervals(doctor_id, start, end, *, exclude_id=None) -> list[tuple[datetime, datetime]]:
    """Non-cancelled appointments of the doctor overlapping [start, end)."""
    query = select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.doctor_id == doctor_id,
        Appointment.status != CANCELLED,
        Appointment.starts_at < end,
        Appointment.ends_at > start,
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    return [tuple(row) for row in db.session.execute(query)]


def blocked_intervals(doctor_id, start, end) -> list[tuple[datetime, datetime]]:
    """The doctor's blocked periods and clinic closures overlapping [start, end)."""
    query = select(BlockedPeriod.starts_at, BlockedPeriod.ends_at).where(
        or_(BlockedPeriod.doctor_id == doctor_id, BlockedPeriod.doctor_id.is_(None)),
        BlockedPeriod.starts_at < end,
        BlockedPeriod.ends_at > start,
    )
    return [tuple(row) for row in db.session.execute(query)]


def free_slots(doctor: Doctor, day: date, duration: int, *, now: datetime) -> list[int]:
    """Free local start minutes of one doctor on one local day (DESIGN.md section 5)."""
    start, end = local_day_span(day)
    busy = booked_intervals(doctor.id, start, end) + blocked_intervals(doctor.id, start, end)
    return slots.free_slots(
        day=day,
        windows=weekly_windows(doctor.id).get(day.weekday(), []),
        busy=busy,
        duration=duration,
        now=now,
        tz=clinic.tz(),
        policy=clinic.policy(),
    )


def first_day_with_free_slot(doctor: Doctor, duration: int, *, now: datetime) -> date | None:
    """The first local day, from today to the booking horizon, with a free slot; None if none."""
    policy = clinic.policy()
    today = clinic.local_today(now)
    last = today + timedelta(days=policy.horizon_days)
    start, end = local_day_span(today, last)
    # Three queries for the whole horizon, then the engine runs day by day in memory.
    windows = weekly_windows(doctor.id)
    busy = booked_intervals(doctor.id, start, end) + blocked_intervals(doctor.id, start, end)
    day = today
    while day <= last:
        day_start, day_end = local_day_span(day)
        if windows.get(day.weekday()) and slots.free_slots(
            day=day,
            windows=windows[day.weekday()],
            busy=[(b_start, b_end) for b_start, b_end in busy if b_start < day_end and b_end > day_start],
            duration=duration,
            now=now,
            tz=clinic.tz(),
            policy=policy,
        ):
            return day
        day += timedelta(days=1)
    return None
