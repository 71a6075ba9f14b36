"""Reminders and confirmations (DESIGN.md section 16): planned with the booking, re-timed by a move,
dropped by a cancel, written out by the worker when due and never after the visit started; three
signed links, each bound to the visit's SEQUENCE and expiring at its start: Confirm is spent on use,
Reschedule and Cancel lead to the patient's own pages and die when the visit changes (moved,
cancelled)."""
import html as html_lib
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import event, func, select, update

from clinica_web import mail
from clinica_web.extensions import db
from clinica_web.models import (
    Appointment,
    AppointmentChange,
    AppointmentType,
    Doctor,
    OutboxEmail,
    UsedLink,
    User,
    WeeklyHours,
)
from clinica_web.models.outbox import FAILED, PENDING, REMINDER, SENT, SKIPPED
from clinica_web.services import booking, clinic, links, notifications, patients, reminders, staff_actions
from tests.conftest import PASSWORD, instant, next_weekday

WEDNESDAY = next_weekday(2, weeks=1)  # at least a week ahead: both reminders are still to come


@pytest.fixture
def doctor_id(make_doctor):
    return make_doctor()


@pytest.fixture
def ana(make_user):
    return make_user(email="ana@example.com", full_name="Ana Torres")


def book(app, patient_id, doctor_id, day=WEDNESDAY, hhmm="10:00"):
    with app.app_context():
        patient = db.session.get(User, patient_id)
        return booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=day.isoformat(), time=hhmm,
                            now=clinic.now()).id


def planned(app, appointment_id=None):
    """(due, status) of the reminders, in due order."""
    with app.app_context():
        query = select(OutboxEmail.next_attempt_at, OutboxEmail.status).where(OutboxEmail.kind == REMINDER)
        if appointment_id is not None:
            query = query.where(OutboxEmail.appointment_id == appointment_id)
        return db.session.execute(query.order_by(OutboxEmail.next_attempt_at)).all()


def reminders_in(messages):
    return [m for m in messages if m["Subject"].startswith("Reminder")]


def text_of(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, action):
    """The path of the reminder's link for `action` (confirm, reschedule, cancel)."""
    return re.search(rf"https?://[^/\s]+(/reminders/[^/\s]+/{action})", text_of(message))[1]


# ---------------------------------------------------------------------------------------------
# Planned, re-timed, dropped


def test_a_booking_plans_one_reminder_per_value_of_reminder_hours(app, doctor_id, ana):
    appointment_id = book(app, ana, doctor_id)
    start = instant(WEDNESDAY, "10:00")
    assert planned(app, appointment_id) == [(start - timedelta(hours=24), PENDING),
                                            (start - timedelta(hours=2), PENDING)]


def test_no_reminder_whose_time_has_already_passed(app, make_doctor, ana, clock):
    doctor_id = make_doctor(windows=(("07:00", "18:00"),))
    clock.set(instant(WEDNESDAY, "07:00"))  # 27 hours before Thursday 10:00, 3 before Wednesday's
    thursday = book(app, ana, doctor_id, day=WEDNESDAY + timedelta(days=1))
    assert [status for _due, status in planned(app, thursday)] == [PENDING, PENDING]
    today = book(app, ana, doctor_id, hhmm="10:00")
    assert planned(app, today) == [(instant(WEDNESDAY, "08:00"), PENDING)]  # the 24-hour one is gone by
    soon = book(app, ana, doctor_id, hhmm="08:30")
    assert planned(app, soon) == []


