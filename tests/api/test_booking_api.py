"""The booking API (seed 002, DESIGN.md sections 6, 7 and 10) as an API client sees it.

Every test talks HTTP to the app (register, login, JWT, doctors, slots, book, my bookings,
cancel) and checks what the client receives: status, JSON body, the email the patient gets, and
where the promise is about storage (nothing created on a refusal), the database.
"""
import io
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import jwt
import pytest
from sqlalchemy import func, select

from clinica_web import worker
from clinica_web.extensions import db
from clinica_web.models import Appointment, AppointmentChange, AppointmentType, Doctor, User, WeeklyHours
from clinica_web.services import tokens
from tests.conftest import PASSWORD, TEST_NOW, TODAY, TZ_NAME, instant, next_weekday, race

SECRET = "test-secret-key-of-at-least-32-bytes"  # tests/conftest.py base_config
TZ = ZoneInfo(TZ_NAME)
MONDAY = next_weekday(0, weeks=1)  # a Monday 8 to 14 days away: well inside the 90-day horizon
TUESDAY = MONDAY + timedelta(days=1)
SATURDAY = MONDAY + timedelta(days=5)
INSTANT_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
AUTH_REQUIRED = {"error": "Authentication required"}
BOOKING_FIELDS = {"id", "doctor_id", "doctor_name", "specialty", "user_id", "date", "time", "duration", "status",
                  "appointment_type", "scheduled_at", "created_at", "confirmed_at", "clash"}


def utc_text(day: date, hhmm: str) -> str:
    """The clinic API's instant for a local date and time, worked out here without the app."""
    local = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=TZ)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def calendar_text(message) -> str:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part.get_payload(decode=True).decode()


@pytest.fixture
def doctor_id(make_doctor):
    return make_doctor()


@pytest.fixture
def patient_id(make_user):
    return make_user(email="ana@example.com", full_name="Ana Torres")


@pytest.fixture
def headers(bearer, patient_id):
    return bearer(patient_id)


