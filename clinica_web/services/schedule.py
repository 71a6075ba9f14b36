"""Changing a doctor's weekly hours and blocked periods, and the clinic's closures: doctors their
own, admins everyone's (reading them is availability.py)."""
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.models import ADMIN, DOCTOR, Appointment, BlockedPeriod, Doctor, User, WeeklyHours
from clinica_web.services import clinic, lifecycle, slots, waitlist
from clinica_web.services.availability import appointments_during, weekly_windows
from clinica_web.services.clinic import local_day_span
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound
from clinica_web.services.values import has_hidden_controls, parse_date, valid_id, whole_number


def can_manage(actor: User, doctor: Doctor | None) -> bool:
    """Admins manage everyone's hours and clinic closures (doctor None); a doctor their own."""
    if actor.role == ADMIN:
        return True
    return doctor is not None and actor.role == DOCTOR and doctor.user_id == actor.id


def managed_doctor(actor, doctor_id, *, lock=False) -> Doctor:
    """The doctor whose hours `actor` wants to change; NotFound or NotAllowed otherwise. With
    `lock`, the doctor's row is locked until the change commits: changes to one doctor's calendar
    run one after another (two clicks of "Add" add one window), and a booking being made, which
    share-locks the row (booking.check_bookable), is waited for, or waits."""
    doctor = (locked(Doctor, doctor_id) if lock else db.session.get(Doctor, doctor_id)) if valid_id(doctor_id) else None
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
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00", value.strip()) if isinstance(value, str) else None
    if not match:
        raise InvalidInput("Use HH:MM (24-hour)", field=field)
    minute = 1440 if value.strip() == "24:00" else int(match[1]) * 60 + int(match[2])
    if minute % slots.STEP_MINUTES:
        raise InvalidInput("Use a quarter hour (:00, :15, :30 or :45)", field=field)
    return minute


def add_window(*, actor: User, doctor_id, weekday, start, end) -> WeeklyHours:
    with unit_of_work():
        doctor = managed_doctor(actor, doctor_id, lock=True)
        weekday = whole_number(weekday)
        if weekday is None or not 0 <= weekday <= 6:
            raise InvalidInput("Choose a day of the week", field="weekday")
        start_minute, end_minute = _hhmm(start, "start"), _hhmm(end, "end")
        if end_minute <= start_minute:
            raise InvalidInput("The end must be after the start", field="end")
        for other_start, other_end in weekly_windows(doctor).get(weekday, []):
            if other_start < end_minute and start_minute < other_end:
                raise InvalidInput(
                    "Overlaps the window %(start)s–%(end)s", start=slots.format_minute(other_start),
                    end=slots.format_minute(other_end), field="start",
                )
        window = WeeklyHours(doctor_id=doctor.id, weekday=weekday, start_minute=start_minute, end_minute=end_minute)
        db.session.add(window)
        _hours_added(doctor.id, weekday, start_minute, end_minute, now=clinic.now())
    return window


def _hours_added(doctor_id, weekday, start_minute, end_minute, *, now):
    """New hours are freed time for the waitlist: that weekday's window, every week of the horizon."""
    today, tz = clinic.local_today(now), clinic.tz()
    for offset in range(clinic.policy().horizon_days + 1):
        day = today + timedelta(days=offset)
        if day.weekday() == weekday:
            start, end = slots.window_span(day, (start_minute, end_minute), tz)
            waitlist.time_freed(doctor_id, slots.EPOCH + timedelta(minutes=start), slots.EPOCH + timedelta(minutes=end),
                                now=now)


def managed_window(actor: User, window_id, *, lock=False) -> WeeklyHours:
    """A window of weekly hours `actor` may remove; NotFound or NotAllowed otherwise."""
    window = db.session.get(WeeklyHours, window_id) if valid_id(window_id) else None
    if window is None:
        raise NotFound("Working hours not found")
    managed_doctor(actor, window.doctor_id, lock=lock)
    return window


def count_bookings_in_window(window: WeeklyHours, *, now: datetime) -> int:
    """How many of the doctor's upcoming bookings lie in these weekly hours (removing the hours
    leaves them standing; the desk may want to move them). One query of two columns: the doctor's
    upcoming bookings, sorted to their weekday and local time here."""
    upcoming = db.session.execute(
        select(Appointment.starts_at, Appointment.duration_minutes)
        .where(Appointment.doctor_id == window.doctor_id, lifecycle.holds_time(), lifecycle.is_booking(),
               Appointment.ends_at > now))
    count = 0
    for starts_at, minutes in upcoming:
        local = clinic.to_local(starts_at)
        minute = local.hour * 60 + local.minute
        count += local.weekday() == window.weekday and minute < window.end_minute \
            and minute + minutes > window.start_minute
    return count


