"""Booking, cancelling and the rules behind them (DESIGN.md sections 6 and 7).

Each writing function owns its transaction (database.unit_of_work): it locks the appointment it
changes, checks the rules, writes the appointment, its history row and its outbox email, and
commits once; the worker sends the email.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.models import (
    ARRIVED,
    CANCELLED,
    COMPLETED,
    NO_SHOW,
    PATIENT,
    SCHEDULED,
    Appointment,
    AppointmentChange,
    AppointmentType,
    Doctor,
    User,
)
from clinica_web.services import appointments, availability, clinic, notifications, slots
from clinica_web.services.errors import (
    DomainError,
    InvalidInput,
    NotAllowed,
    NotFound,
    PatientBusy,
    SlotTaken,
    SlotUnavailable,
)
from clinica_web.services.values import parse_date, parse_duration, parse_time, valid_id, whole_number

MAX_NOTES = 2000
MAX_BOOKING_KEY = 64  # the column's length: the forms make 32-character keys
DEFAULT_TYPE = "consultation"
NOT_YOURS_MESSAGE = "Booking not found or unauthorized"


@dataclass(frozen=True)
class Slot:
    """A validated request for a time: doctor, local day and minute, duration, visit type."""

    doctor_id: int
    day: date
    minute: int
    duration: int
    appointment_type: AppointmentType


def appointment_types() -> list[AppointmentType]:
    return list(db.session.scalars(select(AppointmentType).order_by(AppointmentType.default_duration)))


def find_type(name, types=None) -> AppointmentType:
    """The visit type called `name` (default: a consultation), looked up in `types` when the caller
    has already loaded them for a picker (one query fewer), else in the database."""
    name = name or DEFAULT_TYPE
    if not isinstance(name, str):
        found = None
    elif types is not None:
        found = next((kind for kind in types if kind.name == name), None)
    else:
        found = db.session.scalars(select(AppointmentType).where(AppointmentType.name == name)).first()
    if found is None:
        raise InvalidInput("Invalid appointment type", field="appointment_type")
    return found


def parse_slot(*, doctor_id, date, time, duration=None, appointment_type=None) -> Slot:
    """The first four rules of DESIGN.md section 6, in order, plus the visit type."""
    if doctor_id in (None, "") or date in (None, "") or time in (None, ""):
        raise InvalidInput("Missing required fields")
    day = parse_date(date, bounded=False)  # check_bookable answers an outlying date with its rules
    minute = parse_time(time)
    if duration not in (None, ""):
        duration = parse_duration(duration, availability.DEFAULT_DURATION)
    kind = find_type(appointment_type)
    doctor_id = whole_number(doctor_id)
    if doctor_id is None:
        raise NotFound("Doctor not found", field="doctor_id")
    return Slot(doctor_id, day, minute, duration or kind.default_duration, kind)


def check_bookable(slot: Slot, *, patient_id: int, now: datetime, exclude_id=None) -> tuple[Doctor, datetime, datetime]:
    """The remaining rules of DESIGN.md section 6, in order; returns the doctor and the (start,
    end) instants.

    `exclude_id` leaves an appointment being rescheduled out of the overlap checks.
    """
    doctor = availability.active_doctor(slot.doctor_id)
    if doctor is None:
        raise NotFound("Doctor not found", field="doctor_id")
    tz, policy = clinic.tz(), clinic.policy()
    # By the day first: a date far in the past or future (year 1, 9999) has no instant to compare.
    if slot.day < clinic.local_today(now):
        raise SlotUnavailable("Date must be in the future", field="date")
    if slots.beyond_horizon(slot.day, now, tz, policy):
        raise SlotUnavailable("Date is beyond the booking horizon", field="date")
    start = slots.local_instant(slot.day, slot.minute, tz)
    # A local time skipped by a daylight-saving change has no instant: measure from the gap's end.
    reference = start or slots.local_instant(slot.day, slot.minute + 60, tz)
    if reference <= now + timedelta(minutes=policy.min_notice_minutes):
        raise SlotUnavailable("Date must be in the future", field="date")
    windows = availability.weekly_windows(doctor).get(slot.day.weekday())
    if not windows:
        raise SlotUnavailable("Doctor not available on this day", field="date")
    end = (start or reference) + timedelta(minutes=slot.duration)
    span = [slots.window_span(slot.day, window, tz) for window in windows]
    on_grid = start is not None and slot.minute % slots.STEP_MINUTES == 0
    if not on_grid or not slots.inside_a_window(slots.epoch_minutes(start), slots.epoch_minutes(end), span):
        raise SlotUnavailable("Outside doctor availability", field="time")
    in_the_way = availability.conflicts(slot.doctor_id, start, end, patient_id=patient_id, exclude_id=exclude_id)
    if "blocked" in in_the_way:
        raise SlotUnavailable("Time blocked by doctor", field="time")
    if "booked" in in_the_way:
        raise SlotTaken()
    if "patient busy" in in_the_way:
        raise PatientBusy()
    return doctor, start, end


def preview(*, patient: User, doctor_id, date, time, appointment_type=None, now: datetime):
    """Check a slot without booking it (the confirmation page); raises the booking error if any.

    Returns (slot, start instant)."""
    slot = parse_slot(doctor_id=doctor_id, date=date, time=time, appointment_type=appointment_type)
    _doctor, start, _end = check_bookable(slot, patient_id=patient.id, now=now)
    return slot, start


def free_times(*, doctor_id, date, duration=None, now: datetime) -> list[int]:
    """Free start minutes of a doctor's local day (the booking API's available-slots)."""
    if doctor_id in (None, "") or date in (None, ""):
        raise InvalidInput("Missing required fields")
    day = parse_date(date)
    duration = parse_duration(duration, availability.DEFAULT_DURATION)
    doctor = availability.active_doctor(whole_number(doctor_id))
    if doctor is None:
        raise NotFound("Doctor not found", field="doctor_id")
    return availability.free_slots(doctor, day, duration, now=now)


def book(
    *,
    actor: User,
    patient: User,
    doctor_id,
    date,
    time,
    duration=None,
    appointment_type=None,
    notes="",
    booking_key=None,
    now: datetime,
) -> Appointment:
    """Book a slot for `patient` (by themselves, or by staff as `actor`).

    `booking_key` is the one-time key of the form: the same key again returns the appointment it
    created instead of booking twice (a double click, or back and resubmit).
    """
    if booking_key and (not isinstance(booking_key, str) or len(booking_key) > MAX_BOOKING_KEY):
        # Not a key the form made (a hidden field can be edited); PostgreSQL would refuse to store it.
        raise InvalidInput("This form is out of date. Please reload the page and try again.")
    try:
        with unit_of_work():
            if booking_key and (existing := _find_by_key(booking_key, patient.id)) is not None:
                return existing
            return _book(actor=actor, patient=patient, doctor_id=doctor_id, date=date, time=time, duration=duration,
                         appointment_type=appointment_type, notes=notes, booking_key=booking_key, now=now)
    except (SlotUnavailable, IntegrityError):
        # The same form submitted twice at once: the other request booked it (the key is unique).
        if booking_key and (existing := _find_by_key(booking_key, patient.id)) is not None:
            return existing
        raise


def _book(*, actor, patient, doctor_id, date, time, duration, appointment_type, notes, booking_key, now):
    if patient.role != PATIENT:
        raise NotAllowed("Appointments are booked for patient accounts")
    slot = parse_slot(
        doctor_id=doctor_id, date=date, time=time, duration=duration, appointment_type=appointment_type
    )
    doctor, start, end = check_bookable(slot, patient_id=patient.id, now=now)
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise InvalidInput(f"A note has at most {MAX_NOTES} characters", field="notes")
    appointment = Appointment(
        patient=patient,
        doctor=doctor,
        starts_at=start,
        ends_at=end,
        duration_minutes=slot.duration,
        appointment_type=slot.appointment_type.name,
        notes=notes,
        status=SCHEDULED,
        booking_key=booking_key or None,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(appointment)
    db.session.add(AppointmentChange(appointment=appointment, actor_id=actor.id, at=now, kind="booked",
                                     to_value=SCHEDULED))
    notifications.queue_appointment_email(appointment, "booked", now=now)
    return appointment


def _find_by_key(booking_key, patient_id):
    found = db.session.scalars(select(Appointment).where(Appointment.booking_key == booking_key)).first()
    if found is not None and found.patient_id != patient_id:
        raise InvalidInput("This form was already used. Please reload the page and try again.")
    return found


def get_for_patient(appointment_id, patient: User, *, lock=False) -> Appointment:
    """One of the patient's own appointments (locked for a change, with `lock`). Another
    patient's and a missing id look the same."""
    appointment = None
    if valid_id(appointment_id):
        appointment = locked(Appointment, appointment_id) if lock else db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient.id:
        raise NotFound(NOT_YOURS_MESSAGE)
    return appointment


