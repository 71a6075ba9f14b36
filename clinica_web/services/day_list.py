"""The desk's day list: one local day of appointments, for every doctor or for one.

A fixed number of queries whatever the number of appointments: the doctors (for the picker), the
appointments as plain rows (patient, doctor and the kind of each one's last change joined in),
the day's closures and time off, and the reminder state of every visit (reminders.states).
A busy day has 500 rows; reading columns instead of ORM objects keeps it in a few milliseconds.
"""
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import or_, select

from clinica_web import i18n
from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import (
    CANCELLED,
    DOCTOR,
    SCHEDULED,
    Appointment,
    AppointmentChange,
    AppointmentType,
    BlockedPeriod,
    Doctor,
    User,
)
from clinica_web.services import clinic, history, lifecycle, reminders
from clinica_web.services.appointments import visible_to
from clinica_web.services.values import csv_cell


class ReminderNote(NamedTuple):
    """What the desk reads of a visit's reminders: "off" (the patient gets none), or the state of
    its reminder emails (reminders.ReminderState: "sent", "failed", "pending") and when that was
    or is due, as clinic-local "HH:MM", with the day ("Sun 06 Dec, 09:02") when not on the visit's
    day: a weekday alone read as this week's, which it often is not."""
    status: str
    at: str


OFF = "off"


def reminder_note(state, *, wants_reminders: bool, visit_day: date, zone) -> ReminderNote | None:
    """The note for one visit (None: nothing to say, e.g. booked too late for any reminder)."""
    if not wants_reminders:
        return ReminderNote(OFF, "")
    if state is None:
        return None
    local = state.at.astimezone(zone) if state.at else None
    at = ("" if local is None else local.strftime("%H:%M") if local.date() == visit_day
          else i18n.format_local_time(local, "weekday_time"))
    return ReminderNote(state.status, at)


def reminder_of(appointment: Appointment) -> ReminderNote | None:
    """The appointment page's reminder note (one query at most); a cancelled visit's only says "off"."""
    wants = appointment.patient.wants_reminders
    if appointment.status == CANCELLED and wants:
        return None
    state = reminders.states([appointment.id]).get(appointment.id) if wants else None
    return reminder_note(state, wants_reminders=wants, visit_day=clinic.to_local(appointment.starts_at).date(),
                         zone=clinic.tz())


class DoctorHeading(NamedTuple):
    id: int
    display_name: str
    specialty: str


@dataclass(slots=True)
class Row:
    """One appointment of the day, as the desk reads it."""
    id: int
    doctor: DoctorHeading
    starts_at: datetime
    time: str  # clinic-local "HH:MM"
    patient_name: str
    patient_phone: str | None
    patient_email: str | None  # None: registered at the desk by phone only
    appointment_type: str
    visit_label: str  # the visit type as the clinic names it ("Follow-up")
    duration_minutes: int
    status: str
    late: bool  # still "scheduled" after its start
    can_undo: bool  # its last change is a status change (what undo reverts)
    next_statuses: tuple[str, ...]  # the status steps allowed now (lifecycle.allowed_steps)
    cancellation: str = ""  # why it was cancelled (reason and note; "late" inside the cutoff), for the CSV
    clash: BlockedPeriod | None = None  # a closure or the doctor's time off it lies in
    confirmed: bool = False  # the patient confirmed this time (the reminder's Confirm link)
    wants_reminders: bool = True  # the patient's reminders are on
    reminder: ReminderNote | None = None  # its reminders' state; None for a cancelled visit or nothing to say
    patient_id: int | None = None  # for the link to the patient's page


@dataclass
class DayList:
    day: date
    doctors: list[Doctor]
    doctor_id: int | None
    rows: list[Row]
    periods: list[BlockedPeriod]  # the day's clinic closures and the listed doctors' time off

    def by_doctor(self):
        """[(doctor, rows)] in doctor order, for the print view (a page per doctor)."""
        groups = {}
        for row in self.rows:
            groups.setdefault(row.doctor, []).append(row)
        return list(groups.items())


def doctors_for(actor: User) -> list[Doctor]:
    query = select(Doctor).where(Doctor.active).order_by(Doctor.display_name)
    if actor.role == DOCTOR:
        query = query.where(Doctor.user_id == actor.id)
    return list(db.session.scalars(query))


def doctors_for_booking() -> list[Doctor]:
    """Every active doctor (the desk books and reschedules with any of them)."""
    return list(db.session.scalars(select(Doctor).where(Doctor.active).order_by(Doctor.display_name)))


