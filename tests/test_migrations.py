"""The migrations build exactly the schema the models describe (so `flask db migrate` finds nothing)."""
from datetime import date, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, STATUSES, Appointment
from clinica_web.services import clinic, demo, lifecycle, notifications
from tests.conftest import instant


def test_models_and_migrations_agree(app):
    with app.app_context():
        connection = db.session.connection()
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def _two_appointments_of_one_patient_at_once(app):
    """The demo's Ana at 09:00 with two doctors, as the booking service alone could let happen
    before 0004 (written as rows: the users table is 0003's here, not the model's)."""
    with app.app_context():
        ana = db.session.execute(text("SELECT id FROM users WHERE email = 'ana@clinica.test'")).scalar_one()
        doctors = db.session.execute(text("SELECT id FROM doctors ORDER BY id LIMIT 2")).scalars().all()
        start = instant(date(2030, 1, 7), "09:00")
        result = db.session.execute(insert(Appointment.__table__).returning(Appointment.__table__.c.id), [
            {"patient_id": ana, "doctor_id": doctor, "starts_at": start, "ends_at": start + timedelta(minutes=30),
             "duration_minutes": 30, "status": "scheduled", "appointment_type": "consultation", "notes": "",
             "sequence": 0, "created_at": start, "updated_at": start} for doctor in doctors])
        ids = sorted(result.scalars().all())
        db.session.commit()
        return ids


@pytest.mark.concurrency  # a database of its own, like the concurrency tests
def test_0004_goes_down_and_up_with_data_and_names_patients_booked_twice(committing_app):
    app = committing_app
    with app.app_context():
        demo.load(now=clinic.now())
        downgrade(revision="0003")  # with users and appointments in the tables
    first, second = _two_appointments_of_one_patient_at_once(app)
    with app.app_context(), pytest.raises(RuntimeError) as refused:  # `flask init-db` prints it, exits 1
        command.upgrade(app.extensions["migrate"].migrate.get_config(), "head")
    assert "two appointments at the same time; move or cancel one of each pair" in str(refused.value)
    assert f"appointments {first} and {second}" in str(refused.value)
    with app.app_context():
        db.session.execute(text(f"UPDATE appointments SET status = 'cancelled' WHERE id = {second}"))
        db.session.commit()
        upgrade()
        assert db.session.execute(text("SELECT count(*) FROM user_sessions")).scalar() == 0


@pytest.mark.parametrize("status", STATUSES)
def test_the_overlap_guards_count_exactly_the_statuses_that_hold_time(app, make_doctor, make_user, status):
    """The database's guards (the doctor's and the patient's, PostgreSQL constraints or SQLite
    triggers) are written from lifecycle: a visit in `status` blocks another at its time exactly
    when the services count it as holding that time."""
    doctor, patient, other = make_doctor(), make_user(email="p@example.com"), make_user(email="o@example.com")
    start = instant(date(2030, 1, 7), "09:00")

    def row(patient_id, doctor_id, status):
        return {"patient_id": patient_id, "doctor_id": doctor_id, "starts_at": start, "status": status,
                "ends_at": start + timedelta(minutes=30), "duration_minutes": 30, "appointment_type": "consultation",
                "notes": "", "sequence": 0, "created_at": start, "updated_at": start}

    second_doctor = make_doctor(name="Dr. Second")
    for second in (row(other, doctor, SCHEDULED), row(patient, second_doctor, SCHEDULED)):  # same doctor; same patient
        with app.app_context():
            db.session.execute(delete(Appointment.__table__))
            db.session.execute(insert(Appointment.__table__), [row(patient, doctor, status)])
            refused = False
            try:
                with db.session.begin_nested():
                    db.session.execute(insert(Appointment.__table__), [second])
            except IntegrityError:
                refused = True
            db.session.rollback()
        assert refused is (status in lifecycle.HOLDS_TIME), (status, second)


