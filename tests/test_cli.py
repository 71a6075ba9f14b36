"""The commands of DESIGN.md section 11 and the demo clinic."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import Appointment, AppointmentType, BlockedPeriod, Doctor, OutboxEmail, User
from clinica_web.services import clinic, documentation
from tests.conftest import instant, next_weekday

DEMO_HOURS = {
    "Dr. Laura Rossi": ("General Practice", {d: [("09:00", "13:00"), ("14:00", "18:00")] for d in range(5)}),
    "Dr. Marco Bianchi": ("Pediatrics", {d: [("08:00", "12:00")] for d in (0, 2, 4)}),
    "Dr. Sofia Silva": ("Psychology", {d: [("10:00", "19:00")] for d in (1, 3)}),
    "Dr. Diego Moreno": ("Dermatology", {d: [("09:00", "15:00")] for d in range(4)}),
}


def test_init_db_is_idempotent(make_app):
    """The test database was made by the migrations; running them again changes nothing."""
    app = make_app()
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    with app.app_context():
        db.engine.dispose()


def test_seed_demo_loads_the_demo_clinic_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "demo-pass-123" in result.output and "rossi@clinica.test" in result.output
    with app.app_context():
        users = {u.email: u for u in db.session.scalars(select(User))}
        assert {email: u.role for email, u in users.items()} == {
            "admin@clinica.test": "admin", "desk@clinica.test": "reception",
            "ana@clinica.test": "patient", "ben@clinica.test": "patient",
            "rossi@clinica.test": "doctor", "bianchi@clinica.test": "doctor",
            "silva@clinica.test": "doctor", "moreno@clinica.test": "doctor",
        }
        assert all(u.check_password("demo-pass-123") for u in users.values())
        for doctor in db.session.scalars(select(Doctor)):
            specialty, hours = DEMO_HOURS[doctor.display_name]
            assert doctor.specialty == specialty and doctor.user.full_name == doctor.display_name
            found = {}
            for window in doctor.weekly_hours:
                found.setdefault(window.weekday, []).append((window.start_hhmm, window.end_hhmm))
            assert found == hours
        types = {t.name: t.default_duration for t in db.session.scalars(select(AppointmentType))}
        assert types == {"consultation": 30, "follow_up": 15, "therapy": 60, "procedure": 45}
        now = clinic.now()
        past_undocumented = db.session.scalar(
            select(func.count(Appointment.id)).where(Appointment.starts_at < now, Appointment.documentation.is_(None),
                                                     Appointment.status.notin_(["cancelled", "no_show"])))
        assert past_undocumented >= 2  # pending documentation is not empty
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.starts_at > now)) >= 4
        [blocked] = db.session.scalars(select(BlockedPeriod)).all()
        assert blocked.doctor.display_name == "Dr. Laura Rossi"
        assert clinic.to_local(blocked.starts_at).strftime("%H:%M") == "14:00"
        assert clinic.to_local(blocked.ends_at).strftime("%H:%M") == "18:00"

        # Every visit to come has its reminders planned, as a booking would (none already due).
        def starting_after(instant):
            return set(db.session.scalars(select(Appointment.id).where(Appointment.starts_at > instant)))

        reminded = set(db.session.scalars(select(OutboxEmail.appointment_id).where(OutboxEmail.kind == "reminder")))
        assert starting_after(now + timedelta(hours=min(app.config["REMINDER_HOURS"]))) <= reminded
        assert reminded <= starting_after(now) and reminded
        assert db.session.scalar(select(func.min(OutboxEmail.next_attempt_at))) > now

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "not loaded" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 8


def _anas_upcoming_bookings(app, now):
    with app.app_context():
        ana = db.session.scalars(select(User).where(User.email == "ana@clinica.test")).one()
        return db.session.scalars(select(Appointment).where(
            Appointment.patient_id == ana.id, Appointment.starts_at > now).order_by(Appointment.starts_at)).all()


@pytest.mark.parametrize("weekday, hhmm", [(0, "07:30"), (1, "16:40"), (3, "23:10"), (6, "10:00")])
def test_the_demo_lets_ana_try_both_sides_of_the_change_cutoff(app, clock, weekday, hhmm):
    """Seeded on a working day (or the evening before one), Ana has a visit too soon to change online
    and a later one she can change; the booking pages show the phone and the buttons."""
    clock.set(instant(next_weekday(weekday), hhmm))
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    cutoff = clock.at + timedelta(hours=app.config["CHANGE_CUTOFF_HOURS"])
    upcoming = _anas_upcoming_bookings(app, clock.at)
    soon = [visit.id for visit in upcoming if visit.starts_at < cutoff]
    later = [visit.id for visit in upcoming if visit.starts_at > cutoff]
    assert soon and later
    assert upcoming[0].starts_at >= clock.at + timedelta(hours=1)  # still upcoming while she looks
    patient = app.test_client()
    assert patient.post("/login", data={"email": "ana@clinica.test", "password": "demo-pass-123"}).status_code == 303
    too_late = patient.get(f"/bookings/{soon[0]}").get_data(as_text=True)
    assert "too late to change this booking online" in too_late and "Change the time" not in too_late
    changeable = patient.get(f"/bookings/{later[0]}").get_data(as_text=True)
    assert "Change the time" in changeable and "too late" not in changeable


@pytest.mark.parametrize("weekday", range(7))
def test_the_demo_has_visits_to_document_and_a_next_day_with_two_doctors_whenever_it_is_loaded(app, clock, weekday):
    """Loaded just after midnight (before any of the day's visits): Dr. Rossi still has two visits
    waiting for documentation, and the next working day's list two doctors with visits."""
    clock.set(instant(next_weekday(weekday), "00:30"))
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        today = clinic.local_today(clock.at)
        next_working_day = today + timedelta(days=1 if today.weekday() < 4 else 7 - today.weekday())
        rossi = db.session.scalars(select(User).where(User.email == "rossi@clinica.test")).one()
        _rows, waiting = documentation.pending(rossi, now=clock.at)
        assert waiting >= 2
        starts = db.session.execute(select(Appointment.doctor_id, Appointment.starts_at)).all()
        doctors = {doctor_id for doctor_id, start in starts if clinic.to_local(start).date() == next_working_day}
        assert len(doctors) >= 2


def test_the_demo_seeded_on_a_saturday_has_no_visit_on_the_weekend(app, clock):
    """No demo doctor works at weekends, so nothing is inside the cutoff then; nothing is put outside hours."""
    clock.set(instant(next_weekday(5), "12:00"))
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    upcoming = _anas_upcoming_bookings(app, clock.at)
    with app.app_context():
        assert upcoming and all(clinic.to_local(visit.starts_at).weekday() < 5 for visit in upcoming)


def test_create_user(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--email", "New.Doc@Example.com", "--password", "long-enough-1",
                                 "--role", "doctor", "--name", "Dr. New"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "new.doc@example.com")).one()
        assert user.role == "doctor" and user.check_password("long-enough-1")
    duplicate = runner.invoke(args=["create-user", "--email", "new.doc@example.com", "--password", "long-enough-1",
                                    "--name", "Someone"])
    assert duplicate.exit_code != 0 and "Email already exists" in duplicate.output
    short = runner.invoke(args=["create-user", "--email", "x@example.com", "--password", "short", "--name", "X"])
    assert short.exit_code != 0 and "8 to 200 characters" in short.output
    bad_role = runner.invoke(args=["create-user", "--email", "y@example.com", "--password", "long-enough-1",
                                   "--role", "king", "--name", "Y"])
    assert bad_role.exit_code != 0


def test_send_mail_with_nothing_due(app):
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0 and "Sent 0 email(s)" in result.output


def test_worker_once_sends_reset_links_and_due_mail(app, make_user, sent_mail):
    make_user(email="ana@example.com", full_name="Ana Torres")
    client = app.test_client()
    client.post("/password-reset", data={"email": "ana@example.com"})
    client.post("/password-reset", data={"email": "nobody@example.com"})
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("Sent 1 email(s); 0 failed and will be retried; "
                                     "2 password reset request(s) handled.")
    [message] = sent_mail()
    assert message["To"] == "ana@example.com" and message["Subject"] == "Reset your Clinica password"
    again = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert "Sent 0 email(s)" in again.output and "0 password reset request(s)" in again.output
