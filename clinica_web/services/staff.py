"""The clinic's people, as admins manage them: doctors, staff accounts, their API tokens.

Every function takes the acting user and refuses anyone but an admin, so the rules hold whether
a page, the API or the command line calls them.
"""
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import (
    ADMIN,
    DOCTOR,
    RECEPTION,
    STAFF_ROLES,
    ApiToken,
    Appointment,
    BlockedPeriod,
    Doctor,
    User,
)
from clinica_web.services import accounts, lifecycle, schedule, sessions, tokens
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound
from clinica_web.services.values import one_line, valid_id

MAX_SPECIALTY = 80
MAX_TOKEN_NAME = 80
# The accounts an admin creates on the staff page; doctors are created with their Doctor row.
ACCOUNT_ROLES = (RECEPTION, ADMIN)


def _require_admin(actor: User) -> None:
    if actor is None or actor.role != ADMIN or not actor.active:
        raise NotAllowed("Only admins can manage doctors, staff accounts and API tokens")


# What each text an admin types is called in its messages (empty, too long), each a whole sentence.
TEXT_MESSAGES = {
    "doctor's name": (N_("Enter the doctor's name"),
                      N_("The doctor's name has at most %(limit)s printable characters")),
    "specialty": (N_("Enter the specialty"), N_("The specialty has at most %(limit)s printable characters")),
    "token name": (N_("Enter the token name"), N_("The token name has at most %(limit)s printable characters")),
}


def _clean_text(value, *, field, label, max_length) -> str:
    empty, too_long = TEXT_MESSAGES[label]
    return one_line(value, field=field, max_length=max_length, empty=empty, too_long=too_long, limit=max_length)


# ---------------------------------------------------------------------------------------------
# Doctors


def all_doctors() -> list[Doctor]:
    """Every doctor, active or not, with the login account (one query)."""
    query = select(Doctor).options(db.joinedload(Doctor.user)).order_by(Doctor.display_name, Doctor.id)
    return list(db.session.scalars(query))


def create_doctor(*, actor: User, display_name, specialty, email, password, now: datetime) -> Doctor:
    """A doctor and the account they log in with (role doctor): both rows, or neither."""
    _require_admin(actor)
    name = _clean_text(display_name, field="display_name", label="doctor's name", max_length=accounts.MAX_NAME)
    specialty = _as_known_specialty(_clean_text(specialty, field="specialty", label="specialty",
                                                max_length=MAX_SPECIALTY))
    email = accounts.normalize_email(email)
    accounts.check_password_rules(password)
    taken = InvalidInput("An account already uses this email", field="email")
    try:
        with unit_of_work():
            if accounts.find_by_email(email) is not None:
                raise taken
            # The same rules as accounts.create_user, which commits on its own; here the user and
            # the doctor go into one transaction instead.
            user = User(email=email, full_name=name, role=DOCTOR, created_at=now, updated_at=now)
            user.set_password(password)
            doctor = Doctor(display_name=name, specialty=specialty, user=user, active=True)
            db.session.add_all([user, doctor])
    except IntegrityError:  # the email was taken by a concurrent request a moment ago
        raise taken from None
    return doctor


def _as_known_specialty(specialty: str) -> str:
    """A specialty the clinic already has, spelled as it has it ("general practice" is General
    Practice): patients choose, and wait for, a specialty by its exact name, so two spellings would
    split its doctors in two."""
    known = db.session.scalars(select(Doctor.specialty).where(func.lower(Doctor.specialty) == specialty.lower())
                               .order_by(Doctor.id).limit(1)).first()
    return known or specialty


def doctor(doctor_id) -> Doctor:
    found = db.session.get(Doctor, doctor_id) if valid_id(doctor_id) else None
    if found is None:
        raise NotFound("Doctor not found")
    return found


def set_doctor_active(*, actor: User, doctor_id, active: bool, now: datetime) -> tuple[Doctor, list[Appointment]]:
    """Show or hide a doctor on the patient pages (and the booking API).

    Existing bookings stay; the doctor's upcoming ones are returned so the desk can move them
    (the row lock waits for bookings being made, which share-lock it, so none is left out).
    The doctor's login is not touched (they may still document past visits).
    """
    _require_admin(actor)
    with unit_of_work():
        doctor = locked(Doctor, doctor_id) if valid_id(doctor_id) else None
        if doctor is None:
            raise NotFound("Doctor not found")
        doctor.active = bool(active)
    upcoming = db.session.scalars(
        select(Appointment)
        .where(Appointment.doctor_id == doctor.id, lifecycle.holds_time(), lifecycle.is_booking(),
               Appointment.overlapping(now))  # (a waitlist hold is no booking to move: "Book it" now refuses it)
        .order_by(Appointment.starts_at)
    )
    return doctor, list(upcoming)


