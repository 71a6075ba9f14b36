"""A patient can never read or change someone else's booking: not through a page, a partial or
the API, whatever id they try. Someone else's id and an id that does not exist get the same
answer (ids cannot be probed), every desk and admin URL is closed to patients, the clinic API
refuses a patient's JWT in either header, and nothing in the database changes on the way.
"""
import re
from datetime import timedelta
from types import SimpleNamespace

import jwt
import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, ApiToken, Appointment, BlockedPeriod, User, WeeklyHours
from clinica_web.services import clinic, tokens
from tests.conftest import PASSWORD, instant, next_weekday, table_snapshot

MONDAY = next_weekday(0, weeks=1)
LAST_MONDAY = MONDAY - timedelta(weeks=3)
GUESSES = ["0", "-1", str(2**31), str(2**63), "abc"]
HTMX = {"HX-Request": "true"}
NOT_AUTHORIZED = {"errors": "You are not authorized to perform this action."}


# ---------------------------------------------------------------------------------------------
# The clinic: Ana and Ben are patients; Ben has a future, a past and a cancelled booking.


def login(app, email):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    return client


@pytest.fixture
def clinic_data(app, make_doctor, make_user, make_appointment):
    doctor = make_doctor(with_user=True)
    other_doctor = make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics", with_user=True)
    ana = make_user(email="ana@example.com", full_name="Ana Torres")
    ben = make_user(email="ben@example.com", full_name="Ben Ortiz")
    reception = make_user(role="reception", email="desk@example.com", full_name="Rita Desk")
    ana_booking = make_appointment(doctor_id=doctor, patient_id=ana, day=MONDAY, hhmm="09:00")
    ben_future = make_appointment(doctor_id=doctor, patient_id=ben, day=MONDAY, hhmm="10:00")
    ben_past = make_appointment(doctor_id=doctor, patient_id=ben, day=LAST_MONDAY, hhmm="10:00")
    ben_cancelled = make_appointment(doctor_id=doctor, patient_id=ben, day=MONDAY, hhmm="11:00", status=CANCELLED)
    other_doctors = make_appointment(doctor_id=other_doctor, patient_id=ben, day=MONDAY, hhmm="12:00")
    with app.app_context():
        now = clinic.now()
        db.session.add(BlockedPeriod(doctor_id=doctor, starts_at=instant(MONDAY, "14:00"),
                                     ends_at=instant(MONDAY, "15:00"), reason="Away"))
        db.session.add(BlockedPeriod(doctor_id=None, starts_at=instant(MONDAY + timedelta(days=1), "00:00"),
                                     ends_at=instant(MONDAY + timedelta(days=2), "00:00"), reason="Holiday"))
        db.session.commit()
        staff_token = tokens.create_api_token(db.session.get(User, reception), now=now)
        doctor_user = db.session.scalars(select(User).where(User.role == "doctor").order_by(User.id)).first()
        doctor_token = tokens.create_api_token(doctor_user, now=now)  # the first doctor's
        ids = dict(
            window=db.session.scalar(select(func.min(WeeklyHours.id))),
            block=db.session.scalar(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id == doctor)),
            closure=db.session.scalar(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id.is_(None))),
            token=db.session.scalar(select(func.min(ApiToken.id))),
            missing=db.session.scalar(select(func.max(Appointment.id))) + 1000,
            doctor_email=doctor_user.email,
        )
        ana_jwt = tokens.create_jwt(db.session.get(User, ana), now=now)
    return SimpleNamespace(
        doctor=doctor, ana=ana, ben=ben, reception=reception, ana_booking=ana_booking, ben_future=ben_future,
        ben_past=ben_past, ben_cancelled=ben_cancelled, other_doctors=other_doctors, staff_token=staff_token,
        doctor_token=doctor_token, ana_jwt=ana_jwt, client=login(app, "ana@example.com"), **ids,
    )


@pytest.fixture
def unchanged(app, clinic_data):
    """Asserts, after the test, that no row of any table changed since the clinic was set up."""
    before = table_snapshot(app)
    yield
    assert table_snapshot(app) == before


