"""Email (DESIGN.md section 8): the outbox, the messages and their ICS files, SMTP delivery.

The first tests use the development file backend (`sent_mail()` reads what was written); the
classes further down deliver over SMTP to a real server on loopback (aiosmtpd), to a closed port
(server down) and to a server that accepts the connection and never answers (timeout).
"""
import asyncio
import email
import email.policy
import os
import re
import signal
import smtplib
import socket
import threading
import time
from datetime import date, datetime
from datetime import time as clock
from datetime import timedelta, timezone
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from clinica_web import mail, worker
from clinica_web.extensions import db
from clinica_web.models import Appointment, Doctor, OutboxEmail, PasswordResetRequest, User
from clinica_web.models.outbox import FAILED, PENDING, REMINDER, SENT
from clinica_web.services import accounts, availability, booking, clinic, notifications, staff_actions
from clinica_web.services.errors import SlotTaken
from tests.conftest import PASSWORD, TEST_NOW, TZ_NAME, instant, next_weekday

SECRET = "secret rash on left arm"
PATIENT_EMAIL = "ana@example.com"
HANG_LIMIT = 10  # seconds the silent server keeps a connection open, so a missing timeout fails, not hangs


# The app is conftest's, built with `app_config`, which the SMTP classes below override.


# ---------------------------------------------------------------------------------------------
# Helpers


def book(app, *, patient_id, doctor_id, day, hhmm="10:30", now=None, **extra):
    """Book through the service; returns the appointment id."""
    with app.app_context():
        patient = db.session.get(User, patient_id)
        appointment = booking.book(
            actor=patient, patient=patient, doctor_id=doctor_id, date=day.isoformat(), time=hhmm,
            now=now or clinic.now(), **extra,
        )
        return appointment.id


def cancel(app, *, patient_id, appointment_id, now=None):
    with app.app_context():
        patient = db.session.get(User, patient_id)
        booking.cancel_by_patient(patient=patient, appointment_id=appointment_id, now=now or clinic.now())


def outbox(app):
    """Every email in the outbox but the reminders (test_reminders.py's), oldest first (detached
    copies of their fields); an appointment's email is written out as it is sent."""
    with app.app_context():
        rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind != REMINDER)
                                  .order_by(OutboxEmail.id)).all()
        return [SimpleNamespace(**{c.key: getattr(row, c.key) for c in OutboxEmail.__table__.columns}) for row in rows]


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def calendar_parts(message):
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def calendar_of(message):
    """(raw ICS bytes, parsed calendar, its one VEVENT) of a message's one calendar attachment."""
    [part] = calendar_parts(message)
    raw = part.get_payload(decode=True)
    calendar = Calendar.from_ical(raw)
    [event] = calendar.walk("VEVENT")
    return raw, calendar, event