def test_a_reminder_never_names_an_old_time(app, doctor_id, ana, clock, sent_mail):
    """Book, move: at the old reminder times nothing goes out; at the new one, the new time."""
    appointment_id = book(app, ana, doctor_id, hhmm="10:00")
    thursday = WEDNESDAY + timedelta(days=1)
    with app.app_context():
        patient = db.session.get(User, ana)
        booking.reschedule_by_patient(patient=patient, appointment_id=appointment_id, date=thursday.isoformat(),
                                      time="11:00", now=clinic.now())
    before = len(sent_mail())
    for old_reminder_time in (instant(WEDNESDAY, "10:00") - timedelta(hours=24), instant(WEDNESDAY, "08:00")):
        clock.set(old_reminder_time)
        assert reminders_in(sent_mail()[before:]) == []
    clock.set(instant(WEDNESDAY, "11:00"))  # 24 hours before the new time
    [reminder] = reminders_in(sent_mail()[before:])
    assert thursday.strftime("%a %d %b") + " 11:00" in reminder["Subject"] and "10:00" not in text_of(reminder)
    assert [status for _due, status in planned(app, appointment_id)] == [SENT, PENDING]


def test_a_cancel_drops_the_reminders(app, doctor_id, ana, clock, sent_mail):
    appointment_id = book(app, ana, doctor_id)
    with app.app_context():
        booking.cancel_by_patient(patient=db.session.get(User, ana), appointment_id=appointment_id, now=clinic.now())
    assert planned(app, appointment_id) == []
    clock.set(instant(WEDNESDAY, "09:00"))
    assert reminders_in(sent_mail()) == []


# ---------------------------------------------------------------------------------------------
# Sent by the worker


def test_the_worker_sends_each_reminder_when_due_with_three_links(app, doctor_id, ana, clock, sent_mail):
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "09:59") - timedelta(hours=24))
    assert reminders_in(sent_mail()) == []  # a minute early
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    [reminder] = reminders_in(sent_mail())
    assert reminder["To"] == "ana@example.com"
    body = text_of(reminder)
    assert "Dr. Laura Rossi" in reminder["Subject"] and "10:00" in body
    paths = {action: link_in(reminder, action) for action in ("confirm", "reschedule", "cancel")}
    assert len(set(paths.values())) == 3
    with app.app_context():
        row = db.session.scalars(select(OutboxEmail).where(OutboxEmail.appointment_id == appointment_id,
                                                           OutboxEmail.kind == REMINDER,
                                                           OutboxEmail.status == SENT)).one()
        assert row.recipient == "ana@example.com" and row.subject == reminder["Subject"]  # what was sent is kept


def test_a_reminder_is_never_sent_after_the_visit_started(app, doctor_id, ana, clock, sent_mail):
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00"))  # the worker was down until the visit began
    assert reminders_in(sent_mail()) == []
    assert [status for _due, status in planned(app, appointment_id)] == [SKIPPED, SKIPPED]


def test_a_patient_without_an_email_address_is_skipped_and_the_others_are_sent(
        app, doctor_id, ana, make_user, clock, sent_mail):
    ben = make_user(email="ben@example.com", full_name="Ben Carter")
    book(app, ana, doctor_id, hhmm="10:00")
    book(app, ben, doctor_id, hhmm="11:00")
    with app.app_context():
        db.session.execute(update(User).where(User.id == ana).values(email=""))
        db.session.commit()
    clock.set(instant(WEDNESDAY, "11:00") - timedelta(hours=24))  # both 24-hour reminders are due
    [reminder] = reminders_in(sent_mail())
    assert reminder["To"] == "ben@example.com"
    with app.app_context():
        skipped = db.session.scalars(select(OutboxEmail.last_error).where(OutboxEmail.status == SKIPPED)
                                     .order_by(OutboxEmail.id)).all()
    # Her booking's email too: the worker writes to the address the patient has when it sends.
    assert skipped == ["The patient has no email address"] * 2


