"""Two people touch one booking at the same instant: nothing lost, nothing doubled, never a 500.

Each race runs its requests in threads released together by a barrier, each request through the
whole web stack with its own database connection and real commits, on SQLite and on PostgreSQL.
A race is run for several rounds, since any one round may happen to run in order. After each,
the final rows, the history and the emails (their calendar SEQUENCE and METHOD) must tell one
consistent story: writers of one appointment run one after another, and each later one either
sees the new state and succeeds, or gets the rule's 4xx.
"""
from datetime import timedelta
from types import SimpleNamespace

import pytest
from icalendar import Calendar
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import (
    CANCELLED,
    SCHEDULED,
    Appointment,
    AppointmentChange,
    AppointmentType,
    Doctor,
    OutboxEmail,
    User,
    WeeklyHours,
)
from clinica_web.services import clinic, notifications, tokens
from tests.conftest import PASSWORD, instant, next_weekday, race

pytestmark = pytest.mark.concurrency
MONDAY = next_weekday(0, weeks=1)
ROUNDS = 4


@pytest.fixture
def clinic_world(committing_app):
    """Three doctors working Mondays 08:00-18:00, patients p0..p9, and a receptionist with an API token."""
    app = committing_app
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctors = [Doctor(display_name=f"Dr. {name}", specialty="General Practice",
                          weekly_hours=[WeeklyHours(weekday=0, start_minute=480, end_minute=1080)])
                   for name in ("Rossi", "Bianchi", "Silva")]
        patients = [User(email=f"p{n}@example.com", full_name=f"Patient {n}", role="patient") for n in range(10)]
        desk = User(email="desk@example.com", full_name="Rita Desk", role="reception")
        for user in [*patients, desk]:
            user.set_password(PASSWORD)
        db.session.add_all([*doctors, *patients, desk])
        db.session.commit()
        now = clinic.now()
        world = SimpleNamespace(
            app=app, doctors=[d.id for d in doctors], patients=[p.id for p in patients],
            jwts=[tokens.create_jwt(p, now=now) for p in patients],
            staff={"X-User-Token": tokens.create_api_token(desk, now=now)},
        )
    return world


def book(world, patient, hhmm, doctor=0):
    """Book through the booking API; returns the response."""
    return world.app.test_client().post("/v1/bookings", headers=bearer(world, patient), json={
        "doctor_id": world.doctors[doctor], "date": MONDAY.isoformat(), "time": hhmm})


def bearer(world, patient):
    return {"Authorization": f"Bearer {world.jwts[patient]}"}


def cancel(world, patient, appointment_id):
    return lambda: world.app.test_client().delete(f"/v1/bookings/{appointment_id}", headers=bearer(world, patient))


def move(world, appointment_id, hhmm, doctor=None):
    fields = {"scheduled_at": instant(MONDAY, hhmm).isoformat()}
    if doctor is not None:
        fields["provider_id"] = world.doctors[doctor]
    return lambda: world.app.test_client().put(
        f"/v1/clinic/appointments/reschedule_appointments/{appointment_id}", headers=world.staff,
        json={"appointment": fields})


def desk_clients(world, count):
    """`count` browsers, each logged in at the desk."""
    clients = [world.app.test_client() for _ in range(count)]
    for client in clients:
        assert client.post("/login", data={"email": "desk@example.com", "password": PASSWORD}).status_code == 303
    return clients


def story(world, appointment_id):
    """The appointment's final row, its history kinds and its emails as (SEQUENCE, METHOD, start),
    once the worker has written them out and sent them."""
    with world.app.app_context():
        notifications.send_due(now=clinic.now())
        row = db.session.get(Appointment, appointment_id)
        changes = db.session.scalars(select(AppointmentChange.kind).where(
            AppointmentChange.appointment_id == appointment_id).order_by(AppointmentChange.id)).all()
        emails = []
        for ics in db.session.scalars(select(OutboxEmail.ics).where(OutboxEmail.ics.is_not(None))
                                      .order_by(OutboxEmail.id)):
            calendar = Calendar.from_ical(ics)
            [event] = calendar.walk("VEVENT")
            if str(event["UID"]).startswith(f"appointment-{appointment_id}@"):
                emails.append((int(event["SEQUENCE"]), str(calendar["METHOD"]), event.decoded("DTSTART")))
        return SimpleNamespace(status=row.status, starts_at=row.starts_at, sequence=row.sequence,
                               changes=changes, emails=emails)


def assert_emails_tell_the_final_state(final):
    """One email per change, each with its own SEQUENCE; the last one is the state the row is in."""
    sequences = [sequence for sequence, _method, _start in final.emails]
    assert sorted(sequences) == list(range(len(final.emails))), final.emails
    assert len(final.emails) == len(final.changes)
    last_sequence, last_method, last_start = max(final.emails)
    assert last_sequence == final.sequence
    assert last_method == ("CANCEL" if final.status == CANCELLED else "REQUEST")
    assert last_start == final.starts_at


