"""The audit trail: which staff member opened which patient's data, and when."""
from datetime import datetime

from sqlalchemy import select

from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import AccessEvent, User


def record(*, actor: User, action: str, now: datetime, patient_id=None, appointment_id=None, detail=None) -> None:
    """Write one access event (its own small transaction, so a read page leaves a trace)."""
    actor_id = actor.id  # read before the transaction expires the actor, which would cost a reload
    with unit_of_work():
        db.session.add(AccessEvent(actor_id=actor_id, at=now, action=action[:40], patient_id=patient_id,
                                   appointment_id=appointment_id, detail=(detail or None) and detail[:200]))


def recent(*, limit=200, patient_id=None, actor_id=None) -> list[AccessEvent]:
    query = select(AccessEvent).options(db.joinedload(AccessEvent.actor), db.joinedload(AccessEvent.patient))
    if patient_id is not None:
        query = query.where(AccessEvent.patient_id == patient_id)
    if actor_id is not None:
        query = query.where(AccessEvent.actor_id == actor_id)
    return list(db.session.scalars(query.order_by(AccessEvent.at.desc(), AccessEvent.id.desc()).limit(limit)))