def test_a_failing_mail_server_is_retried_with_backoff(
        app, doctor_id, ana, clock, sent_mail, monkeypatch, run_worker):
    appointment_id = book(app, ana, doctor_id)
    sent_mail()  # the booking's confirmation
    due = instant(WEDNESDAY, "10:00") - timedelta(hours=24)
    clock.set(due)

    def refuse(message):
        raise ConnectionRefusedError("mail server down")

    real_deliver = mail.deliver
    monkeypatch.setattr(mail, "deliver", refuse)
    assert run_worker()["failed"] == 1
    [(retry_at, status), _two_hours] = planned(app, appointment_id)
    assert status == PENDING and retry_at == due + timedelta(minutes=2)
    monkeypatch.setattr(mail, "deliver", real_deliver)
    clock.set(retry_at)
    assert len(reminders_in(sent_mail())) == 1


def test_a_sending_pass_runs_as_many_statements_whatever_else_is_in_the_database(
        app, make_doctor, make_user, clock, run_worker):
    """Ten due reminders cost the same statements with or without 80 other visits and their reminders."""
    doctors = [make_doctor(name=f"Dr. {n}") for n in range(10)]
    patients = [make_user(email=f"p{n}@example.com") for n in range(10)]

    def statements_to_send_ten(day, extra_days):
        with app.app_context():
            later = [day + timedelta(days=7 + n) for n in range(extra_days)]
            for extra in [d for d in later if d.weekday() < 5]:  # later visits: their reminders are not due
                for number, doctor in enumerate(doctors[:2]):
                    patient = db.session.get(User, patients[number])
                    booking.book(actor=patient, patient=patient, doctor_id=doctor, now=clinic.now(),
                                 time="09:00", date=extra.isoformat())
            for doctor, patient_id in zip(doctors, patients):  # ten visits at 10:00
                patient = db.session.get(User, patient_id)
                booking.book(actor=patient, patient=patient, doctor_id=doctor, now=clinic.now(),
                             date=day.isoformat(), time="10:00")
            connection = db.engines[None]
        clock.set(instant(day, "10:00") - timedelta(hours=24))
        while run_worker()["sent"]:  # the confirmations of the bookings, the 24-hour reminders (100 a pass)
            pass
        clock.set(instant(day, "08:00"))
        counted = []

        def count(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
                counted.append(statement)

        event.listen(connection, "before_cursor_execute", count)
        try:
            assert run_worker()["sent"] == 10  # the 2-hour reminders
        finally:
            event.remove(connection, "before_cursor_execute", count)
        return len(counted)

    small = statements_to_send_ten(WEDNESDAY, 0)
    clock.set(instant(WEDNESDAY, "09:00"))  # before Thursday's 24-hour reminders
    large = statements_to_send_ten(WEDNESDAY + timedelta(days=1), 60)
    # No statement an email: the claim, one read of the visits of the whole batch, the lease, one
    # write of the ten outcomes, and the worker's other jobs (reset requests, the waitlist).
    assert large == small <= 8


# ---------------------------------------------------------------------------------------------
# The links


def test_confirm_works_without_logging_in_and_a_get_changes_nothing(app, doctor_id, ana, clock, sent_mail):
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    path = link_in(reminders_in(sent_mail())[0], "confirm")
    browser = app.test_client()  # nobody logged in
    page = browser.get(path)  # what a mail scanner does too
    assert page.status_code == 200 and "Yes, I will come" in page.text
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).confirmed_at is None
    done = browser.post(path)  # (CSRF is switched off in these tests; test_csrf.py checks it)
    assert done.status_code == 200 and "your appointment is confirmed" in done.text
    with app.app_context():
        visit = db.session.get(Appointment, appointment_id)
        assert visit.confirmed_at == clock.at
        kinds = db.session.scalars(select(AppointmentChange.kind).where(
            AppointmentChange.appointment_id == appointment_id).order_by(AppointmentChange.id)).all()
        assert kinds == ["booked", "confirmed"]
    again = browser.post(path)  # used up: a second click is told the visit is confirmed, and changes nothing
    assert again.status_code == 200 and "your appointment is confirmed" in again.text
    assert browser.get(path).status_code == 200 and "Yes, I will come" not in browser.get(path).text
    with app.app_context():
        assert db.session.scalar(select(func.count(AppointmentChange.id)).where(
            AppointmentChange.kind == "confirmed")) == 1
        assert db.session.scalar(select(func.count(UsedLink.digest))) == 1