def test_the_patient_cancels_while_the_desk_moves_the_booking(clinic_world):
    world = clinic_world
    for round_ in range(ROUNDS):
        patient, hhmm = round_, f"{8 + round_:02d}:00"
        appointment_id = book(world, patient, hhmm).json["id"]
        cancelled, moved = race(cancel(world, patient, appointment_id),
                                move(world, appointment_id, f"{8 + round_:02d}:30"))
        final = story(world, appointment_id)
        assert cancelled.status_code == 200 and final.status == CANCELLED
        if moved.status_code == 200:  # the move came first, then the cancel of the moved booking
            assert final.changes == ["booked", "rescheduled", "cancelled"]
            assert final.starts_at == instant(MONDAY, f"{8 + round_:02d}:30")
        else:  # the cancel came first: a cancelled booking is not moved
            assert moved.status_code == 422
            assert moved.json == {"errors": {"scheduled_at": ["Only scheduled appointments can be rescheduled"]}}
            assert final.changes == ["booked", "cancelled"]
            assert final.starts_at == instant(MONDAY, hhmm)
        assert_emails_tell_the_final_state(final)


def test_ten_moves_of_one_booking_at_once_run_one_after_another(clinic_world):
    world = clinic_world
    appointment_id = book(world, 0, "08:00").json["id"]
    targets = [f"{hour:02d}:{minute:02d}" for hour in (9, 10, 11, 12, 13) for minute in (0, 30)]
    responses = race(*(move(world, appointment_id, hhmm) for hhmm in targets))
    assert [response.status_code for response in responses] == [200] * len(targets)
    final = story(world, appointment_id)
    assert final.changes == ["booked"] + ["rescheduled"] * len(targets)
    assert final.sequence == len(targets) and final.status == SCHEDULED
    # Each answer shows the booking as that move left it; the last move is where it stays.
    assert final.starts_at.isoformat(timespec="milliseconds").replace("+00:00", "Z") in {
        response.json["scheduled_at"] for response in responses}
    assert_emails_tell_the_final_state(final)


def test_ten_cancels_of_one_booking_at_once_cancel_it_once(clinic_world):
    world = clinic_world
    for round_ in range(ROUNDS):
        appointment_id = book(world, round_, f"{8 + round_:02d}:00").json["id"]
        responses = race(*(cancel(world, round_, appointment_id) for _ in range(10)))
        codes = sorted(response.status_code for response in responses)
        assert codes == [200] + [400] * 9, codes
        refused = {response.json["error"] for response in responses if response.status_code == 400}
        assert refused == {"Only upcoming scheduled bookings can be cancelled"}
        final = story(world, appointment_id)
        assert final.status == CANCELLED and final.changes == ["booked", "cancelled"]
        assert_emails_tell_the_final_state(final)


def test_a_move_into_a_time_being_booked_meanwhile_is_refused_cleanly(clinic_world):
    world = clinic_world
    for round_ in range(ROUNDS):
        target = f"{13 + round_:02d}:00"
        moving_id = book(world, 0, f"{8 + round_:02d}:00").json["id"]
        booked, moved = race(lambda: book(world, 1 + round_, target), move(world, moving_id, target))
        assert sorted([booked.status_code, moved.status_code]) in ([200, 400], [201, 422]), (booked, moved)
        if booked.status_code == 400:
            assert booked.json == {"error": "Time slot overlaps with another booking"}
        else:
            assert moved.json == {"errors": {"scheduled_at": ["Time slot overlaps with another booking"]}}
        with world.app.app_context():
            at_target = db.session.scalars(select(Appointment).where(
                Appointment.starts_at == instant(MONDAY, target), Appointment.status != CANCELLED)).all()
        assert len(at_target) == 1
        assert_emails_tell_the_final_state(story(world, moving_id))


def test_one_patient_booking_one_time_with_three_doctors_gets_one(clinic_world):
    """"You already have a booking at this time" holds however close together the bookings come."""
    world = clinic_world
    for round_ in range(ROUNDS):
        hhmm = f"{8 + round_:02d}:00"
        responses = race(*(lambda doctor=doctor: book(world, 0, hhmm, doctor) for doctor in range(3)))
        codes = sorted(response.status_code for response in responses)
        assert codes == [201, 400, 400], codes
        assert {r.json["error"] for r in responses if r.status_code == 400} == {
            "You already have a booking at this time"}
        with world.app.app_context():
            start = instant(MONDAY, hhmm)
            held = db.session.scalars(select(Appointment).where(
                Appointment.patient_id == world.patients[0], Appointment.starts_at < start + timedelta(minutes=30),
                Appointment.ends_at > start, Appointment.status != CANCELLED)).all()
            assert len(held) == 1
            assert db.session.scalars(select(OutboxEmail.id).where(OutboxEmail.kind == "booked")).all()


