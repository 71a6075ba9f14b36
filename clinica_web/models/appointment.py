from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, and_, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinica_web.extensions import db
from clinica_web.models.doctor import Doctor
from clinica_web.models.types import UTCDateTime, utcnow
from clinica_web.models.user import User

SCHEDULED, ARRIVED, COMPLETED, NO_SHOW, CANCELLED = "scheduled", "arrived", "completed", "no_show", "cancelled"
HELD = "held"  # a slot held for a waitlist offer (services/waitlist.py): not a booking yet
STATUSES = (SCHEDULED, ARRIVED, COMPLETED, NO_SHOW, CANCELLED, HELD)
MAX_DURATION = 480  # minutes: the longest visit (DESIGN.md section 5)


class AppointmentType(db.Model):
    __tablename__ = "appointment_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    default_duration: Mapped[int] = mapped_column(SmallInteger)


class Appointment(db.Model):
    """A booking. Cancelled rows are kept (soft cancel) and never deleted.

    The database refuses two non-cancelled appointments of one doctor that overlap: an exclusion
    constraint on PostgreSQL and triggers on SQLite, both created by the initial migration.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="ordered"),
        CheckConstraint(f"duration_minutes BETWEEN 1 AND {MAX_DURATION}", name="duration_range"),
        Index("ix_appointments_doctor_starts", "doctor_id", "starts_at"),
        Index("ix_appointments_patient_starts", "patient_id", "starts_at"),
        # Pending documentation: its pages in order, and its count from the index alone (PostgreSQL).
        Index("ix_appointments_undocumented", "starts_at", "id", postgresql_include=["status"],
              postgresql_where=text("documentation IS NULL"), sqlite_where=text("documentation IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20), default=SCHEDULED)
    appointment_type: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str] = mapped_column(Text, default="")  # from the patient; never in emails
    documentation: Mapped[str | None] = mapped_column(Text)
    documented_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    documented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))  # the note beside the reason code
    cancel_reason_code: Mapped[str | None] = mapped_column(String(30))  # lifecycle.CANCEL_REASONS
    late_cancellation: Mapped[bool] = mapped_column(server_default=false())  # inside the change cutoff
    sequence: Mapped[int] = mapped_column(default=0)  # the ICS SEQUENCE: raised on every change
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the patient confirmed this time
    # One-time key of the form that created it: a resubmitted form finds this row instead of
    # booking twice.
    booking_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by each service that changes the row, from its `now` (the app's one clock): no onupdate
    # default, which would read the wall clock instead.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    doctor: Mapped[Doctor] = relationship()
    changes: Mapped[list["AppointmentChange"]] = relationship(
        back_populates="appointment", order_by="AppointmentChange.id"
    )

    @classmethod
    def overlapping(cls, start: datetime, end: datetime | None = None, *, earliest=None):
        """SQL condition: the appointment overlaps [start, end), or ends after `start` if no end.

        ends_at > start alone is right, but an index on (doctor_id, starts_at) would then read
        every earlier appointment of the doctor: a year of history for one day's slots. No visit
        is longer than MAX_DURATION (ends_at is always starts_at + duration_minutes), so the lower
        bound on starts_at is implied, and keeps the index range to the day asked for. `earliest`
        is that bound (start - MAX_DURATION) for a statement whose times are bound parameters.
        """
        if earliest is None:
            earliest = start - timedelta(minutes=MAX_DURATION)
        condition = and_(cls.ends_at > start, cls.starts_at > earliest)
        return condition if end is None else and_(condition, cls.starts_at < end)

    @property
    def is_cancelled(self):
        return self.status == CANCELLED

    def __repr__(self):
        return f"<Appointment {self.id} doctor={self.doctor_id} {self.starts_at:%Y-%m-%d %H:%M}Z {self.status}>"


class AppointmentChange(db.Model):
    """Append-only history of an appointment, written by services/history.record."""

    __tablename__ = "appointment_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # services/history.py KINDS
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))

    appointment: Mapped[Appointment] = relationship(back_populates="changes")
    actor: Mapped[User | None] = relationship()