def assert_follows_the_calendar_standard(raw: bytes, method: str):
    """The calendar file against the rules of RFC 5545 that icalendar knows: Calendar.validate()
    (PRODID, VERSION, a component) and, for every component, its `required` properties, its
    `singletons` at most once, never two of its `exclusive` ones, its `inclusive` ones together;
    no property it could not read. Then what a calendar program needs to import the event as
    METHOD `method` (RFC 5546): one UID, DTSTAMP (UTC), DTSTART, ORGANIZER, SUMMARY and SEQUENCE;
    a VALARM with ACTION, TRIGGER and DESCRIPTION, except in a CANCEL, which has none; a VTIMEZONE
    for each TZID used. Returns (calendar, event)."""
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    assert max(len(line) for line in lines) <= 75  # long lines folded at 75 octets
    calendar = Calendar.from_ical(raw)
    calendar.validate()
    for component in calendar.walk():
        name = component.name
        assert not component.errors, (name, component.errors)
        assert [p for p in component.required if p not in component] == [], f"{name} lacks a required property"
        assert [p for p in component.singletons if isinstance(component.get(p), list)] == [], f"{name}: twice"
        assert len([p for p in component.exclusive if p in component]) <= 1, f"{name}: exclusive properties"
        for together in component.inclusive:
            assert together[0] not in component or all(p in component for p in together), (name, together)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["METHOD"]) == method
    [event] = calendar.walk("VEVENT")
    # A request or a cancel is sent to its attendee; a published file invites nobody (RFC 5546 3.2.1).
    assert ("ATTENDEE" in event) == (method != "PUBLISH")
    for required in ("UID", "DTSTAMP", "DTSTART", "ORGANIZER", "SUMMARY", "SEQUENCE"):
        assert required in event and not isinstance(event[required], list), required
    assert event.decoded("DTSTAMP").utcoffset() == timedelta(0)
    assert re.search(rb"\r\nDTSTAMP:\d{8}T\d{6}Z\r\n", raw)
    assert event.start < event.end
    zones = {str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")}
    assert {event[p].params["TZID"] for p in ("DTSTART", "DTEND") if "TZID" in event[p].params} <= zones
    alarms = event.walk("VALARM")
    if method == "CANCEL":
        assert alarms == []
    else:
        [alarm] = alarms
        for required in ("ACTION", "TRIGGER", "DESCRIPTION"):  # a DISPLAY alarm needs its text
            assert required in alarm and not isinstance(alarm[required], list), required
        assert str(alarm["ACTION"]) == "DISPLAY" and str(alarm["DESCRIPTION"])
    return calendar, event


def everything_in(message) -> str:
    """Every header and every decoded part of a message, as one text (base64 and QP undone)."""
    chunks = []
    for part in message.walk():
        chunks += [f"{name}: {value}" for name, value in part.items()]
        if not part.is_multipart():
            chunks.append(part.get_payload(decode=True).decode("utf-8"))
    return "\n".join(chunks)


def assert_booked_message(message, *, day, appointment_id):
    """The booked email: recipient, subject, text and HTML parts, no trace of the notes."""
    assert message["To"] == PATIENT_EMAIL
    assert message["Subject"] == f"Your appointment is booked: Mon {day:%d %b} 10:30 with Dr. Laura Rossi"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    for body in (text.get_content(), html.get_content()):
        assert "Ana Torres" in body
        assert f"Mon {day:%d %b %Y}, 10:30" in body
        assert "Dr. Laura Rossi" in body
        assert str(appointment_id) in body
        assert "is booked" in body
    assert "<html" in html.get_content().lower()
    assert SECRET not in everything_in(message)
    assert SECRET.encode() not in message.as_bytes()


# ---------------------------------------------------------------------------------------------
# SMTP servers on loopback


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        return [parse(envelope.content) for envelope in self.envelopes]


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def start_smtp(smtp_port):
    """Start a recording SMTP server on `smtp_port` (on demand: tests of a down server start it late)."""
    controllers = []

    def start():
        recorder = Recorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        return recorder

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp(start_smtp):
    return start_smtp()


@pytest.fixture
def silent_server():
    """Accepts TCP connections and never says a word (a hung mail server)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
                accepted.append((connection, time.monotonic()))
            except TimeoutError:
                pass
            for connection, since in accepted:
                if time.monotonic() - since > HANG_LIMIT:
                    connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield SimpleNamespace(port=listener.getsockname()[1], accepted=accepted)
    stop.set()
    thread.join()
    for connection, _since in accepted:
        connection.close()
    listener.close()


# ---------------------------------------------------------------------------------------------
# Data


@pytest.fixture
def doctor_id(make_doctor):
    return make_doctor()


@pytest.fixture
def patient_id(make_user):
    return make_user(email=PATIENT_EMAIL, full_name="Ana Torres")


@pytest.fixture
def monday():
    return next_weekday(0)


# =============================================================================================
# The outbox and the messages (development file backend)


def test_an_email_of_a_kind_this_version_does_not_know_is_skipped_and_the_rest_sent(
        app, doctor_id, patient_id, monday, sent_mail):
    """A row a later version planned (a rolling deploy, a downgrade): not sent, said why, and it
    stops nothing else."""
    book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
    with app.app_context():
        db.session.add(OutboxEmail(kind="birthday", recipient="", subject="", text_body="", html_body="",
                                   status=PENDING, next_attempt_at=TEST_NOW, created_at=TEST_NOW))
        db.session.commit()
    [message] = sent_mail()
    assert message["Subject"].startswith("Your appointment is booked")
    with app.app_context():
        skipped = db.session.execute(select(OutboxEmail.status, OutboxEmail.last_error).where(
            OutboxEmail.kind == "birthday")).one()
    assert tuple(skipped) == ("skipped", "Unknown kind: birthday")


def test_booking_writes_one_outbox_row_and_the_worker_sends_it(app, doctor_id, patient_id, monday, sent_mail,
                                                               run_worker):
    now = TEST_NOW
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday, notes=SECRET, now=now)

    [row] = outbox(app)  # written with the booking, due at once, not sent by the booking
    assert row.status == PENDING and row.attempts == 0 and row.next_attempt_at == now and row.created_at == now
    assert run_worker() == {"reset_requests": 0, "offers_expired": 0, "offers_made": 0, "sent": 1, "failed": 0}
    [row] = outbox(app)
    assert row.recipient == PATIENT_EMAIL
    assert row.status == SENT and row.attempts == 1 and row.sent_at == now and row.last_error is None
    assert row.ics_method == "REQUEST"
    for field in (row.subject, row.text_body, row.html_body, row.ics.decode()):
        assert SECRET not in field
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).notes == SECRET  # kept, just never emailed

    [message] = sent_mail()
    assert_booked_message(message, day=monday, appointment_id=appointment_id)


def test_the_booking_plans_its_email_and_the_worker_writes_it_as_the_booking_was(
        app, doctor_id, patient_id, monday, sent_mail, monkeypatch):
    """The request renders no email or calendar file (the worker does, as it sends); what the
    email says is the booking as it was made, even if it is moved before the worker runs."""
    written = []
    real_appointment_email = notifications.mail.appointment_email
    monkeypatch.setattr(notifications.mail, "appointment_email",
                        lambda *args, **kwargs: written.append(args[1]) or real_appointment_email(*args, **kwargs))
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
    assert written == []
    with app.app_context():
        patient = db.session.get(User, patient_id)
        booking.reschedule_by_patient(patient=patient, appointment_id=appointment_id, date=monday.isoformat(),
                                      time="11:00", now=TEST_NOW)
    assert written == []
    booked, moved = sent_mail()
    assert written == ["booked", "rescheduled"]
    assert booked["Subject"] == f"Your appointment is booked: Mon {monday:%d %b} 10:30 with Dr. Laura Rossi"
    assert moved["Subject"] == f"Your appointment has been moved: Mon {monday:%d %b} 11:00 with Dr. Laura Rossi"
    assert f"Mon {monday:%d %b %Y}, 10:30" in moved.get_body(("plain",)).get_content()  # moved from
    events = [calendar_of(message)[2] for message in (booked, moved)]
    assert [(event["SEQUENCE"], event.decoded("DTSTART").strftime("%H:%M")) for event in events] == [
        (0, "10:30"), (1, "11:00")]


def test_a_worker_job_that_fails_stops_no_other_and_the_emails_go_out(app, doctor_id, patient_id, monday,
                                                                      run_worker, monkeypatch, caplog):
    """The pass still fails (a job failing pass after pass must be seen), once the others have run."""
    book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday, now=TEST_NOW)

    def broken(**_):
        raise IntegrityError("DELETE FROM appointments", {}, Exception("FOREIGN KEY constraint failed"))

    monkeypatch.setattr(worker.waitlist, "expire_offers", broken)
    with pytest.raises(IntegrityError):
        run_worker()
    assert [row.status for row in outbox(app)] == [SENT]  # sent all the same
    assert "Worker: offers expired failed" in caplog.text and "FOREIGN KEY" in caplog.text


def test_cancelling_writes_one_more_row_and_sends_the_cancellation(app, doctor_id, patient_id, monday, sent_mail):
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday, notes=SECRET)
    cancel(app, patient_id=patient_id, appointment_id=appointment_id)

    first, second = sent_mail()
    booked, cancelled = outbox(app)
    assert cancelled.status == SENT and cancelled.attempts == 1
    assert cancelled.recipient == PATIENT_EMAIL and cancelled.ics_method == "CANCEL"
    assert second["To"] == PATIENT_EMAIL
    assert second["Subject"] == f"Your appointment is cancelled: Mon {monday:%d %b} 10:30 with Dr. Laura Rossi"
    for body in (second.get_body(("plain",)).get_content(), second.get_body(("html",)).get_content()):
        assert "is cancelled" in body and f"Mon {monday:%d %b %Y}, 10:30" in body and str(appointment_id) in body
    assert SECRET not in everything_in(second)


@pytest.fixture
def journal(monkeypatch):
    """What happened, in order: for each commit, the set of model names it wrote; "deliver" per send."""
    events, written = [], set()
    session_class = db.session.session_factory.class_

    def after_flush(session, _context):
        written.update(type(obj).__name__ for obj in [*session.new, *session.dirty])

    def after_commit(_session):
        events.append(frozenset(written))
        written.clear()

    def after_rollback(_session):
        written.clear()

    def orm_execute(state):  # rows inserted by statement (planned emails), not as objects
        if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is not None:
            written.add(state.bind_mapper.class_.__name__)

    listeners = [("after_flush", after_flush), ("after_commit", after_commit), ("after_rollback", after_rollback),
                 ("do_orm_execute", orm_execute)]
    for name, listener in listeners:
        event.listen(session_class, name, listener)
    real_deliver = notifications.mail.deliver

    def deliver(message):
        events.append("deliver")
        real_deliver(message)

    monkeypatch.setattr(notifications.mail, "deliver", deliver)
    yield events
    for name, listener in listeners:
        event.remove(session_class, name, listener)


def test_the_email_row_is_committed_with_the_change_and_sent_by_the_worker(app, doctor_id, patient_id, monday,
                                                                           journal, run_worker):
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
    booked = next(i for i, e in enumerate(journal) if e != "deliver" and "Appointment" in e)
    assert {"Appointment", "AppointmentChange", "OutboxEmail"} <= journal[booked]
    assert "deliver" not in journal  # the booking itself never talks to the mail server
    run_worker()
    assert journal.count("deliver") == 1

    journal.clear()
    cancel(app, patient_id=patient_id, appointment_id=appointment_id)
    cancelled = next(i for i, e in enumerate(journal) if e != "deliver" and "Appointment" in e)
    assert {"Appointment", "AppointmentChange", "OutboxEmail"} <= journal[cancelled]
    assert "deliver" not in journal
    run_worker()
    assert journal.count("deliver") == 1


def test_a_commit_that_fails_takes_the_email_with_it(app, doctor_id, patient_id, monday, monkeypatch, sent_mail):
    """Same transaction: if the booking's commit fails, no row and no email."""
    real_commit, calls = db.session.commit, []

    def commit():
        calls.append(len(calls))
        if len(calls) == 1:  # the booking's own commit: refused (a constraint checked at commit)
            # The overlap guard, checked at commit, as SQLite's trigger reports it.
            raise IntegrityError("COMMIT", {}, Exception("appointments_no_overlap"))
        real_commit()

    monkeypatch.setattr(db.session, "commit", commit)
    with pytest.raises(SlotTaken):
        book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
    assert count(app, Appointment) == 0
    assert count(app, OutboxEmail) == 0
    assert sent_mail() == []


def _book_a_slot_taken_after_the_check(app, make_user, make_appointment, monkeypatch, doctor_id, patient_id, day):
    """Another request booked the slot after our overlap check: the database refuses the commit."""
    other = make_user(email="other@example.com")
    make_appointment(doctor_id=doctor_id, patient_id=other, day=day, hhmm="10:30")
    monkeypatch.setattr(availability, "busy_intervals", lambda *args, **kwargs: [])
    return book(app, patient_id=patient_id, doctor_id=doctor_id, day=day)


def test_a_booking_the_database_refuses_leaves_no_email(app, make_user, make_appointment, monkeypatch, doctor_id,
                                                        patient_id, monday, sent_mail):
    """Same transaction: when the database refuses the appointment, its email goes too; nothing is sent."""
    with pytest.raises(SlotTaken):
        _book_a_slot_taken_after_the_check(app, make_user, make_appointment, monkeypatch, doctor_id, patient_id,
                                           monday)
    assert count(app, OutboxEmail) == 0
    assert count(app, Appointment) == 1  # the other patient's
    assert sent_mail() == []


def test_ics_request_then_cancel_for_the_same_event(app, doctor_id, patient_id, monday, sent_mail):
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday, notes=SECRET,
                          appointment_type="procedure")  # 45 minutes: not the default duration
    cancel(app, patient_id=patient_id, appointment_id=appointment_id)
    booked, cancelled = sent_mail()

    raw_booked, cal_booked, event_booked = calendar_of(booked)
    raw_cancelled, cal_cancelled, event_cancelled = calendar_of(cancelled)
    assert str(cal_booked["METHOD"]) == "REQUEST"
    assert str(cal_cancelled["METHOD"]) == "CANCEL"
    assert str(event_booked["STATUS"]) == "CONFIRMED" and str(event_cancelled["STATUS"]) == "CANCELLED"
    assert str(event_booked["UID"]) == str(event_cancelled["UID"])
    assert str(appointment_id) in str(event_booked["UID"])
    assert int(event_booked["SEQUENCE"]) == 0
    assert int(event_cancelled["SEQUENCE"]) == 1

    local_start = datetime.combine(monday, clock(10, 30))
    both = [(raw_booked, cal_booked, event_booked), (raw_cancelled, cal_cancelled, event_cancelled)]
    for raw, calendar, vevent in both:
        assert vevent["DTSTART"].params["TZID"] == TZ_NAME
        assert vevent["DTEND"].params["TZID"] == TZ_NAME
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
        assert start.replace(tzinfo=None) == local_start  # the wall-clock time the patient booked
        assert start == instant(monday, "10:30")  # and the same instant
        assert end - start == timedelta(minutes=45)
        assert f"DTSTART;TZID={TZ_NAME}:{local_start:%Y%m%dT%H%M%S}".encode() in raw
        [vtimezone] = calendar.walk("VTIMEZONE")
        assert str(vtimezone["TZID"]) == TZ_NAME
        assert str(vevent["ATTENDEE"]) == f"mailto:{PATIENT_EMAIL}"
        assert SECRET.encode() not in raw


