from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinica_web.extensions import db
from clinica_web.models.appointment import Appointment
from clinica_web.models.doctor import Doctor
from clinica_web.models.types import UTCDateTime
from clinica_web.models.user import User

ACTIVE, LEFT, BOOKED = "active", "left", "booked"
OPEN, ACCEPTED, DECLINED, EXPIRED = "open", "accepted", "declined", "expired"
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


class FreedTime(db.Model):
    """Time a doctor has again (a cancel, a move away, a block removed, hours added), for the
    worker to offer to the waitlist; removed once it has been looked at."""

    __tablename__ = "freed_times"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WaitlistOffer(db.Model):
    """A freed slot offered to one waitlist entry, held for it (`appointment_id`: the held row)
    until `expires_at`."""

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        Index("ix_waitlist_offers_open", "status", "expires_at"),
        Index("ix_waitlist_offers_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=OPEN)  # OPEN, ACCEPTED, DECLINED, EXPIRED
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the worker

    entry: Mapped[WaitlistEntry] = relationship()
    doctor: Mapped[Doctor] = relationship()
    appointment: Mapped[Appointment | None] = relationship()
    offered_by: Mapped[User | None] = relationship()
