"""Patients booking and cancelling, and the booking check every new time passes (DESIGN.md
sections 6 and 7; what staff do to an appointment is staff_actions.py).

Each writing function owns its transaction (database.unit_of_work): it locks the appointment it
changes, checks the rules (rules.py), writes the appointment and records the change
(history.record, which queues the email); the worker sends the email.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinica_web.database import locked, locked_again, retried_after_a_deadlock, unit_of_work
from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import CANCELLED, HELD, PATIENT, SCHEDULED, Appointment, AppointmentType, Doctor, User
from clinica_web.services import availability, calendars, clinic, history, lifecycle, slots, values
from clinica_web.services.errors import DomainError, InvalidInput, NotAllowed, NotFound, SlotUnavailable
from clinica_web.services.rules import refusal
from clinica_web.services.values import in_range, parse_date, parse_duration, parse_time, valid_id, whole_number

MAX_NOTES = 2000
MAX_BOOKING_KEY = 64  # the column's length: the forms make 32-character keys
# An API client's Idempotency-Key: visible ASCII (a UUID, say), short enough to fit the column
# with its client's prefix (api_booking_key).
API_BOOKING_KEY = re.compile(r"[\x21-\x7e]{1,40}")
DEFAULT_TYPE = "consultation"
NOT_YOURS_MESSAGE = N_("Booking not found or unauthorized")
# What a patient reads when a booking is no longer theirs to change (check_patient_may_change's `doing`).
NOT_UPCOMING = {"changed": N_("Only upcoming scheduled bookings can be changed"),
                "cancelled": N_("Only upcoming scheduled bookings can be cancelled")}


class BookingKeyUsed(InvalidInput):
    """A booking's one-time key sent again for something else than the booking it made."""


@dataclass(frozen=True)
class Slot:
    """A validated request for a time: doctor, local day and minute, duration, visit type."""

    doctor_id: int
    day: date
    minute: int
    duration: int
    appointment_type: AppointmentType


def appointment_types() -> list[AppointmentType]:
    shortest_first = select(AppointmentType).order_by(AppointmentType.default_duration, AppointmentType.id)
    return list(db.session.scalars(shortest_first))


def visit_labels() -> dict[str, str]:
    """{visit type name: its label}, e.g. {"follow_up": "Follow-up"}."""
    return dict(db.session.execute(select(AppointmentType.name, AppointmentType.label)).all())


def find_type(name, types=None) -> AppointmentType:
    """The visit type called `name` (default: a consultation), looked up in `types` when the caller
    has already loaded them for a picker (one query fewer), else in the database."""
    name = DEFAULT_TYPE if name in (None, "") else name  # not `or`: [], 0 or false is no type's name
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
        raise refusal("missing_fields")
    day = parse_date(date, bounded=False)  # check_bookable answers an outlying date with its rules
    minute = parse_time(time)
    if duration not in (None, ""):
        duration = parse_duration(duration, availability.DEFAULT_DURATION)
    kind = find_type(appointment_type)
    doctor_id = whole_number(doctor_id)
    if doctor_id is None:
        raise refusal("doctor_not_found")
    return Slot(doctor_id, day, minute, duration or kind.default_duration, kind)


def check_bookable(slot: Slot, *, patient_id: int, now: datetime, exclude_id=None,
                   lock=False) -> tuple[Doctor, datetime, datetime]:
    """The remaining rules of DESIGN.md section 6, in order: the first that stops the time is
    raised (rules.refusal). Returns the doctor and the (start, end) instants.

    `exclude_id` leaves an appointment being rescheduled out of the overlap checks. `lock`, for a
    write about to take the time: the doctor's row is share-locked until it commits
    (availability.active_doctor), so that hiding the doctor or changing their hours waits for it.
    """
    doctor = availability.active_doctor(slot.doctor_id, share_lock=lock)
    if doctor is None:
        raise refusal("doctor_not_found")
    stopped = availability.rules_stopping(doctor, slot.day, slot.minute, slot.duration, now=now,
                                          patient_id=patient_id, exclude_id=exclude_id)
    if stopped:
        raise refusal(stopped[0][0])
    start = slots.local_instant(slot.day, slot.minute, clinic.tz())
    return doctor, start, start + timedelta(minutes=slot.duration)


def preview(*, patient: User, doctor_id, date, time, appointment_type=None, now: datetime):
    """Check a slot without booking it (the confirmation page); raises the booking error if any.

    Returns (slot, start instant)."""
    slot = parse_slot(doctor_id=doctor_id, date=date, time=time, appointment_type=appointment_type)
    _doctor, start, _end = check_bookable(slot, patient_id=patient.id, now=now)
    return slot, start