class TestCopyDoctor:
    @pytest.fixture
    def app_config(self):
        return {"MAIL_COPY_DOCTOR": True}

    def test_the_doctor_gets_a_copy(self, app, make_doctor, patient_id, monday, sent_mail):
        doctor_id = make_doctor(with_user=True)
        book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
        with app.app_context():
            doctor_email = db.session.get(Doctor, doctor_id).user.email
        [message] = sent_mail()
        assert message["To"] == PATIENT_EMAIL
        assert message["Cc"] == doctor_email


def test_password_reset_email_has_the_link_and_no_calendar(app, patient_id, sent_mail):
    with app.app_context():
        accounts.request_password_reset(email=PATIENT_EMAIL, now=clinic.now())
    assert outbox(app) == []  # the request only leaves the address for the worker
    [message] = sent_mail()
    [row] = outbox(app)
    assert row.status == SENT and row.ics is None and row.ics_method is None
    assert message["To"] == PATIENT_EMAIL
    assert message["Subject"] == "Reset your Clinica password"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = next(word for word in text.split() if word.startswith("http://clinica.test/password-reset/"))
    assert link in html
    assert calendar_parts(message) == []
    assert list(message.iter_attachments()) == []
    with app.app_context():
        user = accounts.user_for_reset_token(link.rsplit("/", 1)[1])
        assert user is not None and user.id == patient_id


