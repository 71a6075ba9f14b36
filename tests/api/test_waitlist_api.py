"""The waitlist in the booking API (DESIGN.md section 18): POST /v1/waitlist, GET /v1/waitlist/me,
DELETE /v1/waitlist/{id}, as a patient's client sees them, at a fixed instant (Wednesday
2027-03-10 12:00 in the clinic), with the rows stored behind them."""
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import AppointmentType, Doctor, User, WaitlistEntry, WeeklyHours
from clinica_web.services import clinic, tokens
from tests.conftest import PASSWORD, instant, race

TODAY = date(2027, 3, 10)  # a Wednesday
NOW = instant(TODAY, "12:00")
HORIZON = TODAY + timedelta(days=90)  # BOOKING_HORIZON_DAYS in tests/conftest.py
AUTH_REQUIRED = {"error": "Authentication required"}
ENTRY_FIELDS = {"id", "doctor_id", "doctor_name", "specialty", "appointment_type", "from_date", "to_date",
                "part_of_day", "status", "created_at", "held"}
NOT_FOUND = {"error": "Waitlist entry not found"}
TOO_MANY = {"error": "You can wait for at most 3 things at once: leave one first"}


def days(first: int, last: int) -> dict:
    """from_date and to_date, as days after TODAY."""
    return {"from_date": (TODAY + timedelta(days=first)).isoformat(),
            "to_date": (TODAY + timedelta(days=last)).isoformat()}


@pytest.fixture
def world(app, clock, make_doctor, make_user, bearer):
    clock.set(NOW)  # before any token is made: a JWT lasts a day from the clock's now
    rossi = make_doctor(name="Dr. Laura Rossi", specialty="General Practice")
    make_doctor(name="Dr. Kid", specialty="Pediatrics")
    retired = make_doctor(name="Dr. Gone", specialty="Dermatology", active=False)
    ana = make_user(email="ana@example.com", full_name="Ana Torres")
    ben = make_user(email="ben@example.com", full_name="Ben Ruiz")
    return SimpleNamespace(rossi=rossi, retired=retired, ana=ana, ben=ben, headers=bearer(ana), ben_headers=bearer(ben))


@pytest.fixture
def join(client, world):
    """POST /v1/waitlist for Rossi over the next week (overridden by `fields`; None drops a field)."""

    def post(headers=None, **fields):
        body = {"doctor_id": world.rossi, **days(1, 7), **fields}
        body = {name: value for name, value in body.items() if value is not None}
        return client.post("/v1/waitlist", json=body, headers=headers or world.headers)

    return post


def entries(app):
    with app.app_context():
        return [(e.patient_id, e.doctor_id, e.specialty, e.status)
                for e in db.session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id))]


def mine(client, headers):
    response = client.get("/v1/waitlist/me", headers=headers)
    assert response.status_code == 200
    return response.get_json()


# ---------------------------------------------------------------------------------------------
# Joining


def test_joining_a_doctors_waitlist_answers_with_the_entry(app, join, world):
    response = join(appointment_type="follow_up", part_of_day="morning")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == ENTRY_FIELDS
    assert body == {"id": body["id"], "doctor_id": world.rossi, "doctor_name": "Dr. Laura Rossi",
                    "specialty": "General Practice", "appointment_type": "follow_up",
                    "from_date": "2027-03-11", "to_date": "2027-03-17", "part_of_day": "morning", "status": "active",
                    "created_at": "2027-03-10T15:00:00.000Z", "held": None}  # 12:00 in Santiago, summer time (UTC-3)
    assert response.headers["Location"].endswith("/v1/waitlist/me")
    assert entries(app) == [(world.ana, world.rossi, None, "active")]


def test_joining_a_specialtys_waitlist_has_no_doctor(app, join, world):
    response = join(doctor_id=None, specialty="Pediatrics", **days(0, 59))
    assert response.status_code == 201
    body = response.get_json()
    assert (body["doctor_id"], body["doctor_name"], body["specialty"]) == (None, None, "Pediatrics")
    # Defaults: a consultation, any time of day. Today and 60 days in all are allowed.
    assert (body["appointment_type"], body["part_of_day"]) == ("consultation", "any")
    assert (body["from_date"], body["to_date"]) == ("2027-03-10", "2027-05-08")
    assert entries(app) == [(world.ana, None, "Pediatrics", "active")]


@pytest.mark.parametrize("fields", [{"part_of_day": None}, {"part_of_day": ""}, {"appointment_type": ""}])
def test_absent_part_of_day_and_type_take_their_defaults(join, fields):
    response = join(**fields)
    assert response.status_code == 201
    assert (response.get_json()["part_of_day"], response.get_json()["appointment_type"]) == ("any", "consultation")


