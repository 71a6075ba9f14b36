"""Visit documentation, and the appointments still waiting for it (DESIGN.md section 7)."""
from datetime import datetime

from sqlalchemy import func, select

from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.models import ADMIN, DOCTOR, Appointment, User
from clinica_web.services import history, lifecycle
from clinica_web.services.appointments import visible_to
from clinica_web.services.errors import InvalidInput, NotAllowed


def _pending(actor: User, now: datetime, doctor_id=None):
    query = select(Appointment).where(
        Appointment.starts_at < now,
        Appointment.status.notin_(lifecycle.NO_VISIT),
        Appointment.documentation.is_(None),
    )
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    return visible_to(actor, query)


def pending(actor: User, *, now: datetime, page: int = 1, page_size: int = 25, doctor_id=None):
    """(appointments on this page, total): started, not cancelled or no-show, undocumented; oldest first."""
    query = _pending(actor, now, doctor_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.options(db.joinedload(Appointment.patient), db.joinedload(Appointment.doctor))
        .order_by(Appointment.starts_at, Appointment.id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return list(rows), total


MAX_DOCUMENTATION = 20000
EARLIER_VISITS = 10


def may_read(actor: User) -> bool:
    """Doctors and admins read visit documentation; reception sees only that it was written."""
    return actor.role in (DOCTOR, ADMIN)


def earlier_visits(appointment: Appointment) -> list[Appointment]:
    """The patient's last visits before this one, with any doctor, newest first: what the doctor
    reads next to the form (their notes and documentation). One query."""
    return list(db.session.scalars(
        select(Appointment).where(Appointment.patient_id == appointment.patient_id,
                                  Appointment.starts_at < appointment.starts_at,
                                  Appointment.status.notin_(lifecycle.NO_VISIT))
        .options(db.joinedload(Appointment.doctor))
        .order_by(Appointment.starts_at.desc()).limit(EARLIER_VISITS)))


def can_write(actor: User, appointment: Appointment, *, now: datetime) -> bool:
    """Whether `actor` may document this visit now (what write() checks, for offering the link)."""
    return (appointment.doctor.user_id == actor.id
            and lifecycle.may_document(appointment.status, appointment.starts_at, now=now))


def write(*, actor: User, appointment: Appointment, text, now: datetime) -> Appointment:
    """The appointment's doctor documents the visit (it then leaves the pending list), or rewrites
    it; either is recorded in the history (not the text: the history is shown to the desk)."""
    with unit_of_work():
        appointment = locked(Appointment, appointment.id)
        if appointment.doctor.user_id != actor.id:
            raise NotAllowed("Only the appointment's doctor writes its documentation")
        if appointment.status in lifecycle.NO_VISIT:
            raise InvalidInput("A cancelled or missed appointment has no visit to document")
        if not lifecycle.may_document(appointment.status, appointment.starts_at, now=now):
            raise InvalidInput("A visit can be documented once it has started")
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            raise InvalidInput("Write the documentation first", field="text")
        if len(text) > MAX_DOCUMENTATION:
            raise InvalidInput("Documentation has at most %(limit)s characters", field="text",
                               limit=MAX_DOCUMENTATION)
        if text == appointment.documentation:
            return appointment  # nothing changed: no history row
        kind = history.DOCUMENTED if appointment.documentation is None else history.DOCUMENTATION_EDITED
        history.record(appointment, kind, actor=actor, now=now)
        appointment.documentation = text
        appointment.documented_by_id = actor.id
        appointment.documented_at = now
        appointment.updated_at = now
    return appointment