def test_password_reset_for_an_unknown_address_sends_nothing(app, patient_id, sent_mail):
    with app.app_context():
        accounts.request_password_reset(email="nobody@example.com", now=clinic.now())
    assert outbox(app) == [] and sent_mail() == []
    with app.app_context():  # the request was handled: nothing left to look at again
        assert db.session.scalar(select(func.count(PasswordResetRequest.id))) == 0


# =============================================================================================
# Senders: claiming, backoff, giving up


def queue_one(app, *, now):
    with app.app_context():
        row = notifications.queue(recipient=PATIENT_EMAIL, subject="Hello", text_body="Hi", html_body="<p>Hi</p>",
                                  now=now)
        db.session.commit()
        return row.id


def queue_unsent(app, *, now):
    """An email queued a while before `now`, not sent yet."""
    return queue_one(app, now=now - timedelta(minutes=notifications.CLAIM_MINUTES))


def test_a_new_row_is_due_at_once_and_sent_once(app, sent_mail):
    now = TEST_NOW
    email_id = queue_one(app, now=now)
    with app.app_context():
        assert notifications.send_due(now=now - timedelta(seconds=1)) == (0, 0)  # not before it was written
        assert notifications.send_due(now=now) == (1, 0)
        assert notifications.send_due(now=now + timedelta(days=1)) == (0, 0)  # sent: never again
    assert [message["Subject"] for message in sent_mail()] == ["Hello"]
    [row] = outbox(app)
    assert row.id == email_id and row.status == SENT and row.attempts == 1


def test_a_sender_that_stopped_half_way_leaves_its_rows_to_the_next_after_the_lease(app, monkeypatch):
    """A sender claims rows (a lease), then dies before sending: another sender sends them once the
    lease has run out, and only once."""
    now = TEST_NOW
    queue_one(app, now=now)

    def die(message):
        raise SystemExit("the worker was killed")

    real_deliver = mail.deliver
    monkeypatch.setattr(mail, "deliver", die)
    with app.app_context(), pytest.raises(SystemExit):
        notifications.send_due(now=now)
    monkeypatch.setattr(mail, "deliver", real_deliver)
    lease_ends = now + timedelta(minutes=notifications.CLAIM_MINUTES)
    with app.app_context():
        assert notifications.send_due(now=lease_ends - timedelta(seconds=1)) == (0, 0)
        assert notifications.send_due(now=lease_ends) == (1, 0)
        assert notifications.send_due(now=lease_ends + timedelta(days=1)) == (0, 0)


def test_a_sender_killed_after_sending_leaves_nothing_unsent(app, sent_mail, monkeypatch):
    """Killed after handing three emails of five to the server, before writing that down: once its
    lease has run out the next sender sends everything it has no record of (the three again, as
    the README says: at most the 20 between writes) and nothing is lost."""
    now = TEST_NOW
    for _ in range(5):
        queue_one(app, now=now)
    real_deliver, handed = mail.deliver, []

    def killed_after_three(message):
        if len(handed) == 3:
            raise SystemExit("the worker was killed")
        real_deliver(message)
        handed.append(message)

    monkeypatch.setattr(mail, "deliver", killed_after_three)
    with app.app_context(), pytest.raises(SystemExit):
        notifications.send_due(now=now)
    monkeypatch.setattr(mail, "deliver", real_deliver)
    assert len(sent_mail()) == 3 and {row.status for row in outbox(app)} == {PENDING}
    lease_ends = now + timedelta(minutes=notifications.CLAIM_MINUTES)
    with app.app_context():
        assert notifications.send_due(now=lease_ends) == (5, 0)
    assert len(sent_mail()) == 8 and {row.status for row in outbox(app)} == {SENT}


def test_send_mail_claims_what_it_sends(app, sent_mail, monkeypatch):
    """A `send-mail` run holds a lease on the rows it took: a second run meanwhile finds nothing."""
    now = TEST_NOW
    queue_unsent(app, now=now)
    second_run = []

    def deliver_while_another_run_looks(message):
        with app.app_context():
            second_run.append(notifications.send_due(now=now))
        write_to_files(message)

    write_to_files = mail.deliver
    monkeypatch.setattr(mail, "deliver", deliver_while_another_run_looks)
    with app.app_context():
        assert notifications.send_due(now=now) == (1, 0)
    assert second_run == [(0, 0)] and len(sent_mail()) == 1


# =============================================================================================
# Over SMTP, to a real server on loopback


