"""Patients confirm their bookings through the API (DESIGN.md section 16):
POST /v1/bookings/{id}/confirm, and `confirmed_at` in both APIs' booking objects.

Every test talks HTTP to the app at a time set on the test clock, and checks what the client
receives and, where the promise is about storage (the history, nothing changed on a refusal),
the database.
"""
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import AppointmentChange
from tests.conftest import instant, next_weekday

MONDAY = next_weekday(0, weeks=1)  # 8 to 14 days away: well inside the booking horizon
FRIDAY = MONDAY - timedelta(days=3)
NOT_YOURS = {"error": "Booking not found or unauthorized"}
NOT_UPCOMING = {"error": "Only upcoming scheduled bookings can be confirmed"}


def utc_text(moment) -> str:
    """The APIs' instant, worked out here without the app (the test clock has no milliseconds)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def doctor_id(make_doctor):
    return make_doctor()


@pytest.fixture
def ana(make_user):
    return make_user(email="ana@example.com", full_name="Ana Torres")


@pytest.fixture
def friday(clock):
    """The clinic's now: the Friday before MONDAY, 10:00 (set before any JWT is made)."""
    clock.set(instant(FRIDAY, "10:00"))
    return clock()


@pytest.fixture
def headers(friday, bearer, ana):
    return bearer(ana)