def bookings_of(patient: User) -> list[Appointment]:
    """All of a patient's appointments, cancelled ones included, by date and time."""
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient.id)
            .options(db.joinedload(Appointment.doctor))
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def list_for_patient(patient: User, *, now: datetime) -> tuple[list[Appointment], list[Appointment]]:
    """(upcoming, past) appointments of a patient: upcoming soonest first, past latest first."""
    rows = bookings_of(patient)
    upcoming = [a for a in rows if a.ends_at > now and a.status == SCHEDULED]
    past = [a for a in reversed(rows) if a not in upcoming]
    return upcoming, past


def can_patient_cancel(appointment: Appointment, *, now: datetime) -> bool:
    return appointment.status == SCHEDULED and appointment.starts_at > now


def cancel_by_patient(*, patient: User, appointment_id, now: datetime) -> Appointment:
    """A patient cancels one of their own scheduled future bookings; the slot is free at once."""
    with unit_of_work():
        appointment = get_for_patient(appointment_id, patient, lock=True)
        if not can_patient_cancel(appointment, now=now):
            raise InvalidInput("Only upcoming scheduled bookings can be cancelled")
        return _cancel(appointment, actor=patient, reason=None, now=now)


def _cancel(appointment: Appointment, *, actor: User, reason, now: datetime) -> Appointment:
    previous = appointment.status
    appointment.status = CANCELLED
    appointment.cancelled_at = now
    appointment.cancelled_by_id = actor.id
    appointment.cancel_reason = reason
    appointment.sequence += 1
    appointment.updated_at = now
    db.session.add(
        AppointmentChange(
            appointment=appointment, actor_id=actor.id, at=now, kind="cancelled", from_value=previous,
            to_value=CANCELLED, reason=reason,
        )
    )
    notifications.queue_appointment_email(appointment, "cancelled", now=now)
    return appointment


