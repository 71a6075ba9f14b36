"""begin_write(): a service's write transaction decides on what is committed, never on what the
request read earlier or left pending (on PostgreSQL it goes on from the read transaction)."""
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select, update

from clinica_web.database import begin_write
from clinica_web.extensions import db
from clinica_web.models import Appointment, User
from tests.conftest import TEST_NOW, instant


def patient(email, name):
    return User(email=email, full_name=name, role="patient", password_hash="not-a-real-hash")


def test_rows_read_earlier_in_the_request_are_read_again(committing_app):
    app = committing_app
    with app.app_context():
        db.session.add(patient("ana@example.com", "Ana Torres"))
        db.session.commit()
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "ana@example.com")).one()  # the request's read
        with db.engine.begin() as elsewhere:  # another request renames her meanwhile
            elsewhere.execute(update(User).where(User.id == user.id).values(full_name="Ana Torres Vidal"))
        begin_write()
        assert user.full_name == "Ana Torres Vidal"


def test_what_a_request_left_pending_is_not_committed_by_the_service(committing_app):
    app = committing_app
    with app.app_context():
        db.session.add(patient("stray@example.com", "Stray"))  # views never write
        begin_write()
        db.session.add(patient("ana@example.com", "Ana Torres"))
        db.session.commit()
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["ana@example.com"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's guard; PostgreSQL's is a constraint
def test_sqlite_overlap_triggers_read_a_day_not_the_whole_history(app, make_doctor, make_user):
    """Each insert's guard checks the doctor's and the patient's bookings near its own time only:
    the work of one insert is the same with 20 earlier bookings as with 2 000 (SQLite counts the
    virtual machine steps it runs). Unbounded, the triggers read the whole history every time."""
    doctor_id, patient_id = make_doctor(), make_user()
    day = date(2027, 6, 7)

    def add_history(days):
        with app.app_context():
            db.session.execute(insert(Appointment), [
                {"patient_id": patient_id, "doctor_id": doctor_id, "status": "completed", "duration_minutes": 30,
                 "appointment_type": "consultation", "notes": "", "sequence": 0,
                 "starts_at": instant(day - timedelta(days=back), f"{9 + hour:02d}:00"),
                 "ends_at": instant(day - timedelta(days=back), f"{9 + hour:02d}:30"),
                 "created_at": TEST_NOW, "updated_at": TEST_NOW}
                for back in days for hour in range(4)])
            db.session.commit()

    def steps_to_insert(hhmm):
        with app.app_context():
            raw = db.session.connection().connection.dbapi_connection
            steps = [0]

            def count():
                steps[0] += 1

            raw.set_progress_handler(count, 1)
            start = instant(day, hhmm)
            db.session.add(Appointment(patient_id=patient_id, doctor_id=doctor_id, starts_at=start,
                                       ends_at=start + timedelta(minutes=30), duration_minutes=30, status="scheduled",
                                       appointment_type="consultation", notes=""))
            db.session.commit()
            raw.set_progress_handler(None, 1)
            return steps[0]

    add_history(range(1, 6))
    few = steps_to_insert("10:00")
    add_history(range(6, 500))
    many = steps_to_insert("11:00")
    assert many < few * 1.5, (few, many)