class TestSmtp:
    @pytest.fixture
    def app_config(self, smtp_port):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port}

    def test_booking_on_the_website_arrives_at_the_smtp_server(self, app, client, smtp, doctor_id, patient, monday,
                                                               sent_mail, run_worker):
        response = client.post(f"/doctors/{doctor_id}/book", data={
            "date": monday.isoformat(), "time": "10:30", "type": "consultation", "booking_key": "key-1",
            "notes": SECRET,
        })
        assert response.status_code == 303
        assert smtp.envelopes == []  # the web process never talks to the mail server
        run_worker()
        with app.app_context():
            appointment_id = db.session.scalar(select(Appointment.id))
        assert response.headers["Location"].endswith(f"/bookings/{appointment_id}")

        [envelope] = smtp.envelopes
        assert envelope.rcpt_tos == [PATIENT_EMAIL]
        assert envelope.mail_from == "no-reply@clinica.test"
        assert SECRET.encode() not in envelope.content
        message = parse(envelope.content)
        assert message.get_content_type() == "multipart/mixed"
        alternative, attachment = message.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in alternative.get_payload()] == ["text/plain", "text/html"]
        assert attachment.get_content_type() == "text/calendar"
        assert attachment.get_param("method") == "REQUEST"
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == "appointment.ics"
        assert_booked_message(message, day=monday, appointment_id=appointment_id)

        _raw, calendar, event = calendar_of(message)
        assert str(calendar["METHOD"]) == "REQUEST" and int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == instant(monday, "10:30")
        assert event["DTSTART"].params["TZID"] == TZ_NAME
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30)

        [row] = outbox(app)
        assert row.status == SENT and row.attempts == 1
        assert sent_mail() == []  # SMTP, not the development files

    def test_cancelling_arrives_as_a_calendar_cancel(self, app, smtp, doctor_id, patient_id, monday, run_worker):
        appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
        cancel(app, patient_id=patient_id, appointment_id=appointment_id)
        run_worker()
        booked, cancelled = smtp.messages()
        [attachment] = calendar_parts(cancelled)
        assert attachment.get_param("method") == "CANCEL"
        _raw, calendar, event = calendar_of(cancelled)
        assert str(calendar["METHOD"]) == "CANCEL" and int(event["SEQUENCE"]) == 1
        assert str(event["UID"]) == str(calendar_of(booked)[2]["UID"])
        assert [envelope.rcpt_tos for envelope in smtp.envelopes] == [[PATIENT_EMAIL], [PATIENT_EMAIL]]


class TestSmtpDown:
    """The mail server is down at booking time (nothing listens on the port) and comes back later."""

    @pytest.fixture
    def app_config(self, smtp_port):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_TIMEOUT_SECONDS": 2}

    def book_while_down(self, app, client, doctor_id, monday, run_worker):
        before = TEST_NOW
        response = client.post(f"/doctors/{doctor_id}/book", data={
            "date": monday.isoformat(), "time": "10:30", "type": "consultation", "booking_key": "key-1",
        })
        # The booking does not notice: the usual redirect to the new booking.
        assert response.status_code == 303
        with app.app_context():
            appointment_id = db.session.scalar(select(Appointment.id))
        assert appointment_id is not None
        assert response.headers["Location"].endswith(f"/bookings/{appointment_id}")

        assert run_worker()["failed"] == 1
        [row] = outbox(app)
        assert row.status == PENDING and row.attempts == 1 and row.sent_at is None
        assert row.last_error and "refused" in row.last_error.lower()
        assert row.next_attempt_at > TEST_NOW  # backed off: not due right away
        assert row.next_attempt_at >= before + timedelta(minutes=2)
        return row

    def test_send_due_delivers_once_the_server_is_back(self, app, client, start_smtp, doctor_id, patient, monday,
                                                       run_worker):
        row = self.book_while_down(app, client, doctor_id, monday, run_worker)
        with app.app_context():
            assert notifications.send_due(now=row.next_attempt_at - timedelta(seconds=1)) == (0, 0)
        smtp = start_smtp()
        later = row.next_attempt_at
        with app.app_context():
            assert notifications.send_due(now=later) == (1, 0)
        [envelope] = smtp.envelopes
        assert envelope.rcpt_tos == [PATIENT_EMAIL]
        assert calendar_parts(parse(envelope.content))[0].get_param("method") == "REQUEST"
        [row] = outbox(app)
        assert row.status == SENT and row.attempts == 2 and row.sent_at == later and row.last_error is None
        with app.app_context():
            assert notifications.send_due(now=later + timedelta(days=1)) == (0, 0)
        assert len(smtp.envelopes) == 1

    def test_the_send_mail_command_retries_once_due(self, app, client, start_smtp, doctor_id, patient, monday,
                                                    monkeypatch, run_worker):
        row = self.book_while_down(app, client, doctor_id, monday, run_worker)
        cli = app.test_cli_runner()

        def send_mail():
            # `flask` pushes an app context before running a command; app.cli alone does not, and
            # cli.py's commands are not wrapped in with_appcontext.
            with app.app_context():
                return cli.invoke(args=["send-mail"])

        # Not due yet on the real clock: the command leaves it alone.
        result = send_mail()
        assert result.exit_code == 0, result.output
        assert "Sent 0 email(s); 0 failed" in result.output
        # Time passes (the command reads the clock through clinic.now), the server is still down.
        monkeypatch.setattr(clinic, "now", lambda: row.next_attempt_at)
        result = send_mail()
        assert result.exit_code == 1
        assert "Sent 0 email(s); 1 failed" in result.output
        [row] = outbox(app)
        assert row.status == PENDING and row.attempts == 2

        smtp = start_smtp()
        monkeypatch.setattr(clinic, "now", lambda: row.next_attempt_at)
        result = send_mail()
        assert result.exit_code == 0, result.output
        assert "Sent 1 email(s); 0 failed" in result.output
        [envelope] = smtp.envelopes
        assert envelope.rcpt_tos == [PATIENT_EMAIL]
        [row] = outbox(app)
        assert row.status == SENT and row.attempts == 3

        monkeypatch.setattr(clinic, "now", lambda: row.next_attempt_at + timedelta(days=1))
        result = send_mail()
        assert result.exit_code == 0 and "Sent 0 email(s)" in result.output
        assert len(smtp.envelopes) == 1