@pytest.fixture
def book(client, headers, doctor_id):
    """POST /v1/bookings with the default fields (doctor, MONDAY 09:00) overridden by `fields`."""

    def post(headers=headers, **fields):
        body = {"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "09:00", **fields}
        return client.post("/v1/bookings", json=body, headers=headers)

    return post


def slots(client, headers, **params):
    return client.get("/v1/bookings/available-slots", query_string=params, headers=headers)


# ---------------------------------------------------------------------------------------------
# Register


def test_register_answers_with_the_new_account(client, app):
    response = client.post("/v1/auth/register",
                           json={"email": "  New.Patient@Example.COM ", "password": PASSWORD, "full_name": "Nia Ruiz"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "email", "full_name"}
    assert body["email"] == "new.patient@example.com" and body["full_name"] == "Nia Ruiz"
    with app.app_context():
        user = db.session.get(User, body["id"])
        assert (user.email, user.role) == ("new.patient@example.com", "patient")
        assert PASSWORD not in user.password_hash
    # The new account can log in at once.
    login = client.post("/v1/auth/login", json={"email": "new.patient@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.get_json()["user"]["id"] == body["id"]


@pytest.mark.parametrize("email", ["ana@example.com", "ANA@Example.com", " Ana@EXAMPLE.com "])
def test_register_duplicate_email_in_any_case(client, patient_id, count, email):
    before = count(User)
    response = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "full_name": "Other"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "Email already exists"}
    assert count(User) == before


@pytest.mark.parametrize(
    "body, message",
    [
        ({"password": PASSWORD, "full_name": "Nia"}, "Missing required fields"),
        ({"email": "", "password": PASSWORD, "full_name": "Nia"}, "Missing required fields"),
        ({"email": "nia@example.com", "full_name": "Nia"}, "Missing required fields"),
        ({"email": "nia@example.com", "password": PASSWORD}, "Missing required fields"),
        ({"email": "nia@example.com", "password": PASSWORD, "full_name": None}, "Missing required fields"),
        ({}, "Missing required fields"),
        ({"email": "not-an-email", "password": PASSWORD, "full_name": "Nia"}, "Enter a valid email address"),
        ({"email": "nia@", "password": PASSWORD, "full_name": "Nia"}, "Enter a valid email address"),
        ({"email": 12345, "password": PASSWORD, "full_name": "Nia"}, "Enter a valid email address"),
        ({"email": "nia@example.com", "password": "short", "full_name": "Nia"}, "A password has 8 to 200 characters"),
        ({"email": "nia@example.com", "password": "x" * 201, "full_name": "Nia"},
         "A password has 8 to 200 characters"),
        ({"email": "nia@example.com", "password": 123456789, "full_name": "Nia"},
         "A password has 8 to 200 characters"),
        ({"email": "nia@example.com", "password": PASSWORD, "full_name": "   "}, "Enter your full name"),
        ({"email": "nia@example.com", "password": PASSWORD, "full_name": ["Nia"]}, "Enter your full name"),
        ({"email": "nia@example.com", "password": PASSWORD, "full_name": "Nia\u0007Ruiz"},
         "A name has at most 120 printable characters"),
        ({"email": "nia@example.com", "password": PASSWORD, "full_name": "N" * 121},
         "A name has at most 120 printable characters"),
    ],
)
def test_register_bad_input_creates_no_user(client, count, body, message):
    response = client.post("/v1/auth/register", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}
    assert count(User) == 0


def test_register_needs_a_json_object(client, count):
    form = client.post("/v1/auth/register", data={"email": "nia@example.com", "password": PASSWORD, "full_name": "N"})
    assert form.status_code == 415 and "error" in form.get_json()
    array = client.post("/v1/auth/register", json=["nia@example.com"])
    assert array.status_code == 400 and "error" in array.get_json()
    assert count(User) == 0


# ---------------------------------------------------------------------------------------------
# Login and the JWT


def test_login_answers_with_token_and_user(client, patient_id):
    response = client.post("/v1/auth/login", json={"email": "ANA@example.com", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "user"}
    assert body["user"] == {"id": patient_id, "email": "ana@example.com", "full_name": "Ana Torres", "role": "patient"}
    # The token works on the API at once.
    me = client.get("/v1/bookings/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ana@example.com", "password": "wrong-password-1"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"email": "ana@example.com"},
        {"password": PASSWORD},
        {"email": "ana@example.com", "password": 12345678},
        {"email": ["ana@example.com"], "password": PASSWORD},
        {},
    ],
)
def test_login_failures_all_look_the_same(client, patient_id, body):
    response = client.post("/v1/auth/login", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "Invalid credentials"}


def test_login_of_a_deactivated_account_is_refused(client, app, patient_id):
    with app.app_context():
        db.session.get(User, patient_id).active = False
        db.session.commit()
    response = client.post("/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 400 and response.get_json() == {"error": "Invalid credentials"}


def test_jwt_is_hs256_names_the_user_and_lasts_one_day(jwt_for, patient_id):
    token = jwt_for(patient_id)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    # Expiry is the app's to judge, on its clock (the "expired" case below); here, only the claims.
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims["sub"] == str(patient_id)
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert claims["iat"] == TEST_NOW.timestamp()


def _token(claims, key=SECRET, algorithm="HS256"):
    return jwt.encode(claims, key, algorithm=algorithm)


def _now():
    return int(TEST_NOW.timestamp())


BAD_AUTHORIZATION = {
    "no header": None,
    "empty": "",
    "bearer blank": "Bearer ",
    "bearer only": "Bearer",
    "garbage": "Bearer not.a.jwt",
    "random text": "Bearer abcdef",
    "another key": lambda uid: "Bearer " + _token({"sub": str(uid), "exp": _now() + 3600},
                                                  key="another-secret-key-of-at-least-32-bytes"),
    "alg none": lambda uid: "Bearer " + jwt.encode({"sub": str(uid), "exp": _now() + 3600}, None, algorithm="none"),
    "hs512": lambda uid: "Bearer " + _token({"sub": str(uid), "exp": _now() + 3600}, key=SECRET * 2,
                                            algorithm="HS512"),
    "no exp": lambda uid: "Bearer " + _token({"sub": str(uid), "iat": _now()}),
    "expired": lambda uid: "Bearer " + _token({"sub": str(uid), "iat": _now() - 90000, "exp": _now() - 5}),
    "no sub": lambda uid: "Bearer " + _token({"exp": _now() + 3600}),
    "unknown user": lambda uid: "Bearer " + _token({"sub": str(uid + 1000), "exp": _now() + 3600}),
    "sub not a number": lambda uid: "Bearer " + _token({"sub": "ana@example.com", "exp": _now() + 3600}),
    "huge sub": lambda uid: "Bearer " + _token({"sub": "9" * 40, "exp": _now() + 3600}),
    "sub past 32 bits": lambda uid: "Bearer " + _token({"sub": "9999999999", "exp": _now() + 3600}),
    "sub superscript": lambda uid: "Bearer " + _token({"sub": "\u00b2", "exp": _now() + 3600}),
    "sub arabic-indic": lambda uid: "Bearer " + _token({"sub": "\u0661", "exp": _now() + 3600}),
    "wrong scheme": lambda uid: "Token " + _token({"sub": str(uid), "exp": _now() + 3600}),
    "no scheme": lambda uid: _token({"sub": str(uid), "exp": _now() + 3600}),
}


@pytest.mark.parametrize("case", BAD_AUTHORIZATION)
def test_bad_or_missing_jwt_is_401(client, patient_id, case):
    value = BAD_AUTHORIZATION[case]
    value = value(patient_id) if callable(value) else value
    headers = {} if value is None else {"Authorization": value}
    response = client.get("/v1/bookings/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == AUTH_REQUIRED


def test_a_well_made_token_is_accepted(client, patient_id):
    """The forged-token cases above are refused for what they are, not because any hand-made
    token would be: one signed with the right key, with sub and exp, works."""
    token = _token({"sub": str(patient_id), "exp": _now() + 3600})
    response = client.get("/v1/bookings/me", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


# available-slots checks the token without loading the user (tokens.user_id_for_jwt): the same rules.
READS = ["/v1/bookings/me", "/v1/bookings/available-slots?doctor_id=1&date=2030-01-07"]


@pytest.mark.parametrize("path", READS)
def test_token_of_a_deactivated_user_stops_working(client, app, headers, patient_id, path):
    assert client.get(path, headers=headers).status_code != 401  # accepted, whatever the answer
    with app.app_context():
        db.session.get(User, patient_id).active = False
        db.session.commit()
    response = client.get(path, headers=headers)
    assert response.status_code == 401 and response.get_json() == AUTH_REQUIRED


@pytest.mark.parametrize("path", READS)
def test_token_from_before_a_password_change_stops_working(client, app, headers, patient_id, path):
    assert client.get(path, headers=headers).status_code != 401  # accepted, whatever the answer
    with app.app_context():
        db.session.get(User, patient_id).session_version += 1  # what a password change or reset does
        db.session.commit()
    response = client.get(path, headers=headers)
    assert response.status_code == 401 and response.get_json() == AUTH_REQUIRED


@pytest.mark.parametrize(
    "method, path",
    [("get", "/v1/bookings/available-slots?doctor_id=1&date=2030-01-07"), ("post", "/v1/bookings"),
     ("get", "/v1/bookings/me"), ("delete", "/v1/bookings/1")],
)
def test_every_booking_endpoint_needs_the_jwt(client, patient_id, method, path):
    response = getattr(client, method)(path, json={} if method == "post" else None)
    assert response.status_code == 401 and response.get_json() == AUTH_REQUIRED


def test_the_session_cookie_is_not_an_api_credential(client, auth, patient_id):
    assert auth.login("ana@example.com").status_code == 303  # logged in to the website
    response = client.get("/v1/bookings/me")
    assert response.status_code == 401 and response.get_json() == AUTH_REQUIRED


# ---------------------------------------------------------------------------------------------
# Doctors and free slots


def test_doctors_list_needs_no_auth_and_shows_only_active_doctors(client, make_doctor):
    rossi = make_doctor()
    bianchi = make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics")
    make_doctor(name="Dr. Gone", specialty="Cardiology", active=False)
    response = client.get("/v1/doctors")
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": rossi, "name": "Dr. Laura Rossi", "specialty": "General Practice"},
        {"id": bianchi, "name": "Dr. Marco Bianchi", "specialty": "Pediatrics"},
    ]


def test_available_slots_are_the_free_quarter_hours(client, headers, doctor_id):
    response = slots(client, headers, doctor_id=doctor_id, date=MONDAY.isoformat())
    assert response.status_code == 200
    times = response.get_json()
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in times)
    # 09:00-13:00 and 14:00-18:00, 30 minutes each (the default duration): 15 + 15 starts.
    assert times[:3] == ["09:00", "09:15", "09:30"] and times[-1] == "17:30"
    assert "12:30" in times and "12:45" not in times and "13:00" not in times and "14:00" in times
    assert len(times) == 30 and times == sorted(times)


@pytest.mark.parametrize("duration, expected_count, last_morning",
                         [("15", 32, "12:45"), ("60", 26, "12:00"), ("240", 2, "09:00"), ("", 30, "12:30")])
def test_available_slots_follow_the_duration(client, headers, doctor_id, duration, expected_count, last_morning):
    times = slots(client, headers, doctor_id=doctor_id, date=MONDAY.isoformat(), duration=duration).get_json()
    assert len(times) == expected_count
    assert max(t for t in times if t < "13:00") == last_morning


def test_available_slots_leave_out_booked_and_blocked_time(client, headers, doctor_id, make_appointment, make_user,
                                                           make_block):
    make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=MONDAY, hhmm="10:00")
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "15:00"), end=instant(MONDAY, "16:00"))
    times = slots(client, headers, doctor_id=doctor_id, date=MONDAY.isoformat()).get_json()
    assert {"09:45", "10:00", "10:15"}.isdisjoint(times)
    assert {"09:30", "10:30"} <= set(times)  # back to back is fine
    assert {"14:45", "15:00", "15:30"}.isdisjoint(times) and {"14:30", "16:00"} <= set(times)