def test_a_doctor_given_as_digits_is_that_doctor(join, world):
    assert join(doctor_id=str(world.rossi)).get_json()["doctor_id"] == world.rossi


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"specialty": "Pediatrics"}, "Choose a doctor or a specialty"),  # both
        ({"doctor_id": None}, "Choose a doctor or a specialty"),  # neither
        ({"doctor_id": "", "specialty": ""}, "Choose a doctor or a specialty"),
        ({"from_date": None}, "Missing required fields"),
        ({"to_date": ""}, "Missing required fields"),
        ({"from_date": None, "to_date": None, "doctor_id": None}, "Missing required fields"),
        (days(1, 61), "Choose at most 60 days"),
        (days(7, 6), "The last day comes before the first"),
        (days(-1, 6), "The first day cannot be in the past"),
        ({"from_date": (HORIZON - timedelta(days=5)).isoformat(), "to_date": (HORIZON + timedelta(days=1)).isoformat()},
         "The last day is beyond the booking horizon"),
        ({"from_date": "10/03/2027"}, "Invalid date format (YYYY-MM-DD)"),
        ({"to_date": 20270317}, "Invalid date format (YYYY-MM-DD)"),
        ({"part_of_day": "evening"}, "Choose a part of the day: morning, afternoon, any"),
        ({"part_of_day": ["morning"]}, "Choose a part of the day: morning, afternoon, any"),
        ({"part_of_day": {"morning": True}}, "Choose a part of the day: morning, afternoon, any"),
        ({"doctor_id": 999999}, "Doctor not found"),
        ({"doctor_id": 2**31}, "Doctor not found"),
        ({"doctor_id": "abc"}, "Doctor not found"),
        ({"doctor_id": True}, "Doctor not found"),
        ({"doctor_id": None, "specialty": "Cardiology"}, "No doctor of this specialty"),
        ({"doctor_id": None, "specialty": "Dermatology"}, "No doctor of this specialty"),  # only an inactive one
        ({"doctor_id": None, "specialty": ["Pediatrics"]}, "No doctor of this specialty"),
        ({"appointment_type": "massage"}, "Invalid appointment type"),
        ({"appointment_type": 7}, "Invalid appointment type"),
        ({"appointment_type": []}, "Invalid appointment type"),
        ({"appointment_type": False}, "Invalid appointment type"),
    ],
)
def test_each_rule_refuses_with_its_message_and_stores_nothing(app, join, fields, message):
    response = join(**fields)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}
    assert entries(app) == []


def test_an_inactive_doctor_is_not_found(app, join, world):
    response = join(doctor_id=world.retired)
    assert response.status_code == 400 and response.get_json() == {"error": "Doctor not found"}
    assert entries(app) == []


def test_the_horizon_and_the_range_are_inclusive(join):
    assert join(**days(1, 60), part_of_day="morning").status_code == 201  # 60 days
    assert join(**days(40, 90), part_of_day="afternoon").status_code == 201  # the horizon's last day


def test_a_fourth_waiting_entry_is_refused_until_one_is_left(app, client, join, world):
    first, *_ = [join(part_of_day=part, appointment_type=kind).get_json()
                 for part, kind in (("morning", None), ("afternoon", None), ("any", "therapy"))]
    response = join(doctor_id=None, specialty="Pediatrics")
    assert response.status_code == 400 and response.get_json() == TOO_MANY
    assert len(entries(app)) == 3
    # Another patient has their own three.
    assert join(headers=world.ben_headers).status_code == 201
    # Leaving one makes room.
    assert client.delete(f"/v1/waitlist/{first['id']}", headers=world.headers).status_code == 200
    assert join(doctor_id=None, specialty="Pediatrics").status_code == 201


def test_waiting_again_for_some_of_the_same_is_refused(app, join, world):
    assert join(**days(1, 7)).status_code == 201
    again = join(**days(5, 12), part_of_day="morning")
    assert again.status_code == 400 and again.get_json() == {
        "error": "You are already waiting for this on some of these days: leave that entry first to change it"}
    assert len(entries(app)) == 1


