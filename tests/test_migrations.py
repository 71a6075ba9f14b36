"""The migrations build exactly the schema the models describe (so `flask db migrate` finds nothing)."""
from datetime import date, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, text

from clinica_web.extensions import db
from clinica_web.models import Appointment
from clinica_web.services import clinic, demo
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
