"""A large clinic for the benchmark: 50 doctors, a year of history (about 200 000 appointments)
and a busy day of 500 appointments across 20 doctors. Rows are bulk-inserted (Core executemany);
the services are not used, so building it takes seconds, not hours.

The three weeks ahead are then booked solid but for a few cancellations (HOLES), the busy day
left as it is: the earliest free times of the 50 doctors are two or three weeks away, so finding
them (DESIGN.md section 17) scans as a busy clinic makes it scan. These rows come from a random
generator of their own and are inserted last, so everything else is as it was without them."""
import os
import random
from datetime import date, timedelta

from sqlalchemy import func, insert, literal, select

from clinica_web.extensions import db
from clinica_web.models import (
    ARRIVED,
    COMPLETED,
    SCHEDULED,
    Appointment,
    AppointmentChange,
    AppointmentType,
    Doctor,
    User,
    WeeklyHours,
)
from clinica_web.services import clinic, slots
from clinica_web.services.demo import APPOINTMENT_TYPES
from clinica_web.services.history import STATUS as STATUS_CHANGE

DOCTORS = 50
PATIENTS = 5000
BOOKING_PATIENTS = 100
BUSY_DOCTORS, BUSY_PER_DOCTOR = 20, 25
OPEN, CLOSE = 8 * 60, 18 * 60  # every doctor: Monday to Friday, 08:00 to 18:00
PER_DAY = int(os.environ.get("BENCH_PER_DAY", "16"))  # 50 doctors x ~280 weekdays x 16: about 220 000
CHUNK = 5000
FILL_DAYS = 21  # today and the 20 days after it: booked solid (but for the busy day)
HOLES = 6  # cancellations: free half hours in those weeks, across all the doctors


def busy_day(today: date) -> date:
    """The Wednesday 2 weeks ahead: the day the day-list benchmark reads."""
    return today + timedelta(days=(2 - today.weekday()) % 7 + 14)


def build(*, today: date, password_hash: str, per_day: int | None = None, history_days: int = 365) -> dict:
    """Fill an empty database; returns what the benchmark needs to know (ids, the busy day).
    per_day (default PER_DAY) and history_days make a smaller clinic with the same weeks ahead."""
    per_day = PER_DAY if per_day is None else per_day
    rng = random.Random(2026)
    tz = clinic.tz()
    if db.session.scalar(select(func.count(User.id))):
        raise SystemExit("The benchmark database must be empty (drop it, or point DATABASE_URL elsewhere).")
    db.session.execute(insert(AppointmentType), [
        {"name": name, "label": label, "default_duration": minutes} for name, label, minutes in APPOINTMENT_TYPES
    ])
    users = [{"email": f"patient{n}@bench.test", "full_name": f"Patient {n}", "role": "patient",
              "password_hash": password_hash, "active": True, "failed_logins": 0} for n in range(PATIENTS)]
    users += [{"email": f"doctor{n}@bench.test", "full_name": f"Dr. Bench {n}", "role": "doctor",
               "password_hash": password_hash, "active": True, "failed_logins": 0} for n in range(DOCTORS)]
    users.append({"email": "desk@bench.test", "full_name": "Bench Desk", "role": "reception",
                  "password_hash": password_hash, "active": True, "failed_logins": 0})
    db.session.execute(insert(User), users)
    ids = dict(db.session.execute(select(User.email, User.id)).all())
    patient_ids = [ids[f"patient{n}@bench.test"] for n in range(PATIENTS)]
    db.session.execute(insert(Doctor), [
        {"display_name": f"Dr. Bench {n}",
         "specialty": ["General Practice", "Pediatrics", "Dermatology", "Psychology", "Cardiology"][n % 5],
         "user_id": ids[f"doctor{n}@bench.test"], "active": True} for n in range(DOCTORS)
    ])
    doctor_ids = list(db.session.scalars(select(Doctor.id).order_by(Doctor.id)))
    # Each doctor sees patients of their own: a patient is never booked twice at one time, which
    # the database refuses as it refuses a doctor's double booking. The first BOOKING_PATIENTS
    # have no history: they are the ones the benchmark books for (bench/run.py).
    patients_of = {doctor_id: patient_ids[BOOKING_PATIENTS + n::DOCTORS] for n, doctor_id in enumerate(doctor_ids)}
    db.session.execute(insert(WeeklyHours), [
        {"doctor_id": d, "weekday": w, "start_minute": OPEN, "end_minute": CLOSE} for d in doctor_ids for w in range(5)
    ])

    busy = busy_day(today)
    rows, first = [], today - timedelta(days=history_days)
    taken = {}  # (day, doctor_id) -> the start minutes booked, for the weeks ahead the fill completes
    day = first
    while day <= today + timedelta(days=28):
        if day.weekday() < 5 and day != busy:
            for doctor_id in doctor_ids:
                # PER_DAY 30-minute visits on the 15-minute grid, never overlapping.
                starts = sorted(rng.sample(range(OPEN, CLOSE - 30, 30), per_day))
                rows += [_row(day, minute, 30, doctor_id, rng.choice(patients_of[doctor_id]), today, tz)
                         for minute in starts]
                if day >= today:
                    taken[day, doctor_id] = set(starts)
        if len(rows) >= CHUNK:
            db.session.execute(insert(Appointment), rows)
            rows = []
        day += timedelta(days=1)
    for doctor_id in doctor_ids[:BUSY_DOCTORS]:
        rows += [_row(busy, OPEN + 15 * n, 15, doctor_id, rng.choice(patients_of[doctor_id]), today, tz)
                 for n in range(BUSY_PER_DOCTOR)]
    db.session.execute(insert(Appointment), rows)
    _add_history()
    last_id = db.session.scalar(select(func.max(Appointment.id)))
    filled = _fill_weeks_ahead(today, busy, doctor_ids, taken, patients_of, tz)
    _add_history(after_id=last_id)
    db.session.commit()
    return {"busy_day": busy.isoformat(), "doctor_id": doctor_ids[-1], "busy_doctor_id": doctor_ids[0],
            "weeks_ahead_filled": filled, "appointments": db.session.scalar(select(func.count(Appointment.id)))}