def test_only_patients_join_the_waitlist(app, client, join, make_doctor, make_user, bearer):
    with app.app_context():
        doctor_login = db.session.get(Doctor, make_doctor(name="Dr. Staff", with_user=True)).user_id
    for user_id in (doctor_login, make_user(role="reception", email="desk@example.com")):
        headers = bearer(user_id)
        response = join(headers=headers)
        assert response.status_code == 400 and response.get_json() == {"error": "Only patients join the waitlist"}
        assert mine(client, headers) == []
        leave = client.delete("/v1/waitlist/1", headers=headers)
        assert leave.status_code == 400 and leave.get_json() == NOT_FOUND
    assert entries(app) == []


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"data": "doctor_id=1&from_date=2027-03-11", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({}, 415),
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"json": [1, 2, 3]}, 400),
        ({"json": "a string"}, 400),
        ({"data": "null", "content_type": "application/json"}, 400),
        ({"json": {"specialty": "Pedi\u0000atrics"}}, 400),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_clear_4xx(app, client, world, kwargs, status):
    response = client.post("/v1/waitlist", headers=world.headers, **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert entries(app) == []


@pytest.mark.parametrize("method, path", [("post", "/v1/waitlist"), ("get", "/v1/waitlist/me"),
                                          ("delete", "/v1/waitlist/1")])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Token x"])
def test_every_waitlist_endpoint_needs_the_jwt(client, world, method, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = getattr(client, method)(path, json={**days(1, 7), "doctor_id": world.rossi}
                                       if method == "post" else None, headers=headers)
    assert response.status_code == 401 and response.get_json() == AUTH_REQUIRED


# ---------------------------------------------------------------------------------------------
# The list, and leaving


def test_my_list_is_my_waiting_entries_in_joining_order(app, client, clock, bearer, join, world):
    assert mine(client, world.headers) == []
    later = join(**days(5, 9)).get_json()
    soon = join(doctor_id=None, specialty="Pediatrics", **days(0, 1)).get_json()
    join(headers=world.ben_headers)  # Ben's own
    listed = mine(client, world.headers)
    assert [e["id"] for e in listed] == [later["id"], soon["id"]]  # joining order, not by date
    assert listed == [later, soon]
    [bens] = mine(client, world.ben_headers)
    assert bens["id"] not in (later["id"], soon["id"])
    # An entry whose last day has passed is not waiting any more.
    clock.set(instant(TODAY + timedelta(days=2), "08:00"))
    assert mine(client, bearer(world.ana)) == [later]


def test_leaving_answers_with_the_entry_and_it_is_gone(app, client, join, world):
    kept = join(part_of_day="morning").get_json()
    left = join(part_of_day="afternoon").get_json()
    response = client.delete(f"/v1/waitlist/{left['id']}", headers=world.headers)
    assert response.status_code == 200
    assert response.get_json() == {**left, "status": "left"}
    assert mine(client, world.headers) == [kept]
    again = client.delete(f"/v1/waitlist/{left['id']}", headers=world.headers)
    assert again.status_code == 400 and again.get_json() == NOT_FOUND
    assert entries(app) == [(world.ana, world.rossi, None, "active"), (world.ana, world.rossi, None, "left")]
    with app.app_context():
        assert db.session.get(WaitlistEntry, left["id"]).ended_at == NOW


def test_leaving_someone_elses_or_a_missing_entry_looks_the_same(app, client, join, world):
    anas = join().get_json()
    for entry_id in (anas["id"], anas["id"] + 1000, 2**31 - 1, 2**31, 10**30):
        response = client.delete(f"/v1/waitlist/{entry_id}", headers=world.ben_headers)
        assert response.status_code == 400 and response.get_json() == NOT_FOUND
    assert entries(app) == [(world.ana, world.rossi, None, "active")]
    assert mine(client, world.headers) == [anas]


@pytest.mark.parametrize("path", ["/v1/waitlist/-1", "/v1/waitlist/abc", "/v1/waitlist/1.5", "/v1/waitlist/"])
def test_a_malformed_entry_id_is_a_json_4xx(client, world, path):
    response = client.delete(path, headers=world.headers)
    assert 400 <= response.status_code < 500
    assert set(response.get_json()) == {"error"}


# ---------------------------------------------------------------------------------------------
# Two joins at once: the limit of three holds


@pytest.mark.concurrency
def test_two_joins_at_once_of_the_third_and_fourth_entry_leave_three(committing_app, clock):
    """Each round a patient with two entries joins twice at the same instant, each request with
    its own connection and real commits: one is the third, the other is refused, never a fourth."""
    app, rounds = committing_app, 4
    clock.set(NOW)
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctor = Doctor(display_name="Dr. Busy", specialty="General Practice",
                        weekly_hours=[WeeklyHours(weekday=0, start_minute=540, end_minute=780)])
        patients = [User(email=f"p{n}@example.com", full_name=f"Patient {n}", role="patient") for n in range(rounds)]
        for patient in patients:
            patient.set_password(PASSWORD)
        db.session.add_all([doctor, *patients])
        db.session.flush()
        for patient in patients:
            db.session.add_all([WaitlistEntry(patient_id=patient.id, doctor_id=doctor.id,
                                              appointment_type="consultation", from_date=TODAY,
                                              to_date=TODAY + timedelta(days=n), part_of_day="any", status="active",
                                              created_at=NOW) for n in (1, 2)])
        db.session.commit()
        doctor_id, patient_ids = doctor.id, [p.id for p in patients]
        jwts = [tokens.create_jwt(p, now=clinic.now()) for p in patients]

    def join(jwt, part_of_day):
        return lambda: app.test_client().post("/v1/waitlist", headers={"Authorization": f"Bearer {jwt}"}, json={
            "doctor_id": doctor_id, **days(3, 9), "part_of_day": part_of_day})

    for patient_id, jwt in zip(patient_ids, jwts):
        answers = race(join(jwt, "morning"), join(jwt, "afternoon"))
        assert sorted(answer.status_code for answer in answers) == [201, 400]
        [refused] = [answer for answer in answers if answer.status_code == 400]
        assert refused.get_json() == TOO_MANY
        with app.app_context():
            waiting = db.session.scalar(select(func.count(WaitlistEntry.id)).where(
                WaitlistEntry.patient_id == patient_id, WaitlistEntry.status == "active"))
        assert waiting == 3