class TestBackoff:
    """Every failure doubles the wait (capped); after MAIL_MAX_ATTEMPTS the row is given up."""

    MAX_ATTEMPTS = 10

    @pytest.fixture
    def app_config(self, smtp_port):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_MAX_ATTEMPTS": self.MAX_ATTEMPTS}

    def test_backoff_grows_then_the_row_fails(self, app):
        now = TEST_NOW
        email_id = queue_unsent(app, now=now)
        waits = []
        for attempt in range(1, self.MAX_ATTEMPTS):
            with app.app_context():
                assert notifications.send_due(now=now) == (0, 1)
                row = db.session.get(OutboxEmail, email_id)
                assert row.status == PENDING and row.attempts == attempt and "refused" in row.last_error.lower()
                waits.append(row.next_attempt_at - now)
                # Not retried before it is due.
                assert notifications.send_due(now=row.next_attempt_at - timedelta(seconds=1)) == (0, 0)
                now = row.next_attempt_at
        assert waits == [timedelta(minutes=min(2**n, 360)) for n in range(1, self.MAX_ATTEMPTS)]
        assert waits[-1] == notifications.MAX_BACKOFF

        with app.app_context():
            assert notifications.send_due(now=now) == (0, 1)
            row = db.session.get(OutboxEmail, email_id)
            assert row.status == FAILED and row.attempts == self.MAX_ATTEMPTS
            # Given up: never picked again, whenever a sender runs.
            assert notifications.send_due(now=now + timedelta(days=365)) == (0, 0)
            assert db.session.get(OutboxEmail, email_id).attempts == self.MAX_ATTEMPTS


class TestTimeout:
    """A mail server that accepts the connection and never answers must not hang the booking."""

    @pytest.fixture
    def app_config(self, silent_server):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": silent_server.port, "MAIL_TIMEOUT_SECONDS": 1}

    def test_a_silent_server_times_out_and_the_row_waits_for_a_retry(self, app, silent_server, doctor_id,
                                                                     patient_id, monday, run_worker):
        appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
        assert not silent_server.accepted  # the booking never connects
        started = time.monotonic()
        run_worker()
        elapsed = time.monotonic() - started
        assert silent_server.accepted, "the sender never connected"
        assert elapsed < 5, f"the send took {elapsed:.1f}s: no timeout?"
        with app.app_context():
            assert db.session.get(Appointment, appointment_id) is not None
        [row] = outbox(app)
        assert row.status == PENDING and row.attempts == 1
        assert "timed out" in row.last_error.lower()
        assert row.next_attempt_at > TEST_NOW


