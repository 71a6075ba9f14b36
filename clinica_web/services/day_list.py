"""The desk's day list: one local day of appointments, for every doctor or for one.

A fixed number of queries whatever the number of appointments: doctors, appointments (with
patient and doctor joined), and the last change of each (for undo).
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import DOCTOR, SCHEDULED, Appointment, AppointmentChange, Doctor, User
from clinica_web.services import availability, clinic
from clinica_web.services.appointments import visible_to
from clinica_web.services.booking import STATUS_CHANGE, STATUS_STEPS


@dataclass
class Row:
    appointment: Appointment
    late: bool  # still "scheduled" after its start
    can_undo: bool
    next_statuses: set = field(default_factory=set)


@dataclass
class DayList:
    day: date
    doctors: list[Doctor]
    doctor_id: int | None
    rows: list[Row]

    def by_doctor(self):
        """[(doctor, rows)] in doctor order, for the print view (a page per doctor)."""
        groups = {}
        for row in self.rows:
            groups.setdefault(row.appointment.doctor_id, (row.appointment.doctor, []))[1].append(row)
        return list(groups.values())


def doctors_for(actor: User) -> list[Doctor]:
    query = select(Doctor).where(Doctor.active).order_by(Doctor.display_name)
    if actor.role == DOCTOR:
        query = query.where(Doctor.user_id == actor.id)
    return list(db.session.scalars(query))


def doctors_for_booking() -> list[Doctor]:
    """Every active doctor (the desk books and reschedules with any of them)."""
    return list(db.session.scalars(select(Doctor).where(Doctor.active).order_by(Doctor.display_name)))


def day_list(actor: User, *, day: date, doctor_id=None, now: datetime) -> DayList:
    start, end = availability.local_day_span(day)
    query = (
        select(Appointment)
        .where(Appointment.starts_at >= start, Appointment.starts_at < end)
        .options(db.joinedload(Appointment.patient), db.joinedload(Appointment.doctor))
        .join(Doctor, Doctor.id == Appointment.doctor_id)
        .order_by(Doctor.display_name, Appointment.starts_at, Appointment.id)
    )
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    appointments = list(db.session.scalars(visible_to(actor, query)))
    undoable = _undoable(appointments)
    rows = [
        Row(
            appointment=a,
            late=a.status == SCHEDULED and a.starts_at < now,
            can_undo=a.id in undoable,
            next_statuses=STATUS_STEPS.get(a.status, set()),
        )
        for a in appointments
    ]
    return DayList(day=day, doctors=doctors_for(actor), doctor_id=doctor_id, rows=rows)


def _undoable(appointments) -> set[int]:
    """Ids of the appointments whose last change is a status change (what undo reverts)."""
    ids = [a.id for a in appointments]
    if not ids:
        return set()
    latest = (
        select(func.max(AppointmentChange.id))
        .where(AppointmentChange.appointment_id.in_(ids))
        .group_by(AppointmentChange.appointment_id)
    )
    return set(db.session.scalars(
        select(AppointmentChange.appointment_id).where(AppointmentChange.id.in_(latest),
                                                       AppointmentChange.kind == STATUS_CHANGE)
    ))


CSV_COLUMNS = ["time", "doctor", "patient", "phone", "email", "visit", "minutes", "status"]


def as_csv(listing: DayList) -> str:
    """The day as CSV. Cells that a spreadsheet would run as a formula are quoted with a leading '."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in listing.rows:
        a = row.appointment
        writer.writerow([_cell(value) for value in (
            clinic.to_local(a.starts_at).strftime("%H:%M"), a.doctor.display_name, a.patient.full_name,
            a.patient.phone or "", a.patient.email, a.appointment_type, a.duration_minutes, a.status,
        )])
    return out.getvalue()


def _cell(value):
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