def test_no_slots_on_a_day_off_in_the_past_or_beyond_the_horizon(client, headers, doctor_id):
    for day in (SATURDAY, TODAY - timedelta(days=7), TODAY + timedelta(days=120)):
        response = slots(client, headers, doctor_id=doctor_id, date=day.isoformat())
        assert response.status_code == 200 and response.get_json() == [], day


@pytest.mark.parametrize("day", ["0001-01-01", "1999-02-03", "2100-01-01", "9999-12-31"])
def test_days_long_past_or_far_ahead_have_no_slots_like_any_past_or_distant_day(client, headers, doctor_id, day):
    """Section 10 answers a past day or one beyond the horizon with []: so do the years the clinic
    does not deal in (they had a message of their own, not one of section 6's). An unknown doctor
    is still said to be one."""
    response = slots(client, headers, doctor_id=doctor_id, date=day)
    assert (response.status_code, response.get_json()) == (200, [])
    response = slots(client, headers, doctor_id=999999, date=day)
    assert (response.status_code, response.get_json()) == (400, {"error": "Doctor not found"})


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date": "MONDAY"}, "Missing required fields"),
        ({"doctor_id": "DOCTOR"}, "Missing required fields"),
        ({"doctor_id": "", "date": "MONDAY"}, "Missing required fields"),
        ({"doctor_id": "DOCTOR", "date": ""}, "Missing required fields"),
        ({"doctor_id": "DOCTOR", "date": "2026/11/30"}, "Invalid date format (YYYY-MM-DD)"),
        ({"doctor_id": "DOCTOR", "date": "2026-02-30"}, "Invalid date format (YYYY-MM-DD)"),
        ({"doctor_id": "DOCTOR", "date": "30-11-2026"}, "Invalid date format (YYYY-MM-DD)"),
        ({"doctor_id": "DOCTOR", "date": "tomorrow"}, "Invalid date format (YYYY-MM-DD)"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "0"}, "Invalid duration"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "481"}, "Invalid duration"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "-5"}, "Invalid duration"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "abc"}, "Invalid duration"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "1e3"}, "Invalid duration"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "30.5"}, "Invalid duration"),
        ({"doctor_id": "DOCTOR", "date": "MONDAY", "duration": "9" * 40}, "Invalid duration"),
        ({"doctor_id": "999999", "date": "MONDAY"}, "Doctor not found"),
        ({"doctor_id": "abc", "date": "MONDAY"}, "Doctor not found"),
        ({"doctor_id": "-1", "date": "MONDAY"}, "Doctor not found"),
        ({"doctor_id": "9" * 40, "date": "MONDAY"}, "Doctor not found"),
        ({"doctor_id": "INACTIVE", "date": "MONDAY"}, "Doctor not found"),
    ],
)
def test_available_slots_errors(client, headers, doctor_id, make_doctor, params, message):
    values = {"DOCTOR": str(doctor_id), "MONDAY": MONDAY.isoformat(), "INACTIVE": str(make_doctor(active=False))}
    params = {key: values.get(value, value) for key, value in params.items()}
    response = slots(client, headers, **params)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}


SUPERSCRIPT_TWO = "\u00b2"  # str.isdigit() says yes, int() says no


@pytest.mark.parametrize("param, message", [("duration", "Invalid duration"), ("doctor_id", "Doctor not found")])
def test_available_slots_with_a_superscript_digit(client, headers, doctor_id, param, message):
    params = {"doctor_id": doctor_id, "date": MONDAY.isoformat(), param: SUPERSCRIPT_TWO}
    response = slots(client, headers, **params)
    assert response.status_code == 400 and response.get_json() == {"error": message}


# ---------------------------------------------------------------------------------------------
# Booking


def test_booking_answers_with_the_booking(client, app, book, doctor_id, patient_id):
    response = book(time="09:00")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == BOOKING_FIELDS
    assert body == {
        "id": body["id"], "doctor_id": doctor_id, "doctor_name": "Dr. Laura Rossi", "specialty": "General Practice",
        "user_id": patient_id, "date": MONDAY.isoformat(), "time": "09:00", "duration": 30, "status": "scheduled",
        "appointment_type": "consultation", "scheduled_at": utc_text(MONDAY, "09:00"),
        "created_at": body["created_at"], "confirmed_at": None, "clash": None,
    }
    assert INSTANT_FORMAT.fullmatch(body["scheduled_at"]) and INSTANT_FORMAT.fullmatch(body["created_at"])
    created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert created == TEST_NOW
    with app.app_context():
        appointment = db.session.get(Appointment, body["id"])
        assert appointment.starts_at == instant(MONDAY, "09:00")
        assert appointment.patient_id == patient_id and appointment.status == "scheduled"


def test_scheduled_at_is_utc_of_the_local_time(book):
    """Santiago is UTC-3 in summer and UTC-4 in winter: 09:00 local is 12:00Z or 13:00Z the same
    day; the evening slot 17:30 is 20:30Z or 21:30Z."""
    morning, evening = book(time="09:00").get_json(), book(time="17:30").get_json()
    assert morning["scheduled_at"] == utc_text(MONDAY, "09:00")
    assert evening["scheduled_at"] == utc_text(MONDAY, "17:30")
    hours_behind = -datetime.combine(MONDAY, time(9), tzinfo=TZ).utcoffset() // timedelta(hours=1)
    assert hours_behind in (3, 4)
    assert morning["scheduled_at"].endswith(f"T{9 + hours_behind:02d}:00:00.000Z")
    assert evening["scheduled_at"].endswith(f"T{17 + hours_behind:02d}:30:00.000Z")


def test_booking_emails_the_patient_a_calendar_invitation(book, sent_mail):
    booked = book(time="10:30").get_json()
    [message] = sent_mail()
    assert message["To"] == "ana@example.com"
    ics = calendar_text(message)
    assert "METHOD:REQUEST" in ics and f"UID:appointment-{booked['id']}@" in ics


def test_a_booked_slot_is_taken(client, headers, book, doctor_id):
    assert book(time="11:00").status_code == 201
    times = slots(client, headers, doctor_id=doctor_id, date=MONDAY.isoformat()).get_json()
    assert {"10:45", "11:00", "11:15"}.isdisjoint(times) and {"10:30", "11:30"} <= set(times)


