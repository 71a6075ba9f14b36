"""The demo clinic of DESIGN.md section 11: deterministic, so every role can be tried at once."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import (
    ADMIN,
    ARRIVED,
    COMPLETED,
    DOCTOR,
    NO_SHOW,
    PATIENT,
    RECEPTION,
    SCHEDULED,
    Appointment,
    AppointmentChange,
    AppointmentType,
    BlockedPeriod,
    Doctor,
    User,
    WeeklyHours,
)
from clinica_web.services import availability, clinic, reminders, slots

DEMO_PASSWORD = "demo-pass-123"
# Their labels are in the catalogue, so pages show them in the reader's language (type_label).
APPOINTMENT_TYPES = [
    ("follow_up", N_("Follow-up"), 15),
    ("consultation", N_("Consultation"), 30),
    ("procedure", N_("Procedure"), 45),
    ("therapy", N_("Therapy"), 60),
]
ACCOUNTS = [
    ("admin@clinica.test", "Alex Admin", ADMIN),
    ("desk@clinica.test", "Dana Desk", RECEPTION),
    ("ana@clinica.test", "Ana Torres", PATIENT),
    ("ben@clinica.test", "Ben Carter", PATIENT),
]
MON_FRI, MON_WED_FRI, TUE_THU, MON_THU = range(5), (0, 2, 4), (1, 3), range(4)
DOCTORS = [
    # email, name, specialty, weekdays, windows (HH:MM pairs)
    ("rossi@clinica.test", "Dr. Laura Rossi", "General Practice", MON_FRI, [("09:00", "13:00"), ("14:00", "18:00")]),
    ("bianchi@clinica.test", "Dr. Marco Bianchi", "Pediatrics", MON_WED_FRI, [("08:00", "12:00")]),
    ("silva@clinica.test", "Dr. Sofia Silva", "Psychology", TUE_THU, [("10:00", "19:00")]),
    ("moreno@clinica.test", "Dr. Diego Moreno", "Dermatology", MON_THU, [("09:00", "15:00")]),
]
# (days from today, doctor index, patient index, "HH:MM", type, status if in the past, documented?)
# A day a doctor does not work moves to their nearest working day (back for the past). Whatever
# the day and hour the demo is loaded: Dr. Rossi has two visits to document (of her last working
# day), and the next working day's list has two doctors (Dr. Rossi, and Dr. Bianchi or Dr. Silva).
APPOINTMENTS = [
    (-3, 0, 0, "09:00", "consultation", COMPLETED, True),
    (-3, 3, 1, "10:00", "procedure", COMPLETED, False),
    (-2, 0, 1, "11:00", "follow_up", NO_SHOW, False),
    (-2, 1, 0, "08:30", "consultation", COMPLETED, False),
    (-1, 0, 1, "10:00", "follow_up", COMPLETED, False),
    (-1, 0, 0, "15:00", "consultation", ARRIVED, False),
    (-1, 2, 1, "12:00", "therapy", COMPLETED, False),
    (0, 0, 1, "09:30", "consultation", SCHEDULED, False),
    (0, 3, 0, "11:00", "follow_up", SCHEDULED, False),
    (1, 0, 0, "10:00", "consultation", SCHEDULED, False),
    (1, 1, 0, "08:30", "follow_up", SCHEDULED, False),
    (1, 2, 1, "16:00", "therapy", SCHEDULED, False),
    (2, 1, 1, "09:00", "consultation", SCHEDULED, False),
    (3, 3, 0, "13:00", "procedure", SCHEDULED, False),
]


def is_empty() -> bool:
    return db.session.scalar(select(func.count(User.id))) == 0


def _minute(hhmm):
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def load(*, now: datetime) -> None:
    """Create the demo clinic. The caller checks `is_empty()` first."""
    tz = clinic.tz()
    today = now.astimezone(tz).date()
    types = {name: AppointmentType(name=name, label=label, default_duration=minutes)
             for name, label, minutes in APPOINTMENT_TYPES}
    db.session.add_all(types.values())

    def user(email, name, role):
        account = User(email=email, full_name=name, role=role, created_at=now, updated_at=now)
        account.set_password(DEMO_PASSWORD)
        db.session.add(account)
        return account

    people = [user(*account) for account in ACCOUNTS]
    patients = [p for p in people if p.role == PATIENT]
    doctors = []
    for email, name, specialty, weekdays, windows in DOCTORS:
        doctor = Doctor(display_name=name, specialty=specialty, user=user(email, name, DOCTOR))
        doctor.weekly_hours = [
            WeeklyHours(weekday=day, start_minute=_minute(start), end_minute=_minute(end))
            for day in weekdays for start, end in windows
        ]
        doctors.append(doctor)
    db.session.add_all(doctors)
    db.session.flush()

    desk = people[1]
    for offset, doctor_index, patient_index, hhmm, type_name, past_status, documented in APPOINTMENTS:
        day = today + timedelta(days=offset)
        doctor = doctors[doctor_index]
        if day.weekday() not in {window.weekday for window in doctor.weekly_hours}:
            day = _nearest_working_day(day, doctor, backwards=offset < 0)
        start = slots.local_instant(day, _minute(hhmm), tz)
        duration = types[type_name].default_duration
        in_past = start < now
        appointment = Appointment(
            patient=patients[patient_index], doctor=doctor, starts_at=start,
            ends_at=start + timedelta(minutes=duration), duration_minutes=duration, appointment_type=type_name,
            status=past_status if in_past else SCHEDULED, notes="", created_by_id=desk.id,
            created_at=now, updated_at=now,
        )
        if in_past and documented:
            appointment.documentation = "Routine visit. No findings of concern."
            appointment.documented_by_id = doctor.user.id
            appointment.documented_at = start + timedelta(minutes=duration)
        db.session.add(appointment)
        db.session.add(AppointmentChange(appointment=appointment, actor_id=desk.id, at=now, kind="booked",
                                         to_value=SCHEDULED))

    db.session.flush()
    _add_a_visit_inside_the_change_cutoff(patients[0], doctors, types["follow_up"], desk, now=now)
    db.session.flush()
    for visit in db.session.scalars(select(Appointment).where(Appointment.starts_at > now)):
        reminders.plan(visit, now=now)  # as booking them would have

    # One blocked afternoon: Dr. Rossi's next working afternoon after today.
    blocked_day = _nearest_working_day(today + timedelta(days=1), doctors[0], backwards=False)
    db.session.add(BlockedPeriod(
        doctor=doctors[0], reason="Training",
        starts_at=slots.local_instant(blocked_day, 14 * 60, tz),
        ends_at=slots.local_instant(blocked_day, 18 * 60, tz),
    ))
    db.session.commit()


def _add_a_visit_inside_the_change_cutoff(patient, doctors, visit_type, desk, *, now):
    """So that a new user can see both sides of the change policy (DESIGN.md section 15), Ana
    gets a follow-up that is too late to change online, besides her later ones that are not: the
    earliest free time of any doctor from an hour from now (time to log in and look) to well inside
    the cutoff. There is none when no doctor works in that stretch (a weekend): then she has none.
    """
    tz, duration = clinic.tz(), visit_type.default_duration
    earliest, latest = now + timedelta(hours=1), now + timedelta(hours=current_app.config["CHANGE_CUTOFF_HOURS"] - 2)
    taken = db.session.execute(select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.patient_id == patient.id)).all()
    candidates = []
    for doctor in doctors:
        for day in sorted({earliest.astimezone(tz).date(), latest.astimezone(tz).date()}):
            for minute in availability.free_slots(doctor, day, duration, now=now):
                start = slots.local_instant(day, minute, tz)
                end = start + timedelta(minutes=duration)
                if earliest <= start <= latest and not any(s < end and start < e for s, e in taken):
                    candidates.append((start, doctor.id, doctor))
    if not candidates:
        return
    start, _, doctor = min(candidates)
    visit = Appointment(
        patient=patient, doctor=doctor, starts_at=start, ends_at=start + timedelta(minutes=duration),
        duration_minutes=duration, appointment_type=visit_type.name, status=SCHEDULED, notes="",
        created_by_id=desk.id, created_at=now, updated_at=now,
    )
    db.session.add(visit)
    db.session.add(AppointmentChange(appointment=visit, actor_id=desk.id, at=now, kind="booked", to_value=SCHEDULED))


def _nearest_working_day(day, doctor, *, backwards):
    weekdays = {window.weekday for window in doctor.weekly_hours}
    step = timedelta(days=-1 if backwards else 1)
    while day.weekday() not in weekdays:
        day += step
    return day