def reschedule(
    *, actor: User, appointment: Appointment, starts_at: datetime | None = None, doctor_id=None, reason=None,
    now: datetime,
) -> Appointment:
    """Move a scheduled appointment to a new start instant and/or doctor (staff; DESIGN.md section 7).

    The new time passes every booking rule, leaving the appointment itself out of the overlap
    checks. Raises DomainError with `field` "scheduled_at" or "provider_id" (the clinic API's names).
    The caller has checked that `actor` may touch this appointment.
    """
    try:
        with unit_of_work():
            return _reschedule(actor=actor, appointment=appointments.locked_for_staff(actor, appointment.id),
                               starts_at=starts_at, doctor_id=doctor_id, reason=reason, now=now)
    except (SlotTaken, PatientBusy) as error:  # refused by the database: another change came first
        error.field = "scheduled_at"
        raise


def _reschedule(*, actor, appointment, starts_at, doctor_id, reason, now):
    if appointment.status != SCHEDULED:
        raise InvalidInput("Only scheduled appointments can be rescheduled", field="scheduled_at")
    new_doctor_id = appointment.doctor_id if doctor_id is None else doctor_id
    if availability.active_doctor(new_doctor_id) is None:
        raise NotFound("must exist", field="provider_id")
    start = (starts_at or appointment.starts_at).astimezone(clinic.tz())
    if start.second or start.microsecond:
        raise SlotUnavailable("Outside doctor availability", field="scheduled_at")
    slot = Slot(new_doctor_id, start.date(), start.hour * 60 + start.minute, appointment.duration_minutes,
                find_type(appointment.appointment_type))
    if slots.local_instant(slot.day, slot.minute, clinic.tz()) != start:
        # The second occurrence of an ambiguous local time: not a time the grid offers.
        raise SlotUnavailable("Outside doctor availability", field="scheduled_at")
    try:
        new_doctor, new_start, new_end = check_bookable(slot, patient_id=appointment.patient_id, now=now,
                                                        exclude_id=appointment.id)
    except DomainError as error:
        error.field = "scheduled_at"
        raise
    if (new_start, new_doctor_id) == (appointment.starts_at, appointment.doctor_id):
        return appointment  # nothing moves: no history, no email
    before = _where_and_when(appointment)
    appointment.starts_at, appointment.ends_at, appointment.doctor = new_start, new_end, new_doctor
    appointment.sequence += 1
    appointment.updated_at = now
    db.session.add(AppointmentChange(appointment=appointment, actor_id=actor.id, at=now, kind="rescheduled",
                                     from_value=before, to_value=_where_and_when(appointment),
                                     reason=(reason or "").strip()[:500] or None))
    notifications.queue_appointment_email(appointment, "rescheduled", now=now)
    return appointment