def test_0012_unlinks_audit_entries_from_waitlist_holds_so_they_can_be_released(committing_app):
    """A hand offer's audit entry used to point at its held row, which then could not be deleted
    when the offer ended (and the worker failed every pass). After 0012 the entry stays, unlinked;
    one that points at a real booking keeps its link."""
    app = committing_app
    with app.app_context():
        demo.load(now=clinic.now())
        downgrade(revision="0011")
        desk, ana, doctor = (db.session.execute(text(sql)).scalar_one() for sql in (
            "SELECT id FROM users WHERE email = 'desk@clinica.test'",
            "SELECT id FROM users WHERE email = 'ana@clinica.test'", "SELECT min(id) FROM doctors"))
        start = instant(date(2030, 1, 7), "09:00")
        held, booked = db.session.execute(insert(Appointment.__table__).returning(Appointment.__table__.c.id), [
            {"patient_id": ana, "doctor_id": doctor, "starts_at": start + timedelta(hours=hour),
             "ends_at": start + timedelta(hours=hour, minutes=30), "duration_minutes": 30, "status": status,
             "appointment_type": "consultation", "notes": "", "sequence": 0, "created_at": start,
             "updated_at": start} for hour, status in ((0, "held"), (1, "scheduled"))]).scalars().all()
        for action, appointment in (("offered waitlist time", held), ("viewed appointment", booked)):
            db.session.execute(text("INSERT INTO access_events (actor_id, at, action, patient_id, appointment_id, "
                                    "detail) VALUES (:actor, :at, :action, :patient, :appointment, 'x')"),
                               {"actor": desk, "at": start, "action": action, "patient": ana,
                                "appointment": appointment})
        db.session.commit()
        upgrade()
        links = dict(db.session.execute(text("SELECT action, appointment_id FROM access_events "
                                             "WHERE action IN ('offered waitlist time', 'viewed appointment')")).all())
        assert links == {"offered waitlist time": None, "viewed appointment": booked}
        db.session.execute(delete(Appointment).where(Appointment.id == held))  # the release can delete it now
        db.session.commit()


def test_0013_going_down_leaves_no_planned_email_for_the_old_code_to_send_empty(committing_app):
    """Before 0013 every outbox row was a whole message: a planned appointment email left pending
    would be sent with no address and no words. The downgrade marks those failed, saying why;
    messages and sent emails stay as they were."""
    app = committing_app
    with app.app_context():
        demo.load(now=clinic.now())
        for visit in db.session.scalars(select(Appointment).where(Appointment.status == SCHEDULED).limit(2)):
            notifications.queue_appointment_email(visit, "booked", now=clinic.now())  # as a booking plans it
        db.session.commit()
        planned = db.session.execute(text("SELECT count(*) FROM outbox_emails WHERE kind = 'booked'")).scalar_one()
        db.session.commit()  # (a transaction left open would keep the downgrade's ALTER TABLE waiting)
        downgrade(revision="0012")
        left = db.session.execute(text("SELECT status, last_error FROM outbox_emails WHERE kind = 'booked'")).all()
        assert planned and len(left) == planned
        assert {row.status for row in left} == {"failed"} and "downgrade" in left[0].last_error
        db.session.commit()
        upgrade()


def test_0015_takes_clinic_caused_cancellations_off_the_late_ones(committing_app):
    app = committing_app
    with app.app_context():
        demo.load(now=clinic.now())
        downgrade(revision="0014")
        visits = db.session.scalars(select(Appointment.id).where(Appointment.status == SCHEDULED).limit(3)).all()
        for visit, reason in zip(visits, ("doctor_unavailable", "clinic_closed", "patient_called")):
            db.session.execute(text("UPDATE appointments SET status = 'cancelled', late_cancellation = true, "
                                    "cancel_reason_code = :reason WHERE id = :id"), {"reason": reason, "id": visit})
        db.session.commit()
        upgrade()
        late = dict(db.session.execute(text("SELECT cancel_reason_code, late_cancellation FROM appointments "
                                            "WHERE cancel_reason_code IS NOT NULL AND id IN :ids")
                                       .bindparams(bindparam("ids", expanding=True)), {"ids": visits}).all())
        assert late == {"doctor_unavailable": False, "clinic_closed": False, "patient_called": True}
