from datetime import datetime

from sqlalchemy import JSON, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinica_web.extensions import db
from clinica_web.models.types import UTCDateTime, utcnow

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
MESSAGE, REMINDER = "message", "reminder"
# An email about a change to an appointment: its kind is the change's (services/notifications.py).
APPOINTMENT_EMAILS = BOOKED, RESCHEDULED, CANCELLED = "booked", "rescheduled", "cancelled"


class OutboxEmail(db.Model):
    """An email waiting to be sent, written in the same transaction as the change it reports.

    A MESSAGE is written whole. The others are planned emails, written out (recipient, subject,
    bodies, calendar file) by the worker when it sends them, and keep what they said once sent.
    A REMINDER (services/reminders.py) names an appointment and the SEQUENCE it reminds of, so it
    always says the visit's time and the patient's address as they are then; it never goes out at
    or after `not_after` (the visit's start). An appointment email (BOOKED, RESCHEDULED,
    CANCELLED: services/notifications.py) names the appointment, the SEQUENCE the change made,
    and in `facts` the doctor and times it is to say. The appointment is kept as a plain id, not
    a foreign key: SQLite cannot add one to an existing table in place.
    """

    __tablename__ = "outbox_emails"
    __table_args__ = (
        Index("ix_outbox_emails_due", "status", "next_attempt_at"),
        Index("ix_outbox_emails_appointment", "appointment_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    cc: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    ics: Mapped[bytes | None] = mapped_column(LargeBinary)
    ics_method: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20), default=MESSAGE, server_default=MESSAGE)
    appointment_id: Mapped[int | None] = mapped_column()
    sequence: Mapped[int | None] = mapped_column()
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    facts: Mapped[dict | None] = mapped_column(JSON)


class UsedLink(db.Model):
    """A single-use emailed link (services/links.py) that has done its work: its digest."""

    __tablename__ = "used_links"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
