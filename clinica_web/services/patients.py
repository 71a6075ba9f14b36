"""Finding and registering patients at the desk."""
import secrets
from datetime import datetime

from sqlalchemy import func, or_, select

from clinica_web.extensions import db
from clinica_web.models import PATIENT, User
from clinica_web.services import accounts
from clinica_web.services.errors import InvalidInput
from clinica_web.services.values import contains_pattern, valid_id

SEARCH_LIMIT = 20


def search(query) -> list[User]:
    """Patients whose name, email or phone contains `query` (case-insensitive; phone by digits)."""
    text = " ".join(query.split())[:100] if isinstance(query, str) else ""
    if len(text) < 2:
        return []
    pattern = contains_pattern(text)
    conditions = [func.lower(User.full_name).like(pattern, escape="\\"), User.email.like(pattern, escape="\\")]
    digits = "".join(char for char in text if char in "0123456789")
    if len(digits) >= 3:
        conditions.append(_digits_only(User.phone).like(f"%{digits}%"))
    return list(db.session.scalars(
        select(User).where(User.role == PATIENT, or_(*conditions)).order_by(User.full_name, User.id).limit(SEARCH_LIMIT)
    ))


def _digits_only(column):
    """The column with the usual phone punctuation removed (portable SQL, no regexp)."""
    for char in " +-().":
        column = func.replace(column, char, "")
    return column


def register_at_desk(*, full_name, email, phone=None, now: datetime) -> User:
    """A patient account made by reception. It gets a random password; the patient chooses their
    own with "Forgot your password?" when they want to log in. The phone rule is create_user's."""
    return accounts.create_user(email=email, password=secrets.token_urlsafe(24), full_name=full_name, phone=phone,
                                now=now)


def get_patient(patient_id) -> User:
    user = db.session.get(User, patient_id) if valid_id(patient_id) else None
    if user is None or user.role != PATIENT:
        raise InvalidInput("Choose a patient", field="patient_id")
    return user
