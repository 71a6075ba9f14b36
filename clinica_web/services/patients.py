"""The desk's patients (DESIGN.md section 20): finding them as you type, a patient's page (contact
details, visits, no-shows and late cancellations), changing their contact details, and
registering them, with an email address or by phone only."""
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.i18n import LANGUAGES, N_
from clinica_web.models import NO_SHOW, PATIENT, AccessEvent, Appointment, User
from clinica_web.services import accounts, lifecycle, sessions
from clinica_web.services.errors import InvalidInput, NotFound
from clinica_web.services.values import contains_pattern, valid_id

SEARCH_LIMIT = 20
MIN_QUERY = 2  # characters: one letter would list half the clinic
MAX_QUERY = 100
PAST_SHOWN = 50  # the newest past visits listed on a patient's page (the counts cover them all)
EMAIL_TAKEN = "Another account already uses this email address"
PHONE_NEEDED = N_("Without an email address, a phone number is required")


def clean_query(query) -> str:
    """What a search looks for: printable text, whitespace folded, at most MAX_QUERY characters."""
    text = "".join(char for char in query if char.isprintable()) if isinstance(query, str) else ""
    return " ".join(text.split())[:MAX_QUERY]


def search(query) -> list[User]:
    """Patients whose name, email or phone contains `query` (case-insensitive; phone by digits,
    however it was typed), by name; none for a query shorter than MIN_QUERY. One query."""
    text = clean_query(query)
    if len(text) < MIN_QUERY:
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


def get_patient(patient_id) -> User:
    user = db.session.get(User, patient_id) if valid_id(patient_id) else None
    if user is None or user.role != PATIENT:
        raise InvalidInput("Choose a patient", field="patient_id")
    return user


# ---------------------------------------------------------------------------------------------
# A patient's page


@dataclass
class PatientRecord:
    """What the desk reads of one patient. `past` holds the newest PAST_SHOWN of `past_total`."""
    patient: User
    upcoming: list[Appointment]
    cancelled_upcoming: list[Appointment]
    past: list[Appointment]
    past_total: int
    no_shows: int
    late_cancellations: int


def record_of(patient: User, *, now: datetime) -> PatientRecord:
    """The patient's visits with every doctor (bookings, not the times held for waitlist offers):
    upcoming ones soonest first (those cancelled apart: they will not happen, but the desk is asked
    about them), past ones newest first, and the counts. Three queries whatever the number of
    visits: the upcoming visits, the newest past ones, and the counts."""
    visits = select(Appointment).where(Appointment.patient_id == patient.id, lifecycle.is_booking())
    with_doctor = db.joinedload(Appointment.doctor)
    upcoming = db.session.scalars(visits.where(Appointment.ends_at > now).options(with_doctor)
                                  .order_by(Appointment.starts_at, Appointment.id)).all()
    past = db.session.scalars(visits.where(Appointment.ends_at <= now).options(with_doctor)
                              .order_by(Appointment.starts_at.desc(), Appointment.id.desc()).limit(PAST_SHOWN)).all()
    # A late cancellation is one staff made inside the change cutoff (booking.cancel marks it).
    past_total, no_shows, late = db.session.execute(
        select(func.count().filter(Appointment.ends_at <= now),
               func.count().filter(Appointment.status == NO_SHOW),
               func.count().filter(Appointment.late_cancellation))
        .where(Appointment.patient_id == patient.id, lifecycle.is_booking())
    ).one()
    cancelled = [visit for visit in upcoming if visit.status in lifecycle.FREES_TIME]
    return PatientRecord(patient=patient, upcoming=[visit for visit in upcoming if visit not in cancelled],
                         cancelled_upcoming=cancelled, past=list(past), past_total=past_total, no_shows=no_shows,
                         late_cancellations=late)


# ---------------------------------------------------------------------------------------------
# Contact details, and registering at the desk


def _contact(full_name, email, phone) -> dict:
    """The contact details as stored, by the site's one rule for each (accounts); an empty email
    is none, and then a phone number is required (the desk's only way to reach the patient)."""
    contact = {"full_name": accounts.clean_name(full_name),
               "email": accounts.normalize_email(email) if isinstance(email, str) and email.strip() else None,
               "phone": accounts.clean_phone(phone)}
    if contact["email"] is None and contact["phone"] is None:
        raise InvalidInput(PHONE_NEEDED, field="phone")
    return contact


def _email_in_use(email, *, other_than=None) -> bool:
    found = accounts.find_by_email(email) if email else None
    return found is not None and found.id != other_than


