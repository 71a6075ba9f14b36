"""Logins that can end: a browser's session, and every JWT, end when they should.

The session cookie is signed but lives in the browser, so ending it there (logout) leaves any copy
of it working. Each login therefore has a row holding a digest of a random token that the cookie
carries; logout ends the row, and the user loader finds the user only through an open row.
A password change or reset ends every row of the user and raises `session_version`, which every
JWT carries, so the API logins made with the old password stop working too.
"""
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update

from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import User, UserSession
from clinica_web.services import values
from clinica_web.services.errors import InvalidInput


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, *, checked_version: int, now: datetime) -> str:
    """A new login of `user`, whose password (or welcome link) was checked against the user's row
    at `checked_version` (its session_version then): returns the token for the session cookie
    (only its digest is kept). InvalidInput, as for a wrong password, if the password was changed
    or reset since: a login with the old one must not outlive the reset that ended every other
    (the user's row is share-locked, so a reset under way is waited for, and one that comes later
    ends this session too)."""
    token = secrets.token_urlsafe(32)
    user_id = user.id
    with unit_of_work():
        version = db.session.scalar(select(User.session_version).where(User.id == user_id)
                                    .with_for_update(read=True))
        if version != checked_version:
            raise InvalidInput("Invalid credentials")
        db.session.add(UserSession(user_id=user_id, digest=_digest(token), created_at=now))
    return token


def user_for(user_id, token) -> User | None:
    """The active user of an open session, in one query; None if the session ended or is not theirs."""
    user_id = values.positive_number(user_id, values.MAX_ID)
    if user_id is None or not isinstance(token, str) or not token or len(token) > 100:
        return None
    return db.session.scalars(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_id, User.active.is_(True), UserSession.digest == _digest(token),
               UserSession.ended_at.is_(None))
    ).first()


def end(token, *, now: datetime) -> None:
    """Log out: this session stops working, wherever its cookie is."""
    if isinstance(token, str) and token:
        with unit_of_work():
            db.session.execute(update(UserSession).where(UserSession.digest == _digest(token),
                                                         UserSession.ended_at.is_(None)).values(ended_at=now))


def end_all(user: User, *, now: datetime) -> None:
    """Every session and JWT of `user` stops working (within the caller's transaction)."""
    user.session_version += 1
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                       .values(ended_at=now))