class SlowRecorder(Recorder):
    """An SMTP server that takes SLOW_SECONDS over each message (a mail server under load)."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(SLOW_SECONDS)
        return await super().handle_DATA(server, session, envelope)


SLOW_SECONDS = 1.5


class TestSlowServer:
    """A mail server taking 1.5 s a message slows no request: the web process never talks to it."""

    @pytest.fixture
    def slow_smtp(self, smtp_port):
        recorder = SlowRecorder()
        controller = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        yield recorder
        controller.stop()

    @pytest.fixture
    def app_config(self, smtp_port):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_TIMEOUT_SECONDS": 10}

    def test_bookings_take_no_longer_with_a_slow_mail_server(self, app, slow_smtp, doctor_id, make_user, monday,
                                                             run_worker):
        # A WSGI server closes each response once it is sent; this client leaves that to us, so
        # anything run on close (as the emails once were) counts in the time measured here.
        client = FlaskClient(app, app.response_class, use_cookies=True)
        make_user(email=PATIENT_EMAIL, full_name="Ana Torres")
        assert client.post("/login", data={"email": PATIENT_EMAIL, "password": PASSWORD}).status_code == 303
        timings = []
        for number, hhmm in enumerate(["10:30", "11:30", "14:00"]):
            started = time.monotonic()
            response = client.post(f"/doctors/{doctor_id}/book", data={
                "date": monday.isoformat(), "time": hhmm, "type": "consultation", "booking_key": f"key-{number}",
            })
            response.close()
            timings.append(time.monotonic() - started)
            assert response.status_code == 303
            assert client.get("/bookings").status_code == 200  # an unrelated page, right after
        assert max(timings) < SLOW_SECONDS / 2, f"bookings took {timings}: they waited for the mail server"
        assert slow_smtp.envelopes == [] and [row.attempts for row in outbox(app)] == [0, 0, 0]

        started = time.monotonic()
        assert run_worker()["sent"] == 3  # the worker is the one that waits
        assert time.monotonic() - started >= 3 * SLOW_SECONDS
        assert [envelope.rcpt_tos for envelope in slow_smtp.envelopes] == [[PATIENT_EMAIL]] * 3


def _slow_sender_meets_another(app, monkeypatch, clock, *, minutes_a_message, other_sender_at):
    """Sender A claims three emails (a ten-minute lease) from a mail server taking
    `minutes_a_message` over each; sender B runs once `other_sender_at` minutes have passed.
    Returns (A's counts, B's counts)."""
    now = TEST_NOW
    for _ in range(3):
        queue_one(app, now=now)
    real_deliver, sender_b = mail.deliver, []

    def slow(message):
        clock.advance(minutes=minutes_a_message)
        if not sender_b and clinic.now() >= now + timedelta(minutes=other_sender_at):
            monkeypatch.setattr(mail, "deliver", real_deliver)
            with app.app_context():
                sender_b.append(notifications.send_due(now=clinic.now()))
            monkeypatch.setattr(mail, "deliver", slow)
        real_deliver(message)

    monkeypatch.setattr(mail, "deliver", slow)
    with app.app_context():
        sender_a = notifications.send_due(now=now)
    return sender_a, sender_b[0]


def test_a_sender_slowed_past_its_lease_leaves_the_rest_to_whoever_took_them(app, sent_mail, monkeypatch, clock):
    """The server takes eleven minutes over A's first email, past A's ten-minute lease: B, running
    then, finds all three free and sends them; A, back, leaves the two it had not started. Only the
    email the server held past the lease goes twice, which no lease can tell from a dead sender's
    (MAIL_TIMEOUT_SECONDS, 10 s, keeps a real send far inside the lease)."""
    sender_a, sender_b = _slow_sender_meets_another(app, monkeypatch, clock, minutes_a_message=11,
                                                    other_sender_at=11)
    assert (sender_a, sender_b) == ((1, 0), (3, 0))
    assert len(sent_mail()) == 4 and [row.attempts for row in outbox(app)] == [2, 1, 1]


def test_a_slow_sender_renews_its_lease_as_it_goes(app, sent_mail, monkeypatch, clock):
    """Six minutes an email: A renews its lease on what is left after each (a minute has passed
    since it last wrote), so B, eleven minutes in, finds nothing to take, and A sends all three."""
    sender_a, sender_b = _slow_sender_meets_another(app, monkeypatch, clock, minutes_a_message=6,
                                                    other_sender_at=11)
    assert (sender_a, sender_b) == ((3, 0), (0, 0))
    assert len(sent_mail()) == 3 and [row.attempts for row in outbox(app)] == [1, 1, 1]


# ---------------------------------------------------------------------------------------------
# What every appointment email and calendar file carries (DESIGN.md section 15)


def test_emails_name_the_clinic_and_link_to_the_booking_and_the_ics_imports_cleanly(
        app, doctor_id, patient_id, monday, sent_mail):
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
    [message] = sent_mail()
    body = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = f"http://clinica.test/bookings/{appointment_id}"
    for text in (body, html):
        assert "Av. Providencia 1234, Santiago" in text and "+56 2 2345 6789" in text and link in text
    [attachment] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(attachment.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert str(event["LOCATION"]) == "Av. Providencia 1234, Santiago"
    assert link in str(event["DESCRIPTION"])
    assert event["ORGANIZER"].params["CN"] == "Clinica"
    [alarm] = event.walk("VALARM")
    assert alarm["TRIGGER"].dt == timedelta(hours=-1) and str(alarm["ACTION"]) == "DISPLAY"
    # Parsed back without a broken property (icalendar keeps what it could not read in .errors).
    assert all(not component.errors for component in calendar.walk())
    assert_follows_the_calendar_standard(attachment.get_payload(decode=True), "REQUEST")


def test_a_moved_booking_says_from_when_to_when_and_a_cancellation_says_who(app, doctor_id, patient_id, monday,
                                                                            make_user, sent_mail):
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=monday)
    desk_id = make_user(role="reception", email="desk@example.com")
    with app.app_context():
        desk = db.session.get(User, desk_id)
        staff_actions.reschedule(actor=desk, appointment=db.session.get(Appointment, appointment_id),
                                 starts_at=instant(monday, "11:00"), reason="Doctor late", now=clinic.now())
        staff_actions.cancel_by_staff(actor=desk, appointment=db.session.get(Appointment, appointment_id),
                                      reason="doctor_unavailable", now=clinic.now())
    booked, moved, cancelled = (m.get_body(preferencelist=("plain",)).get_content() for m in sent_mail())
    assert f"has been moved from {monday:%a %d %b %Y}, 10:30 to {monday:%a %d %b %Y}, 11:00" in moved
    assert "is cancelled by the clinic." in cancelled
    assert "Doctor late" not in moved and "Doctor unavailable" not in cancelled  # reasons stay inside


def test_every_calendar_file_follows_the_calendar_standard(app, doctor_id, patient_id, login_as, sent_mail):
    """The booked, moved and cancelled emails' files (REQUEST, REQUEST, CANCEL) and the booking
    page's download (PUBLISH): one event, the same UID, its SEQUENCE going up with each change."""
    day = next_weekday(0, weeks=1)  # outside the change cutoff: the patient may move and cancel
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=day)
    with app.app_context():
        booking.reschedule_by_patient(patient=db.session.get(User, patient_id), appointment_id=appointment_id,
                                      date=day.isoformat(), time="11:30", now=clinic.now())
    download = login_as(patient_id).get(f"/bookings/{appointment_id}/calendar.ics")
    assert download.status_code == 200
    cancel(app, patient_id=patient_id, appointment_id=appointment_id)
    booked, moved, cancelled = sent_mail()
    files = [(booked, "REQUEST", 0), (moved, "REQUEST", 1), (download, "PUBLISH", 1), (cancelled, "CANCEL", 2)]
    uids = set()
    for source, method, sequence in files:
        if source is download:
            raw = download.data
            assert download.mimetype == "text/calendar"
        else:
            [part] = calendar_parts(source)
            assert part.get_param("method") == method  # the MIME type says the method the file says
            raw = part.get_payload(decode=True)
        _calendar, event = assert_follows_the_calendar_standard(raw, method)
        assert int(event["SEQUENCE"]) == sequence, method
        uids.add(str(event["UID"]))
    assert len(uids) == 1


def test_a_patients_own_cancellation_says_as_they_asked_and_the_clinics_says_the_clinic_did(
        app, doctor_id, patient_id, make_user, sent_mail):
    day = next_weekday(0, weeks=1)  # outside the change cutoff: the patient may cancel online
    own = book(app, patient_id=patient_id, doctor_id=doctor_id, day=day, hhmm="10:30")
    by_clinic = book(app, patient_id=patient_id, doctor_id=doctor_id, day=day, hhmm="14:00")
    cancel(app, patient_id=patient_id, appointment_id=own)
    desk_id = make_user(role="reception", email="desk@example.com")
    with app.app_context():
        staff_actions.cancel_by_staff(actor=db.session.get(User, desk_id),
                                      appointment=db.session.get(Appointment, by_clinic),
                                      reason="doctor_unavailable", now=clinic.now())
    cancellations = {re.search(r"(\d\d:\d\d) with", message["Subject"])[1]: message for message in sent_mail()
                     if message["Subject"].startswith("Your appointment is cancelled")}
    assert sorted(cancellations) == ["10:30", "14:00"]
    for when, says, never in [("10:30", "is cancelled, as you asked.", "by the clinic"),
                              ("14:00", "is cancelled by the clinic.", "as you asked")]:
        message = cancellations[when]
        assert message["To"] == PATIENT_EMAIL
        for body in (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()):
            assert f"Your appointment at {app.config['CLINIC_NAME']} {says}" in body and never not in body, when