def _fill_weeks_ahead(today, busy, doctor_ids, taken, patients_of, tz) -> int:
    """Book every half hour of every doctor's weekdays from today to FILL_DAYS ahead (the busy day
    aside) that is still free, but for HOLES of them (cancellations); returns the rows added."""
    rng = random.Random(2027)  # not the builder's: the rest of the clinic stays as it was
    days = [day for day in (today + timedelta(days=n) for n in range(FILL_DAYS)) if day.weekday() < 5 and day != busy]
    holes = set()
    while len(holes) < HOLES:
        day, doctor_id = rng.choice(days[1:]), rng.choice(doctor_ids)
        holes.add((day, doctor_id, rng.choice(sorted(set(range(OPEN, CLOSE, 30)) - taken[day, doctor_id]))))
    rows = [_row(day, minute, 30, doctor_id, rng.choice(patients_of[doctor_id]), today, tz)
            for day in days for doctor_id in doctor_ids for minute in range(OPEN, CLOSE, 30)
            if minute not in taken[day, doctor_id] and (day, doctor_id, minute) not in holes]
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(Appointment), rows[start:start + CHUNK])
    return len(rows)


def _add_history(after_id=0):
    """Every appointment's history (of those after `after_id`), as the services write it: "booked",
    and for a past visit the desk's two status changes. The day list reads each row's last change;
    a history as long as a real clinic's is what the planner must see to use its index."""
    booked = select(Appointment.id, Appointment.created_at, literal("booked"), literal(None), literal(SCHEDULED))
    arrived = select(Appointment.id, Appointment.starts_at, literal(STATUS_CHANGE), literal(SCHEDULED),
                     literal(ARRIVED)).where(Appointment.status == COMPLETED)
    completed = select(Appointment.id, Appointment.ends_at, literal(STATUS_CHANGE), literal(ARRIVED),
                       literal(COMPLETED)).where(Appointment.status == COMPLETED)
    columns = ["appointment_id", "at", "kind", "from_value", "to_value"]
    for changes in (booked, arrived, completed):  # in this order: each visit's changes in the order they happened
        db.session.execute(insert(AppointmentChange).from_select(
            columns, changes.where(Appointment.id > after_id).order_by(Appointment.id)))


def _row(day, minute, duration, doctor_id, patient_id, today, tz):
    start = slots.local_instant(day, minute, tz)
    past = day < today
    return {
        "patient_id": patient_id, "doctor_id": doctor_id, "starts_at": start,
        "ends_at": start + timedelta(minutes=duration), "duration_minutes": duration,
        "status": COMPLETED if past else SCHEDULED, "appointment_type": "consultation", "notes": "",
        # Most of the past is documented; the rest is the pending-documentation backlog.
        "documentation": "Seen." if past and minute % 120 else None, "sequence": 0,
        "created_at": start - timedelta(days=7), "updated_at": start - timedelta(days=7),
    }