@pytest.mark.parametrize(
    "fields, duration, kind",
    [
        ({"appointment_type": "therapy"}, 60, "therapy"),
        ({"appointment_type": "follow_up"}, 15, "follow_up"),
        ({"appointment_type": "therapy", "duration": 45}, 45, "therapy"),
        ({"duration": 90}, 90, "consultation"),
        ({"duration": "30"}, 30, "consultation"),  # a digit string is read as the number
        ({"duration": None}, 30, "consultation"),
        ({"doctor_id": "DOCTOR"}, 30, "consultation"),  # so is the doctor's id as a string
    ],
)
def test_duration_and_type(book, doctor_id, fields, duration, kind):
    if fields.get("doctor_id") == "DOCTOR":
        fields = {**fields, "doctor_id": str(doctor_id)}
    response = book(time="14:00", **fields)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["duration"], body["appointment_type"], body["doctor_id"]) == (duration, kind, doctor_id)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"doctor_id": None}, "Missing required fields"),
        ({"date": ""}, "Missing required fields"),
        ({"time": None}, "Missing required fields"),
        ({"doctor_id": None, "date": None, "time": None}, "Missing required fields"),
        ({"date": "2026/11/30"}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": "2026-02-30"}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": "30-11-2026"}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": 20261130}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": ["2026-11-30"]}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": "{monday}T09:00"}, "Invalid date format (YYYY-MM-DD)"),
        ({"time": "9:00"}, "Invalid time format (HH:MM)"),
        ({"time": "24:00"}, "Invalid time format (HH:MM)"),
        ({"time": "09:60"}, "Invalid time format (HH:MM)"),
        ({"time": "09:00:00"}, "Invalid time format (HH:MM)"),
        ({"time": "9am"}, "Invalid time format (HH:MM)"),
        ({"time": 900}, "Invalid time format (HH:MM)"),
        ({"time": 9.0}, "Invalid time format (HH:MM)"),
        ({"time": "\u0660\u0669:\u0660\u0660"}, "Invalid time format (HH:MM)"),  # Arabic-Indic digits
        ({"time": "0\u0669:3\u0660"}, "Invalid time format (HH:MM)"),  # some of them (the first must be 0-2)
        ({"duration": 0}, "Invalid duration"),
        ({"duration": 481}, "Invalid duration"),
        ({"duration": -5}, "Invalid duration"),
        ({"duration": "abc"}, "Invalid duration"),
        ({"duration": "1e3"}, "Invalid duration"),
        ({"duration": 1e3}, "Invalid duration"),
        ({"duration": 30.5}, "Invalid duration"),
        ({"duration": True}, "Invalid duration"),
        ({"duration": 10**30}, "Invalid duration"),
        ({"duration": [30]}, "Invalid duration"),
        ({"doctor_id": 999999}, "Doctor not found"),
        ({"doctor_id": "abc"}, "Doctor not found"),
        ({"doctor_id": 10**30}, "Doctor not found"),
        ({"doctor_id": -1}, "Doctor not found"),
        ({"doctor_id": True}, "Doctor not found"),
        ({"doctor_id": 1.5}, "Doctor not found"),
        ({"doctor_id": {"id": 1}}, "Doctor not found"),
        ({"date": "{yesterday}"}, "Date must be in the future"),
        ({"date": "{last_monday}", "time": "10:00"}, "Date must be in the future"),
        ({"date": "{beyond}"}, "Date is beyond the booking horizon"),
        ({"date": "{saturday}"}, "Doctor not available on this day"),
        ({"time": "08:45"}, "Outside doctor availability"),
        ({"time": "12:45"}, "Outside doctor availability"),  # ends 13:15, after the morning window
        ({"time": "13:00"}, "Outside doctor availability"),
        ({"time": "17:45"}, "Outside doctor availability"),
        ({"time": "09:10"}, "Outside doctor availability"),  # off the 15-minute grid
        ({"time": "09:00", "duration": 300}, "Outside doctor availability"),
        ({"time": "15:00"}, "Time blocked by doctor"),
        ({"time": "15:45"}, "Time blocked by doctor"),  # runs into the block
        ({"time": "10:15"}, "Time slot overlaps with another booking"),
        ({"time": "09:45"}, "Time slot overlaps with another booking"),  # runs into the 10:00 booking
        ({"time": "11:00"}, "You already have a booking at this time"),  # with the other doctor
        ({"appointment_type": "massage"}, "Invalid appointment type"),
        ({"appointment_type": 5}, "Invalid appointment type"),
        ({"appointment_type": []}, "Invalid appointment type"),  # no type's name, not "the default"
        ({"appointment_type": {}}, "Invalid appointment type"),
        ({"appointment_type": 0}, "Invalid appointment type"),
        ({"appointment_type": False}, "Invalid appointment type"),
        ({"notes": 5}, "Invalid notes"),
        ({"notes": ["hi"]}, "Invalid notes"),
        ({"notes": []}, "Invalid notes"),
        ({"notes": {}}, "Invalid notes"),
        ({"notes": False}, "Invalid notes"),
    ],
)
def test_each_rule_refuses_with_its_message_and_books_nothing(
    book, count, outbox_count, sent_mail, doctor_id, make_doctor, make_user, make_appointment, make_block, fields,
    message,
):
    # The state the rules are checked against: another patient at 10:00, blocks 15:00-15:30 and
    # 16:00-17:00, and the caller already booked with another doctor at 11:00.
    make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=MONDAY, hhmm="10:00")
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "16:00"), end=instant(MONDAY, "17:00"))
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "15:00"), end=instant(MONDAY, "15:30"))
    other = make_doctor(name="Dr. Other", specialty="Dermatology")
    assert book(doctor_id=other, time="11:00").status_code == 201
    mails, rows, emails = len(sent_mail()), count(Appointment), outbox_count()

    last_monday = next_weekday(0, after=TODAY - timedelta(days=8))
    days = {"monday": MONDAY, "yesterday": TODAY - timedelta(days=1), "last_monday": last_monday,
            "beyond": TODAY + timedelta(days=91), "saturday": SATURDAY}
    fields = {key: value.format(**days) if isinstance(value, str) else value for key, value in fields.items()}

    response = book(**fields)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}
    assert count(Appointment) == rows and outbox_count() == emails and len(sent_mail()) == mails


@pytest.mark.parametrize("field, message", [("duration", "Invalid duration"), ("doctor_id", "Doctor not found")])
def test_booking_with_a_superscript_digit(book, count, field, message):
    response = book(**{field: SUPERSCRIPT_TWO})
    assert response.status_code == 400 and response.get_json() == {"error": message}
    assert count(Appointment) == 0


def test_an_inactive_doctor_is_not_found(book, make_doctor, count):
    response = book(doctor_id=make_doctor(name="Dr. Gone", active=False))
    assert response.status_code == 400 and response.get_json() == {"error": "Doctor not found"}
    assert count(Appointment) == 0


def test_rules_are_checked_in_design_order(book):
    """Several things wrong at once: the first rule of the table answers."""
    assert book(date="bad", time="bad", duration=0).get_json() == {"error": "Invalid date format (YYYY-MM-DD)"}
    assert book(time="bad", duration=0, doctor_id=999999).get_json() == {"error": "Invalid time format (HH:MM)"}
    assert book(duration=0, doctor_id=999999).get_json() == {"error": "Invalid duration"}
    assert book(doctor_id=999999, date=SATURDAY.isoformat()).get_json() == {"error": "Doctor not found"}
    past_saturday = (next_weekday(5, after=TODAY - timedelta(days=8))).isoformat()
    assert book(date=past_saturday).get_json() == {"error": "Date must be in the future"}