def test_links_sent_to_an_address_the_desk_has_corrected_since_act_for_nobody(app, doctor_id, ana, clock, sent_mail):
    """The 24-hour reminder went to ana@example.com, which was not Ana's (a typo at the desk, say).
    Once the desk has corrected it, that reminder's links do nothing; the 2-hour one goes to the
    new address, and its links work."""
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    [first] = reminders_in(sent_mail())
    old = {action: link_in(first, action) for action in ("confirm", "reschedule", "cancel")}
    with app.app_context():
        desk = User(email="desk@example.com", full_name="Desk", role="reception")
        desk.set_password(PASSWORD)
        db.session.add(desk)
        db.session.commit()
        patients.update_contact(actor=desk, patient_id=ana, full_name="Ana Torres", email="ana.torres@example.com",
                                phone="", now=clinic.now())
    browser = app.test_client()
    for path in old.values():
        response = browser.get(path)
        assert response.status_code == 410 and "no longer works" in response.text, path
    assert browser.post(old["confirm"]).status_code == 410
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).confirmed_at is None
    clock.set(instant(WEDNESDAY, "08:00"))
    [second] = [m for m in reminders_in(sent_mail()) if m["To"] == "ana.torres@example.com"]
    assert browser.post(link_in(second, "confirm")).status_code == 200
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).confirmed_at == clock.at


def test_a_link_keeps_its_address_unreadable_and_links_from_before_it_was_kept_still_work(app, doctor_id, ana):
    """The token's payload can be read by anyone holding it: it keeps a keyed digest of the
    address, not the address. Its case and spaces do not matter. A link signed before the address
    was kept (no "to") works as it did, until it expires with its visit."""
    appointment_id = book(app, ana, doctor_id)
    with app.app_context():
        token = links.make("confirm", target_id=appointment_id, sequence=0, expires_at=instant(WEDNESDAY, "10:00"),
                           recipient=" Ana@Example.com ")
        payload = URLSafeSerializer("any key, unchecked").loads_unsafe(token)[1]  # what anyone can read in it
        assert "ana" not in str(payload).lower() and len(payload["to"]) == 32
        older = links._serializer().dumps({"do": "confirm", "id": appointment_id, "seq": 0,
                                           "exp": int(instant(WEDNESDAY, "10:00").timestamp()), "n": "x" * 22})
    browser = app.test_client()
    assert browser.get(f"/reminders/{token}/confirm").status_code == 200  # ana@example.com, however written
    assert browser.post(f"/reminders/{older}/confirm").status_code == 200
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).confirmed_at is not None


def test_a_used_link_spelled_another_way_is_the_same_used_link(app, doctor_id, ana, clock, sent_mail):
    """base64 lets one signature be written several ways that all verify: each is the same link."""
    book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    path = link_in(reminders_in(sent_mail())[0], "confirm")
    token = path.split("/")[2]
    browser = app.test_client()
    assert browser.post(path).status_code == 200
    for spelling in (token + "=", token[:-1] + chr(ord(token[-1]) ^ 1)):
        with app.app_context():
            try:
                links.read(spelling, "confirm", now=clinic.now(), used_too=True)
            except Exception:
                continue  # not a valid spelling of this signature: nothing to check
        assert browser.post(f"/reminders/{spelling}/confirm").status_code == 200  # "already confirmed"
    with app.app_context():
        assert db.session.scalar(select(func.count(UsedLink.digest))) == 1