def reschedule_local(*, actor: User, appointment: Appointment, doctor_id, date, time, reason, now: datetime):
    """reschedule() from the desk's form: a clinic-local date and HH:MM time."""
    if doctor_id not in (None, "") and whole_number(doctor_id) is None:
        raise NotFound("Doctor not found", field="doctor_id")
    doctor_id = whole_number(doctor_id)
    start = slots.local_instant(parse_date(date), parse_time(time), clinic.tz())
    if start is None:
        raise SlotUnavailable("Outside doctor availability", field="time")
    return reschedule(actor=actor, appointment=appointment, starts_at=start, doctor_id=doctor_id, reason=reason,
                      now=now)


def _where_and_when(appointment):
    """How the history records a place in the calendar: doctor and local start."""
    return f"{appointment.doctor.display_name}, {clinic.format_local(appointment.starts_at)}"[:200]


# Staff: status changes with undo, cancelling with a reason (DESIGN.md section 7).
# The caller has checked that `actor` may touch the appointment (appointments.get_for_staff).

STATUS_STEPS = {SCHEDULED: frozenset({ARRIVED, NO_SHOW}), ARRIVED: frozenset({COMPLETED})}
STATUS_CHANGE, STATUS_UNDO = "status", "status_undo"


def change_status(*, actor: User, appointment: Appointment, to_status, now: datetime) -> Appointment:
    """scheduled -> arrived -> completed, or scheduled -> no_show; recorded in the history."""
    with unit_of_work():
        appointment = appointments.locked_for_staff(actor, appointment.id)
        if to_status not in STATUS_STEPS.get(appointment.status, ()):
            raise InvalidInput(f"An appointment that is {appointment.status.replace('_', ' ')} cannot become "
                               f"{str(to_status).replace('_', ' ')}")
        _set_status(appointment, to_status, actor=actor, kind=STATUS_CHANGE, now=now)
    return appointment


def undo_last_change(*, actor: User, appointment: Appointment, now: datetime) -> Appointment:
    """Undo the appointment's last change if it was a status change (one step back)."""
    with unit_of_work():
        appointment = appointments.locked_for_staff(actor, appointment.id)
        if not can_undo(appointment):
            raise InvalidInput("There is no status change to undo")
        _set_status(appointment, last_change(appointment).from_value, actor=actor, kind=STATUS_UNDO, now=now)
    return appointment


def can_undo(appointment: Appointment) -> bool:
    last = last_change(appointment)
    return last is not None and last.kind == STATUS_CHANGE and last.to_value == appointment.status


def last_change(appointment: Appointment) -> AppointmentChange | None:
    return db.session.scalars(
        select(AppointmentChange).where(AppointmentChange.appointment_id == appointment.id)
        .order_by(AppointmentChange.id.desc()).limit(1)
    ).first()


def _set_status(appointment, to_status, *, actor, kind, now):
    db.session.add(AppointmentChange(appointment=appointment, actor_id=actor.id, at=now, kind=kind,
                                     from_value=appointment.status, to_value=to_status))
    appointment.status = to_status
    appointment.updated_at = now


def cancel_by_staff(*, actor: User, appointment: Appointment, reason, now: datetime) -> Appointment:
    """Reception, admins and the appointment's doctor cancel a scheduled or arrived appointment."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput("Give a reason for cancelling", field="reason")
    if len(reason) > 500:
        raise InvalidInput("A reason has at most 500 characters", field="reason")
    with unit_of_work():
        appointment = appointments.locked_for_staff(actor, appointment.id)
        if appointment.status not in (SCHEDULED, ARRIVED):
            raise InvalidInput("Only scheduled or arrived appointments can be cancelled")
        return _cancel(appointment, actor=actor, reason=reason, now=now)