def test_a_doctor_cannot_book_for_themselves(client, book, make_doctor, bearer, app):
    """A staff login gets a JWT too, but bookings are made for patient accounts."""
    staff_doctor = make_doctor(name="Dr. Staff", with_user=True)
    with app.app_context():
        user_id = db.session.get(Doctor, staff_doctor).user_id
    response = book(headers=bearer(user_id))
    assert response.status_code == 400
    assert response.get_json() == {"error": "Appointments are booked for patient accounts"}


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"data": "doctor_id=1&date=2030-01-07&time=09:00",
          "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": '{"doctor_id": 1}', "content_type": "text/plain"}, 415),
        ({}, 415),  # no body and no content type
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": "", "content_type": "application/json"}, 400),
        ({"data": b"\xff\xfe\x00", "content_type": "application/json"}, 400),
        ({"json": [1, 2, 3]}, 400),
        ({"json": "a string"}, 400),
        ({"data": "null", "content_type": "application/json"}, 400),
        ({"json": 42}, 400),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_clear_4xx(client, headers, count, kwargs, status):
    response = client.post("/v1/bookings", headers=headers, **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert count(Appointment) == 0


@pytest.mark.parametrize(
    "notes",
    ["Dolor de rodilla \U0001f9b5\U0001f915", "\u05e9\u05dc\u05d5\u05dd \u202eevil\u202c",
     "\u0645\u0631\u062d\u0628\u0627", "e\u0301\u00e9 \ufeff zero\u200bwidth", "\U0010ffff", "line one\nline two",
     "bell\x07 and esc\x1b[31m", "x" * 2000],
    ids=["emoji", "rtl-override", "arabic", "combining-bom-zwsp", "last-code-point", "newline", "controls",
         "2000-chars"],
)
def test_odd_unicode_notes_are_stored_as_given(client, app, book, headers, notes):
    response = book(notes=notes)
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert db.session.get(Appointment, response.get_json()["id"]).notes == notes
    # ... and read back through the API unharmed (JSON escapes them; nothing is mangled on the way).
    assert client.get("/v1/bookings/me", headers=headers).status_code == 200


def test_notes_longer_than_the_form_allows_are_refused(book, count, outbox_count):
    response = book(notes="x" * 2001)
    assert response.status_code == 400 and response.get_json() == {"error": "A note has at most 2000 characters"}
    assert count(Appointment) == 0 and outbox_count() == 0


UNUSABLE_TEXT = {"error": "Text must not contain NUL characters or unpaired surrogates"}
BOOK = '{"doctor_id": DOCTOR, "date": "MONDAY", "time": "09:00", %s}'


@pytest.mark.parametrize(
    "path, raw",
    [
        ("/v1/bookings", BOOK % '"notes": "nul\\u0000byte"'),
        ("/v1/bookings", BOOK % '"notes": "\\u0000"'),
        ("/v1/bookings", BOOK % '"notes": "lone \\ud800 surrogate"'),
        ("/v1/bookings", BOOK % '"notes": "\\udfff"'),
        ("/v1/bookings", BOOK % '"appointment_type": "therapy\\u0000"'),
        ("/v1/bookings", BOOK % '"extra\\u0000key": 1'),
        ("/v1/bookings", BOOK % '"extra": [{"deep": ["\\ud800"]}]'),
        ("/v1/bookings", '{"doctor_id": DOCTOR, "date": "MONDAY\\u0000", "time": "09:00"}'),
        ("/v1/auth/register", '{"email": "nia@example.com", "password": "long-enough\\ud800", "full_name": "Nia"}'),
        ("/v1/auth/register", '{"email": "nia\\u0000@example.com", "password": "long-enough-1", "full_name": "Nia"}'),
        ("/v1/auth/register", '{"email": "nia@example.com", "password": "long-enough-1", "full_name": "Nia\\u0000"}'),
        ("/v1/auth/login", '{"email": "ana@example.com", "password": "correct-horse-9\\ud800"}'),
        ("/v1/auth/login", '{"email": "ana\\ud800@example.com", "password": "correct-horse-9"}'),
        ("/v1/auth/login", '{"email": "ana@example.com\\u0000", "password": "correct-horse-9"}'),
    ],
)
def test_text_no_database_can_store_is_refused_cleanly(client, headers, doctor_id, count, path, raw):
    """NUL (PostgreSQL refuses it) and unpaired surrogates (valid JSON escapes, but not UTF-8):
    a 400 that says so, on both databases, instead of a database or encoding error."""
    users, appointments = count(User), count(Appointment)
    raw = raw.replace("DOCTOR", str(doctor_id)).replace("MONDAY", MONDAY.isoformat())
    response = client.post(path, data=raw, content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert response.get_json() == UNUSABLE_TEXT
    assert (count(User), count(Appointment)) == (users, appointments)


@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 5000 + "1" + "}" * 5000],
                         ids=["arrays", "objects"])
def test_absurdly_nested_json_is_a_400(client, headers, raw):
    for path in ("/v1/bookings", "/v1/auth/login"):
        response = client.post(path, data=raw, content_type="application/json", headers=headers)
        assert response.status_code == 400, path
        assert response.get_json() == {"error": "Request body must be valid JSON"}


@pytest.mark.parametrize("raw, message", [("null", "Request body must be a JSON object"),
                                          (" [1] ", "Request body must be a JSON object"),
                                          ("nul", "Request body must be valid JSON")])
def test_json_that_is_not_an_object_is_named_as_such(client, headers, raw, message):
    response = client.post("/v1/bookings", data=raw, content_type="application/json", headers=headers)
    assert (response.status_code, response.get_json()) == (400, {"error": message})


# ---------------------------------------------------------------------------------------------
# My bookings


def test_my_bookings_are_mine_ordered_by_date_and_time(client, book, headers, make_user, make_appointment,
                                                       doctor_id, make_doctor, patient_id):
    later = book(date=TUESDAY.isoformat(), time="09:00").get_json()
    afternoon = book(time="14:30").get_json()
    morning = book(time="09:15").get_json()
    other_doctor = make_doctor(name="Dr. Other", specialty="Dermatology")
    evening = book(doctor_id=other_doctor, time="17:00").get_json()
    make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=MONDAY, hhmm="10:00")  # someone else's

    response = client.get("/v1/bookings/me", headers=headers)
    assert response.status_code == 200
    mine = response.get_json()
    assert [b["id"] for b in mine] == [morning["id"], afternoon["id"], evening["id"], later["id"]]
    assert all(set(b) == BOOKING_FIELDS and b["user_id"] == patient_id for b in mine)
    assert mine[0] == morning


def test_another_patient_sees_only_their_own(client, book, make_user, bearer):
    book(time="09:00")
    ben = make_user(email="ben@example.com")
    response = client.get("/v1/bookings/me", headers=bearer(ben))
    assert response.status_code == 200 and response.get_json() == []


# ---------------------------------------------------------------------------------------------
# Cancel