def test_a_link_from_before_a_reschedule_is_dead(app, doctor_id, ana, clock, sent_mail):
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    old = {action: link_in(reminders_in(sent_mail())[0], action) for action in ("confirm", "reschedule", "cancel")}
    with app.app_context():
        staff = User(email="desk@example.com", full_name="Desk", role="reception")
        staff.set_password(PASSWORD)
        db.session.add(staff)
        db.session.commit()
        staff_actions.reschedule_local(actor=staff, appointment=db.session.get(Appointment, appointment_id),
                                       doctor_id=None, date=WEDNESDAY.isoformat(), time="16:00", reason="Asked",
                                       now=clinic.now())
    browser = app.test_client()
    for path in old.values():
        response = browser.get(path)
        assert response.status_code == 410 and "no longer works" in response.text, path
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).confirmed_at is None


@pytest.mark.parametrize("change", ["move", "cancel"])
def test_after_a_change_through_the_links_page_the_old_reschedule_and_cancel_links_are_dead(
        app, doctor_id, ana, clock, sent_mail, monkeypatch, change):
    """The patient follows the reminder's Reschedule (or Cancel) link and moves (or cancels) the
    visit on their own page: both links of that reminder now say they no longer work. Following
    them before changed nothing: they are not spent by a click, only by the visit changing."""
    monkeypatch.setitem(app.config, "REMINDER_HOURS", [48])  # sent before the cutoff: changes still open
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=48))
    reminder = reminders_in(sent_mail())[0]
    old = {action: link_in(reminder, action) for action in ("reschedule", "cancel")}
    browser = app.test_client()
    assert browser.post("/login", data={"email": "ana@example.com", "password": PASSWORD}).status_code == 303
    for _twice in range(2):
        for action, path in old.items():
            followed = browser.get(path)
            assert followed.status_code == 303, (action, followed.text)
            assert followed.headers["Location"] == f"/bookings/{appointment_id}/{action}"
    if change == "move":
        picker = browser.get(browser.get(old["reschedule"]).headers["Location"] + f"?date={WEDNESDAY}")
        assert picker.status_code == 200 and "11:00" in picker.text
        done = browser.post(f"/bookings/{appointment_id}/reschedule/confirm",
                            data={"doctor_id": doctor_id, "date": WEDNESDAY.isoformat(), "time": "11:00"})
    else:
        question = browser.get(browser.get(old["cancel"]).headers["Location"])
        assert question.status_code == 200 and "Yes, cancel it" in question.text
        done = browser.post(f"/bookings/{appointment_id}/cancel", data={"reason": "cannot_attend"})
    assert done.status_code == 303 and done.headers["Location"] == f"/bookings/{appointment_id}"
    with app.app_context():
        visit = db.session.get(Appointment, appointment_id)
        assert visit.sequence == 1
        assert (visit.status, visit.starts_at) == (("scheduled", instant(WEDNESDAY, "11:00")) if change == "move"
                                                   else ("cancelled", instant(WEDNESDAY, "10:00")))
    stranger = app.test_client()
    for client in (browser, stranger):
        for action, path in old.items():
            dead = client.get(path)
            assert dead.status_code == 410 and "no longer works" in dead.text, (change, action)
            assert "Location" not in dead.headers


def test_links_expire_at_the_start_and_cannot_be_forged(app, doctor_id, ana, clock, sent_mail):
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=2))
    path = link_in(reminders_in(sent_mail())[-1], "confirm")
    token = path.split("/")[2]
    browser = app.test_client()
    clock.set(instant(WEDNESDAY, "09:59"))
    assert browser.get(path).status_code == 200
    clock.set(instant(WEDNESDAY, "10:00"))
    assert browser.get(path).status_code == 410
    clock.set(instant(WEDNESDAY, "09:00"))
    with app.app_context():
        forged = links.make("confirm", target_id=appointment_id, sequence=0,
                            expires_at=instant(WEDNESDAY, "10:00"), recipient="ana@example.com")
    assert browser.get(f"/reminders/{forged}/confirm").status_code == 200  # the control: genuine
    with app.app_context():
        key, app.config["SECRET_KEY"] = app.config["SECRET_KEY"], "another key"
        try:
            assert browser.get(f"/reminders/{forged}/confirm").status_code == 410  # signed with another key
        finally:
            app.config["SECRET_KEY"] = key
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "x", "a" * 5000, token.replace(".", "")):
        assert browser.get(f"/reminders/{bad}/confirm").status_code == 410
    with app.app_context():
        assert len(links._serializer().loads(token)["n"]) * 6 >= 128  # random bits, base64: 6 a character