def day_list(actor: User, *, day: date, doctor_id=None, now: datetime) -> DayList:
    start, end = clinic.local_day_span(day)
    last_change_kind = (
        select(AppointmentChange.kind)
        .where(AppointmentChange.appointment_id == Appointment.id)
        .order_by(AppointmentChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Appointment.id, Appointment.starts_at, Appointment.appointment_type, Appointment.duration_minutes,
               Appointment.status, Appointment.doctor_id, Doctor.display_name, Doctor.specialty,
               User.full_name, User.phone, User.email, last_change_kind, AppointmentType.label,
               Appointment.cancel_reason_code, Appointment.cancel_reason, Appointment.late_cancellation,
               Appointment.confirmed_at, User.wants_reminders, Appointment.patient_id)
        .join(Doctor, Doctor.id == Appointment.doctor_id)
        .outerjoin(AppointmentType, AppointmentType.name == Appointment.appointment_type)
        .join(User, User.id == Appointment.patient_id)
        .where(Appointment.starts_at >= start, Appointment.starts_at < end, lifecycle.is_booking())
        .order_by(Doctor.display_name, Appointment.starts_at, Appointment.id)
    )
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    zone, headings, times = clinic.tz(), {}, {}
    rows = [
        Row(
            # A busy day has a few dozen distinct start times for its hundreds of rows.
            id=appointment_id, starts_at=starts_at, time=times.get(starts_at) or times.setdefault(
                starts_at, starts_at.astimezone(zone).strftime("%H:%M")),
            doctor=headings.get(doctor) or headings.setdefault(doctor, DoctorHeading(doctor, doctor_name, specialty)),
            patient_name=name, patient_phone=phone, patient_email=email, appointment_type=visit,
            visit_label=visit_label or visit.replace("_", " ").capitalize(),
            duration_minutes=minutes, status=status, late=status == SCHEDULED and starts_at < now,
            can_undo=last_change == history.STATUS,
            next_statuses=lifecycle.allowed_steps(status, starts_at, now=now, day_ends=end),
            cancellation=_cancellation(reason_code, note, late),
            confirmed=confirmed_at is not None, wants_reminders=wants_reminders, patient_id=patient_id,
        )
        for (appointment_id, starts_at, visit, minutes, status, doctor, doctor_name, specialty, name, phone, email,
             last_change, visit_label, reason_code, note, late, confirmed_at, wants_reminders, patient_id)
        in db.session.execute(visible_to(actor, query))
    ]
    _add_reminder_notes(rows, day=day, zone=zone)
    doctors = doctors_for(actor)
    periods = _periods(start, end, [doctor_id] if doctor_id is not None else [d.id for d in doctors])
    for row in rows:
        row.clash = _clash(row, periods)
    return DayList(day=day, doctors=doctors, doctor_id=doctor_id, rows=rows, periods=periods)


def _add_reminder_notes(rows: list[Row], *, day: date, zone) -> None:
    """Each visit's reminder note: one query for the whole day (none for a day without reminders to read)."""
    listed = [row for row in rows if row.status in lifecycle.HOLDS_TIME]
    asked = [row.id for row in listed if row.wants_reminders]
    found = reminders.states(asked) if asked else {}
    for row in listed:
        row.reminder = reminder_note(found.get(row.id), wants_reminders=row.wants_reminders, visit_day=day, zone=zone)


def _cancellation(reason_code, note, late) -> str:
    if not reason_code:
        return ""
    said = lifecycle.STAFF_CANCEL_REASONS.get(reason_code, reason_code) + (f": {note}" if note else "")
    return said + (" (late)" if late else "")


def _periods(start, end, doctor_ids) -> list[BlockedPeriod]:
    """Clinic closures and these doctors' blocked periods overlapping [start, end), in one query."""
    return list(db.session.scalars(
        select(BlockedPeriod).where(BlockedPeriod.starts_at < end, BlockedPeriod.ends_at > start,
                                    or_(BlockedPeriod.doctor_id.is_(None), BlockedPeriod.doctor_id.in_(doctor_ids)))
        .options(db.joinedload(BlockedPeriod.doctor)).order_by(BlockedPeriod.starts_at, BlockedPeriod.id)))


def _clash(row: Row, periods: list[BlockedPeriod]) -> BlockedPeriod | None:
    """The closure or time off a visit that still holds its place lies in (the desk should move it)."""
    if row.status not in lifecycle.STEPS:  # only scheduled and arrived visits can still move
        return None
    ends_at = row.starts_at + timedelta(minutes=row.duration_minutes)
    return next((p for p in periods if p.doctor_id in (None, row.doctor.id)
                 and p.starts_at < ends_at and row.starts_at < p.ends_at), None)


# The header row and the statuses, in English here; as_csv's `translate` (the reader's gettext) words them.
CSV_COLUMNS = [N_("Date"), N_("Time"), N_("Doctor"), N_("Patient"), N_("Phone"), N_("Email"), N_("Visit"),
               N_("Minutes"), N_("Status"), N_("Cancellation")]
STATUS_WORDS = {"scheduled": N_("Scheduled"), "arrived": N_("Arrived"), "completed": N_("Completed"),
                "no_show": N_("No-show"), "cancelled": N_("Cancelled")}


def as_csv(listing: DayList, translate=lambda words: words) -> str:
    """The day as CSV, its header row and statuses worded by `translate` (gettext: the reader's
    language). Cells that a spreadsheet would run as a formula are quoted with a leading '."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([translate(column) for column in CSV_COLUMNS])
    for row in listing.rows:
        writer.writerow([csv_cell(value) for value in (
            listing.day.isoformat(), row.time, row.doctor.display_name, row.patient_name, row.patient_phone or "",
            row.patient_email or "", row.visit_label, row.duration_minutes,
            translate(STATUS_WORDS[row.status]) if row.status in STATUS_WORDS else row.status,
            row.cancellation,
        )])
    return out.getvalue()