def own_booking_at(patient: User, *, doctor_id, date, time) -> Appointment | None:
    """The patient's own booking that holds this very time with this doctor, if any (a patient
    back on the confirmation page of a time they have just booked)."""
    try:
        slot = parse_slot(doctor_id=doctor_id, date=date, time=time)
    except DomainError:
        return None
    start = slots.local_instant(slot.day, slot.minute, clinic.tz()) if values.in_range(slot.day) else None
    if start is None:
        return None
    return db.session.scalars(select(Appointment).where(
        Appointment.patient_id == patient.id, Appointment.doctor_id == slot.doctor_id,
        Appointment.starts_at == start, lifecycle.holds_time())).first()


def free_times(*, doctor_id, date, duration=None, now: datetime, patient_id=None,
               moving: Appointment | None = None) -> list[int]:
    """Free start minutes of a doctor's local day (the booking API's available-slots); for a
    patient, those clear of their own visits with any doctor, which they could not book. For a
    visit `moving`, the times it can move to (availability.times_to_move_to), at its own length."""
    if doctor_id in (None, "") or date in (None, ""):
        raise refusal("missing_fields")
    day = parse_date(date, bounded=False)
    duration = moving.duration_minutes if moving else parse_duration(duration, availability.DEFAULT_DURATION)
    doctor_id = whole_number(doctor_id)
    if not in_range(day):
        # Long past or far beyond the horizon: no free times, as for any past day or any day past
        # the horizon (section 10 has no other answer); the doctor is checked without the day,
        # whose arithmetic could overflow.
        if availability.active_doctor(doctor_id) is None:
            raise refusal("doctor_not_found")
        return []
    # One query: the doctor and their hours are what this worker keeps (services/calendars.py).
    calendar = calendars.day(doctor_id, day, patient_id=availability.whose_visits(moving, patient_id),
                             exclude_id=moving.id if moving else None) if valid_id(doctor_id) else None
    if calendar is None or calendar.doctor is None:
        raise refusal("doctor_not_found")
    free = list(calendars.free_minutes(calendar, day, duration, now=now))
    return availability.times_to_move_to(free, moving, doctor_id, day) if moving else free


def booking_to_move(booking_id, patient_id) -> Appointment | None:
    """?booking_id= of the booking API's searches: one of the patient's own bookings, whose times
    to move to they ask for (None when not asked; NotFound, as for a move, if it is not theirs)."""
    if booking_id in (None, ""):
        return None
    return _own_appointment(whole_number(booking_id), patient_id)


@retried_after_a_deadlock
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
    if booking_key and (not isinstance(booking_key, str) or len(booking_key) > MAX_BOOKING_KEY
                        or (":" in booking_key and not booking_key.startswith(_api_key_prefix(patient)))):
        # Not a key the form made (a hidden field can be edited; PostgreSQL would refuse to store a
        # long one), nor this patient's API key (api_booking_key: only the API makes those).
        raise InvalidInput("This form is out of date. Please reload the page and try again.")
    asked = dict(doctor_id=doctor_id, date=date, time=time, duration=duration, appointment_type=appointment_type)
    try:
        with unit_of_work():
            if booking_key and (existing := _find_by_key(booking_key, patient.id, asked)) is not None:
                return existing
            return _book(actor=actor, patient=patient, doctor_id=doctor_id, date=date, time=time, duration=duration,
                         appointment_type=appointment_type, notes=notes, booking_key=booking_key, now=now)
    except (SlotUnavailable, IntegrityError):
        # The same form submitted twice at once: the other request booked it (the key is unique).
        if booking_key and (existing := _find_by_key(booking_key, patient.id, asked)) is not None:
            return existing
        raise


def api_booking_key(patient: User, key: str | None) -> str | None:
    """The one-time key (book's `booking_key`) of an API client's booking, from its
    Idempotency-Key header: a retry of a booking that went through gets that booking back, not
    "overlaps". Each patient's keys are their own (the forms' keys never contain a colon)."""
    if key is None:
        return None
    if not API_BOOKING_KEY.fullmatch(key):
        raise InvalidInput("Idempotency-Key must be 1 to 40 visible ASCII characters")
    return _api_key_prefix(patient) + key


def _api_key_prefix(patient: User) -> str:
    return f"api:{patient.id}:"


