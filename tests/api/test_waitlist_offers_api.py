"""POST /v1/waitlist/offers/{token}/accept (DESIGN.md section 18): a patient's client books the
time a waitlist offer holds, with the token of the offer email's "Book it" link, at a fixed instant
(Wednesday 2027-03-10 12:00 in the clinic)."""
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import HELD, SCHEDULED, Appointment, OutboxEmail, User, WaitlistEntry, WaitlistOffer
from clinica_web.services import booking, clinic, notifications, waitlist
from tests.conftest import instant

TODAY = date(2027, 3, 10)  # a Wednesday
DAY = date(2027, 3, 15)  # the next Monday
EXPIRED = {"error": "Offer expired"}
AUTH_REQUIRED = {"error": "Authentication required"}
BOOKING_FIELDS = {"id", "doctor_id", "doctor_name", "specialty", "user_id", "date", "time", "duration", "status",
                  "appointment_type", "scheduled_at", "created_at", "confirmed_at", "clash"}


def accept_url(token):
    return f"/v1/waitlist/offers/{token}/accept"


@pytest.fixture
def world(app, clock, make_doctor, make_user, bearer):
    """Ana's 09:00 on Monday is cancelled; Ben, who waits for that doctor, is offered it and it is
    held for him. Bearer tokens are made after the clock is set (a JWT lasts a day from its now)."""
    clock.set(instant(TODAY, "12:00"))
    doctor = make_doctor(windows=(("09:00", "10:00"),))
    ana, ben = make_user(email="ana@example.com"), make_user(email="ben@example.com")
    with app.app_context():
        patient = db.session.get(User, ana)
        visit = booking.book(actor=patient, patient=patient, doctor_id=doctor, date=DAY.isoformat(), time="09:00",
                             appointment_type="consultation", now=clinic.now())
        entry = waitlist.join(patient=db.session.get(User, ben), doctor_id=doctor, appointment_type="consultation",
                              from_date=DAY.isoformat(), to_date=(DAY + timedelta(days=4)).isoformat(),
                              now=clinic.now()).id
        booking.cancel_by_patient(patient=patient, appointment_id=visit.id, now=clinic.now())
        waitlist.expire_offers(now=clinic.now())
        assert waitlist.offer_freed_time(now=clinic.now()) == 1
        offer = db.session.scalars(select(WaitlistOffer)).one()
        assert offer.entry_id == entry
        token = waitlist.answer_tokens(offer)["accept"]
        held = offer.appointment_id
    return SimpleNamespace(doctor=doctor, ana=ana, ben=ben, entry=entry, offer=offer.id, held=held, token=token,
                           ben_headers=bearer(ben), ana_headers=bearer(ana))


def state(app, world):
    """(the held appointment's status and patient, the offer's status, the entry's status)."""
    with app.app_context():
        visit = db.session.get(Appointment, world.held)
        return ((visit.status, visit.patient_id) if visit else None,
                db.session.get(WaitlistOffer, world.offer).status, db.session.get(WaitlistEntry, world.entry).status)


def booked_emails(app, recipient):
    """The "booked" emails the worker has written out and sent to `recipient`."""
    with app.app_context():
        notifications.send_due(now=clinic.now())
        return db.session.scalars(select(OutboxEmail.subject).where(
            OutboxEmail.recipient == recipient, OutboxEmail.subject.startswith("Your appointment is booked"))).all()


