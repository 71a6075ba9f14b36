"""What staff may see of appointments: the scope of each role, and appointments by date range.

A doctor sees only their own appointments; reception and admin see every doctor's.
"""
import re
from datetime import date, datetime, timezone

from sqlalchemy import Select, select

from clinica_web.extensions import db
from clinica_web.models import ADMIN, DOCTOR, RECEPTION, Appointment, Doctor, User
from clinica_web.services import clinic, lifecycle, rules, slots, values
from clinica_web.services.errors import FieldErrors, NotFound

BLANK, INVALID = "can't be blank", "is invalid"


class SkippedTime(ValueError):
    """A clinic-local time that does not exist: the hour the clocks jump over in spring."""


def instant_error(error: ValueError | OverflowError) -> str:
    """The scheduled_at message for what parse_instant refused: a time the clocks skip is one no
    doctor's calendar offers (section 6's message for it), anything else is invalid."""
    return rules.RULES["off_grid"].message if isinstance(error, SkippedTime) else INVALID


def visible_to(actor: User, query: Select) -> Select:
    """Narrow an Appointment query to what `actor` may see (nothing, for a patient): bookings, not
    the slots held for waitlist offers (the desk's waitlist page shows those)."""
    query = query.where(lifecycle.is_booking())
    if actor.role in (RECEPTION, ADMIN):
        return query
    if actor.role == DOCTOR:
        return query.where(Appointment.doctor_id.in_(select(Doctor.id).where(Doctor.user_id == actor.id)))
    return query.where(False)


def get_for_staff(actor: User, appointment_id) -> Appointment:
    """One appointment the actor may see, or NotFound('Appointment not found')."""
    found = None
    if values.valid_id(appointment_id):
        query = visible_to(actor, select(Appointment).where(Appointment.id == appointment_id))
        found = db.session.scalars(query).first()
    if found is None:
        raise NotFound("Appointment not found")
    return found


def locked_for_staff(actor: User, appointment_id) -> Appointment:
    """The appointment read again and locked for a change (database.locked), if `actor` may still
    see it: it may have moved to another doctor since the page was loaded."""
    query = visible_to(actor, select(Appointment).where(Appointment.id == appointment_id))
    found = db.session.scalars(query.with_for_update(of=Appointment).execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound("Appointment not found")
    return found


def parse_instant(value, *, end_of_day=False, bound=False) -> datetime:
    """An ISO 8601 date or datetime as a UTC instant; ValueError if it is neither.

    A date means local midnight (or, with end_of_day, the next local midnight, so that a
    date-only end includes that whole day). A datetime without an offset is clinic-local; one the
    clocks skip is refused (SkippedTime), not read as the hour after it, which nobody asked for,
    except as a `bound` of a range, where it is where the gap ends (a day's 00:00 on the night the
    clocks jump at midnight: the day's first instant).
    """
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(value)
    # An unencoded "+02:00" in a query string arrives as " 02:00".
    text = re.sub(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$", r"\1+\2", value.strip())
    if (day := _date_only(text)) is not None:
        if not values.in_range(day):
            raise ValueError(value)
        start, end = clinic.local_day_span(day)
        return end if end_of_day else start
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if not values.in_range(moment.date()):  # before any arithmetic on it, which could overflow
        raise ValueError(value)
    if moment.tzinfo is None:
        local = moment.replace(tzinfo=clinic.tz())
        if local.astimezone(timezone.utc).astimezone(clinic.tz()).replace(tzinfo=None) != moment:
            if not bound:
                raise SkippedTime(value)
            return slots.gap_end(moment, clinic.tz())
        moment = local
    return moment.astimezone(timezone.utc)


def _date_only(text: str) -> date | None:
    """The day an ISO 8601 date without a time names, in any of its forms (2026-12-07, 20261207,
    2026-W50-1), else None."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def in_date_range(actor: User, *, start_date, end_date, provider_id=None, patient_id=None) -> list[Appointment]:
    """Appointments starting in [start, end], ordered by start (the clinic API's in_date_range)."""
    errors = {}
    bounds = _parse_bounds(errors, start_date=start_date, end_date=end_date)
    filters = _parse_ids(errors, provider_id=provider_id, patient_id=patient_id)
    date_only_end = isinstance(end_date, str) and _date_only(end_date.strip()) is not None
    # A date-only end is exclusive (the next local midnight), so a start at or after it is after the end.
    if not errors and (bounds["end_date"] <= bounds["start_date"] if date_only_end
                       else bounds["end_date"] < bounds["start_date"]):
        errors["end_date"] = ["must be after start_date"]
    if errors:
        raise FieldErrors(errors)
    query = select(Appointment).where(Appointment.starts_at >= bounds["start_date"])
    if date_only_end:
        query = query.where(Appointment.starts_at < bounds["end_date"])
    else:
        query = query.where(Appointment.starts_at <= bounds["end_date"])
    if "provider_id" in filters:
        query = query.where(Appointment.doctor_id == filters["provider_id"])
    if "patient_id" in filters:
        query = query.where(Appointment.patient_id == filters["patient_id"])
    return list(db.session.scalars(visible_to(actor, query).order_by(Appointment.starts_at, Appointment.id)))


def parse_move(fields: dict) -> tuple[datetime | None, int | None, str | None]:
    """The clinic API's reschedule body as (start instant, provider id, reason); FieldErrors if unusable."""
    errors = {}
    starts_at = provider_id = None
    if fields.get("scheduled_at") not in (None, ""):
        try:
            starts_at = parse_instant(fields["scheduled_at"])
        except (ValueError, OverflowError) as error:
            errors["scheduled_at"] = [instant_error(error)]
    if fields.get("provider_id") is not None:
        provider_id = fields["provider_id"]
        if isinstance(provider_id, bool) or not isinstance(provider_id, int):
            errors["provider_id"] = [INVALID]
    reason = fields.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        errors["reason"] = ["must be text of at most 500 characters"]
    if errors:
        raise FieldErrors(errors)
    return starts_at, provider_id, reason


def _parse_bounds(errors, **given) -> dict:
    """start_date and end_date as instants; a field's message goes into `errors` instead."""
    bounds = {}
    for field, value in given.items():
        if value is None or not str(value).strip():
            errors[field] = [BLANK]
            continue
        try:
            bounds[field] = parse_instant(value, end_of_day=field == "end_date", bound=True)
        except (ValueError, OverflowError):
            errors[field] = [INVALID]
    return bounds


def _parse_ids(errors, **given) -> dict:
    """The optional id filters that were given, as ints; a field's message goes into `errors` instead."""
    ids = {}
    for field, value in given.items():
        if value in (None, ""):
            continue
        number = values.positive_number(str(value), values.MAX_ID)
        if number is None:
            errors[field] = [INVALID]
        else:
            ids[field] = number
    return ids
