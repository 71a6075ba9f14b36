"""Reminders and confirmations (DESIGN.md section 16).

Each scheduled visit gets one reminder email per value of REMINDER_HOURS (default 24 and 2), due
that many hours before it. A reminder is an outbox row (models.outbox.REMINDER) written by
history.record in the transaction of the booking; a move plans them again for the new time and a
cancel drops them, in the transaction of the change. The worker writes each out only when it is
due (`write_out`), from the visit as it is then, and never at or after the start; so a reminder
never names an old time or an old address. One due for a patient whose reminders reception has
turned off, who has no email address, or whose visit is no longer scheduled is skipped.

A reminder carries three links (services/links.py): Confirm, which works without logging in,
and Reschedule and Cancel, which lead to the patient's own pages and their cutoff. All three are
bound to the visit's SEQUENCE and expire at its start.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, insert, select

from clinica_web import mail
from clinica_web.database import among, locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment, OutboxEmail, User
from clinica_web.models.outbox import FAILED, PENDING, REMINDER, SENT
from clinica_web.services import audit, booking, history, links  # (history and booking import this module)
from clinica_web.services.errors import InvalidInput

CONFIRM, RESCHEDULE, CANCEL = "confirm", "reschedule", "cancel"


def plan(appointment: Appointment, *, now: datetime) -> None:
    """Add the visit's reminders (it has its id) to the session, for the caller's unit of work to
    commit: one per REMINDER_HOURS value whose due time is still ahead, none if the patient does
    not want them."""
    if appointment.status != SCHEDULED or not appointment.patient.wants_reminders:
        return
    start = appointment.starts_at
    planned = [dict(kind=REMINDER, appointment_id=appointment.id, sequence=appointment.sequence,
                    next_attempt_at=start - timedelta(hours=hours), not_after=start, status=PENDING, attempts=0,
                    created_at=now, recipient="", subject="", text_body="", html_body="")  # written out when due
               for hours in current_app.config["REMINDER_HOURS"] if start - timedelta(hours=hours) > now]
    if planned:
        db.session.execute(insert(OutboxEmail), planned)  # one statement for all of them


def drop_pending(appointment_ids) -> None:
    """Remove the reminders not yet sent of these visits (cancelled, moved, or the patient opted out)."""
    db.session.execute(delete(OutboxEmail).where(
        OutboxEmail.kind == REMINDER, OutboxEmail.status == PENDING, OutboxEmail.appointment_id.in_(appointment_ids)))


def plan_again(appointment: Appointment, *, now: datetime) -> None:
    """A visit moved: its pending reminders are re-timed for the new start (dropped and planned anew)."""
    drop_pending([appointment.id])
    plan(appointment, now=now)


def write_out(rows: list[OutboxEmail], *, now: datetime) -> dict[int, dict | str]:
    """For the due reminder rows the worker has claimed: each row's message fields, or why it is
    skipped. One query for all of them (the visits with their patients and doctors)."""
    if not rows:
        return {}
    visits = {a.id: a for a in db.session.scalars(
        select(Appointment).where(Appointment.id.in_({row.appointment_id for row in rows}))
        .options(db.joinedload(Appointment.patient), db.joinedload(Appointment.doctor)))}
    # After a worker outage several reminders of one visit may be due at once: the latest says it all.
    latest = {}
    for row in rows:
        if row.next_attempt_at >= latest.get(row.appointment_id, row).next_attempt_at:
            latest[row.appointment_id] = row
    written = {}
    for row in rows:
        visit = visits.get(row.appointment_id)
        why_not = (_why_not_send(row, visit, now=now)
                   or (latest[row.appointment_id] is not row and "A later reminder of the same visit replaces it"))
        written[row.id] = why_not or dict(recipient=visit.patient.email, cc=None, ics=None, ics_method=None,
                                          **mail.reminder_email(visit, action_links(visit), now=now))
    return written


def _why_not_send(row, visit, *, now):
    if visit is None or visit.status != SCHEDULED:
        return "The visit is no longer scheduled"
    if row.not_after is not None and now >= row.not_after or now >= visit.starts_at:
        return "The visit has started"
    if visit.sequence != row.sequence:
        return "The visit has changed since this reminder was planned"
    if not visit.patient.wants_reminders:
        return "The patient does not get reminders"
    if not visit.patient.email:
        return "The patient has no email address"
    return None


def action_links(visit: Appointment) -> dict[str, str]:
    """The reminder's Confirm, Reschedule and Cancel links, absolute, for this version of the visit."""
    return {action: mail.link_to(f"pages.reminder_{action}", token=links.make(
        action, target_id=visit.id, sequence=visit.sequence, expires_at=visit.starts_at, recipient=visit.patient.email))
        for action in (CONFIRM, RESCHEDULE, CANCEL)}


