from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinica_web.extensions import db
from clinica_web.models.types import UTCDateTime, utcnow
from clinica_web.models.user import User


class AccessEvent(db.Model):
    """Staff opened a patient's data: who, when, what (the audit trail admins read)."""

    __tablename__ = "access_events"
    __table_args__ = (Index("ix_access_events_at", "at"), Index("ix_access_events_patient", "patient_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))  # e.g. "viewed appointment", "viewed day list"
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    detail: Mapped[str | None] = mapped_column(String(200))

    actor: Mapped[User] = relationship(foreign_keys=[actor_id])
    patient: Mapped[User | None] = relationship(foreign_keys=[patient_id])