def remove_window(*, actor: User, window_id) -> None:
    with unit_of_work():
        db.session.delete(managed_window(actor, window_id, lock=True))


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
            # Every doctor's calendar changes: bookings under way are waited for (they share-lock
            # their doctor), so the visits returned to move include them. In id order, as any
            # two closures take them.
            db.session.execute(select(Doctor.id).where(Doctor.active).order_by(Doctor.id)
                               .with_for_update(key_share=True)).all()
        else:
            doctor = managed_doctor(actor, doctor_id, lock=True)
        first, last = parse_date(start_date), parse_date(end_date or start_date)
        start = local_day_span(first)[0] if not start_time else _bound(first, _hhmm(start_time, "start_time"))
        end = local_day_span(last)[1] if not end_time else _bound(last, _hhmm(end_time, "end_time"))
        if end <= start:
            raise InvalidInput("The end must be after the start", field="end_date")
        if end <= now:  # blocks nothing: no one can book the past (one under way is kept: it ends later)
            raise InvalidInput("This time is already over: choose a time still to come", field="start_date")
        reason = " ".join(reason.split())[:200] if isinstance(reason, str) else ""
        if has_hidden_controls(reason):  # the public pages show a closure's reason
            raise InvalidInput("Write the reason without control characters or direction marks", field="reason")
        if _already_blocked(doctor, start, end):
            raise InvalidInput("This time is already blocked", field="start_date")
        period = BlockedPeriod(doctor_id=doctor.id if doctor else None, starts_at=start, ends_at=end, reason=reason)
        db.session.add(period)
    return period, appointments_during(period, now=now)


def _already_blocked(doctor: Doctor | None, start, end) -> bool:
    """Whether a blocked period of the same doctor (or a closure, for one) already covers
    [start, end): a second would change nothing, and removing one would seem to free the time.
    True under the caller's locks: the doctor's row, or every active doctor's for a closure (the
    lock that closures take one after another, as long as the clinic has a doctor)."""
    owner = BlockedPeriod.doctor_id.is_(None) if doctor is None else BlockedPeriod.doctor_id == doctor.id
    return db.session.scalar(select(BlockedPeriod.id).where(
        owner, BlockedPeriod.starts_at <= start, BlockedPeriod.ends_at >= end).limit(1)) is not None


def _bound(day, minute) -> datetime:
    """A blocked period's wall-clock bound as an instant: a time the clocks skip (spring forward)
    is where the gap ends, the first moment that shows a later time; a time shown twice (clocks
    going back) is the first of the two, as DESIGN.md section 4 reads every such time."""
    tz = clinic.tz()
    instant = slots.local_instant(day, minute, tz)
    if instant is None:
        return slots.gap_end(datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute), tz)
    return instant


def managed_period(actor: User, period_id, *, lock=False) -> BlockedPeriod:
    """A blocked period (or, for admins, a clinic closure) `actor` may remove; NotFound or NotAllowed.
    With `lock`, locked until the removal commits: a second removal at once waits, then finds
    it gone (NotFound), instead of freeing its time for the waitlist again."""
    period = ((locked(BlockedPeriod, period_id) if lock else db.session.get(BlockedPeriod, period_id))
              if valid_id(period_id) else None)
    if period is None:
        raise NotFound("Blocked period not found")
    if period.doctor_id is None:
        if actor.role != ADMIN:
            raise NotAllowed("Only admins can change clinic closures")
    else:
        managed_doctor(actor, period.doctor_id)
    return period


def remove_blocked_period(*, actor: User, period_id, now: datetime | None = None) -> None:
    """Remove time off or a closure; the time it covered is free again for the waitlist."""
    with unit_of_work():
        period = managed_period(actor, period_id, lock=True)
        doctors = [period.doctor_id] if period.doctor_id is not None else list(
            db.session.scalars(select(Doctor.id).where(Doctor.active)))
        for doctor_id in doctors:
            waitlist.time_freed(doctor_id, period.starts_at, period.ends_at, now=now or clinic.now())
        db.session.delete(period)