def test_ten_status_changes_at_once_make_one_change(clinic_world, clock):
    world = clinic_world
    appointment_id = book(world, 0, "08:00").json["id"]
    clock.set(instant(MONDAY, "08:00"))  # the visit's day: the desk may mark it
    clients = desk_clients(world, 10)
    responses = race(*(lambda client=client: client.post(f"/desk/appointments/{appointment_id}/status",
                                                         data={"to": "arrived"}) for client in clients))
    assert all(response.status_code < 500 for response in responses)
    final = story(world, appointment_id)
    assert final.status == "arrived" and final.changes == ["booked", "status"]


def test_ten_undos_at_once_undo_one_step(clinic_world, clock):
    world = clinic_world
    appointment_id = book(world, 0, "08:00").json["id"]
    clock.set(instant(MONDAY, "08:00"))
    clients = desk_clients(world, 10)
    clients[0].post(f"/desk/appointments/{appointment_id}/status", data={"to": "arrived"})
    clients[0].post(f"/desk/appointments/{appointment_id}/status", data={"to": "completed"})
    responses = race(*(lambda client=client: client.post(f"/desk/appointments/{appointment_id}/undo")
                       for client in clients))
    assert all(response.status_code < 500 for response in responses)
    final = story(world, appointment_id)
    # One step back (completed -> arrived); the undo of an undo is not offered, so the rest refuse.
    assert final.status == "arrived" and final.changes == ["booked", "status", "status", "status_undo"]


def test_ten_registrations_of_one_new_address_at_once_make_one_account(clinic_world):
    """Each gets "check your email" (never a 500): one account, one welcome email."""
    world = clinic_world
    form = {"full_name": "Rosa New", "email": "rosa@example.com", "phone": "", "password": PASSWORD,
            "confirm": PASSWORD}
    responses = race(*(lambda: world.app.test_client().post("/register", data=form) for _ in range(10)))
    assert [response.status_code for response in responses] == [303] * 10
    with world.app.app_context():
        assert len(db.session.scalars(select(User.id).where(User.email == "rosa@example.com")).all()) == 1
        subjects = db.session.scalars(select(OutboxEmail.subject).where(OutboxEmail.recipient == "rosa@example.com"))
        assert list(subjects).count("Welcome to Clinica") == 1


def test_ten_patients_moving_into_one_free_time_at_once_one_gets_it(clinic_world):
    """Each of ten patients moves their own booking (PUT /v1/bookings/{id}) to the same free 17:00:
    exactly one moves, the others get the overlap message and keep their time; one email each for
    the mover (booked, moved), none for the rest beyond their booking."""
    world = clinic_world
    times = {patient: f"{8 + patient // 2:02d}:{30 * (patient % 2):02d}" for patient in range(10)}  # 08:00-12:30
    booked = {patient: book(world, patient, times[patient]).json["id"] for patient in range(10)}
    responses = race(*(lambda patient=patient: world.app.test_client().put(
        f"/v1/bookings/{booked[patient]}", headers=bearer(world, patient),
        json={"date": MONDAY.isoformat(), "time": "17:00"}) for patient in range(10)))
    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [400] * 9, codes
    assert all(r.get_json() == {"error": "Time slot overlaps with another booking"} for r in responses
               if r.status_code == 400)
    [winner] = [patient for patient, r in zip(range(10), responses) if r.status_code == 200]
    for patient, appointment_id in booked.items():
        final = story(world, appointment_id)
        if patient == winner:
            assert final.starts_at == instant(MONDAY, "17:00") and final.changes == ["booked", "rescheduled"]
            assert [sequence for sequence, _method, _start in final.emails] == [0, 1]
        else:
            assert final.starts_at == instant(MONDAY, times[patient]) and final.changes == ["booked"]
            assert [sequence for sequence, _method, _start in final.emails] == [0]


@pytest.mark.concurrency
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer at a time
def test_two_admins_stopping_each_other_at_once_leave_one_active(committing_app, monkeypatch):
    """The first to get past its checks pauses there (before it commits), so the two changes
    overlap whatever the machine's pace."""
    from clinica_web.models import User
    from clinica_web.services import staff
    from clinica_web.services.errors import DomainError
    from tests.services.test_calendar_locks import pausing_after
    app = committing_app
    with app.app_context():
        admins = [User(email=f"{name}@example.com", full_name=name.title(), role="admin") for name in ("ada", "bea")]
        for admin in admins:
            admin.set_password(PASSWORD)
        db.session.add_all(admins)
        db.session.commit()
        ada, bea = (admin.id for admin in admins)

    def stop(actor_id, user_id):
        def run():
            with app.app_context():
                try:
                    staff.set_active(actor=db.session.get(User, actor_id), user_id=user_id, active=False,
                                     now=clinic.now())
                    return "stopped"
                except DomainError as error:
                    return error.message
        return run

    pausing_after(staff.sessions, "end_all", monkeypatch)
    assert sorted(race(stop(ada, bea), stop(bea, ada))) == ["Your account is no longer active", "stopped"]
    with app.app_context():
        assert len(db.session.scalars(select(User).where(User.role == "admin", User.active)).all()) == 1
