"""An appointment's history: every change is recorded by record(), which also queues what follows
from it (DESIGN.md section 14). It is the one place a new consequence of a change is added: today
the patient's email and the visit's reminders (planned, re-timed, dropped); waitlist offers and
webhooks join it here.

It runs inside the caller's unit of work, so the change, its history row and its consequences
are committed together or not at all.
"""
from datetime import datetime

from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import Appointment, AppointmentChange, User
from clinica_web.services import notifications, reminders, waitlist

BOOKED, RESCHEDULED, CANCELLED = "booked", "rescheduled", "cancelled"
STATUS, STATUS_UNDO = "status", "status_undo"
DOCUMENTED, DOCUMENTATION_EDITED = "documented", "documentation_edited"
CONFIRMED = "confirmed"
# A freed time held and offered from the waitlist: recorded once the offer is accepted, at the time
# it was made (an offer that ends unbooked leaves no visit, only its row in waitlist_offers).
OFFERED = "waitlist_offer"
KINDS = (BOOKED, RESCHEDULED, CANCELLED, STATUS, STATUS_UNDO, DOCUMENTED, DOCUMENTATION_EDITED, CONFIRMED, OFFERED)

# The email each kind of change sends the patient (the others send none).
PATIENT_EMAILS = {BOOKED: "booked", RESCHEDULED: "rescheduled", CANCELLED: "cancelled"}


def record(appointment: Appointment, kind: str, *, actor: User | None, now: datetime, from_value=None, to_value=None,
           reason=None, previous_start=None, previous_place=None) -> AppointmentChange:
    """Record one change of `appointment` by `actor` (None: the clinic's worker), and queue its
    consequences (a move passes
    the time it leaves, `previous_start`, for the email's "from … to …", and `previous_place`,
    (doctor id, start, end), for the waitlist)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown kind of change: {kind}")
    change = AppointmentChange(appointment=appointment, actor_id=actor.id if actor is not None else None, at=now,
                               kind=kind,
                               from_value=from_value, to_value=to_value, reason=reason)
    db.session.add(change)
    if kind in PATIENT_EMAILS:
        notifications.queue_appointment_email(appointment, PATIENT_EMAILS[kind], now=now,
                                              previous_start=previous_start)
    if kind == BOOKED:
        reminders.plan(appointment, now=now)
    elif kind == RESCHEDULED:
        reminders.plan_again(appointment, now=now)
        if previous_place is not None:
            waitlist.time_freed(*previous_place, now=now)
    elif kind == CANCELLED:
        reminders.drop_pending([appointment.id])
        waitlist.time_freed(appointment.doctor_id, appointment.starts_at, appointment.ends_at, now=now)
    return change


def changes_of(appointment: Appointment) -> list[AppointmentChange]:
    """Every change of an appointment, oldest first, with who made it."""
    return list(db.session.scalars(
        select(AppointmentChange).where(AppointmentChange.appointment_id == appointment.id)
        .options(db.joinedload(AppointmentChange.actor)).order_by(AppointmentChange.id)
    ))


def last_change(appointment: Appointment) -> AppointmentChange | None:
    return db.session.scalars(
        select(AppointmentChange).where(AppointmentChange.appointment_id == appointment.id)
        .order_by(AppointmentChange.id.desc()).limit(1)
    ).first()