def test_cancel_frees_the_slot_and_emails_the_patient(client, app, book, headers, doctor_id, sent_mail, make_user,
                                                      bearer):
    booked = book(time="11:00").get_json()
    response = client.delete(f"/v1/bookings/{booked['id']}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"message": "Booking cancelled successfully"}

    [me] = client.get("/v1/bookings/me", headers=headers).get_json()
    assert me["id"] == booked["id"] and me["status"] == "cancelled"  # kept, as cancelled
    assert "11:00" in slots(client, headers, doctor_id=doctor_id, date=MONDAY.isoformat()).get_json()
    # Someone else can book the freed slot at once.
    assert book(headers=bearer(make_user()), time="11:00").status_code == 201

    booked_mail, cancel_mail = sent_mail()[:2]
    assert cancel_mail["To"] == "ana@example.com"
    ics = calendar_text(cancel_mail)
    assert "METHOD:CANCEL" in ics and "SEQUENCE:1" in ics
    uid = f"UID:appointment-{booked['id']}@"
    assert uid in ics and uid in calendar_text(booked_mail)
    with app.app_context():
        kinds = db.session.scalars(select(AppointmentChange.kind)
                                   .where(AppointmentChange.appointment_id == booked["id"])
                                   .order_by(AppointmentChange.id)).all()
        assert kinds == ["booked", "cancelled"]


def test_cancelling_someone_elses_or_a_missing_booking_looks_the_same(
        client, book, make_user, bearer, appointment_row, sent_mail):
    booked = book(time="11:00").get_json()
    before, mails = appointment_row(booked["id"]), len(sent_mail())
    ben = bearer(make_user(email="ben@example.com"))
    answers = [client.delete(f"/v1/bookings/{booking_id}", headers=ben)
               for booking_id in (booked["id"], booked["id"] + 1000, 2**31 - 1, 2**31, 10**30)]
    for response in answers:
        assert response.status_code == 400
        assert response.get_json() == {"error": "Booking not found or unauthorized"}
    assert appointment_row(booked["id"]) == before and len(sent_mail()) == mails


@pytest.mark.parametrize("path", ["/v1/bookings/-1", "/v1/bookings/abc", "/v1/bookings/1.5", "/v1/bookings/"])
def test_a_malformed_booking_id_is_a_json_4xx(client, headers, path):
    response = client.delete(path, headers=headers)
    assert 400 <= response.status_code < 500
    assert set(response.get_json()) == {"error"}


def test_a_booking_cannot_be_cancelled_twice_or_after_it_started(client, book, headers, make_appointment, doctor_id,
                                                                 patient_id, sent_mail):
    booked = book(time="11:00").get_json()
    assert client.delete(f"/v1/bookings/{booked['id']}", headers=headers).status_code == 200
    mails = len(sent_mail())
    refused = {"error": "Only upcoming scheduled bookings can be cancelled"}
    again = client.delete(f"/v1/bookings/{booked['id']}", headers=headers)
    assert again.status_code == 400 and again.get_json() == refused

    past = make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=TODAY - timedelta(days=3), hhmm="10:00")
    late = client.delete(f"/v1/bookings/{past}", headers=headers)
    assert late.status_code == 400 and late.get_json() == refused
    assert len(sent_mail()) == mails
    statuses = {b["id"]: b["status"] for b in client.get("/v1/bookings/me", headers=headers).get_json()}
    assert statuses == {booked["id"]: "cancelled", past: "scheduled"}


