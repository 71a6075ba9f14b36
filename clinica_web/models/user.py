from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from clinica_web.extensions import db
from clinica_web.models.types import UTCDateTime, utcnow

PATIENT, DOCTOR, RECEPTION, ADMIN = "patient", "doctor", "reception", "admin"
ROLES = (PATIENT, DOCTOR, RECEPTION, ADMIN)
STAFF_ROLES = (DOCTOR, RECEPTION, ADMIN)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased (see services.accounts.normalize_email), so uniqueness is case-insensitive.
    # None for a patient registered at the desk by phone only: they cannot log in and get no email.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20), default=PATIENT)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Raised by a password change or reset: every JWT carries the version it was issued under.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    welcomed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the welcome link was used
    wants_reminders: Mapped[bool] = mapped_column(default=True, server_default=true())  # reception can turn off
    # "en" or "es" (clinica_web/i18n.py); None: pages follow the browser, emails DEFAULT_LOCALE.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def set_password(self, password):
        # The tests set a cheap PASSWORD_HASH_METHOD; everywhere else it is Werkzeug's default (scrypt).
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self):  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_staff(self):
        return self.role in STAFF_ROLES

    def __repr__(self):
        return f"<User {self.id} {self.email} {self.role}>"


class ApiToken(db.Model):
    """A staff API token. Only its SHA-256 digest is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """One login in a browser. The session cookie carries a random token; only its digest is
    stored. Logging out ends the row, so a copied cookie stops working with it."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordResetRequest(db.Model):
    """An address someone asked a reset link for. The worker sends the link if an account uses it;
    the request itself only stores the address, the same work whoever asks."""

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