def test_reschedule_and_cancel_links_lead_to_the_patients_own_pages_before_the_cutoff(
        app, doctor_id, ana, clock, sent_mail, monkeypatch):
    monkeypatch.setitem(app.config, "REMINDER_HOURS", [48])
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=48))
    reminder = reminders_in(sent_mail())[0]
    browser = app.test_client()
    moved = browser.get(link_in(reminder, "reschedule"))
    assert moved.status_code == 303 and moved.headers["Location"] == f"/bookings/{appointment_id}/reschedule"
    assert browser.get(moved.headers["Location"]).status_code == 302  # to the login page
    assert browser.post("/login", data={"email": "ana@example.com", "password": PASSWORD}).status_code == 303
    cancel = browser.get(link_in(reminder, "cancel"))
    assert cancel.headers["Location"] == f"/bookings/{appointment_id}/cancel"
    assert "Yes, cancel it" in browser.get(cancel.headers["Location"]).text


def test_after_the_cutoff_reschedule_and_cancel_links_say_to_call_without_a_login(
        app, doctor_id, ana, clock, sent_mail):
    """The 24-hour reminder comes at the 24-hour cutoff (the defaults): its Reschedule and Cancel
    asked for a login that led to "too late". They now say so at once, with the phone."""
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    reminder = reminders_in(sent_mail())[0]
    before = visit_row(app, appointment_id)
    browser = app.test_client()  # not logged in
    cutoff = (WEDNESDAY - timedelta(days=1)).strftime("%a %d %b %Y") + ", 10:00"
    for action in ("reschedule", "cancel"):
        page = browser.get(link_in(reminder, action))
        assert page.status_code == 200 and "Online changes are closed" in page.text
        assert (f"To reschedule or cancel, please call {app.config['CLINIC_PHONE']}: online changes closed at "
                f"{cutoff}.") in text_of_page(page.text)
    confirm = browser.get(link_in(reminder, "confirm")).text
    assert "online changes closed at" in text_of_page(confirm) and "Change or cancel it" not in confirm
    assert visit_row(app, appointment_id) == before


def visit_row(app, appointment_id):
    with app.app_context():
        visit = db.session.get(Appointment, appointment_id)
        return visit.status, visit.starts_at, visit.sequence, visit.confirmed_at


def text_of_page(html):
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


# ---------------------------------------------------------------------------------------------
# Several workers at once


@pytest.mark.concurrency
def test_several_workers_at_once_send_each_reminder_once(committing_app, clock):
    app = committing_app
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctors = []
        for number in range(4):
            doctor = Doctor(display_name=f"Dr. {number}", specialty="General Practice")
            doctor.weekly_hours = [WeeklyHours(weekday=WEDNESDAY.weekday(), start_minute=540, end_minute=1080)]
            db.session.add(doctor)
            db.session.commit()
            doctors.append(doctor.id)
        # A patient is in one place at a time: a patient per visit, four doctors at once.
        for number in range(32):
            person = User(email=f"p{number}@example.com", full_name=f"Patient {number}", role="patient")
            person.set_password(PASSWORD)
            db.session.add(person)
            db.session.commit()
            booking.book(actor=person, patient=person, doctor_id=doctors[number % 4], date=WEDNESDAY.isoformat(),
                         time=f"{9 + number // 4:02d}:00", now=clinic.now())
    clock.set(instant(WEDNESDAY, "08:00"))  # every 24-hour reminder is due
    sent_by = []
    start = threading.Barrier(3)

    def worker():
        with app.app_context():
            start.wait()
            sent_by.append(notifications.send_due(now=clinic.now(), limit=100)[0])

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        sent = db.session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.status == SENT))
        reminders_sent = db.session.scalar(select(func.count(OutboxEmail.id)).where(
            OutboxEmail.kind == REMINDER, OutboxEmail.status == SENT))
    # 32 confirmations and a reminder for each visit: for the 09:00 and 10:00 ones both of theirs
    # are due, and only the later (2-hour) one goes out.
    assert (sum(sent_by), sent, reminders_sent) == (64, 64, 32)
    messages = [path.read_bytes() for path in Path(app.config["MAIL_FILE_DIR"]).glob("*.eml")]
    assert len(messages) == 64 and len([m for m in messages if b"Subject: Reminder" in m]) == 32
    assert FAILED not in [status for _due, status in planned(app)]