# ---------------------------------------------------------------------------------------------
# Staff accounts


def staff_account(user_id) -> User:
    found = db.session.get(User, user_id) if valid_id(user_id) else None
    if found is None or found.role not in STAFF_ROLES:
        raise NotFound("Staff account not found")
    return found


def staff_accounts() -> list[User]:
    """Doctors', reception's and admins' accounts, by role then name."""
    query = select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.role, User.full_name, User.id)
    return list(db.session.scalars(query))


def create_account(*, actor: User, full_name, email, password, role, now: datetime) -> User:
    """A reception or admin account (doctors are added with create_doctor)."""
    _require_admin(actor)
    if role not in ACCOUNT_ROLES:
        raise InvalidInput("Choose reception or admin (add doctors on the doctors page)", field="role")
    return accounts.create_user(email=email, password=password, full_name=full_name, role=role, now=now)


def set_active(*, actor: User, user_id, active: bool, now: datetime) -> User:
    """Let a staff account log in again, or stop it: its sessions and API tokens stop working too."""
    _require_admin(actor)
    actor_id = actor.id  # read before the transaction expires the actor, which would cost a reload
    with unit_of_work():
        # The actor's row too, in id order as any two such changes take them: two admins stopping
        # each other at once would leave the clinic with none; the second now finds itself stopped.
        rows = {row_id: locked(User, row_id) for row_id in sorted({actor_id, user_id})} if valid_id(user_id) else {}
        user = rows.get(user_id)  # (a login meanwhile waits: sessions.start)
        if user is None or user.role not in STAFF_ROLES:
            raise NotFound("Staff account not found")
        if user.id == actor_id and not active:
            raise NotAllowed("You cannot deactivate your own account; ask another admin")
        if not rows[actor_id].active:
            raise NotAllowed("Your account is no longer active")
        user.active = bool(active)
        user.failed_logins = 0
        user.locked_until = None
        user.updated_at = now
        if not active:  # its sessions and JWTs end now, and do not come back with a reactivation
            sessions.end_all(user, now=now)
    return user


# ---------------------------------------------------------------------------------------------
# API tokens


def create_token_for(*, actor: User, email, name, now: datetime) -> tuple[User, str]:
    """A new API token for the active staff account with this email: (owner, the token itself)."""
    _require_admin(actor)
    name = _clean_text(name, field="name", label="token name", max_length=MAX_TOKEN_NAME)
    email = accounts.normalize_email(email)
    user = accounts.find_by_email(email)
    if user is None or user.role not in STAFF_ROLES:
        raise NotFound("No staff account uses this email", field="email")
    if not user.active:
        raise InvalidInput("This account is deactivated; reactivate it first", field="email")
    return user, tokens.create_api_token(user, name=name, now=now)


def api_token(token_id) -> ApiToken:
    found = db.session.get(ApiToken, token_id) if valid_id(token_id) else None
    if found is None:
        raise NotFound("API token not found")
    return found


def revoke_token(*, actor: User, token_id, now: datetime):
    _require_admin(actor)
    if not valid_id(token_id):
        raise NotFound("API token not found")
    return tokens.revoke_api_token(token_id, now=now)


# ---------------------------------------------------------------------------------------------
# Clinic closures (adding and removing them is availability.add/remove_blocked_period)


def clinic_closure(period_id) -> BlockedPeriod:
    """One clinic-wide closure (a blocked period without a doctor)."""
    period = db.session.get(BlockedPeriod, period_id) if valid_id(period_id) else None
    if period is None or period.doctor_id is not None:
        raise NotFound("Closure not found")
    return period


def remove_closure(*, actor: User, period_id) -> None:
    """Reopen the clinic: remove a clinic-wide closure (a doctor's own blocked time is not touched here)."""
    _require_admin(actor)
    clinic_closure(period_id)
    schedule.remove_blocked_period(actor=actor, period_id=period_id)
