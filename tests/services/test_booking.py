"""The booking rules of DESIGN.md section 6, each with its exact message, and cancelling."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, SCHEDULED, Appointment, AppointmentChange, OutboxEmail, User
from clinica_web.services import booking
from clinica_web.services.errors import DomainError, InvalidInput, NotFound, SlotTaken
from tests.conftest import instant, next_weekday

MONDAY = next_weekday(0, weeks=1)  # a Monday 8 to 14 days away: inside the 90-day horizon
SATURDAY = MONDAY + timedelta(days=5)
NOW = instant(MONDAY - timedelta(days=3), "12:00")  # the Friday before, at noon


@pytest.fixture
def doctor_id(make_doctor):
    return make_doctor()


@pytest.fixture
def patient_id(make_user):
    return make_user(email="pat@example.com")


@pytest.fixture
def book(app, doctor_id, patient_id):
    """Book as the patient, with the doctor by default; returns the appointment id."""

    def do(patient=None, now=NOW, **fields):
        fields = {"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "09:00", **fields}
        with app.app_context():
            user = db.session.get(User, patient or patient_id)
            return booking.book(actor=user, patient=user, now=now, **fields).id

    return do


def count_appointments(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Appointment.id)))


def test_booking_writes_appointment_history_and_email(app, book, doctor_id, patient_id):
    appointment_id = book(time="10:15", appointment_type="therapy", notes="  knee pain  ")
    with app.app_context():
        appointment = db.session.get(Appointment, appointment_id)
        assert appointment.starts_at == instant(MONDAY, "10:15")
        assert appointment.ends_at == instant(MONDAY, "11:15")  # therapy lasts 60 minutes by default
        assert (appointment.status, appointment.duration_minutes, appointment.notes) == (SCHEDULED, 60, "knee pain")
        assert [change.kind for change in appointment.changes] == ["booked"]
        assert db.session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.kind == "booked")) == 1


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"doctor_id": None}, "Missing required fields"),
        ({"date": ""}, "Missing required fields"),
        ({"time": None}, "Missing required fields"),
        ({"date": "2026/11/23"}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": "2026-02-30"}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": "23-11-2026"}, "Invalid date format (YYYY-MM-DD)"),
        ({"date": 20261123}, "Invalid date format (YYYY-MM-DD)"),
        ({"time": "9:00"}, "Invalid time format (HH:MM)"),
        ({"time": "24:00"}, "Invalid time format (HH:MM)"),
        ({"time": "09:60"}, "Invalid time format (HH:MM)"),
        ({"time": "09:00:00"}, "Invalid time format (HH:MM)"),
        ({"time": "9am"}, "Invalid time format (HH:MM)"),
        ({"duration": 0}, "Invalid duration"),
        ({"duration": 481}, "Invalid duration"),
        ({"duration": -30}, "Invalid duration"),
        ({"duration": 10**30}, "Invalid duration"),
        ({"duration": 30.5}, "Invalid duration"),
        ({"duration": "thirty"}, "Invalid duration"),
        ({"duration": True}, "Invalid duration"),
        ({"appointment_type": "massage"}, "Invalid appointment type"),
        ({"doctor_id": 999999}, "Doctor not found"),
        ({"doctor_id": 2**63}, "Doctor not found"),
        ({"doctor_id": "abc"}, "Doctor not found"),
        ({"date": SATURDAY.isoformat()}, "Doctor not available on this day"),
        ({"time": "08:45"}, "Outside doctor availability"),
        ({"time": "12:45"}, "Outside doctor availability"),  # 30 minutes would run past 13:00
        ({"time": "17:45"}, "Outside doctor availability"),
        ({"time": "09:10"}, "Outside doctor availability"),  # off the 15-minute grid
    ],
)
def test_each_rule_answers_with_its_message(app, book, fields, message):
    with pytest.raises(DomainError) as caught:
        book(**fields)
    assert caught.value.message == message
    assert count_appointments(app) == 0


def test_rules_are_checked_in_order(app, book):
    """Bad date and bad time together: the date rule answers first."""
    with pytest.raises(DomainError, match=r"Invalid date format"):
        book(date="nope", time="nope", duration=0)
    with pytest.raises(DomainError, match=r"Invalid time format"):
        book(time="nope", duration=0)


def test_inactive_doctor_is_not_found(app, book, make_doctor):
    inactive = make_doctor(name="Dr. Gone", active=False)
    with pytest.raises(NotFound, match="Doctor not found"):
        book(doctor_id=inactive)


def test_past_and_now_are_refused(app, book):
    with pytest.raises(DomainError, match="Date must be in the future"):
        book(now=instant(MONDAY, "09:00"))  # exactly now is not in the future
    with pytest.raises(DomainError, match="Date must be in the future"):
        book(now=instant(MONDAY, "12:00"))
    assert book(now=instant(MONDAY, "08:59"))


def test_minimum_notice(app, make_app, book):
    app.config["MIN_NOTICE_MINUTES"] = 120
    with pytest.raises(DomainError, match="Date must be in the future"):
        book(now=instant(MONDAY, "07:30"))
    assert book(now=instant(MONDAY, "06:59"))


def test_booking_horizon(app, book):
    app.config["BOOKING_HORIZON_DAYS"] = 3  # Friday + 3 = Monday: still allowed
    assert book()
    app.config["BOOKING_HORIZON_DAYS"] = 2
    with pytest.raises(DomainError, match="Date is beyond the booking horizon"):
        book(time="10:00")


def test_blocked_period_and_clinic_closure(app, book, doctor_id, make_block):
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "09:20"), end=instant(MONDAY, "10:00"))
    make_block(doctor_id=None, start=instant(MONDAY, "15:00"), end=instant(MONDAY, "16:00"), reason="Holiday")
    for time in ("09:00", "09:30", "14:45", "15:30"):
        with pytest.raises(DomainError, match="Time blocked by doctor"):
            book(time=time)
    assert book(time="10:00")
    assert book(time="14:15", duration=45)  # ends exactly when the closure starts


def test_overlap_with_another_booking_half_open(app, book, make_user):
    other = make_user(email="other@example.com")
    book(time="10:00", patient=other)
    for time, duration in (("09:45", 30), ("10:00", 15), ("10:15", 15), ("09:30", 60)):
        with pytest.raises(SlotTaken, match="Time slot overlaps with another booking"):
            book(time=time, duration=duration)
    assert book(time="09:30")  # back to back before
    assert book(time="10:30")  # back to back after


def test_an_overlap_the_database_refuses_is_the_same_refusal_as_the_checks(app, book, make_user, monkeypatch,
                                                                           backend):
    """A booking that passes the check but loses to one committed meanwhile is refused by the
    database's guard: the caller gets the rule's own error (code "booked", the same message) as
    if the check had seen it, on both databases."""
    from clinica_web.services import availability, rules

    book(time="10:00", patient=make_user(email="other@example.com"))
    monkeypatch.setattr(availability, "busy_intervals", lambda *args, **kwargs: [])  # the check sees nothing
    with pytest.raises(SlotTaken) as refused:
        book(time="10:15", duration=15)
    expected = rules.refusal("booked")
    assert (refused.value.code, refused.value.message, refused.value.field) == (
        "booked", expected.message, expected.field)
    assert count_appointments(app) == 1


def test_patient_cannot_be_in_two_places(app, book, make_doctor):
    other_doctor = make_doctor(name="Dr. Marco Bianchi")
    book(time="10:00")
    with pytest.raises(DomainError, match="You already have a booking at this time"):
        book(doctor_id=other_doctor, time="10:15")


def test_cancelled_booking_frees_the_slot(app, book, make_user, patient_id):
    first = book(time="11:00")
    with app.app_context():
        user = db.session.get(User, patient_id)
        cancelled = booking.cancel_by_patient(patient=user, appointment_id=first, now=NOW)
        assert cancelled.status == CANCELLED and cancelled.sequence == 1
        kinds = db.session.scalars(select(AppointmentChange.kind).where(AppointmentChange.appointment_id == first))
        assert list(kinds) == ["booked", "cancelled"]
    assert book(time="11:00", patient=make_user(email="next@example.com"))
    assert count_appointments(app) == 2  # the cancelled row is kept


def test_same_booking_key_books_once(app, book):
    first = book(booking_key="key-1")
    again = book(booking_key="key-1")
    assert first == again
    assert count_appointments(app) == 1


def test_a_used_booking_key_for_a_cancelled_booking_or_another_time_is_refused(app, book, patient_id, make_doctor):
    """Back and resubmit of a form whose booking was cancelled since, or with another time or
    doctor: booking nothing and answering "booked" (the earlier booking) would be untrue."""
    first = book(booking_key="key-3")
    with pytest.raises(InvalidInput, match="This form was already used"):
        book(booking_key="key-3", time="12:30")
    with pytest.raises(InvalidInput, match="This form was already used"):
        book(booking_key="key-3", doctor_id=make_doctor(name="Dr. Other"))
    assert book(booking_key="key-3") == first  # the same form again: its booking
    with app.app_context():
        user = db.session.get(User, patient_id)
        booking.cancel_by_patient(patient=user, appointment_id=first, now=NOW)
    with pytest.raises(InvalidInput, match="This form was already used"):
        book(booking_key="key-3")
    assert count_appointments(app) == 1


def test_someone_elses_booking_key_is_refused(app, book, make_user):
    book(booking_key="key-2")
    with pytest.raises(DomainError):
        book(booking_key="key-2", patient=make_user(email="sneaky@example.com"), time="15:00")
    assert count_appointments(app) == 1


def test_cancel_someone_elses_or_missing_booking_looks_the_same(app, book, make_user):
    appointment_id = book()
    stranger = make_user(email="stranger@example.com")
    with app.app_context():
        user = db.session.get(User, stranger)
        messages = set()
        for target in (appointment_id, 999999, -1, 2**70):
            with pytest.raises(NotFound) as caught:
                booking.cancel_by_patient(patient=user, appointment_id=target, now=NOW)
            messages.add(caught.value.message)
        assert messages == {"Booking not found or unauthorized"}
        assert db.session.get(Appointment, appointment_id).status == SCHEDULED


def test_past_booking_cannot_be_cancelled_by_patient(app, book, patient_id):
    appointment_id = book()
    with app.app_context():
        user = db.session.get(User, patient_id)
        with pytest.raises(DomainError, match="Only upcoming"):
            booking.cancel_by_patient(patient=user, appointment_id=appointment_id, now=instant(MONDAY, "10:00"))
        assert db.session.get(Appointment, appointment_id).status == SCHEDULED


def test_database_refuses_overlap_even_without_the_check(app, doctor_id, patient_id, backend):
    """The last word is the database's: exclusion constraint (PostgreSQL) or triggers (SQLite)."""
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        def insert(start_hhmm, minutes=30):
            start = instant(MONDAY, start_hhmm)
            db.session.add(Appointment(patient_id=patient_id, doctor_id=doctor_id, starts_at=start,
                                       ends_at=start + timedelta(minutes=minutes), duration_minutes=minutes,
                                       appointment_type="consultation"))
            db.session.commit()

        insert("09:00")
        with pytest.raises(IntegrityError):
            insert("09:15")
        db.session.rollback()
        insert("09:30")  # back to back is fine
        # Moving a booking onto another is refused too (the UPDATE trigger / the constraint).
        second = db.session.scalars(select(Appointment).order_by(Appointment.id.desc())).first()
        second.starts_at = instant(MONDAY, "09:15")
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # A cancelled appointment does not hold its time.
        first = db.session.scalars(select(Appointment).order_by(Appointment.id)).first()
        first.status = CANCELLED
        db.session.commit()
        insert("09:00")
