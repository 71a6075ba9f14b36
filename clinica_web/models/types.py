"""Column types shared by the models."""
from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An instant, stored as a naive UTC timestamp and always returned timezone-aware (UTC).

    Storing naive UTC keeps SQLite (which has no time zones) and PostgreSQL alike, and keeps
    SQLite's text timestamps comparable as strings, which the overlap triggers rely on.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow():
    return datetime.now(timezone.utc)