def others_ids(data):
    """Ben's bookings: future, past, cancelled, and one with another doctor."""
    return [data.ben_future, data.ben_past, data.ben_cancelled, data.other_doctors]


def assert_same_answer(responses):
    """[(id, response)]: the same status and the same body once each one's own id (in a path) is out,
    and the CSRF token (it carries a timestamp, so it changes from one second to the next)."""
    seen = set()
    for id_, response in responses:
        body = re.sub(rf"/{id_}(?![\w-])", "/<id>", response.get_data(as_text=True))
        token = re.search(r'"X-CSRFToken": "([^"]+)"', body)
        seen.add((response.status_code, body.replace(token[1], "<token>") if token else body))
    assert len(seen) == 1, seen


# ---------------------------------------------------------------------------------------------
# The patient's pages


@pytest.mark.parametrize("method, path", [
    ("GET", "/bookings/{id}"), ("GET", "/bookings/{id}/cancel"), ("POST", "/bookings/{id}/cancel"),
])
def test_another_patients_booking_looks_like_a_missing_one_on_the_pages(clinic_data, unchanged, method, path):
    client = clinic_data.client
    responses = [(id_, client.open(path.format(id=id_), method=method))
                 for id_ in others_ids(clinic_data) + [clinic_data.missing] + GUESSES]
    # The same through htmx: no partial gives more away.
    responses += [(id_, client.open(path.format(id=id_), method=method, headers=HTMX))
                  for id_ in others_ids(clinic_data) + [clinic_data.missing]]
    assert {response.status_code for _id, response in responses} == {404}
    assert_same_answer(responses)
    for _id, response in responses:
        assert "Ben" not in response.text and "ben@example.com" not in response.text


def test_own_booking_opens_so_the_404s_above_mean_something(clinic_data):
    client = clinic_data.client
    assert client.get(f"/bookings/{clinic_data.ana_booking}").status_code == 200
    assert client.get(f"/bookings/{clinic_data.ana_booking}/cancel").status_code == 200
    listing = client.get("/bookings").text
    assert f"/bookings/{clinic_data.ana_booking}" in listing
    for other in others_ids(clinic_data):
        assert f"/bookings/{other}\"" not in listing
    assert "Ben" not in listing


def test_someone_elses_booking_key_does_not_show_their_booking(app, clinic_data):
    """The booking form's one-time key finds a booking again after a double submit: only one's own."""
    with app.app_context():
        appointment = db.session.get(Appointment, clinic_data.ben_future)
        appointment.booking_key = "ben-key-" + "x" * 24
        db.session.commit()
    before = table_snapshot(app)
    response = clinic_data.client.post(f"/doctors/{clinic_data.doctor}/book", data={
        "date": MONDAY.isoformat(), "time": "16:00", "type": "consultation", "booking_key": "ben-key-" + "x" * 24,
    })
    assert response.status_code == 422 and "This form was already used" in response.text
    assert f"/bookings/{clinic_data.ben_future}" not in response.headers.get("Location", "") + response.text
    assert table_snapshot(app) == before


# ---------------------------------------------------------------------------------------------
# The booking API


def test_another_patients_booking_looks_like_a_missing_one_in_the_api(client, clinic_data, unchanged):
    bearer = {"Authorization": f"Bearer {clinic_data.ana_jwt}"}
    ids = others_ids(clinic_data) + [clinic_data.missing, 0, 2**31, 2**63]
    responses = [(id_, client.delete(f"/v1/bookings/{id_}", headers=bearer)) for id_ in ids]
    for _id, response in responses:
        assert (response.status_code, response.get_json()) == (400, {"error": "Booking not found or unauthorized"})
    assert_same_answer(responses)
    for guess in ("-1", "abc"):  # not ids at all: no route
        response = client.delete(f"/v1/bookings/{guess}", headers=bearer)
        assert response.status_code == 404 and response.get_json()["error"]


def test_my_bookings_are_mine_only(client, clinic_data, unchanged):
    response = client.get("/v1/bookings/me", headers={"Authorization": f"Bearer {clinic_data.ana_jwt}"})
    assert response.status_code == 200
    assert [(b["id"], b["user_id"]) for b in response.get_json()] == [(clinic_data.ana_booking, clinic_data.ana)]


