"""What staff do to an appointment (DESIGN.md section 7): move it, step its status (with a one-step
undo) and cancel it with a reason. The rules of when each is allowed are lifecycle.py's.

The caller has checked that `actor` may touch the appointment (appointments.get_for_staff); each
function locks it again (appointments.locked_for_staff) inside its unit of work.
"""
from datetime import datetime, timezone

from clinica_web.database import retried_after_a_deadlock, unit_of_work
from clinica_web.models import DOCTOR, Appointment, User
from clinica_web.services import appointments, availability, booking, clinic, history, lifecycle, slots
from clinica_web.services.booking import Slot, find_type
from clinica_web.services.errors import DomainError, InvalidInput, NotFound, PatientBusy, SlotTaken
from clinica_web.services.rules import refusal
from clinica_web.services.values import parse_date, parse_time, whole_number


@retried_after_a_deadlock
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
    if (refused := lifecycle.reschedule_refusal(appointment)) is not None:
        raise InvalidInput(refused, field="scheduled_at")
    new_doctor_id = appointment.doctor_id if doctor_id is None else doctor_id
    if availability.active_doctor(new_doctor_id) is None:
        raise NotFound("must exist", field="provider_id")
    if actor.role == DOCTOR and new_doctor_id != appointment.doctor_id:
        # A doctor sees and runs their own calendar only; the desk moves a visit to a colleague.
        raise InvalidInput("A doctor moves a visit within their own calendar only", field="provider_id")
    start = (starts_at or appointment.starts_at).astimezone(clinic.tz())
    if start.second or start.microsecond:
        raise refusal("off_grid", field="scheduled_at")
    slot = Slot(new_doctor_id, start.date(), start.hour * 60 + start.minute, appointment.duration_minutes,
                find_type(appointment.appointment_type))
    if slots.local_instant(slot.day, slot.minute, clinic.tz()) != start.astimezone(timezone.utc):
        # (Compared in UTC: an aware time in a repeated hour never equals one of another zone.)
        # The second occurrence of an ambiguous local time: not a time the grid offers.
        raise refusal("off_grid", field="scheduled_at")
    booking.lock_patient_of(appointment)  # before the doctor's share lock: the order every write takes
    try:
        new_doctor, new_start, new_end = booking.check_bookable(slot, patient_id=appointment.patient_id,
                                                                now=now, exclude_id=appointment.id, lock=True)
    except DomainError as error:
        error.field = "scheduled_at"
        raise
    return booking.move(appointment, new_doctor, new_start, new_end, actor=actor, reason=reason, now=now)


def reschedule_local(*, actor: User, appointment: Appointment, doctor_id, date, time, reason, now: datetime):
    """reschedule() from the desk's form: a clinic-local date and HH:MM time."""
    if doctor_id not in (None, "") and whole_number(doctor_id) is None:
        raise refusal("doctor_not_found")
    doctor_id = whole_number(doctor_id)
    start = slots.local_instant(parse_date(date), parse_time(time), clinic.tz())
    if start is None:
        raise refusal("off_grid")
    return reschedule(actor=actor, appointment=appointment, starts_at=start, doctor_id=doctor_id, reason=reason,
                      now=now)


def change_status(*, actor: User, appointment: Appointment, to_status, now: datetime) -> Appointment:
    """One status step (lifecycle.STEPS, at the times lifecycle.step_refusal allows), recorded."""
    with unit_of_work():
        appointment = appointments.locked_for_staff(actor, appointment.id)
        refused = lifecycle.step_refusal(appointment.status, appointment.starts_at, to_status, now=now)
        if refused is not None:
            raise refused
        _set_status(appointment, to_status, actor=actor, kind=history.STATUS, now=now)
    return appointment


@retried_after_a_deadlock
def undo_last_change(*, actor: User, appointment: Appointment, now: datetime) -> Appointment:
    """Undo the appointment's last change if it was a status change (one step back)."""
    with unit_of_work():
        appointment = appointments.locked_for_staff(actor, appointment.id)
        if not can_undo(appointment):
            raise InvalidInput("There is no status change to undo")
        _set_status(appointment, history.last_change(appointment).from_value, actor=actor, kind=history.STATUS_UNDO,
                    now=now)
    return appointment


def can_undo(appointment: Appointment) -> bool:
    last = history.last_change(appointment)
    return last is not None and last.kind == history.STATUS and last.to_value == appointment.status


def _set_status(appointment, to_status, *, actor, kind, now):
    history.record(appointment, kind, actor=actor, now=now, from_value=appointment.status, to_value=to_status)
    appointment.status = to_status
    appointment.updated_at = now


def cancel_by_staff(*, actor: User, appointment: Appointment, reason, note=None, now: datetime) -> Appointment:
    """Reception, admins and the appointment's doctor cancel a visit that has not been completed
    or documented (lifecycle.staff_cancel_refusal), with a reason code and an optional note. The
    patients' cutoff does not bind them; inside it the cancellation is recorded as late."""
    if not reason:
        raise InvalidInput("Choose a reason for cancelling", field="reason")
    reason, note = booking.cancel_reason(reason, note, lifecycle.STAFF_CANCEL_REASONS)
    with unit_of_work():
        appointment = appointments.locked_for_staff(actor, appointment.id)
        if (refused := lifecycle.staff_cancel_refusal(appointment)) is not None:
            raise InvalidInput(refused)
        return booking.cancel(appointment, actor=actor, reason=reason, note=note, now=now)
