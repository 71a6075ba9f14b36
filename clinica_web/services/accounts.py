"""Accounts: registration, login checks, password reset by emailed link."""
import hashlib
import hmac
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from clinica_web import mail
from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.i18n import LANGUAGES, N_
from clinica_web.models import PATIENT, ROLES, PasswordResetRequest, User
from clinica_web.services import audit, clinic, notifications, sessions
from clinica_web.services.errors import InvalidInput
from clinica_web.services.values import one_line, valid_id

MIN_PASSWORD = 8
MAX_PASSWORD = 200
MAX_NAME = 120
MAX_PHONE = 40
MAX_PHONE_DIGITS = 15  # the longest international number (ITU-T E.164), country code included
LOCKOUT_AFTER = 5
LOCKOUT_MINUTES = 15
# Checked against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def normalize_email(value) -> str:
    """A valid email, lower-cased; raises InvalidInput. The one email rule of the site, the API and
    the command line (forms only check it is there)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 254:
        raise InvalidInput("Enter a valid email address", field="email")
    try:
        # allow_smtputf8=False: a non-ASCII local part ("zoé@...") needs SMTPUTF8, which neither
        # Flask-Mail nor most servers speak, so every email to it would fail. IDN domains are fine.
        # test_environment=True: the reserved .test domain is allowed, the one the demo clinic's
        # accounts use (desk@clinica.test); mail to it reaches nobody, which harms nobody. No DNS
        # lookups either way: an address is checked by the mail it receives.
        return validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False,
                              test_environment=True).normalized.lower()
    except EmailNotValidError:
        raise InvalidInput("Enter a valid email address", field="email") from None


def clean_name(value) -> str:
    return one_line(value, field="full_name", max_length=MAX_NAME, empty=N_("Enter your full name"),
                    too_long=N_("A name has at most %(limit)s printable characters"), limit=MAX_NAME)


def clean_phone(value) -> str | None:
    """A phone number (digits, spaces and + - ( ) .), spaces folded; None if empty; raises InvalidInput.

    The same rule for patients who register themselves and those reception registers: anything
    else (markup, line breaks, direction overrides) has no business in a phone number."""
    phone = " ".join(value.split()) if isinstance(value, str) else ""
    if len(phone) > MAX_PHONE or (phone and not all(char in "0123456789 +-()." for char in phone)):
        raise InvalidInput("A phone number has digits, spaces and + - ( ) only", field="phone")
    if sum(char.isdigit() for char in phone) > MAX_PHONE_DIGITS:
        raise InvalidInput("A phone number has at most %(limit)s digits", field="phone", limit=MAX_PHONE_DIGITS)
    return phone or None


def check_password_rules(password) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("A password has %(shortest)s to %(longest)s characters", field="password",
                           shortest=MIN_PASSWORD, longest=MAX_PASSWORD)
    return password


def find_by_email(email) -> User | None:
    return db.session.scalars(select(User).where(func.lower(User.email) == email.lower())).first()


def create_user(*, email, password, full_name, role=PATIENT, phone=None, now: datetime) -> User:
    """Register a user. Email uniqueness is case-insensitive."""
    email = normalize_email(email)
    full_name = clean_name(full_name)
    phone = clean_phone(phone)
    check_password_rules(password)
    if role not in ROLES:
        raise InvalidInput("Role must be one of %(roles)s", field="role", roles=", ".join(ROLES))
    taken = InvalidInput("Email already exists", field="email")
    try:
        with unit_of_work():
            if find_by_email(email) is not None:
                raise taken
            user = User(email=email, full_name=full_name, role=role, phone=phone, created_at=now, updated_at=now)
            user.set_password(password)
            db.session.add(user)
    except IntegrityError:  # registered by a concurrent request a moment ago
        raise taken from None
    return user


def register_patient(*, email, password, full_name, phone=None, language=None, make_link, now: datetime) -> None:
    """Registration on the website, without telling anyone whether the email is already in use.

    A new address gets its account and a welcome email with a sign-in link; an address that
    already has an account gets an email saying so (with links to log in or reset the password)
    and nothing else changes. The caller shows the same "check your email" page either way.
    make_link(token) -> absolute URL of the welcome link (the view knows its URLs). `language`: the
    one the form was read in, saved for the new account (its welcome email is in it already).
    """
    email = normalize_email(email)
    full_name = clean_name(full_name)
    phone = clean_phone(phone)
    check_password_rules(password)
    try:
        with unit_of_work():
            _register_or_tell_the_owner(email=email, password=password, full_name=full_name, phone=phone,
                                        language=language if language in LANGUAGES else None, make_link=make_link,
                                        now=now)
    except IntegrityError:  # the same address registered by a concurrent request: nothing to add
        return


def _register_or_tell_the_owner(*, email, password, full_name, phone, language, make_link, now):
    existing = find_by_email(email)
    if existing is not None:
        generate_password_hash(password)  # the same work as a new account, so timing tells nothing
        message = mail.account_email("account_exists", user=existing)
    else:
        user = User(email=email, full_name=full_name, role=PATIENT, phone=phone, language=language, created_at=now,
                    updated_at=now)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()  # the new id, for the link (a concurrent registration may refuse it here)
        token = _welcome_serializer().dumps({"user": user.id, "fp": _password_fingerprint(user)})
        message = mail.account_email("welcome", user=user, link=make_link(token))
    notifications.queue(recipient=email, now=now, **message)


WELCOME_MAX_AGE = 2 * 24 * 3600


class _ClockSigner(TimestampSigner):
    """Link timestamps from the app's clock (clinic.now), like every other rule's time."""

    def get_timestamp(self) -> int:
        return int(clinic.now().timestamp())


def _link_serializer(salt):
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt, signer=_ClockSigner)


def _welcome_serializer():
    return _link_serializer("welcome")


def use_welcome_link(token, *, now: datetime) -> User | None:
    """The new user a welcome link signs in, if the link is genuine, under two days old and unused,
    and the password is still the one chosen at registration; the link is used up by this.
    None otherwise (log in with the password instead)."""
    data = _signed(_welcome_serializer(), token, max_age=WELCOME_MAX_AGE)
    if data is None:
        return None
    with unit_of_work():
        user = locked(User, data["user"])  # two clicks at once: one signs in
        if user is None or not user.active or user.welcomed_at is not None or not _same_password(user, data):
            return None
        user.welcomed_at = now
    return user


def _signed(serializer, token, *, max_age) -> dict | None:
    """The data of a genuine, unexpired link token naming a user, or None."""
    try:
        data = serializer.loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not valid_id(data.get("user")):
        return None
    return data


def _same_password(user, data) -> bool:
    return hmac.compare_digest(str(data.get("fp")), _password_fingerprint(user))


def authenticate(*, email, password, now: datetime) -> User:
    """The user with these credentials, or InvalidInput('Invalid credentials').

    Unknown email, wrong password, inactive or locked account: one message, same work.
    After LOCKOUT_AFTER failures in a row the account is locked for LOCKOUT_MINUTES.
    """
    invalid = InvalidInput("Invalid credentials")
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
        raise invalid
    user = find_by_email(email.strip())
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise invalid
    is_locked = user.locked_until is not None and user.locked_until > now
    if not user.check_password(password) or is_locked or not user.active:
        if not is_locked:
            _count_failure(user.id, now=now)
        raise invalid
    if user.failed_logins or user.locked_until:
        checked_version = user.session_version  # read with the password just checked
        with unit_of_work():
            user = locked(User, user.id)
            if user.session_version != checked_version:
                raise invalid  # the password was reset a moment ago
            user.failed_logins = 0
            user.locked_until = None
        # The commit expired the row: the caller's login (a session, a JWT) carries the version
        # the password was checked against, not one a reset may have written since.
        set_committed_value(user, "session_version", checked_version)
    return user


def _count_failure(user_id, *, now):
    """One more failed login in a row, counted under the user's row lock, so that guesses sent in
    parallel each count; the LOCKOUT_AFTER-th locks the account for LOCKOUT_MINUTES."""
    with unit_of_work():
        user = locked(User, user_id)
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_AFTER:
            user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0


def _reset_serializer():
    return _link_serializer("password-reset")


def _password_fingerprint(user) -> str:
    # Part of the reset and welcome tokens: once the password changes, every earlier link stops
    # working (a reset link is used up by the reset it makes); so it does once the email address
    # changes: a link sent to a mistyped address the desk then corrects no longer opens the account.
    return hashlib.sha256(f"{user.password_hash}\n{user.email or ''}".encode()).hexdigest()[:16]


def request_password_reset(*, email, now: datetime) -> None:
    """Ask for a reset link to be emailed to `email`; say nothing of whether an account uses it.

    Only the request is stored, whoever asks: the worker looks the address up and sends the link
    (send_reset_links), so a known and an unknown address take the same work here, and the same time.
    """
    try:
        email = normalize_email(email)
    except InvalidInput:
        return
    with unit_of_work():
        db.session.add(PasswordResetRequest(email=email, requested_at=now))


def send_reset_links(*, make_link, now: datetime, limit: int = 100) -> int:
    """The worker's part of a password reset: for each request, the reset email if an active
    account uses the address, and nothing otherwise. Returns how many requests it handled.

    make_link(token) -> absolute URL of the reset page. Several workers share the requests (row
    locks, SKIP LOCKED); each request is deleted in the transaction that queues its email.
    """
    with unit_of_work():
        requests = db.session.scalars(
            select(PasswordResetRequest).order_by(PasswordResetRequest.id).limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        emailed = set()  # a burst of requests for one address: one email
        for request in requests:
            user = find_by_email(request.email) if request.email not in emailed else None
            if user is not None and user.active:
                _queue_reset_email(user, make_link=make_link, now=now)
                emailed.add(request.email)
            db.session.delete(request)
    return len(requests)


def _queue_reset_email(user, *, make_link, now):
    token = _reset_serializer().dumps({"user": user.id, "fp": _password_fingerprint(user)})
    message = mail.account_email("password_reset", user=user, link=make_link(token),
                                 minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60)
    notifications.queue(recipient=user.email, now=now, **message)


# A patient the desk registered may open the email days later; a reset they asked for is used at once.
SET_PASSWORD_MAX_AGE = 7 * 24 * 3600


def _set_password_serializer():
    return _link_serializer("set-password")


def queue_set_password_email(user, *, make_link, now: datetime) -> None:
    """In the caller's transaction: the email of a patient the desk registered, with a link to
    choose their password. It is a reset link with a longer life (the same page, and used up by
    the password it sets); make_link(token) -> absolute URL of the reset page."""
    token = _set_password_serializer().dumps({"user": user.id, "fp": _password_fingerprint(user)})
    message = mail.account_email("set_password", user=user, link=make_link(token),
                                 days=SET_PASSWORD_MAX_AGE // (24 * 3600))
    notifications.queue(recipient=user.email, now=now, **message)


def user_for_reset_token(token, *, lock=False) -> User | None:
    """The user a reset (or set-your-password) token is for, if it is genuine, unexpired and unused."""
    data = (_signed(_reset_serializer(), token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
            or _signed(_set_password_serializer(), token, max_age=SET_PASSWORD_MAX_AGE))
    if data is None:
        return None
    user = locked(User, data["user"]) if lock else db.session.get(User, data["user"])
    return user if user is not None and _same_password(user, data) else None


def reset_password(*, token, password, now: datetime) -> User:
    """Set a new password from a reset link. Every session and API login of the user ends: whoever
    had the old password (or a copy of a session cookie) is signed out everywhere."""
    with unit_of_work():
        user = user_for_reset_token(token, lock=True)  # two resets with one link at once: one wins
        if user is None:
            raise InvalidInput("This reset link is invalid or has expired. Please ask for a new one.")
        check_password_rules(password)
        user.set_password(password)
        user.failed_logins = 0
        user.locked_until = None
        user.updated_at = now
        sessions.end_all(user, now=now)
    return user


def set_language(*, actor: User, user: User, language, now: datetime) -> None:
    """Save the language `user` reads pages and emails in ("en", "es"; None: no choice). Reception
    choosing it for a patient is audited; people choosing their own are not."""
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("Choose a language", field="language")
    user_id = user.id
    with unit_of_work():
        locked(User, user_id).language = language
    if actor.id != user_id:
        audit.record(actor=actor, action="language", now=now, patient_id=user_id, detail=language or "none")
