"""What seldom changes, kept in each web worker's memory (issue 20): the active doctors with their
weekly hours, the visit types, and pages rendered from them.

Everything kept is filed under the calendar version (models.CalendarVersion), a number the
database changes in the transaction of any change to a doctor, weekly hours, a blocked period or
closure, or a visit type. A slot request reads that number in its one query, beside the day's
busy time (`day`), so a change made through any worker, or straight in the database, is seen by
every worker on its next request; what was kept under another number is simply not used again.
Bookings are never kept: they are read with every request.

Each app has its own memory (`app.extensions`), so two apps in one test are two workers.
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache

from flask import current_app
from sqlalchemy import literal, select, true

from clinica_web.extensions import db
from clinica_web.hot_reads import HotRead
from clinica_web.models import AppointmentType, CalendarVersion, Doctor, WeeklyHours
from clinica_web.services import availability, clinic, slots

KEPT_PAGES = 512  # rendered pieces each worker keeps, the least recently used dropped first


@dataclass(frozen=True)
class DoctorHours:
    """An active doctor as the slot list shows them: name, specialty and weekly windows."""

    id: int
    display_name: str
    specialty: str
    windows: dict  # {weekday: [(start_minute, end_minute), ...]}, in order


@dataclass(frozen=True)
class VisitType:
    name: str
    label: str
    default_duration: int


@dataclass(frozen=True)
class Known:
    version: int
    doctors: dict  # {id: DoctorHours}, the active ones
    types: tuple  # VisitType, shortest first (as booking.appointment_types)


@dataclass(frozen=True)
class DayCalendar:
    """One doctor's local day from `starts_at`: what is known at this version, the doctor (None if
    not an active one) and everything holding time that day (availability.busy_intervals).

    busy_key: the day's busy time as the database driver returned it, a cheap key for what is
    worked out from it (the free times, a rendered slot list)."""

    known: Known
    doctor: DoctorHours | None
    starts_at: datetime
    busy_key: tuple
    _read: object

    @cached_property
    def busy(self) -> list[slots.Busy]:
        return [slots.Busy(*self._read.typed(row)[1:]) for row in self.busy_key]


def day(doctor_id: int, on: date, *, patient_id=None, exclude_id=None) -> DayCalendar:
    """The doctor's day in one query: the calendar version and the day's busy time; for a patient
    (`patient_id`), with their own visits that day with any doctor (availability.busy_intervals),
    so that the free times worked out from it are those they could book; without the visit
    `exclude_id` (one being moved)."""
    start, end = clinic.local_day_span(on)
    rows, read = _day_read(patient_id is not None, exclude_id is not None).rows(
        **availability.busy_parameters(doctor_id, start, end, patient_id=patient_id, exclude_id=exclude_id))
    known = _known(rows[0][0])
    return DayCalendar(known=known, doctor=known.doctors.get(doctor_id), starts_at=start,
                       busy_key=tuple(row for row in rows if row[1] is not None), _read=read)


@lru_cache(maxsize=None)
def _day_read(for_patient: bool, excluding: bool) -> HotRead:
    """(version, start, end, rule, id): a row for each busy interval, or one row of the version
    alone. Read from one row of nothing, so that busy time is never missed whatever the version
    table holds (without its row, nothing is kept: see _known)."""
    busy = availability.busy_statement(for_patient=for_patient, excluding=excluding).subquery()
    version = select(CalendarVersion.version).where(CalendarVersion.id == 1).scalar_subquery()
    return HotRead(select(version, *busy.c).select_from(select(literal(1)).subquery()).outerjoin(busy, true()))


def free_minutes(calendar: DayCalendar, on: date, duration: int, *, now: datetime) -> tuple[int, ...]:
    """availability.free_minutes() of the doctor's day `on`, worked out once per worker for the
    same busy time. `now` matters only through today (past days, the horizon) and the earliest
    start it allows (with the minimum notice), and that only once it falls inside the day."""
    policy = clinic.policy()
    earliest = max(slots.epoch_minutes(now) + policy.min_notice_minutes, slots.epoch_minutes(calendar.starts_at) - 1)
    key = (calendar.known.version, "free minutes", calendar.doctor.id, on, duration, clinic.local_today(now),
           policy.horizon_days, earliest, calendar.busy_key)
    return remember(key, lambda: tuple(availability.free_minutes(
        on, calendar.doctor.windows.get(on.weekday(), []), calendar.busy, duration, now=now)))


def remember(key: tuple, make):
    """What `make()` returns for `key` (which starts with the calendar version it depends on),
    made once per worker while it stays among the KEPT_PAGES most recently used. (A threaded
    server's requests share the memory: its lock keeps each change of the order whole.)"""
    if key[0] is None:  # no calendar version to file it under
        return make()
    memory = _memory()
    kept = memory["pages"]
    with memory["lock"]:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    value = make()
    with memory["lock"]:
        kept[key] = value
        if len(kept) > KEPT_PAGES:
            kept.popitem(last=False)
    return value


def _memory() -> dict:
    return current_app.extensions.setdefault("clinica_calendars",
                                             {"known": None, "pages": OrderedDict(), "lock": threading.Lock()})


def _known(version: int | None) -> Known:
    memory = _memory()
    known = memory["known"]
    if known is not None and version is not None and known.version == version:
        return known
    known = _load(version)
    # Kept only if nothing changed while it was read (each statement sees the latest commit).
    if version is not None and db.session.scalar(select(CalendarVersion.version)) == version:
        memory["known"] = known
        with memory["lock"]:
            memory["pages"].clear()
    return known


def _load(version: int) -> Known:
    doctors = {doctor_id: DoctorHours(doctor_id, name, specialty, {}) for doctor_id, name, specialty in
               db.session.execute(select(Doctor.id, Doctor.display_name, Doctor.specialty).where(Doctor.active))}
    hours = db.session.execute(
        select(WeeklyHours.doctor_id, WeeklyHours.weekday, WeeklyHours.start_minute, WeeklyHours.end_minute)
        .where(WeeklyHours.doctor_id.in_(doctors))
        .order_by(WeeklyHours.doctor_id, WeeklyHours.weekday, WeeklyHours.start_minute))
    for doctor_id, weekday, start, end in hours:
        doctors[doctor_id].windows.setdefault(weekday, []).append((start, end))
    types = tuple(VisitType(*row) for row in db.session.execute(
        select(AppointmentType.name, AppointmentType.label, AppointmentType.default_duration)
        .order_by(AppointmentType.default_duration, AppointmentType.id)))
    return Known(version=version, doctors=doctors, types=types)