def _no_password_known(user: User) -> None:
    """A random password nobody knows: the patient chooses theirs from an emailed link."""
    user.set_password(secrets.token_urlsafe(24))


def register_at_desk(*, actor: User, full_name, email=None, phone=None, make_link, now: datetime) -> User:
    """A patient account made by reception, with an email address or by phone only.

    Nobody knows its password (a random one). With an email, the patient is sent a link to
    choose their own (accounts.queue_set_password_email), in the transaction that creates the
    account; without one, they cannot log in and are sent no email. make_link(token) -> the
    absolute URL of the password page. Recorded in the audit trail."""
    contact = _contact(full_name, email, phone)
    actor_id = actor.id
    taken = InvalidInput(EMAIL_TAKEN, field="email")
    try:
        with unit_of_work():
            if _email_in_use(contact["email"]):
                raise taken
            user = User(role=PATIENT, created_at=now, updated_at=now, **contact)
            _no_password_known(user)
            db.session.add(user)
            db.session.flush()  # its id, for the link and the audit trail
            if user.email:
                accounts.queue_set_password_email(user, make_link=make_link, now=now)
            db.session.add(AccessEvent(actor_id=actor_id, at=now, action="registered patient", patient_id=user.id))
    except IntegrityError:  # the address registered by a concurrent request a moment ago
        raise taken from None
    return user


AUDIT_DETAIL = 200  # AccessEvent.detail's length


KEEP = object()  # update_contact(language=KEEP): the patient's language stays as it is


def update_contact(*, actor: User, patient_id, full_name, email, phone, language=KEEP, make_link=None,
                   now: datetime) -> dict:
    """Change a patient's name, email (optional), phone and language (None: the clinic's default),
    by the rules of registration: the desk, or the patient their own name and phone (the account
    page). Each field staff change is recorded in the audit trail with its value before and after
    (one event a field). Returns {field: (before, after)} of what changed (empty: nothing did, nothing written).
    Raises InvalidInput (nothing changes) or NotFound.

    A new email address ends every password link sent before (to the old one, perhaps mistyped:
    accounts._password_fingerprint), the password and every session and API login, and, with make_link (as
    register_at_desk's), is sent a link to choose a password, the patient's way in at the address
    the desk now has."""
    contact = _contact(full_name, email, phone)
    if language is not KEEP:
        contact["language"] = _language(language)
    actor_id = actor.id
    taken = InvalidInput(EMAIL_TAKEN, field="email")
    try:
        with unit_of_work():
            patient = locked(User, patient_id) if valid_id(patient_id) else None
            if patient is None or patient.role != PATIENT:
                raise NotFound("Patient not found")
            if _email_in_use(contact["email"], other_than=patient.id):
                raise taken
            changes = {name: (getattr(patient, name), value) for name, value in contact.items()
                       if getattr(patient, name) != value}
            _change(patient, changes, actor_id=actor_id, now=now)
            if "email" in changes:
                # Whoever used a link sent to the old (perhaps mistyped) address is signed out
                # everywhere and the password they chose is retired: the new address gets a way
                # in of its own, a link to choose one.
                _no_password_known(patient)
                sessions.end_all(patient, now=now)
                if patient.email and make_link is not None:
                    accounts.queue_set_password_email(patient, make_link=make_link, now=now)
    except IntegrityError:
        raise taken from None
    return changes


def _change(patient: User, changes: dict, *, actor_id, now) -> None:
    """Write `changes` ({field: (before, after)}) to the patient's row, each in the audit trail if
    staff made it (the trail is of staff: a patient's own change is not in it, as their language)."""
    for name, (before, after) in changes.items():
        setattr(patient, name, after)
        if actor_id != patient.id:
            db.session.add(AccessEvent(actor_id=actor_id, at=now, patient_id=patient.id,
                                       action=f"changed patient {name.replace('_', ' ')}",
                                       detail=_before_after(before, after)))
    if changes:
        patient.updated_at = now


def _language(value):
    if value not in (None, *LANGUAGES):
        raise InvalidInput("Choose a language", field="language")
    return value


def _before_after(before, after) -> str:
    """"old → new" in at most AUDIT_DETAIL characters (each side shortened alike if need be)."""
    sides = [value if value is not None else "(none)" for value in (before, after)]
    room = (AUDIT_DETAIL - 3) // 2
    if sum(map(len, sides)) + 3 > AUDIT_DETAIL:
        sides = [side if len(side) <= room else side[:room - 1] + "…" for side in sides]
    return f"{sides[0]} → {sides[1]}"
