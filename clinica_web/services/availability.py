"""What a doctor's calendar looks like: working windows, busy time, and the free slots it leaves.

Each function runs a fixed number of queries, whatever the number of appointments.
"""
import re
from datetime import date, datetime, timedelta

from sqlalchemy import literal, or_, select, union_all

from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import ADMIN, CANCELLED, DOCTOR, Appointment, BlockedPeriod, Doctor, User, WeeklyHours
from clinica_web.services import clinic, slots
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound
from clinica_web.services.values import parse_date, valid_id, whole_number

DEFAULT_DURATION = 30


def local_day_span(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """UTC instants from local midnight of `first` to local midnight after `last` (default `first`)."""
    tz = clinic.tz()
    start = slots.local_instant(first, 0, tz) or slots.local_instant(first, 60, tz)
    last = last or first
    end = slots.local_instant(last, 1440, tz) or slots.local_instant(last, 1500, tz)
    return start, end


def active_doctor(doctor_id) -> Doctor | None:
    """An active doctor, with their weekly hours loaded in the same query (slots need both)."""
    if not valid_id(doctor_id):
        return None
    query = select(Doctor).where(Doctor.id == doctor_id, Doctor.active).options(db.joinedload(Doctor.weekly_hours))
    return db.session.scalars(query).unique().first()


def weekly_windows(doctor: Doctor) -> dict[int, list[tuple[int, int]]]:
    """{weekday: [(start_minute, end_minute), ...]} for one doctor, in order."""
    windows = {}
    for hours in doctor.weekly_hours:
        windows.setdefault(hours.weekday, []).append((hours.start_minute, hours.end_minute))
    return windows


def _booked(doctor_id, start, end, exclude_id=None):
    """Non-cancelled appointments of the doctor overlapping [start, end)."""
    query = select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.doctor_id == doctor_id,
        Appointment.status != CANCELLED,
        Appointment.overlapping(start, end),
    )
    return query if exclude_id is None else query.where(Appointment.id != exclude_id)


def _blocked(doctor_id, start, end):
    """The doctor's blocked periods and clinic closures overlapping [start, end)."""
    return select(BlockedPeriod.starts_at, BlockedPeriod.ends_at).where(
        or_(BlockedPeriod.doctor_id == doctor_id, BlockedPeriod.doctor_id.is_(None)),
        BlockedPeriod.starts_at < end,
        BlockedPeriod.ends_at > start,
    )


def _patient_booked(patient_id, start, end, exclude_id=None):
    """Non-cancelled appointments of the patient, with any doctor, overlapping [start, end)."""
    query = select(Appointment.id).where(
        Appointment.patient_id == patient_id,
        Appointment.status != CANCELLED,
        Appointment.overlapping(start, end),
    )
    return query if exclude_id is None else query.where(Appointment.id != exclude_id)


def conflicts(doctor_id, start, end, *, patient_id=None, exclude_id=None) -> set[str]:
    """What is in the way of [start, end), in one query: "blocked" (the doctor's time off or a
    clinic closure), "booked" (the doctor has an appointment), "patient busy" (the patient has
    one, with any doctor; checked when `patient_id` is given)."""
    kinds = [_blocked(doctor_id, start, end).with_only_columns(literal("blocked")),
             _booked(doctor_id, start, end, exclude_id).with_only_columns(literal("booked"))]
    if patient_id is not None:
        kinds.append(_patient_booked(patient_id, start, end, exclude_id).with_only_columns(literal("patient busy")))
    return set(db.session.scalars(union_all(*kinds)))


def busy_intervals(doctor_id, start, end, *, exclude_id=None) -> list[tuple[datetime, datetime]]:
    """Booked and blocked time overlapping [start, end), in one query (for the slot lists)."""
    query = union_all(_booked(doctor_id, start, end, exclude_id), _blocked(doctor_id, start, end))
    return [tuple(row) for row in db.session.execute(query)]


def free_slots(doctor: Doctor, day: date, duration: int, *, now: datetime, exclude_id=None) -> list[int]:
    """Free local start minutes of one doctor on one local day (DESIGN.md section 5).

    exclude_id: an appointment being moved, whose own time counts as free.
    """
    start, end = local_day_span(day)
    busy = busy_intervals(doctor.id, start, end, exclude_id=exclude_id)
    return slots.free_slots(
        day=day,
        windows=weekly_windows(doctor).get(day.weekday(), []),
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
    # Two queries for the whole horizon, then the engine runs day by day in memory.
    windows = weekly_windows(doctor)
    busy = busy_intervals(doctor.id, start, end)
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


# Managing hours and blocked periods: doctors their own, admins every doctor's and the clinic's.


def can_manage(actor: User, doctor: Doctor | None) -> bool:
    """Admins manage everyone's hours and clinic closures (doctor None); a doctor their own."""
    if actor.role == ADMIN:
        return True
    return doctor is not None and actor.role == DOCTOR and doctor.user_id == actor.id


def managed_doctor(actor, doctor_id) -> Doctor:
    """The doctor whose hours `actor` wants to change; NotFound or NotAllowed otherwise."""
    doctor = db.session.get(Doctor, doctor_id) if valid_id(doctor_id) else None
    if doctor is None:
        raise NotFound("Doctor not found", field="doctor_id")
    if not can_manage(actor, doctor):
        raise NotAllowed("You can only change your own hours")
    return doctor


def weekly_windows_rows(doctor_id) -> list[WeeklyHours]:
    return list(db.session.scalars(
        select(WeeklyHours).where(WeeklyHours.doctor_id == doctor_id)
        .order_by(WeeklyHours.weekday, WeeklyHours.start_minute)
    ))


def _hhmm(value, field) -> int:
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)|24:00", value.strip()) if isinstance(value, str) else None
    if not match:
        raise InvalidInput("Use HH:MM (24-hour)", field=field)
    minute = 1440 if value.strip() == "24:00" else int(match[1]) * 60 + int(match[2])
    if minute % slots.STEP_MINUTES:
        raise InvalidInput("Use a quarter hour (:00, :15, :30 or :45)", field=field)
    return minute


