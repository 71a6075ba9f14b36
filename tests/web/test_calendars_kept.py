"""What each web worker keeps in memory (services/calendars.py: the doctors, their hours, the visit
types, rendered slot lists) never hides a change: whoever makes it, in whichever process, the next
slot request of every worker shows it. Two apps on one committed database are two workers; the
last test also makes its change from another process."""
import re
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from clinica_web import PROJECT_DIR, create_app
from clinica_web.extensions import db
from clinica_web.models import Appointment, BlockedPeriod, User
from clinica_web.services import calendars, clinic, tokens
from tests.conftest import base_config, instant, next_weekday, seed_busy_doctor

pytestmark = pytest.mark.concurrency  # a database of its own, whose commits are real

MONDAY = next_weekday(0, weeks=1)
HTMX = {"HX-Request": "true"}
ALL_MORNING = [f"{hour:02d}:{minute:02d}" for hour in range(9, 13) for minute in (0, 15, 30, 45)][:-1]  # to 12:30


@pytest.fixture
def workers(committing_app, tmp_path, clock):
    """(worker A, worker B, the doctor's id): A has served the slot list once, so it keeps it all."""
    doctor_id = seed_busy_doctor(committing_app, patients=1)
    other = create_app({**base_config(committing_app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, clock),
                        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2}})
    assert shown(committing_app, doctor_id) == ALL_MORNING  # what worker A now keeps
    yield committing_app, other, doctor_id
    with other.app_context():
        db.engine.dispose()


def shown(app, doctor_id):
    """The free times worker `app` shows: the htmx slot list, which must agree with the JSON API."""
    response = app.test_client().get(f"/doctors/{doctor_id}/slots?date={MONDAY}", headers=HTMX)
    if response.status_code == 404:
        return None
    page_times = re.findall(r'class="slot"[^>]*>(\d\d:\d\d)</a>', response.get_data(as_text=True))
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "p0@example.com")).one()
        jwt = tokens.create_jwt(user, now=clinic.now())
    api = app.test_client().get(f"/v1/bookings/available-slots?doctor_id={doctor_id}&date={MONDAY}&duration=30",
                                headers={"Authorization": f"Bearer {jwt}"})
    assert api.get_json() == page_times, "the slot list and the API disagree"
    return page_times


def later_hours(doctor_id):
    db.session.execute(text("UPDATE weekly_hours SET start_minute = 600 WHERE doctor_id = :d"), {"d": doctor_id})


def time_off(doctor_id):
    db.session.add(BlockedPeriod(doctor_id=doctor_id, starts_at=instant(MONDAY, "09:00"),
                                 ends_at=instant(MONDAY, "10:00"), reason="Dentist"))


def clinic_closed(doctor_id):
    db.session.add(BlockedPeriod(doctor_id=None, starts_at=instant(MONDAY, "09:00"),
                                 ends_at=instant(MONDAY, "10:00"), reason="Fire drill"))


def a_booking(doctor_id):
    patient_id = db.session.scalar(text("SELECT id FROM users WHERE email = 'p0@example.com'"))
    start = instant(MONDAY, "09:00")
    db.session.execute(insert(Appointment), [dict(
        patient_id=patient_id, doctor_id=doctor_id, starts_at=start, ends_at=start + timedelta(minutes=60),
        duration_minutes=60, appointment_type="consultation", status="scheduled", notes="", sequence=0,
        created_at=start, updated_at=start)])


def longer_visits(doctor_id):
    db.session.execute(text("UPDATE appointment_types SET default_duration = 60 WHERE name = 'consultation'"))


def doctor_leaves(doctor_id):
    db.session.execute(text("UPDATE doctors SET active = false WHERE id = :d"), {"d": doctor_id})


NINE_TO_TEN = ["09:00", "09:15", "09:30", "09:45"]


@pytest.mark.parametrize("change, expected", [
    (later_hours, [time for time in ALL_MORNING if time not in NINE_TO_TEN]),
    (time_off, [time for time in ALL_MORNING if time not in NINE_TO_TEN]),
    (clinic_closed, [time for time in ALL_MORNING if time not in NINE_TO_TEN]),
    (a_booking, [time for time in ALL_MORNING if time not in NINE_TO_TEN]),
    (doctor_leaves, None),
])
def test_a_change_made_through_another_worker_shows_at_once(workers, change, expected):
    worker_a, worker_b, doctor_id = workers
    with worker_b.app_context():
        change(doctor_id)
        db.session.commit()
    assert shown(worker_a, doctor_id) == expected
    assert shown(worker_b, doctor_id) == expected


def test_longer_visits_of_a_type_show_at_once(workers):
    worker_a, worker_b, doctor_id = workers
    with worker_b.app_context():
        longer_visits(doctor_id)
        db.session.commit()
    page = worker_a.test_client().get(f"/doctors/{doctor_id}/slots?date={MONDAY}", headers=HTMX).get_data(as_text=True)
    assert "Consultation (60 min)" in page and ">12:00</a>" in page and ">12:15</a>" not in page


def test_a_change_rolled_back_leaves_nothing_behind(workers):
    """Worker B changes the hours and, inside the same transaction, serves a slot list (so it keeps
    the hours it saw), then rolls back; a later change must not bring those hours back to life."""
    worker_a, worker_b, doctor_id = workers
    with worker_b.app_context():
        later_hours(doctor_id)
        db.session.flush()
        assert calendars.day(doctor_id, MONDAY).doctor.windows[0] == [(600, 780)]
        db.session.rollback()
    with worker_b.app_context():
        db.session.execute(text("UPDATE doctors SET display_name = 'Dr. Renamed' WHERE id = :d"), {"d": doctor_id})
        db.session.commit()
    assert shown(worker_b, doctor_id) == ALL_MORNING
    page = worker_b.test_client().get(f"/doctors/{doctor_id}/slots?date={MONDAY}", headers=HTMX)
    assert "Dr. Renamed" in page.get_data(as_text=True)


def test_a_change_made_by_another_process_shows_at_once(workers):
    worker_a, _worker_b, doctor_id = workers
    url = worker_a.config["SQLALCHEMY_DATABASE_URI"]
    script = textwrap.dedent(f"""
        from sqlalchemy import create_engine, text
        engine = create_engine({url!r})
        with engine.begin() as connection:
            connection.execute(text("UPDATE weekly_hours SET end_minute = 660 WHERE doctor_id = {doctor_id}"))
    """)
    subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, check=True, timeout=60)
    assert shown(worker_a, doctor_id) == [time for time in ALL_MORNING if time < "10:45"]
