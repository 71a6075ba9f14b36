from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinica_web.extensions import db
from clinica_web.models.doctor import Doctor
from clinica_web.models.types import UTCDateTime
from clinica_web.models.user import User

ACTIVE, LEFT, BOOKED = "active", "left", "booked"
MORNING, AFTERNOON, ANY_TIME = "morning", "afternoon", "any"


class WaitlistEntry(db.Model):
    """A patient waiting for time with a doctor, or any doctor of a specialty (DESIGN.md section 18)."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("from_date <= to_date", name="ordered"),
        CheckConstraint("(doctor_id IS NULL) <> (specialty IS NULL)", name="one_target"),
        Index("ix_waitlist_entries_patient", "patient_id", "status"),
        Index("ix_waitlist_entries_queue", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    specialty: Mapped[str | None] = mapped_column(String(80))
    appointment_type: Mapped[str] = mapped_column(String(40))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    part_of_day: Mapped[str] = mapped_column(String(10))  # MORNING (before 13:00), AFTERNOON, ANY_TIME
    status: Mapped[str] = mapped_column(String(10), default=ACTIVE)  # ACTIVE, LEFT, BOOKED
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[User] = relationship()
    doctor: Mapped[Doctor | None] = relationship()