@pytest.fixture
def booked(client, headers, doctor_id):
    """Ana's booking on MONDAY 09:00, made through the API: its JSON."""
    response = client.post("/v1/bookings", headers=headers,
                           json={"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "09:00"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def confirm(client, booking_id, headers):
    return client.post(f"/v1/bookings/{booking_id}/confirm", headers=headers)


def history(app, appointment_id):
    with app.app_context():
        return [(c.kind, c.actor_id, c.at) for c in db.session.scalars(
            select(AppointmentChange).where(AppointmentChange.appointment_id == appointment_id)
            .order_by(AppointmentChange.id))]


def test_a_new_booking_is_not_confirmed(booked):
    assert booked["confirmed_at"] is None


def test_the_owner_confirms_and_it_is_recorded(app, client, booked, headers, ana, clock, appointment_row,
                                               outbox_count):
    clock.advance(minutes=20)
    mails = outbox_count()
    response = confirm(client, booked["id"], headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body == {**booked, "confirmed_at": utc_text(clock())}  # the booking, now confirmed
    row = appointment_row(booked["id"])
    assert row["confirmed_at"] == clock() and row["updated_at"] == clock() and row["sequence"] == 0
    assert history(app, booked["id"])[-1] == ("confirmed", ana, clock())
    assert outbox_count() == mails  # no email, and the reminders stay as they were


def test_confirming_again_keeps_the_first_time(app, client, booked, headers, clock, appointment_row):
    first = confirm(client, booked["id"], headers).get_json()["confirmed_at"]
    before = appointment_row(booked["id"])
    clock.advance(hours=3)
    again = confirm(client, booked["id"], headers)
    assert again.status_code == 200 and again.get_json()["confirmed_at"] == first == utc_text(instant(FRIDAY, "10:00"))
    assert appointment_row(booked["id"]) == before
    assert [kind for kind, _actor, _at in history(app, booked["id"])] == ["booked", "confirmed"]


def test_another_patients_or_a_missing_booking_looks_the_same(app, client, booked, make_user, bearer,
                                                              appointment_row):
    before, changes = appointment_row(booked["id"]), history(app, booked["id"])
    ben = bearer(make_user(email="ben@example.com"))
    answers = [confirm(client, booking_id, ben)
               for booking_id in (booked["id"], booked["id"] + 1000, 0, 2**31 - 1, 2**31, 10**30)]
    for response in answers:
        assert (response.status_code, response.get_json()) == (400, NOT_YOURS)
    assert appointment_row(booked["id"]) == before and history(app, booked["id"]) == changes


def test_a_cancelled_booking_cannot_be_confirmed(app, client, booked, headers, appointment_row):
    assert client.delete(f"/v1/bookings/{booked['id']}", headers=headers).status_code == 200
    before, changes = appointment_row(booked["id"]), history(app, booked["id"])
    response = confirm(client, booked["id"], headers)
    assert (response.status_code, response.get_json()) == (400, NOT_UPCOMING)
    assert appointment_row(booked["id"]) == before and history(app, booked["id"]) == changes


@pytest.mark.parametrize("status", ["arrived", "completed", "no_show", "cancelled"])
def test_only_a_scheduled_booking_can_be_confirmed(client, make_appointment, doctor_id, ana, headers,
                                                   appointment_row, status):
    appointment_id = make_appointment(doctor_id=doctor_id, patient_id=ana, day=MONDAY, hhmm="10:00", status=status)
    response = confirm(client, appointment_id, headers)
    assert (response.status_code, response.get_json()) == (400, NOT_UPCOMING)
    assert appointment_row(appointment_id)["confirmed_at"] is None


@pytest.mark.parametrize("at, status", [("08:59", 200), ("09:00", 400), ("09:20", 400)])
def test_a_booking_can_be_confirmed_until_it_starts(client, booked, ana, bearer, clock, appointment_row, at, status):
    clock.set(instant(MONDAY, at))
    response = confirm(client, booked["id"], bearer(ana))  # a JWT of that day
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["confirmed_at"] == utc_text(instant(MONDAY, at))
    else:
        assert response.get_json() == NOT_UPCOMING and appointment_row(booked["id"])["confirmed_at"] is None


def test_a_past_booking_cannot_be_confirmed(client, make_appointment, doctor_id, ana, headers, appointment_row):
    last_week = make_appointment(doctor_id=doctor_id, patient_id=ana, day=MONDAY - timedelta(days=7), hhmm="09:00")
    response = confirm(client, last_week, headers)
    assert (response.status_code, response.get_json()) == (400, NOT_UPCOMING)
    assert appointment_row(last_week)["confirmed_at"] is None


@pytest.mark.parametrize("auth", [None, "Bearer not-a-jwt", "Basic YW5hOnB3"])
def test_confirming_needs_the_patients_token(client, booked, appointment_row, auth):
    response = client.post(f"/v1/bookings/{booked['id']}/confirm", headers={"Authorization": auth} if auth else {})
    assert (response.status_code, response.get_json()) == (401, {"error": "Authentication required"})
    assert appointment_row(booked["id"])["confirmed_at"] is None


def test_an_expired_token_cannot_confirm(client, booked, headers, clock, appointment_row):
    clock.advance(days=1, minutes=1)  # the JWT was made a day and a minute ago
    response = confirm(client, booked["id"], headers)
    assert (response.status_code, response.get_json()) == (401, {"error": "Authentication required"})
    assert appointment_row(booked["id"])["confirmed_at"] is None


def test_the_confirm_path_in_the_booking_apis_format(client, booked, headers):
    not_a_number = client.post("/v1/bookings/abc/confirm", headers=headers)
    assert not_a_number.status_code == 404 and set(not_a_number.get_json()) == {"error"}
    wrong_method = client.get(f"/v1/bookings/{booked['id']}/confirm", headers=headers)
    assert wrong_method.status_code == 405 and set(wrong_method.get_json()) == {"error"}
    assert "POST" in wrong_method.headers["Allow"]


def test_my_bookings_show_confirmed_at(client, booked, headers, doctor_id):
    later = client.post("/v1/bookings", headers=headers,
                        json={"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "11:00"}).get_json()
    confirmed = confirm(client, booked["id"], headers).get_json()
    mine = client.get("/v1/bookings/me", headers=headers).get_json()
    assert [(b["id"], b["confirmed_at"]) for b in mine] == [(booked["id"], utc_text(instant(FRIDAY, "10:00"))),
                                                            (later["id"], None)]
    assert mine[0] == confirmed


def test_the_clinic_api_shows_confirmed_at(client, booked, headers, staff_token):
    confirm(client, booked["id"], headers)
    response = client.get("/v1/clinic/appointments/in_date_range", headers={"X-User-Token": staff_token()},
                          query_string={"start_date": MONDAY.isoformat(), "end_date": MONDAY.isoformat()})
    assert response.status_code == 200
    [appointment] = response.get_json()
    assert appointment["id"] == booked["id"]
    assert appointment["confirmed_at"] == utc_text(instant(FRIDAY, "10:00"))


def test_moving_the_booking_unconfirms_it(app, client, booked, headers, clock, appointment_row):
    confirm(client, booked["id"], headers)
    clock.advance(minutes=5)
    moved = client.put(f"/v1/bookings/{booked['id']}", headers=headers,
                       json={"date": MONDAY.isoformat(), "time": "11:00"})
    assert moved.status_code == 200 and moved.get_json()["confirmed_at"] is None  # the old time was confirmed
    assert client.get("/v1/bookings/me", headers=headers).get_json()[0]["confirmed_at"] is None
    # The new time can be confirmed in turn.
    again = confirm(client, booked["id"], headers)
    assert again.status_code == 200 and again.get_json()["confirmed_at"] == utc_text(clock())
    assert [kind for kind, _actor, _at in history(app, booked["id"])] == ["booked", "confirmed", "rescheduled",
                                                                          "confirmed"]


def test_the_clinic_moving_the_booking_unconfirms_it(client, booked, headers, staff_token):
    confirm(client, booked["id"], headers)
    response = client.put(f"/v1/clinic/appointments/reschedule_appointments/{booked['id']}",
                          headers={"X-User-Token": staff_token()},
                          json={"appointment": {"scheduled_at": utc_text(instant(MONDAY, "11:00"))}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["confirmed_at"] is None
    assert client.get("/v1/bookings/me", headers=headers).get_json()[0]["confirmed_at"] is None
