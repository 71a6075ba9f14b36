"""The waitlist (DESIGN.md section 18): patients wait for time with a doctor, or any doctor of a
specialty, over a range of days and a part of the day.

This is its first part: joining, the list, leaving. Offering freed time with a hold the database
enforces comes next (see the README's "Not done yet").
"""
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from clinica_web.database import locked, unit_of_work
from clinica_web.extensions import db
from clinica_web.models import PATIENT, Doctor, User, WaitlistEntry
from clinica_web.models.waitlist import ACTIVE, AFTERNOON, ANY_TIME, LEFT, MORNING
from clinica_web.services import availability, booking, clinic, values
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound

MAX_ACTIVE = 3
MAX_RANGE_DAYS = 60
PARTS_OF_DAY = {MORNING: "Morning (before 13:00)", AFTERNOON: "Afternoon (from 13:00)", ANY_TIME: "Any time"}
NOT_YOURS = "Waitlist entry not found"


def join(*, patient: User, doctor_id=None, specialty=None, appointment_type=None, from_date, to_date,
         part_of_day=ANY_TIME, now: datetime) -> WaitlistEntry:
    """Add the patient to the waitlist of a doctor or a specialty (exactly one of them), for a
    visit type, from one day to another (at most 60 days, none past, within the booking horizon)
    and a part of the day; at most MAX_ACTIVE entries waiting at once."""
    if patient.role != PATIENT:
        raise NotAllowed("Only patients join the waitlist")
    doctor = _target(doctor_id, specialty)
    kind = booking.find_type(appointment_type or None)
    first, last = _days(from_date, to_date, now=now)
    if not isinstance(part_of_day, str) or part_of_day not in PARTS_OF_DAY:  # a list or object: unhashable
        raise InvalidInput(f"Choose a part of the day: {', '.join(PARTS_OF_DAY)}", field="part_of_day")
    with unit_of_work():
        locked(User, patient.id)  # one join at a time per patient: the count below stays true
        waiting = db.session.scalar(select(func.count(WaitlistEntry.id)).where(
            WaitlistEntry.patient_id == patient.id, WaitlistEntry.status == ACTIVE))
        if waiting >= MAX_ACTIVE:
            raise InvalidInput(f"You can wait for at most {MAX_ACTIVE} things at once: leave one first")
        entry = WaitlistEntry(patient_id=patient.id, doctor_id=doctor.id if doctor else None,
                              specialty=None if doctor else specialty, appointment_type=kind.name,
                              from_date=first, to_date=last, part_of_day=part_of_day, status=ACTIVE, created_at=now)
        db.session.add(entry)
    return entry


def _target(doctor_id, specialty) -> Doctor | None:
    """The doctor waited for, or None for a specialty (which some active doctor has)."""
    if (doctor_id in (None, "")) == (specialty in (None, "")):
        raise InvalidInput("Choose a doctor or a specialty", field="doctor_id")
    if doctor_id not in (None, ""):
        doctor = availability.active_doctor(values.whole_number(doctor_id))
        if doctor is None:
            raise NotFound("Doctor not found", field="doctor_id")
        return doctor
    if not isinstance(specialty, str) or specialty not in _specialties():
        raise InvalidInput("No doctor of this specialty", field="specialty")
    return None


def _days(from_date, to_date, *, now) -> tuple[date, date]:
    """The first and last day waited for: none past, at most MAX_RANGE_DAYS, within the horizon."""
    first, last = values.parse_date(from_date), values.parse_date(to_date)
    today = clinic.local_today(now)
    if first < today:
        raise InvalidInput("The first day cannot be in the past", field="from_date")
    if last < first:
        raise InvalidInput("The last day comes before the first", field="to_date")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(f"Choose at most {MAX_RANGE_DAYS} days", field="to_date")
    if last > today + timedelta(days=clinic.policy().horizon_days):
        raise InvalidInput("The last day is beyond the booking horizon", field="to_date")
    return first, last


def _specialties():
    return set(db.session.scalars(select(Doctor.specialty).where(Doctor.active)))


def entries_of(patient: User, *, now: datetime) -> list[WaitlistEntry]:
    """The patient's active entries whose last day has not passed, in joining order."""
    return list(db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id, WaitlistEntry.status == ACTIVE,
                                    WaitlistEntry.to_date >= clinic.local_today(now))
        .options(db.joinedload(WaitlistEntry.doctor)).order_by(WaitlistEntry.id)))


def leave(*, patient: User, entry_id, now: datetime) -> WaitlistEntry:
    """The patient leaves one of their entries (another patient's, or an unknown id: not found)."""
    with unit_of_work():
        entry = locked(WaitlistEntry, entry_id) if values.valid_id(entry_id) else None
        if entry is None or entry.patient_id != patient.id or entry.status != ACTIVE:
            raise NotFound(NOT_YOURS)
        entry.status, entry.ended_at = LEFT, now
    return entry


def describe(entry: WaitlistEntry) -> str:
    """"Dr. Laura Rossi" or "any doctor of Pediatrics"."""
    return entry.doctor.display_name if entry.doctor_id else f"any doctor of {entry.specialty}"


def covers(entry: WaitlistEntry, day: date, minute: int) -> bool:
    """Whether a start on `day` at local `minute` is what the entry waits for (its days, its part of day)."""
    if not entry.from_date <= day <= entry.to_date:
        return False
    return entry.part_of_day == ANY_TIME or (minute < 13 * 60) == (entry.part_of_day == MORNING)