def test_old_reminders_after_a_move_and_both_due_after_an_outage(app, doctor_id, ana, clock, sent_mail, run_worker):
    appointment_id = book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    [first] = reminders_in(sent_mail())
    assert "please call" in text_of(first) and "online changes closed" in text_of(first)  # 24 h: the cutoff
    with app.app_context():
        assert reminders.states([appointment_id])[appointment_id].status == SENT
        staff = User(email="desk@example.com", full_name="Desk", role="reception")
        staff.set_password(PASSWORD)
        db.session.add(staff)
        db.session.commit()
        staff_actions.reschedule_local(actor=staff, appointment=db.session.get(Appointment, appointment_id),
                                       doctor_id=None, date=(WEDNESDAY + timedelta(days=1)).isoformat(),
                                       time="10:00", reason="Asked", now=clinic.now())
        # The reminder sent was of the old time: the desk sees the new time's, due.
        assert reminders.states([appointment_id])[appointment_id].status == PENDING
    # The worker was down until two hours before the new time: one reminder, not two.
    clock.set(instant(WEDNESDAY + timedelta(days=1), "08:00"))
    assert len(reminders_in(sent_mail())) == 2  # the first, and one now


def test_a_reminder_before_the_cutoff_says_until_when_changes_are_open(app, doctor_id, ana, clock, sent_mail,
                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "REMINDER_HOURS", [48])
    book(app, ana, doctor_id)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=48))
    [reminder] = reminders_in(sent_mail())
    cutoff = (WEDNESDAY - timedelta(days=1)).strftime("%a %d %b %Y") + ", 10:00"
    assert f"Changing or cancelling online is possible until {cutoff}" in text_of(reminder)
    assert "/reschedule" in text_of(reminder) and "/cancel" in text_of(reminder)


def test_the_confirm_page_speaks_the_language_the_reminder_was_written_in(app, doctor_id, ana):
    """Ana saved Spanish: her reminder is Spanish, and so is the page its link opens in a browser
    that asks for English; a language chosen on that browser still comes first."""
    appointment_id = book(app, ana, doctor_id)
    with app.app_context():
        db.session.get(User, ana).language = "es"
        db.session.commit()
        token = links.make("confirm", target_id=appointment_id, sequence=0, expires_at=instant(WEDNESDAY, "10:00"),
                           recipient="ana@example.com")
    english_browser = app.test_client()
    page = english_browser.get(f"/reminders/{token}/confirm", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and '<html lang="es">' in page.text
    chosen = app.test_client()
    chosen.set_cookie("language", "en", domain=app.config["SERVER_NAME"])
    assert '<html lang="en">' in chosen.get(f"/reminders/{token}/confirm", headers={"Accept-Language": "es"}).text
    done = english_browser.post(f"/reminders/{token}/confirm", headers={"Accept-Language": "en"})
    assert done.status_code == 200 and '<html lang="es">' in done.text