def test_unknown_api_path_and_wrong_method_are_json(client, headers):
    missing = client.get("/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and set(missing.get_json()) == {"error"}
    wrong = client.put("/v1/bookings/me", headers=headers, json={})
    assert wrong.status_code == 405 and set(wrong.get_json()) == {"error"}
    assert wrong.headers["Allow"] == "GET"  # what the address does take
    # Each API answers in its own format (its own blueprint's handlers, no URL-prefix checks); a
    # page's missing address is an HTML page.
    assert set(client.get("/v1/clinic/nothing-here").get_json()) == {"errors"}
    assert set(client.post("/v1/clinic/availability/explain").get_json()) == {"errors"}
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html" and "There is nothing at this address." in page.text


# ---------------------------------------------------------------------------------------------
# Cancelling with a reason, and the change cutoff (DESIGN.md section 15)

TOO_LATE = {"error": "Too late to change this booking online; please call the clinic"}


def test_cancel_takes_an_optional_reason_and_note(app, client, book, headers, sent_mail):
    booked = book().get_json()
    response = client.delete(f"/v1/bookings/{booked['id']}", headers=headers,
                             json={"reason": "feeling_better", "note": "Much better today"})
    assert response.status_code == 200
    with app.app_context():
        row = db.session.get(Appointment, booked["id"])
        assert (row.status, row.cancel_reason_code, row.cancel_reason) == ("cancelled", "feeling_better",
                                                                           "Much better today")
        change = db.session.scalars(select(AppointmentChange).where(
            AppointmentChange.appointment_id == booked["id"]).order_by(AppointmentChange.id.desc())).first()
        assert change.reason == "Feeling better: Much better today"
    assert all("Much better" not in message.as_string() for message in sent_mail())  # never in emails
    plain = book(time="10:00").get_json()
    assert client.delete(f"/v1/bookings/{plain['id']}", headers=headers).status_code == 200  # no body: "other"
    with app.app_context():
        assert db.session.get(Appointment, plain["id"]).cancel_reason_code == "other"


@pytest.mark.parametrize("body, message", [
    ({"reason": "doctor_unavailable"}, "Choose a reason: feeling_better, cannot_attend, booked_by_mistake, "
                                       "found_another_time, other"),
    ({"reason": 3}, "Choose a reason: "),
    ({"reason": ""}, "Choose a reason: "),
    ({"reason": False}, "Choose a reason: "),
    ({"reason": "other", "note": "x" * 501}, "A note has at most 500 characters"),
    ({"reason": "other", "note": ["a list"]}, "Write the note as text"),
    ({"reason": "other", "note": {}}, "Write the note as text"),
])
def test_cancel_refuses_a_reason_patients_do_not_have(app, client, book, headers, body, message):
    booked = book().get_json()
    response = client.delete(f"/v1/bookings/{booked['id']}", headers=headers, json=body)
    assert response.status_code == 400 and response.get_json()["error"].startswith(message)
    with app.app_context():
        assert db.session.get(Appointment, booked["id"]).status == "scheduled"


def test_a_chunked_cancel_body_is_read_like_any_other(app, client, book, headers):
    """Without a Content-Length (Transfer-Encoding: chunked) the reason and note were dropped."""
    booked = book().get_json()
    body = b'{"reason": "cannot_attend", "note": "Away that week"}'
    response = client.delete(f"/v1/bookings/{booked['id']}", input_stream=io.BytesIO(body),
                             headers={**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                             environ_overrides={"wsgi.input_terminated": True})  # as gunicorn passes it on, decoded
    assert response.status_code == 200
    with app.app_context():
        row = db.session.get(Appointment, booked["id"])
        assert (row.status, row.cancel_reason_code, row.cancel_reason) == (
            "cancelled", "cannot_attend", "Away that week")


def test_inside_the_cutoff_a_patient_cannot_cancel_online(app, client, bearer, patient_id, doctor_id,
                                                          make_appointment, clock):
    """CHANGE_CUTOFF_HOURS (24) before the visit, online changes stop: exact API message."""
    visit = make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=MONDAY, hhmm="09:00")
    clock.set(instant(MONDAY, "09:00") - timedelta(hours=24))
    response = client.delete(f"/v1/bookings/{visit}", headers=bearer(patient_id))
    assert (response.status_code, response.get_json()) == (400, TOO_LATE)
    with app.app_context():
        assert db.session.get(Appointment, visit).status == "scheduled"
    clock.set(instant(MONDAY, "09:00") - timedelta(hours=24, minutes=1))
    assert client.delete(f"/v1/bookings/{visit}", headers=bearer(patient_id)).status_code == 200


# ---------------------------------------------------------------------------------------------
# Patients move their own bookings: PUT /v1/bookings/{id} (DESIGN.md section 15)


def test_a_patient_moves_their_booking_with_history_sequence_and_email(app, client, book, headers, doctor_id,
                                                                       sent_mail):
    booked = book().get_json()
    response = client.put(f"/v1/bookings/{booked['id']}", headers=headers,
                          json={"date": MONDAY.isoformat(), "time": "11:00"})
    assert response.status_code == 200
    moved = response.get_json()
    assert (moved["id"], moved["date"], moved["time"], moved["doctor_id"]) == (booked["id"], MONDAY.isoformat(),
                                                                               "11:00", doctor_id)
    with app.app_context():
        row = db.session.get(Appointment, booked["id"])
        assert (row.starts_at, row.sequence) == (instant(MONDAY, "11:00"), 1)
        kinds = db.session.scalars(select(AppointmentChange.kind).where(
            AppointmentChange.appointment_id == booked["id"]).order_by(AppointmentChange.id)).all()
        assert kinds == ["booked", "rescheduled"]
    last = sent_mail()[-1]
    body = last.get_body(preferencelist=("plain",)).get_content()
    assert "has been moved from" in body and "09:00 to" in body and "11:00" in body
    assert "SEQUENCE:1" in str(last.get_payload()[-1].get_payload(decode=True))
    # Its old time is free again, its new one taken.
    slots = client.get(f"/v1/bookings/available-slots?doctor_id={doctor_id}&date={MONDAY}", headers=headers)
    assert "09:00" in slots.get_json() and "11:00" not in slots.get_json()


@pytest.mark.parametrize("body, message", [
    ({"date": MONDAY.isoformat()}, "Missing required fields"),
    ({"date": "2026-02-31", "time": "09:00"}, "Invalid date format (YYYY-MM-DD)"),
    ({"date": MONDAY.isoformat(), "time": "08:00"}, "Outside doctor availability"),
    ({"date": MONDAY.isoformat(), "time": "10:00"}, "Time slot overlaps with another booking"),
    ({"date": MONDAY.isoformat(), "time": "09:00", "doctor_id": 999999}, "Doctor not found"),
])
def test_moving_a_booking_answers_with_the_booking_rules(app, client, book, headers, doctor_id, make_user,
                                                         make_appointment, body, message):
    booked = book().get_json()
    make_appointment(doctor_id=doctor_id, patient_id=make_user(email="ben@example.com"), day=MONDAY, hhmm="10:00")
    response = client.put(f"/v1/bookings/{booked['id']}", headers=headers, json=body)
    assert (response.status_code, response.get_json()) == (400, {"error": message})
    with app.app_context():
        assert db.session.get(Appointment, booked["id"]).starts_at == instant(MONDAY, "09:00")


def test_moving_to_its_own_overlapping_time_or_to_another_specialty(app, client, book, headers, make_doctor):
    booked = book().get_json()
    # Its own time does not stand in its way: 09:15 overlaps the booking being moved.
    assert client.put(f"/v1/bookings/{booked['id']}", headers=headers,
                      json={"date": MONDAY.isoformat(), "time": "09:15"}).status_code == 200
    same = make_doctor(name="Dr. Other GP")
    other = make_doctor(name="Dr. Skin", specialty="Dermatology")
    assert client.put(f"/v1/bookings/{booked['id']}", headers=headers,
                      json={"date": MONDAY.isoformat(), "time": "12:00", "doctor_id": same}).status_code == 200
    refused = client.put(f"/v1/bookings/{booked['id']}", headers=headers,
                         json={"date": MONDAY.isoformat(), "time": "12:00", "doctor_id": other})
    assert refused.status_code == 400 and "same specialty" in refused.get_json()["error"]


def test_moving_someone_elses_booking_or_inside_the_cutoff(app, client, book, bearer, headers, make_user,
                                                           patient_id, doctor_id, make_appointment, clock):
    booked = book().get_json()
    ben = make_user(email="ben@example.com")
    for booking_id, who in ((booked["id"], bearer(ben)), (999999, headers)):
        response = client.put(f"/v1/bookings/{booking_id}", headers=who,
                              json={"date": MONDAY.isoformat(), "time": "11:00"})
        assert (response.status_code, response.get_json()) == (400, {"error": "Booking not found or unauthorized"})
    clock.set(instant(MONDAY, "09:00") - timedelta(hours=2))
    late = client.put(f"/v1/bookings/{booked['id']}", headers=bearer(patient_id),
                      json={"date": MONDAY.isoformat(), "time": "11:00"})
    assert (late.status_code, late.get_json()) == (400, TOO_LATE)
    # As a booking does, the format's checks come first (section 6's order, the cutoff with the rules).
    garbled = client.put(f"/v1/bookings/{booked['id']}", headers=bearer(patient_id),
                         json={"date": MONDAY.isoformat(), "time": "9"})
    assert (garbled.status_code, garbled.get_json()) == (400, {"error": "Invalid time format (HH:MM)"})


# ---------------------------------------------------------------------------------------------
# Retries: the Idempotency-Key header


def test_a_retry_with_the_same_idempotency_key_gets_the_booking_it_made(book, headers, count, outbox_count,
                                                                        sent_mail):
    """A client that lost the answer sends the booking again: the same booking comes back, as the
    first answer was; nothing is booked, recorded or emailed twice."""
    key = {**headers, "Idempotency-Key": "2f0c1e6a-6a43-4d0e-9b3f-0d1c2b3a4f5e"}
    first = book(headers=key, time="10:30")
    again = book(headers=key, time="10:30")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert count(Appointment) == 1 and count(AppointmentChange) == 1
    [message] = sent_mail()  # the confirmation, once
    assert message["To"] == "ana@example.com"
    without_a_key = book(time="10:30")  # as before: the client's own booking is in the way
    assert without_a_key.status_code == 400
    assert without_a_key.get_json() == {"error": "Time slot overlaps with another booking"}


def test_an_idempotency_key_used_for_another_time_or_a_cancelled_booking_is_refused(
        client, book, headers, count, outbox_count):
    key = {**headers, "Idempotency-Key": "retry-1"}
    booked = book(headers=key, time="10:30").get_json()
    used = {"error": "This Idempotency-Key was already used for another booking: send a new key"}
    other_time = book(headers=key, time="11:30")
    assert other_time.status_code == 422 and other_time.get_json() == used
    assert count(Appointment) == 1
    assert client.delete(f"/v1/bookings/{booked['id']}", headers=headers).status_code == 200
    emails = outbox_count()
    after_the_cancel = book(headers=key, time="10:30")  # "booked" would be untrue: it is cancelled
    assert after_the_cancel.status_code == 422 and after_the_cancel.get_json() == used
    assert count(Appointment) == 1 and outbox_count() == emails


def test_each_patient_s_idempotency_keys_are_their_own(book, headers, bearer, make_user, count):
    other = {**bearer(make_user(email="ben@example.com", full_name="Ben Ortiz")), "Idempotency-Key": "1"}
    mine = book(headers={**headers, "Idempotency-Key": "1"}, time="10:30")
    theirs = book(headers=other, time="11:30")
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"] and count(Appointment) == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 41, "ключ", "a b", "tab\there"])
def test_an_idempotency_key_that_is_no_key_is_refused(book, headers, count, key):
    response = book(headers={**headers, "Idempotency-Key": key})
    assert response.status_code == 400
    assert response.get_json() == {"error": "Idempotency-Key must be 1 to 40 visible ASCII characters"}
    assert count(Appointment) == 0


@pytest.mark.concurrency
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_same_booking_sent_twice_at_once_with_one_key_is_booked_once(committing_app, clock, tmp_path):
    """A client retrying while its first request is still running: both requests, each on its own
    connection, get the one booking; one row, one history entry, one email."""
    app = committing_app
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctor = Doctor(display_name="Dr. Race", specialty="General Practice",
                        weekly_hours=[WeeklyHours(weekday=0, start_minute=540, end_minute=780)])
        patient = User(email="ana@example.com", full_name="Ana Torres", role="patient")
        patient.set_password(PASSWORD)
        db.session.add_all([doctor, patient])
        db.session.commit()
        doctor_id, jwt_token = doctor.id, tokens.create_jwt(patient, now=clock())
    key = {"Authorization": f"Bearer {jwt_token}", "Idempotency-Key": "one-booking"}
    body = {"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "09:00"}

    def post():
        return app.test_client().post("/v1/bookings", json=body, headers=key)

    answers = race(post, post)
    assert [answer.status_code for answer in answers] == [201, 201], [answer.get_json() for answer in answers]
    assert answers[0].get_json()["id"] == answers[1].get_json()["id"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id))) == 1
        assert db.session.scalar(select(func.count(AppointmentChange.id))) == 1
        worker.run_once(now=clock())
    [sent] = (tmp_path / "mail").glob("*.eml")
    assert "To: ana@example.com" in sent.read_text()