def test_accepting_books_the_held_time_for_the_patient(app, client, world):
    response = client.post(accept_url(world.token), headers=world.ben_headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == BOOKING_FIELDS
    assert (body["id"], body["user_id"], body["doctor_id"]) == (world.held, world.ben, world.doctor)
    assert (body["date"], body["time"], body["status"]) == (DAY.isoformat(), "09:00", SCHEDULED)
    assert body["appointment_type"] == "consultation"
    assert response.headers["Location"].endswith("/v1/bookings/me")
    assert state(app, world) == ((SCHEDULED, world.ben), "accepted", "booked")
    assert len(booked_emails(app, "ben@example.com")) == 1
    mine = client.get("/v1/bookings/me", headers=world.ben_headers).get_json()
    assert [b["id"] for b in mine] == [world.held]


def test_an_offer_is_accepted_once(app, client, world):
    assert client.post(accept_url(world.token), headers=world.ben_headers).status_code == 201
    again = client.post(accept_url(world.token), headers=world.ben_headers)
    assert (again.status_code, again.get_json()) == (400, EXPIRED)
    assert state(app, world) == ((SCHEDULED, world.ben), "accepted", "booked")
    assert len(booked_emails(app, "ben@example.com")) == 1


def test_another_patients_offer_is_expired_to_them_and_nothing_changes(app, client, count, world):
    emails = count(OutboxEmail)
    response = client.post(accept_url(world.token), headers=world.ana_headers)
    assert (response.status_code, response.get_json()) == (400, EXPIRED)
    assert state(app, world) == ((HELD, world.ben), "open", "active")
    assert count(OutboxEmail) == emails
    # The link is not used up: Ben can still book it.
    assert client.post(accept_url(world.token), headers=world.ben_headers).status_code == 201


def test_an_offer_past_its_hold_is_expired(app, client, clock, world):
    clock.advance(minutes=app.config["WAITLIST_HOLD_MINUTES"], seconds=1)
    response = client.post(accept_url(world.token), headers=world.ben_headers)
    assert (response.status_code, response.get_json()) == (400, EXPIRED)
    assert state(app, world)[1:] == ("open", "active")  # the worker releases it; the API booked nothing
    assert booked_emails(app, "ben@example.com") == []


def test_an_expired_and_released_offer_is_expired(app, client, clock, world):
    clock.advance(minutes=app.config["WAITLIST_HOLD_MINUTES"])
    with app.app_context():
        assert waitlist.expire_offers(now=clinic.now()) == 1
    response = client.post(accept_url(world.token), headers=world.ben_headers)
    assert (response.status_code, response.get_json()) == (400, EXPIRED)
    assert state(app, world) == (None, "expired", "active")


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "eyJkbyI6IndhaXRsaXN0X2FjY2VwdCJ9.AAAA", "%00", "..."])
def test_garbage_tokens_are_expired(app, client, world, token):
    response = client.post(accept_url(token), headers=world.ben_headers)
    assert (response.status_code, response.get_json()) == (400, EXPIRED)
    assert state(app, world) == ((HELD, world.ben), "open", "active")


def test_other_links_tokens_are_expired(app, client, world):
    """A signed token for another action (the offer's "No thanks") does not book."""
    with app.app_context():
        offer = db.session.get(WaitlistOffer, world.offer)
        decline = waitlist.answer_tokens(offer)["decline"]
    response = client.post(accept_url(decline), headers=world.ben_headers)
    assert (response.status_code, response.get_json()) == (400, EXPIRED)
    assert state(app, world) == ((HELD, world.ben), "open", "active")


def test_no_jwt_is_401(app, client, world):
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        response = client.post(accept_url(world.token), headers=headers)
        assert (response.status_code, response.get_json()) == (401, AUTH_REQUIRED)
    assert state(app, world) == ((HELD, world.ben), "open", "active")


def test_a_patients_waitlist_shows_the_time_held_for_them_and_the_token_that_books_it(app, client, clock, world):
    """Ben's client learns of the held time without the email: GET /v1/waitlist/me gives it with
    a token that books it. Ana, who waits for nothing held, sees none; once the hold has run out,
    Ben does not either."""
    [entry] = client.get("/v1/waitlist/me", headers=world.ben_headers).get_json()
    held = entry["held"]
    assert entry["id"] == world.entry and held == {
        "doctor_id": world.doctor, "doctor_name": "Dr. Laura Rossi", "date": DAY.isoformat(), "time": "09:00",
        "duration": 30, "held_until": held["held_until"], "accept_token": held["accept_token"]}
    assert held["held_until"] == "2027-03-10T15:15:00.000Z"  # 15 minutes from noon in Santiago (UTC-3)
    booked = client.post(accept_url(held["accept_token"]), headers=world.ben_headers)
    assert booked.status_code == 201 and booked.get_json()["id"] == world.held
    assert state(app, world) == ((SCHEDULED, world.ben), "accepted", "booked")
    assert client.get("/v1/waitlist/me", headers=world.ben_headers).get_json() == []  # booked: off the list


def test_a_hold_run_out_is_not_shown(app, client, clock, world):
    clock.set(instant(TODAY, "12:15"))
    [entry] = client.get("/v1/waitlist/me", headers=world.ben_headers).get_json()
    assert entry["held"] is None