def _book(*, actor, patient, doctor_id, date, time, duration, appointment_type, notes, booking_key, now):
    # Read under a lock: reception turning the patient's reminders on or off meanwhile waits for
    # this booking, then sees it (reminders.set_wanted), instead of missing it; and two bookings of
    # one patient at once run one after the other, the second refused by the rules' check. (Under a
    # share lock both went on to their inserts, which the patient's overlap guard checked against
    # each other at once: on PostgreSQL each waited for the other, a deadlock, and a 500.)
    locked_again(patient)
    if patient.role != PATIENT:
        raise NotAllowed("Appointments are booked for patient accounts")
    slot = parse_slot(
        doctor_id=doctor_id, date=date, time=time, duration=duration, appointment_type=appointment_type
    )
    doctor, start, end = check_bookable(slot, patient_id=patient.id, now=now, lock=True)
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise InvalidInput("A note has at most %(limit)s characters", field="notes", limit=MAX_NOTES)
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
    history.record(appointment, history.BOOKED, actor=actor, now=now, to_value=SCHEDULED)
    return appointment


def _find_by_key(booking_key, patient_id, asked):
    """The booking this form's key made, when the form is sent again (a double click, back and
    resubmit; an API client's retry): only if it is still that booking, the same doctor, time,
    length and visit type, not cancelled or moved since; otherwise the key is out of date, and
    saying "booked" would be untrue."""
    found = db.session.scalars(select(Appointment).where(Appointment.booking_key == booking_key)).first()
    if found is not None and (found.patient_id != patient_id or found.status not in lifecycle.HOLDS_TIME
                              or _what_it_is(found) != _asked_for(asked)):
        raise BookingKeyUsed("This form was already used. Please reload the page and try again.")
    return found


def _what_it_is(appointment) -> tuple:
    local = clinic.to_local(appointment.starts_at)
    return (appointment.doctor_id, local.date(), local.hour * 60 + local.minute, appointment.duration_minutes,
            appointment.appointment_type)


def _asked_for(asked) -> tuple | None:
    try:
        slot = parse_slot(**asked)
    except DomainError:
        return None
    return slot.doctor_id, slot.day, slot.minute, slot.duration, slot.appointment_type.name


def get_for_patient(appointment_id, patient: User, *, lock=False) -> Appointment:
    """One of the patient's own appointments (locked for a change, with `lock`). Another
    patient's and a missing id look the same."""
    return _own_appointment(appointment_id, patient.id, lock=lock)


def _own_appointment(appointment_id, patient_id, *, lock=False) -> Appointment:
    appointment = None
    if valid_id(appointment_id):
        appointment = locked(Appointment, appointment_id) if lock else db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != patient_id or appointment.status == HELD:
        raise NotFound(NOT_YOURS_MESSAGE)
    return appointment


def bookings_of(patient: User) -> list[Appointment]:
    """All of a patient's appointments, cancelled ones included, by date and time."""
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient.id, lifecycle.is_booking())
            .options(db.joinedload(Appointment.doctor))
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def list_for_patient(patient: User, *, now: datetime) -> tuple[list[Appointment], list[Appointment]]:
    """(upcoming, past) appointments of a patient: upcoming soonest first, past latest first."""
    rows = bookings_of(patient)
    upcoming = [a for a in rows if lifecycle.is_upcoming_for_patient(a, now=now)]
    past = [a for a in reversed(rows) if a not in upcoming]
    return upcoming, past


def clashes_to_come(bookings: list[Appointment], *, now: datetime) -> dict:
    """availability.clashes_of for those of a patient's bookings still to come (a visit gone by
    needs no other time), in one query."""
    return availability.clashes_of([a for a in bookings if lifecycle.is_upcoming_for_patient(a, now=now)])


def cancel_by_patient(*, patient: User, appointment_id, reason=None, note=None, now: datetime) -> Appointment:
    """A patient cancels one of their own scheduled bookings, until the change cutoff, with a
    reason code (none: "other") and an optional note; the slot is free at once."""
    reason, note = cancel_reason(reason, note, lifecycle.PATIENT_CANCEL_REASONS)
    with unit_of_work():
        appointment = get_for_patient(appointment_id, patient, lock=True)
        check_patient_may_change(appointment, now=now, doing="cancelled")
        return cancel(appointment, actor=patient, reason=reason, note=note, now=now)


def check_patient_may_change(appointment: Appointment, *, now: datetime, doing: str) -> None:
    """Raise why the patient may not change (`doing`: "changed", "cancelled") this booking online:
    it is not an upcoming scheduled visit, or the change cutoff has passed."""
    refused = lifecycle.patient_change_refusal(appointment, now=now)
    if refused == "not_upcoming":
        raise InvalidInput(NOT_UPCOMING[doing])
    if refused:
        raise refusal(refused)