def test_the_api_never_takes_the_session_cookie_or_a_forged_token(app, clinic_data, unchanged):
    client = clinic_data.client  # logged in to the website as Ana
    forged = [
        jwt.encode({"sub": str(clinic_data.ben), "exp": 2**40}, "not-the-secret-key-but-long-enough", "HS256"),
        jwt.encode({"sub": str(clinic_data.ben), "exp": 2**40}, None, "none"),
        clinic_data.ana_jwt[:-4] + "AAAA",
        clinic_data.staff_token,  # a staff API token is no JWT
    ]
    for headers in [{}] + [{"Authorization": f"Bearer {token}"} for token in forged]:
        for method, url in [("GET", "/v1/bookings/me"), ("DELETE", f"/v1/bookings/{clinic_data.ben_future}")]:
            response = client.open(url, method=method, headers=headers)
            assert response.status_code == 401, (url, headers)
            assert response.get_json() == {"error": "Authentication required"}


# ---------------------------------------------------------------------------------------------
# The clinic API: staff tokens only


def clinic_api_calls(data):
    return [
        ("GET", "/v1/clinic/appointments/pending_documentation", None),
        ("GET", f"/v1/clinic/appointments/in_date_range?start_date={LAST_MONDAY}&end_date={MONDAY}", None),
        ("GET", f"/v1/clinic/appointments/in_date_range?start_date={LAST_MONDAY}&end_date={MONDAY}"
                f"&patient_id={data.ben}", None),
        ("PUT", f"/v1/clinic/appointments/reschedule_appointments/{data.ben_future}",
         {"appointment": {"scheduled_at": instant(MONDAY, "16:00").isoformat()}}),
        ("PUT", f"/v1/clinic/appointments/reschedule_appointments/{data.ana_booking}",
         {"appointment": {"scheduled_at": instant(MONDAY, "16:30").isoformat()}}),
    ]


def test_a_patients_jwt_opens_nothing_in_the_clinic_api(client, clinic_data, unchanged):
    ana = clinic_data.ana_jwt
    for headers in [{"X-User-Token": ana}, {"Authorization": f"Bearer {ana}"},
                    {"X-User-Token": f"Bearer {ana}"}, {}]:
        for method, url, body in clinic_api_calls(clinic_data):
            response = client.open(url, method=method, headers=headers, json=body)
            assert (response.status_code, response.get_json()) == (401, NOT_AUTHORIZED), (method, url, headers)
    # Nor does the website's session cookie.
    for method, url, body in clinic_api_calls(clinic_data):
        assert clinic_data.client.open(url, method=method, json=body).status_code == 401


def test_an_api_token_row_of_a_patient_is_refused(app, client, clinic_data):
    """Patients cannot get tokens; a row for one (say, a demoted staff member) opens nothing."""
    with app.app_context():
        ana = db.session.get(User, clinic_data.ana)
        ana.role = "reception"
        token = tokens.create_api_token(ana, now=clinic.now())
        ana.role = "patient"
        db.session.commit()
    before = table_snapshot(app)
    for method, url, body in clinic_api_calls(clinic_data):
        response = client.open(url, method=method, headers={"X-User-Token": token}, json=body)
        assert (response.status_code, response.get_json()) == (401, NOT_AUTHORIZED)
    assert table_snapshot(app) == before


def test_a_doctor_cannot_reach_another_doctors_appointments(app, client, clinic_data, unchanged):
    """Not a patient, but the same rule: another doctor's appointment looks like a missing one."""
    token = {"X-User-Token": clinic_data.doctor_token}
    body = {"appointment": {"scheduled_at": instant(MONDAY, "16:00").isoformat()}}
    responses = [(id_, client.put(f"/v1/clinic/appointments/reschedule_appointments/{id_}", headers=token,
                                  json=body)) for id_ in (clinic_data.other_doctors, clinic_data.missing)]
    for _id, response in responses:
        assert (response.status_code, response.get_json()) == (404, {"errors": "Appointment not found"})
    assert_same_answer(responses)
    listed = client.get(f"/v1/clinic/appointments/in_date_range?start_date={LAST_MONDAY}&end_date={MONDAY}",
                        headers=token).get_json()
    assert clinic_data.other_doctors not in {a["id"] for a in listed} and listed
    doctor = login(app, clinic_data.doctor_email)
    pages = [(id_, doctor.get(f"/desk/appointments/{id_}")) for id_ in (clinic_data.other_doctors, clinic_data.missing)]
    assert {response.status_code for _id, response in pages} == {404}
    assert_same_answer(pages)