def add_window(*, actor: User, doctor_id, weekday, start, end) -> WeeklyHours:
    with unit_of_work():
        doctor = managed_doctor(actor, doctor_id)
        weekday = whole_number(weekday)
        if weekday is None or not 0 <= weekday <= 6:
            raise InvalidInput("Choose a day of the week", field="weekday")
        start_minute, end_minute = _hhmm(start, "start"), _hhmm(end, "end")
        if end_minute <= start_minute:
            raise InvalidInput("The end must be after the start", field="end")
        for other_start, other_end in weekly_windows(doctor).get(weekday, []):
            if other_start < end_minute and start_minute < other_end:
                raise InvalidInput(
                    f"Overlaps the window {slots.format_minute(other_start)}–{slots.format_minute(other_end)}",
                    field="start",
                )
        window = WeeklyHours(doctor_id=doctor.id, weekday=weekday, start_minute=start_minute, end_minute=end_minute)
        db.session.add(window)
    return window


def remove_window(*, actor: User, window_id) -> None:
    with unit_of_work():
        window = db.session.get(WeeklyHours, window_id) if valid_id(window_id) else None
        if window is None:
            raise NotFound("Working hours not found")
        managed_doctor(actor, window.doctor_id)
        db.session.delete(window)


def add_blocked_period(
    *, actor: User, doctor_id, start_date, end_date, start_time=None, end_time=None, reason="", now: datetime,
) -> tuple[BlockedPeriod, list[Appointment]]:
    """Block time (doctor_id None: close the clinic). Without times it covers whole local days.

    Existing bookings in the period are allowed to stay; they are returned so the desk can move them.
    """
    with unit_of_work():
        doctor = None
        if doctor_id is None:
            if actor.role != ADMIN:
                raise NotAllowed("Only admins can close the clinic")
        else:
            doctor = managed_doctor(actor, doctor_id)
        first, last = parse_date(start_date), parse_date(end_date or start_date)
        start = local_day_span(first)[0] if not start_time else _instant(first, _hhmm(start_time, "start_time"))
        end = local_day_span(last)[1] if not end_time else _instant(last, _hhmm(end_time, "end_time"))
        if end <= start:
            raise InvalidInput("The end must be after the start", field="end_date")
        reason = " ".join(reason.split())[:200] if isinstance(reason, str) else ""
        period = BlockedPeriod(doctor_id=doctor.id if doctor else None, starts_at=start, ends_at=end, reason=reason)
        db.session.add(period)
    return period, appointments_during(period)


def _instant(day, minute):
    return slots.local_instant(day, minute, clinic.tz()) or slots.local_instant(day, minute + 60, clinic.tz())


def appointments_during(period: BlockedPeriod) -> list[Appointment]:
    """Non-cancelled appointments inside a blocked period (for a closure: every doctor's)."""
    query = (
        select(Appointment)
        .where(Appointment.status != CANCELLED, Appointment.overlapping(period.starts_at, period.ends_at))
        .options(db.joinedload(Appointment.patient), db.joinedload(Appointment.doctor))
        .order_by(Appointment.starts_at)
    )
    if period.doctor_id is not None:
        query = query.where(Appointment.doctor_id == period.doctor_id)
    return list(db.session.scalars(query))


def bookings_inside(doctor_id, period_id) -> list[Appointment]:
    """The bookings inside one of the doctor's blocked periods ([] if it is not theirs)."""
    period = db.session.get(BlockedPeriod, period_id)
    if period is None or period.doctor_id != doctor_id:
        return []
    return appointments_during(period)


def remove_blocked_period(*, actor: User, period_id) -> None:
    with unit_of_work():
        period = db.session.get(BlockedPeriod, period_id) if valid_id(period_id) else None
        if period is None:
            raise NotFound("Blocked period not found")
        if period.doctor_id is None:
            if actor.role != ADMIN:
                raise NotAllowed("Only admins can change clinic closures")
        else:
            managed_doctor(actor, period.doctor_id)
        db.session.delete(period)


def upcoming_blocked_periods(doctor_id, *, now: datetime) -> list[BlockedPeriod]:
    """Blocked periods of a doctor (None: clinic closures) that have not ended yet."""
    doctor_filter = BlockedPeriod.doctor_id.is_(None) if doctor_id is None else BlockedPeriod.doctor_id == doctor_id
    return list(db.session.scalars(
        select(BlockedPeriod).where(doctor_filter, BlockedPeriod.ends_at > now).order_by(BlockedPeriod.starts_at)
    ))