@retried_after_a_deadlock
def reschedule_by_patient(*, patient: User, appointment_id, date, time, doctor_id=None, now: datetime) -> Appointment:
    """A patient moves one of their own bookings (DESIGN.md section 15): until the change cutoff,
    to a time that passes every booking rule (the booking itself left out), with the same doctor
    or another of the same specialty. Same visit type and length."""
    with unit_of_work():  # a time taken after the check is refused by the database: SlotTaken
        appointment = get_for_patient(appointment_id, patient, lock=True)
        lock_patient_of(appointment)  # before the doctor's share lock: the order every write takes
        slot = parse_slot(doctor_id=appointment.doctor_id if doctor_id in (None, "") else doctor_id, date=date,
                          time=time, duration=appointment.duration_minutes,
                          appointment_type=appointment.appointment_type)
        # After the format's checks, before the rules': the order of section 6, as a booking has it.
        check_patient_may_change(appointment, now=now, doing="changed")
        doctor, start, end = check_bookable(slot, patient_id=patient.id, now=now, exclude_id=appointment.id, lock=True)
        if doctor.specialty != appointment.doctor.specialty:
            raise InvalidInput("Choose a doctor of the same specialty (%(specialty)s)", field="doctor_id",
                               specialty=appointment.doctor.specialty)
        return move(appointment, doctor, start, end, actor=patient, reason=None, now=now)


def lock_patient_of(appointment: Appointment) -> None:
    """Lock the patient of an appointment about to move, as _book locks a booking's patient (their
    choice of reminders holds, their changes queue). Taken before the doctor's share lock
    (check_bookable), as _book takes it: a move that took it after could deadlock with a booking
    of the same patient and a clinic closure, which locks the doctors one after another."""
    locked(User, appointment.patient_id)


def move(appointment: Appointment, doctor: Doctor, start: datetime, end: datetime, *, actor: User, reason,
         now: datetime) -> Appointment:
    """Put a locked, checked appointment (its patient locked: lock_patient_of) at a new time and/or
    doctor: SEQUENCE + 1, the history and the "moved from … to …" email. Nothing moves, nothing is
    recorded, if it is already there."""
    if (start, doctor.id) == (appointment.starts_at, appointment.doctor_id):
        return appointment
    before, previous_start = _where_and_when(appointment), appointment.starts_at
    previous_place = (appointment.doctor_id, appointment.starts_at, appointment.ends_at)
    appointment.starts_at, appointment.ends_at, appointment.doctor = start, end, doctor
    appointment.sequence += 1
    appointment.confirmed_at = None  # the patient confirmed the old time, not this one
    appointment.updated_at = now
    history.record(appointment, history.RESCHEDULED, actor=actor, now=now, from_value=before,
                   to_value=_where_and_when(appointment), reason=(reason or "").strip()[:500] or None,
                   previous_start=previous_start, previous_place=previous_place)
    return appointment


def _where_and_when(appointment):
    """How the history records a place in the calendar: doctor and local start."""
    return f"{appointment.doctor.display_name}, {clinic.format_local(appointment.starts_at)}"[:200]


def cancel_reason(reason, note, choices: dict) -> tuple[str, str | None]:
    """(reason code, note) checked against `choices` (lifecycle's lists); no reason is "other"
    (an empty or false one is a wrong one, not none)."""
    reason = "other" if reason is None else reason
    if not isinstance(reason, str) or reason not in choices:
        raise InvalidInput("Choose a reason: %(reasons)s", field="reason", reasons=", ".join(choices))
    if note is not None and not isinstance(note, str):
        raise InvalidInput("Write the note as text", field="note")
    note = note.strip() if note is not None else None
    if note and len(note) > 500:
        raise InvalidInput("A note has at most 500 characters", field="note")
    return reason, note or None


def cancel(appointment: Appointment, *, actor: User, reason: str, note=None, now: datetime) -> Appointment:
    """Cancel a locked appointment the caller has checked may be cancelled: its time is free at
    once. Inside the change cutoff (only staff can) it counts as a late cancellation, unless the
    clinic caused it (lifecycle.is_late_cancellation)."""
    previous = appointment.status
    appointment.status = CANCELLED
    appointment.cancelled_at = now
    appointment.cancelled_by_id = actor.id
    appointment.cancel_reason_code, appointment.cancel_reason = reason, note
    appointment.late_cancellation = lifecycle.is_late_cancellation(appointment, reason=reason, now=now)
    appointment.sequence += 1
    appointment.updated_at = now
    said = lifecycle.STAFF_CANCEL_REASONS[reason] + (f": {note}" if note else "")
    history.record(appointment, history.CANCELLED, actor=actor, now=now, from_value=previous, to_value=CANCELLED,
                   reason=said[:500])
    return appointment
