from sqlalchemy import BigInteger, CheckConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinica_web.extensions import db


class CalendarVersion(db.Model):
    """One row: a number the database changes whenever a doctor, weekly hours, a blocked period or
    closure, or a visit type changes (triggers of migration 0011), in the transaction of the change.
    Each web worker keeps what seldom changes in memory under this number (services/calendars.py)
    and reads the number with every slot request, so a change is seen at once by every worker.
    A random number, not a count: a rolled-back change can never leave one in use twice."""

    __tablename__ = "calendar_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