def visit_of_link(token: str, action: str, *, now: datetime, lock=False) -> Appointment:
    """The visit an emailed link acts on, if the link is genuine, unused, unexpired, for this
    version of the visit, sent to the patient's address as it is now, and the visit is still to
    come; else InvalidInput(links.DEAD)."""
    link = links.read(token, action, now=now)
    visit = locked(Appointment, link.target_id) if lock else db.session.get(Appointment, link.target_id)
    if (visit is None or visit.sequence != link.sequence or visit.status != SCHEDULED or visit.starts_at <= now
            or not links.sent_to(link, visit.patient.email)):
        raise InvalidInput(links.DEAD)
    return visit


def confirmed_by_this_link(token: str, *, now: datetime) -> Appointment | None:
    """The visit, if `token` is a Confirm link already used for it and the visit, unchanged since,
    is confirmed (a second click, a reopened email: say so rather than "no longer works")."""
    try:
        link = links.read(token, CONFIRM, now=now, used_too=True)
    except InvalidInput:
        return None
    visit = db.session.get(Appointment, link.target_id)
    if (visit is None or visit.sequence != link.sequence or visit.confirmed_at is None or not links.is_used(link)
            or not links.sent_to(link, visit.patient.email)):
        return None
    return visit


def confirm_by_link(token: str, *, now: datetime) -> Appointment:
    """The reminder's Confirm (the POST behind its one-button page): no login, the link is the key.
    The link is used up; confirming an already confirmed visit changes nothing more."""
    with unit_of_work():
        visit = visit_of_link(token, CONFIRM, now=now, lock=True)
        links.spend(links.read(token, CONFIRM, now=now), now=now)
        _confirm(visit, actor=visit.patient, now=now)
    return visit


def confirm_by_patient(*, patient: User, appointment_id, now: datetime) -> Appointment:
    """The API's POST /v1/bookings/{id}/confirm: the patient confirms one of their visits to come."""
    with unit_of_work():
        visit = booking.get_for_patient(appointment_id, patient, lock=True)
        if visit.status != SCHEDULED or visit.starts_at <= now:
            raise InvalidInput("Only upcoming scheduled bookings can be confirmed")
        _confirm(visit, actor=patient, now=now)
    return visit


def _confirm(visit, *, actor, now):
    if visit.confirmed_at is None:
        visit.confirmed_at = now
        visit.updated_at = now
        history.record(visit, history.CONFIRMED, actor=actor, now=now)


def set_wanted(*, actor: User, patient: User, wanted: bool, now: datetime) -> None:
    """Reception turns a patient's reminders on or off (audited). Off drops those not yet sent;
    on plans them for every visit to come."""
    with unit_of_work():
        patient = locked(User, patient.id)
        if patient.wants_reminders == wanted:
            return
        patient.wants_reminders = wanted
        upcoming = list(db.session.scalars(select(Appointment).where(
            Appointment.patient_id == patient.id, Appointment.status == SCHEDULED, Appointment.starts_at > now)))
        drop_pending([visit.id for visit in upcoming])
        for visit in upcoming if wanted else ():
            plan(visit, now=now)
    audit.record(actor=actor, action="reminders_on" if wanted else "reminders_off", now=now, patient_id=patient.id)


@dataclass(frozen=True)
class ReminderState:
    """What the day list says of a visit's reminders: the last one sent or failed, else the next due."""

    status: str  # SENT, FAILED, PENDING
    at: datetime  # when it was sent, failed, or is due


def states(appointment_ids) -> dict[int, ReminderState]:
    """Each visit's reminder state, in one query: only reminders of its present time (its SEQUENCE);
    one sent before a move reminded the patient of another time."""
    rows = db.session.execute(
        select(OutboxEmail.appointment_id, OutboxEmail.status, OutboxEmail.sent_at, OutboxEmail.next_attempt_at)
        .join(Appointment, Appointment.id == OutboxEmail.appointment_id)
        .where(OutboxEmail.kind == REMINDER, among(OutboxEmail.appointment_id, appointment_ids),
               OutboxEmail.sequence == Appointment.sequence, OutboxEmail.status.in_((SENT, FAILED, PENDING)))
        .order_by(OutboxEmail.next_attempt_at))
    found = {}
    for appointment_id, status, sent_at, due in rows:
        seen = found.get(appointment_id)
        if status == SENT:
            found[appointment_id] = ReminderState(SENT, sent_at)  # the latest sent wins
        elif status == FAILED and (seen is None or seen.status != SENT):
            found[appointment_id] = ReminderState(FAILED, due)
        elif status == PENDING and seen is None:
            found[appointment_id] = ReminderState(PENDING, due)
    return found