def test_an_idempotency_key_sent_again_for_another_length_or_visit_type_is_refused(book, headers, count):
    key = {**headers, "Idempotency-Key": "retry-2"}
    assert book(headers=key, time="10:30", appointment_type="consultation").status_code == 201
    for other in ({"appointment_type": "therapy"}, {"appointment_type": "consultation", "duration": 60}):
        again = book(headers=key, time="10:30", **other)
        assert again.status_code == 422, other
    assert book(headers=key, time="10:30", appointment_type="consultation").status_code == 201  # the same: its booking
    assert count(Appointment) == 1


def test_my_bookings_say_which_lie_in_a_closure_or_time_off_entered_since(
        client, headers, patient_id, doctor_id, make_appointment, make_block, count_queries):
    """As the patient's bookings page does: a visit to come inside a clinic closure says so with
    the closure's reason; one inside the doctor's time off, without its reason (the staff's); the
    others, and past visits, have none. One query for all of them."""
    last_week = TODAY - timedelta(days=7)
    visits = {name: make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=day, hhmm=hhmm)
              for name, day, hhmm in (("closed", MONDAY, "09:00"), ("kept", MONDAY, "11:00"),
                                      ("doctor away", TUESDAY, "09:00"), ("past", last_week, "10:00"))}
    make_block(doctor_id=None, start=instant(MONDAY, "08:00"), end=instant(MONDAY, "10:00"), reason="Inventory")
    make_block(doctor_id=doctor_id, start=instant(TUESDAY, "08:00"), end=instant(TUESDAY, "12:00"),
               reason="Private: dentist")
    make_block(doctor_id=None, start=instant(last_week, "00:00"), end=instant(last_week + timedelta(days=1), "00:00"),
               reason="Past closure")
    clashes = {body["id"]: body["clash"] for body in client.get("/v1/bookings/me", headers=headers).get_json()}
    assert clashes == {visits["closed"]: {"kind": "clinic_closed", "reason": "Inventory"},
                       visits["kept"]: None,
                       visits["doctor away"]: {"kind": "doctor_unavailable", "reason": None},
                       visits["past"]: None}
    # As many queries with one visit in a closure as with three.
    before = count_queries(lambda: client.get("/v1/bookings/me", headers=headers))
    for hhmm in ("08:00", "08:30", "09:30"):
        make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=MONDAY, hhmm=hhmm)
    assert count_queries(lambda: client.get("/v1/bookings/me", headers=headers)) == before


def test_the_times_a_booking_can_move_to_with_booking_id(client, headers, patient_id, doctor_id, make_doctor,
                                                         make_user, make_appointment):
    """The searches leave out the times that clash with the caller's visits, the one to move too:
    with ?booking_id= of that visit they give the times it can move to, which the PUT takes."""
    bianchi = make_doctor(name="Dr. Marco Bianchi", windows=(("09:00", "10:00"),))
    visit = make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=MONDAY, hhmm="09:00")

    def get(path, **query):
        response = client.get(path, query_string=query, headers=headers)
        return response.status_code, response.get_json()

    slots = "/v1/bookings/available-slots"
    assert get(slots, doctor_id=bianchi, date=MONDAY.isoformat()) == (200, ["09:30"])
    assert get(slots, doctor_id=bianchi, date=MONDAY.isoformat(), booking_id=visit) == (
        200, ["09:00", "09:15", "09:30"])
    # With its own doctor: its own start is no move, the times overlapping it are.
    own_day = get(slots, doctor_id=doctor_id, date=MONDAY.isoformat(), booking_id=visit)[1]
    assert "09:00" not in own_day and own_day[:2] == ["09:15", "09:30"]

    def monday(**query):
        [day] = [d for d in get(f"/v1/doctors/{bianchi}/calendar", month=MONDAY.strftime("%Y-%m"), **query)[1]
                 if d["date"] == MONDAY.isoformat()]
        return day["free"]

    assert (monday(), monday(booking_id=visit)) == (1, 3)
    earliest = get("/v1/bookings/next-available", doctor_id=bianchi, **{"from": MONDAY.isoformat()}, limit=1,
                   booking_id=visit)[1]
    assert [(t["date"], t["time"]) for t in earliest] == [(MONDAY.isoformat(), "09:00")]
    moved = client.put(f"/v1/bookings/{visit}", json={"doctor_id": bianchi, "date": MONDAY.isoformat(),
                                                      "time": "09:00"}, headers=headers)
    assert moved.status_code == 200 and moved.get_json()["doctor_id"] == bianchi

    # Another patient's booking, or no booking id at all: refused as a move of it would be.
    other = make_appointment(doctor_id=doctor_id, patient_id=make_user(email="ben@example.com"), day=MONDAY,
                             hhmm="11:00")
    for booking_id in (other, "abc", 0, 10**30):
        for path in (slots, f"/v1/doctors/{bianchi}/calendar", "/v1/bookings/next-available"):
            answer = get(path, doctor_id=bianchi, date=MONDAY.isoformat(), month=MONDAY.strftime("%Y-%m"),
                         booking_id=booking_id)
            assert answer == (400, {"error": "Booking not found or unauthorized"}), (path, booking_id)
