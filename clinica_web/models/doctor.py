from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinica_web.extensions import db
from clinica_web.models.types import UTCDateTime
from clinica_web.models.user import User


class Doctor(db.Model):
    """A doctor (the seeds' *provider*: provider_id and doctor_id are the same id)."""

    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    specialty: Mapped[str] = mapped_column(String(80), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User | None] = relationship()
    weekly_hours: Mapped[list["WeeklyHours"]] = relationship(
        back_populates="doctor", order_by="(WeeklyHours.weekday, WeeklyHours.start_minute)"
    )

    def __repr__(self):
        return f"<Doctor {self.id} {self.display_name}>"


class WeeklyHours(db.Model):
    """One working window: weekday (Monday = 0) and local wall-clock minutes since midnight.

    Minutes rather than `time` so a window can end at midnight (1440) and the slot engine works
    in plain integers. Several windows per weekday are allowed; services refuse overlaps.
    """

    __tablename__ = "weekly_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute", name="minute_range"),
        CheckConstraint("start_minute % 15 = 0 AND end_minute % 15 = 0", name="quarter_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_minute: Mapped[int] = mapped_column(SmallInteger)
    end_minute: Mapped[int] = mapped_column(SmallInteger)

    doctor: Mapped[Doctor] = relationship(back_populates="weekly_hours")

    @property
    def start_hhmm(self):
        return "%02d:%02d" % divmod(self.start_minute, 60)

    @property
    def end_hhmm(self):
        return "%02d:%02d" % divmod(self.end_minute, 60)


class BlockedPeriod(db.Model):
    """Time a doctor is away, or (doctor_id NULL) the whole clinic is closed."""

    __tablename__ = "blocked_periods"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="ordered"),
        Index("ix_blocked_periods_doctor_span", "doctor_id", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")

    doctor: Mapped[Doctor | None] = relationship()