# ---------------------------------------------------------------------------------------------
# Every desk and admin URL, enumerated from the app's URL map


def form_for(endpoint, data):
    """A form that would succeed for someone allowed to send it (so a missing check would show)."""
    return {
        "desk.set_status": {"to": "arrived"},
        "desk.cancel": {"reason": "Asked by phone"},
        "desk.reschedule": {"doctor_id": data.doctor, "date": MONDAY.isoformat(), "time": "16:00", "reason": "Moved"},
        "desk.document": {"text": "Seen and treated."},
        "desk.book_submit": {"patient_id": data.ana, "doctor_id": data.doctor, "date": MONDAY.isoformat(),
                             "time": "16:00", "type": "consultation", "booking_key": "k" * 24},
        "desk.create_patient": {"full_name": "New Patient", "email": "new@example.com"},
        "desk.add_window": {"weekday": "5", "start": "09:00", "end": "10:00"},
        "desk.add_block": {"start_date": MONDAY.isoformat(), "reason": "Away"},
        "desk.remove_window": {"back": "/desk/"},
        "desk.remove_block": {"back": "/desk/"},
        "admin.doctors": {"display_name": "Dr. New", "specialty": "Dermatology", "email": "new-doc@example.com",
                          "password": PASSWORD},
        "admin.staff_accounts": {"full_name": "New Desk", "email": "new-desk@example.com", "role": "admin",
                                 "password": PASSWORD},
        "admin.api_tokens": {"email": "desk@example.com", "name": "Stolen"},
        "admin.closures": {"start_date": MONDAY.isoformat(), "reason": "Closed"},
    }.get(endpoint, {})


def staff_requests(app, data):
    """(method, url, form) for every method of every /desk and /admin rule, with real ids."""
    values = {"appointment_id": data.ben_past, "doctor_id": data.doctor, "window_id": data.window,
              "period_id": data.block, "user_id": data.reception, "token_id": data.token, "patient_id": data.ben}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/desk", "/admin")):
            continue
        arguments = {name: values[name] for name in rule.arguments if name != "action"}
        if rule.endpoint == "admin.closure" or rule.endpoint == "admin.remove_closure":
            arguments["period_id"] = data.closure
        actions = re.search(r"<any\(([^)]*)\):action>", rule.rule)
        for action in [a.strip() for a in actions[1].split(",")] if actions else [None]:
            url = rule.rule
            for name, value in {**arguments, "action": action}.items():
                url = re.sub(rf"<[^>]*:{name}>", str(value), url)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, url, form_for(rule.endpoint, data) if method == "POST" else None))
    return found


def test_every_desk_and_admin_url_is_403_for_a_patient(app, clinic_data, unchanged):
    requests = staff_requests(app, clinic_data)
    assert len(requests) >= 30  # every rule: the map holds 27 desk and admin URLs, some with several methods
    client = clinic_data.client
    for method, url, form in requests:
        for headers in ({}, HTMX):
            response = client.open(url, method=method, data=form, headers=headers)
            assert response.status_code == 403, (method, url, headers, response.status_code)
            assert "Ben" not in response.text and "ben@example.com" not in response.text
    # The same ids with the query strings the desk uses change nothing either.
    for url in (f"/desk/?date={MONDAY}&doctor_id={clinic_data.doctor}", f"/desk/day.csv?date={MONDAY}",
                f"/desk/book?patient_id={clinic_data.ben}", "/desk/book?q=Ben",
                "/admin/audit?patient=Ben"):
        assert client.get(url).status_code == 403, url


def test_every_desk_and_admin_url_sends_a_stranger_to_log_in(app, client, clinic_data, unchanged):
    for method, url, form in staff_requests(app, clinic_data):
        response = client.open(url, method=method, data=form)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.headers["Location"].startswith("/login?next="), url
