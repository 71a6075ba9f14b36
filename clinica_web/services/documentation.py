"""Visit documentation, and the appointments still waiting for it (DESIGN.md section 7)."""
from datetime import datetime

from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, NO_SHOW, Appointment, User
from clinica_web.services.appointments import visible_to


def _pending(actor: User, now: datetime, doctor_id=None):
    query = select(Appointment).where(
        Appointment.starts_at < now,
        Appointment.status.notin_([CANCELLED, NO_SHOW]),
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
        query.order_by(Appointment.starts_at, Appointment.id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return list(rows), total