def test_a_cancelled_visit_downloaded_says_cancelled_and_rings_no_alarm(app, doctor_id, patient_id, login_as):
    day = next_weekday(0, weeks=1)
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=day)
    cancel(app, patient_id=patient_id, appointment_id=appointment_id)
    download = login_as(patient_id).get(f"/bookings/{appointment_id}/calendar.ics")
    assert download.status_code == 200
    [event] = Calendar.from_ical(download.data).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and event.walk("VALARM") == []


def test_a_visit_ending_in_the_second_pass_of_the_repeated_hour_keeps_its_length(
        app, make_doctor, patient_id, clock, login_as):
    """2027-04-03, Santiago falls back at midnight. A 60-minute visit at the first 23:45 ends at
    the second 23:45: a local DTEND cannot say which (RFC 5545 reads the first), so it is in UTC."""
    night = date(2027, 4, 3)
    clock.set(instant(night - timedelta(days=10), "12:00"))
    doctor = make_doctor(name="Dr. Night", weekdays=[5], windows=(("22:00", "24:00"),))
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor, day=night, hhmm="23:45",
                          appointment_type="therapy")
    download = login_as(patient_id).get(f"/bookings/{appointment_id}/calendar.ics")
    [event] = Calendar.from_ical(download.data).walk("VEVENT")
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert end - start == timedelta(minutes=60)
    assert start.astimezone(timezone.utc) == datetime(2027, 4, 4, 2, 45, tzinfo=timezone.utc)
    assert b"DTEND:20270404T034500Z" in download.data


def test_the_worker_goes_straight_on_after_a_full_pass_and_pauses_after_the_rest(app, monkeypatch):
    """A backlog (a morning's reminders) goes out pass after pass with no pause between full
    passes; the pause (WORKER_INTERVAL_SECONDS) comes after the first pass that was not full."""
    full, failed_too, last = ({"sent": notifications.BATCH, "failed": 0},
                              {"sent": notifications.BATCH - 1, "failed": 1}, {"sent": 3, "failed": 0})
    answers, passes, paused_after = iter([full, failed_too, last]), [], []

    def one_pass(*, now):
        passes.append(now)
        return {"reset_requests": 0, "offers_expired": 0, "offers_made": 0, **next(answers)}

    def pause(_seconds):  # the first pause: how many passes came before it; then stop, as Ctrl-C does
        paused_after.append(len(passes))
        os.kill(os.getpid(), signal.SIGTERM)

    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    monkeypatch.setattr(worker, "run_once", one_pass)
    monkeypatch.setattr(worker.time, "sleep", pause)
    try:
        worker.run_until_stopped(app, interval=5, report=lambda _line: None)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert paused_after == [3] and len(passes) == 3


def test_one_visit_s_emails_go_out_in_the_order_of_its_changes(app, doctor_id, patient_id, clock, sent_mail):
    """A move and a cancel of one visit at once: the move got the lock first, but the cancel's
    request had started (and read the clock) a moment before, so its email is due first. The
    patient still reads "moved", then "cancelled": the visit as it is, last."""
    day = next_weekday(0, weeks=1)
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=day)
    with app.app_context():
        patient = db.session.get(User, patient_id)
        booking.reschedule_by_patient(patient=patient, appointment_id=appointment_id, date=day.isoformat(),
                                      time="11:30", now=TEST_NOW + timedelta(seconds=2))
    cancel(app, patient_id=patient_id, appointment_id=appointment_id, now=TEST_NOW + timedelta(seconds=1))
    clock.advance(seconds=3)
    assert len(sent_mail()) == 2  # booked and moved; the cancellation waited for the move's
    subjects = [message["Subject"].split(":")[0] for message in sent_mail()]  # (the next pass)
    assert subjects == ["Your appointment is booked", "Your appointment has been moved",
                        "Your appointment is cancelled"]


def test_a_visit_s_later_email_waits_for_an_earlier_one_that_failed(
        app, doctor_id, patient_id, clock, sent_mail, run_worker, monkeypatch):
    """The "moved" email fails (the server refused it): the "cancelled" one after it is not sent
    in its place, nor while the "moved" one waits to be tried again, but once that one is sent."""
    day = next_weekday(0, weeks=1)
    appointment_id = book(app, patient_id=patient_id, doctor_id=doctor_id, day=day)
    assert len(sent_mail()) == 1  # booked
    with app.app_context():
        patient = db.session.get(User, patient_id)
        booking.reschedule_by_patient(patient=patient, appointment_id=appointment_id, date=day.isoformat(),
                                      time="11:30", now=clinic.now())
    cancel(app, patient_id=patient_id, appointment_id=appointment_id)
    deliver = mail.deliver

    def refusing_moves(message):
        if "moved" in message.subject:
            raise smtplib.SMTPRecipientsRefused({PATIENT_EMAIL: (450, b"Mailbox busy")})
        deliver(message)

    monkeypatch.setattr(mail, "deliver", refusing_moves)
    run_worker()
    assert len(sent_mail()) == 1  # (sent_mail runs a pass of its own: still nothing)
    moved, cancelled = [row for row in outbox(app) if row.kind in ("rescheduled", "cancelled")]
    assert (moved.status, moved.attempts, cancelled.status) == (PENDING, 1, PENDING)
    assert cancelled.next_attempt_at < moved.next_attempt_at  # given back: due, but held back
    clock.set(moved.next_attempt_at - timedelta(seconds=30))
    assert len(sent_mail()) == 1
    monkeypatch.setattr(mail, "deliver", deliver)
    clock.set(moved.next_attempt_at)
    run_worker()  # the moved one; the cancelled one goes in the pass after
    subjects = [message["Subject"].split(":")[0] for message in sent_mail()]
    assert subjects == ["Your appointment is booked", "Your appointment has been moved",
                        "Your appointment is cancelled"]
