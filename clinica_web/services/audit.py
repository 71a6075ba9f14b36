"""The audit trail: which staff member opened which patient's data, and when."""
from datetime import datetime

from sqlalchemy import func, or_, select

from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import AccessEvent, User
from clinica_web.services.values import contains_pattern


def record(*, actor: User, action: str, now: datetime, patient_id=None, appointment_id=None, detail=None) -> None:
    """Write one access event (its own small transaction, so a read page leaves a trace)."""
    actor_id = actor.id  # read before the transaction expires the actor, which would cost a reload
    with unit_of_work():
        db.session.add(AccessEvent(actor_id=actor_id, at=now, action=action[:40], patient_id=patient_id,
                                   appointment_id=appointment_id, detail=(detail or None) and detail[:200]))


def recent(*, limit=200, patient=None, staff=None) -> list[AccessEvent]:
    """The newest events; `patient` and `staff` keep those whose patient or staff member has that
    text in their name or email (case-insensitive), as an admin remembers people."""
    query = select(AccessEvent).options(db.joinedload(AccessEvent.actor), db.joinedload(AccessEvent.patient))
    for text, column in ((patient, AccessEvent.patient_id), (staff, AccessEvent.actor_id)):
        if text:
            pattern = contains_pattern(" ".join(text.split()))
            named = or_(func.lower(User.full_name).like(pattern, escape="\\"),
                        func.lower(User.email).like(pattern, escape="\\"))
            query = query.where(column.in_(select(User.id).where(named)))
    return list(db.session.scalars(query.order_by(AccessEvent.at.desc(), AccessEvent.id.desc()).limit(limit)))
