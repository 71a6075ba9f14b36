"""Waitlist offers with holds (DESIGN.md section 18): freed time is offered to the matching
entries in joining order, each the earliest slot of it still free, held by a row the database's
overlap guards count, booked or let go."""
import re
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import (
    CANCELLED,
    HELD,
    SCHEDULED,
    Appointment,
    AppointmentType,
    Doctor,
    FreedTime,
    User,
    WaitlistEntry,
    WaitlistOffer,
    WeeklyHours,
)
from clinica_web.services import booking, clinic, history, patients, schedule, staff, waitlist
from clinica_web.services.errors import DomainError
from tests.conftest import PASSWORD, instant, race

NOW_DAY = date(2027, 3, 10)  # Wednesday
DAY = date(2027, 3, 15)  # the next Monday


@pytest.fixture(autouse=True)
def fixed_clock(clock):
    clock.set(instant(NOW_DAY, "12:00"))
    return clock


@pytest.fixture
def people(make_doctor, make_user):
    return dict(doctor=make_doctor(windows=(("09:00", "10:00"),)), ana=make_user(email="ana@example.com"),
                ben=make_user(email="ben@example.com"), cid=make_user(email="cid@example.com"))


def book(app, patient_id, doctor_id, hhmm, day=DAY):
    with app.app_context():
        patient = db.session.get(User, patient_id)
        return booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=day.isoformat(), time=hhmm,
                            appointment_type="consultation", now=clinic.now()).id


def join(app, patient_id, **fields):
    with app.app_context():
        return waitlist.join(patient=db.session.get(User, patient_id), appointment_type="consultation",
                             from_date=DAY.isoformat(), to_date=(DAY + timedelta(days=4)).isoformat(),
                             now=clinic.now(), **fields).id


def cancel(app, patient_id, appointment_id):
    with app.app_context():
        booking.cancel_by_patient(patient=db.session.get(User, patient_id), appointment_id=appointment_id,
                                  now=clinic.now())


def offers(app):
    with app.app_context():
        return db.session.execute(select(WaitlistOffer.entry_id, WaitlistOffer.starts_at, WaitlistOffer.status)
                                  .order_by(WaitlistOffer.id)).all()


def offer_links(sent_mail, who):
    [message] = [m for m in sent_mail() if m["Subject"].startswith("A time has freed up") and who in m["To"]][-1:]
    text = message.get_body(preferencelist=("plain",)).get_content()
    paths = re.findall(r"https?://[^/\s]+(/waitlist/offers/\S+)", text)
    [accept] = [path for path in paths if not path.endswith("/decline")]
    [decline] = [path for path in paths if path.endswith("/decline")]
    return accept, decline


def run(app):
    with app.app_context():
        waitlist.expire_offers(now=clinic.now())
        return waitlist.offer_freed_time(now=clinic.now())


def ben_offered_anas_9_oclock(app, people, sent_mail):
    """Ana's 09:00 booked and cancelled with Ben waiting for the doctor: the worker holds it for
    him and emails him. His offer's (accept, decline) links."""
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    join(app, people["ben"], doctor_id=people["doctor"])
    cancel(app, people["ana"], ana_visit)
    assert run(app) == 1
    return offer_links(sent_mail, "ben@example.com")


def test_a_cancelled_time_is_held_for_the_first_in_line_who_books_it(app, client, clock, people, sent_mail):
    """Ana's 09:00 frees up: Ben joined first, so Ben is offered it and it is held for him."""
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    book(app, people["cid"], people["doctor"], "09:30")  # the day is full
    ben_entry = join(app, people["ben"], doctor_id=people["doctor"])
    join(app, people["cid"], doctor_id=people["doctor"])
    cancel(app, people["ana"], ana_visit)
    assert run(app) == 1
    assert offers(app) == [(ben_entry, instant(DAY, "09:00"), "open")]
    with app.app_context():  # the hold: a row the overlap guard counts; nobody else can book it
        held = db.session.scalars(select(Appointment).where(Appointment.status == HELD)).one()
        held_id = held.id
        assert (held.patient_id, held.starts_at) == (people["ben"], instant(DAY, "09:00"))
        with pytest.raises(DomainError, match="overlaps"):
            patient = db.session.get(User, people["ana"])
            booking.book(actor=patient, patient=patient, doctor_id=people["doctor"], date=DAY.isoformat(),
                         time="09:00", appointment_type="consultation", now=clinic.now())
    accept_path, _decline = offer_links(sent_mail, "ben@example.com")
    browser = app.test_client()  # no login: the link is the key
    page = browser.get(accept_path)
    assert page.status_code == 200 and "Book it" in page.text
    done = browser.post(accept_path)
    assert done.status_code == 200 and "Booked" in done.text
    with app.app_context():
        visit = db.session.get(Appointment, held_id)
        assert (visit.status, visit.patient_id) == (SCHEDULED, people["ben"])
        # Its history: the worker's offer (no one's, at the time it was made), then Ben's booking.
        assert [(c.kind, c.actor_id, c.at) for c in history.changes_of(visit)] == [
            ("waitlist_offer", None, instant(NOW_DAY, "12:00")), ("booked", people["ben"], clinic.now())]
        assert db.session.get(WaitlistEntry, ben_entry).status == "booked"
    assert offers(app)[0].status == "accepted"
    assert any(m["Subject"].startswith("Your appointment is booked") and m["To"] == "ben@example.com"
               for m in sent_mail())
    # Single use, and opened again it says what it did (not "the time may have gone to someone else").
    for again in (browser.post(accept_path), browser.get(accept_path)):
        assert again.status_code == 200 and "Booked: " in again.text and "Book it" not in again.text
    clock.advance(days=1)  # the next day, long after the hold (and the link) ran out: still "booked"
    again = browser.get(accept_path)
    assert again.status_code == 200 and "Booked: " in again.text
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.patient_id == people["ben"])) == 1
    cancel(app, people["ben"], held_id)  # a booking cancelled since: the link is simply spent
    assert browser.get(accept_path).status_code == 410


@pytest.mark.parametrize("opened, then", [("accept", "decline"), ("decline", "accept")])
def test_each_offer_page_leads_to_the_other_answer(app, people, sent_mail, opened, then):
    """"Book it" opened from the email offers "No thanks", and the other way round: each a link
    that works (the emailed one serves its own answer only)."""
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    join(app, people["ben"], doctor_id=people["doctor"])
    cancel(app, people["ana"], ana_visit)
    assert run(app) == 1
    emailed = dict(zip(("accept", "decline"), offer_links(sent_mail, "ben@example.com")))
    browser = app.test_client()
    page = browser.get(emailed[opened])
    assert page.status_code == 200
    [other] = re.findall(r'href="https?://[^/"]+(/waitlist/offers/[^"]+)"', page.text)
    assert other != emailed[opened] and other.endswith("/decline") == (then == "decline")
    assert browser.get(other).status_code == 200
    answered = browser.post(other)
    assert answered.status_code == 200
    assert offers(app)[0].status == ("accepted" if then == "accept" else "declined")


def test_no_thanks_and_expiry_pass_the_time_down_the_line(app, clock, people, sent_mail):
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    book(app, people["ana"], people["doctor"], "09:30")
    ben_entry = join(app, people["ben"], doctor_id=people["doctor"])
    cid_entry = join(app, people["cid"], doctor_id=people["doctor"])
    cancel(app, people["ana"], ana_visit)
    run(app)
    _accept, decline = offer_links(sent_mail, "ben@example.com")
    assert app.test_client().post(decline).status_code == 200
    assert run(app) == 1  # to Cid now
    assert [(o.entry_id, o.status) for o in offers(app)] == [(ben_entry, "declined"), (cid_entry, "open")]
    clock.advance(minutes=app.config["WAITLIST_HOLD_MINUTES"])
    assert run(app) == 0  # Cid's hold ran out; nobody else is waiting (Ben let this one go)
    assert [o.status for o in offers(app)] == ["declined", "expired"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == HELD)) == 0
    with app.app_context():  # free for anyone again
        patient = db.session.get(User, people["ana"])
        booking.book(actor=patient, patient=patient, doctor_id=people["doctor"], date=DAY.isoformat(), time="09:00",
                     appointment_type="consultation", now=clinic.now())
    accept_late, _ = offer_links(sent_mail, "cid@example.com")
    assert app.test_client().get(accept_late).status_code == 410


def test_leaving_the_waitlist_lets_a_held_time_go_to_the_next_in_line(app, people, sent_mail):
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    book(app, people["ana"], people["doctor"], "09:30")
    ben_entry = join(app, people["ben"], doctor_id=people["doctor"])
    cid_entry = join(app, people["cid"], doctor_id=people["doctor"])
    cancel(app, people["ana"], ana_visit)
    assert run(app) == 1  # 09:00 held for Ben
    accept, _decline = offer_links(sent_mail, "ben@example.com")
    with app.app_context():
        waitlist.leave(patient=db.session.get(User, people["ben"]), entry_id=ben_entry, now=clinic.now())
    assert app.test_client().post(accept).status_code == 410  # his link books nothing now
    assert run(app) == 1  # to Cid, at once, not when Ben's hold would have run out
    assert [(o.entry_id, o.status) for o in offers(app)] == [(ben_entry, "declined"), (cid_entry, "open")]
    with app.app_context():
        assert db.session.execute(select(Appointment.patient_id).where(Appointment.status == HELD)).all() == [
            (people["cid"],)]


@pytest.mark.concurrency
def test_leaving_while_the_offer_is_accepted_ends_one_way_or_the_other(committing_app, clock):
    """The patient leaves the waitlist on one device while booking the held time on another, four
    times over: each ends either booked (and "leave" finds no entry) or left (and the link is
    dead), never both, never a deadlock or a 500."""
    app = committing_app
    doctor_id, ids = one_doctor_and_patients(app, 2, closes=720)
    endings = set()
    for round_number in range(4):
        hhmm = f"{9 + round_number // 2:02d}:{30 * (round_number % 2):02d}"
        visit = book(app, ids[0], doctor_id, hhmm)
        entry = join(app, ids[1], doctor_id=doctor_id)
        cancel(app, ids[0], visit)
        assert run(app) == 1
        with app.app_context():
            offer = db.session.scalars(select(WaitlistOffer).where(WaitlistOffer.entry_id == entry)).one()
            held_at = offer.starts_at
            token = waitlist.answer_tokens(offer)["accept"]

        def outcome(call):
            def run_it():
                with app.app_context():
                    try:
                        call()
                        return "done"
                    except DomainError as error:
                        return error.message
            return run_it

        left, accepted = race(
            outcome(lambda: waitlist.leave(patient=db.session.get(User, ids[1]), entry_id=entry, now=clinic.now())),
            outcome(lambda: waitlist.accept(token, now=clinic.now())))
        with app.app_context():
            entry_status = db.session.get(WaitlistEntry, entry).status
            offer_status = db.session.get(WaitlistOffer, offer.id).status
            kept = db.session.execute(select(Appointment.status).where(
                Appointment.patient_id == ids[1], Appointment.starts_at == held_at)).scalars().all()
        if accepted == "done":
            assert (left, entry_status, offer_status, kept) == ("Waitlist entry not found", "booked", "accepted",
                                                                [SCHEDULED])
        else:
            assert (left, accepted, entry_status, offer_status, kept) == (
                "done", waitlist.OFFER_EXPIRED, "left", "declined", [])
        endings.add(accepted == "done")
    assert endings  # (which way each round ends is the race's)


def test_an_entry_waits_for_its_own_days_and_part_of_the_day(app, people, make_doctor):
    afternoon = make_doctor(name="Dr. Late", windows=(("14:00", "15:00"),))
    visit = book(app, people["ana"], afternoon, "14:00")
    join(app, people["ben"], doctor_id=afternoon, part_of_day="morning")
    join(app, people["cid"], specialty="General Practice", part_of_day="afternoon")
    cancel(app, people["ana"], visit)
    run(app)
    with app.app_context():
        [offer] = db.session.scalars(select(WaitlistOffer)).all()
        assert offer.entry.patient_id == people["cid"]  # by specialty, in the afternoon; Ben wants mornings


def holds(app):
    """Every held appointment, earliest first: (its offer's entry, patient, start, end)."""
    with app.app_context():
        return db.session.execute(
            select(WaitlistOffer.entry_id, Appointment.patient_id, Appointment.starts_at, Appointment.ends_at)
            .select_from(Appointment).outerjoin(WaitlistOffer, WaitlistOffer.appointment_id == Appointment.id)
            .where(Appointment.status == HELD).order_by(Appointment.starts_at)).all()


def offer_mails(sent_mail):
    """(recipient, subject) of every offer email sent, oldest first."""
    return [(m["To"], m["Subject"]) for m in sent_mail() if m["Subject"].startswith("A time has freed up")]


def offer_subject(hhmm, doctor="Dr. Laura Rossi"):
    return f"A time has freed up: Mon 15 Mar {hhmm} with {doctor}"


def test_a_removed_blocked_morning_is_offered_slot_by_slot_down_the_line(app, people, make_doctor, make_user,
                                                                         sent_mail):
    """Three waiting, a whole morning freed: each is offered (and held) one slot, the earliest
    still free, in joining order."""
    doctor = make_doctor(name="Dr. Early")  # 09:00-13:00 and 14:00-18:00
    admin = make_user(role="admin")
    with app.app_context():
        period, _inside = schedule.add_blocked_period(
            actor=db.session.get(User, admin), doctor_id=doctor, start_date=DAY.isoformat(),
            end_date=DAY.isoformat(), start_time="09:00", end_time="13:00", reason="Congress", now=clinic.now())
        period_id = period.id
    entries = [join(app, people[name], doctor_id=doctor) for name in ("ana", "ben", "cid")]
    with app.app_context():
        schedule.remove_blocked_period(actor=db.session.get(User, admin), period_id=period_id, now=clinic.now())
    assert run(app) == 3
    starts = [instant(DAY, hhmm) for hhmm in ("09:00", "09:30", "10:00")]
    assert offers(app) == [(entry, start, "open") for entry, start in zip(entries, starts)]
    assert holds(app) == [(entry, people[name], start, start + timedelta(minutes=30))
                          for entry, name, start in zip(entries, ("ana", "ben", "cid"), starts)]
    assert offer_mails(sent_mail) == [("ana@example.com", offer_subject("09:00", "Dr. Early")),
                                      ("ben@example.com", offer_subject("09:30", "Dr. Early")),
                                      ("cid@example.com", offer_subject("10:00", "Dr. Early"))]
    assert run(app) == 0  # each entry has its one offer; nothing else was freed


def test_added_hours_are_offered_until_their_slots_run_out(app, people, make_user, sent_mail):
    """A Monday 10:00-11:00 added: Ana and Ben (first in line) each get one of its two slots; Cid,
    third, finds it all held."""
    entries = [join(app, people[name], doctor_id=people["doctor"]) for name in ("ana", "ben", "cid")]
    with app.app_context():
        schedule.add_window(actor=db.session.get(User, make_user(role="admin")), doctor_id=people["doctor"],
                            weekday=DAY.weekday(), start="10:00", end="11:00")
    assert run(app) == 2
    assert offers(app) == [(entries[0], instant(DAY, "10:00"), "open"), (entries[1], instant(DAY, "10:30"), "open")]
    assert holds(app) == [(entries[0], people["ana"], instant(DAY, "10:00"), instant(DAY, "10:30")),
                          (entries[1], people["ben"], instant(DAY, "10:30"), instant(DAY, "11:00"))]
    assert offer_mails(sent_mail) == [("ana@example.com", offer_subject("10:00")),
                                      ("ben@example.com", offer_subject("10:30"))]


def test_a_long_visit_moved_away_frees_a_slot_for_each_of_the_first_in_line(app, people, sent_mail):
    """Ana moves her 60-minute therapy (09:00-10:00, the whole morning) to Tuesday: Ben, first in
    line, is offered 09:00 and Cid 09:30."""
    with app.app_context():
        ana = db.session.get(User, people["ana"])
        therapy = booking.book(actor=ana, patient=ana, doctor_id=people["doctor"], date=DAY.isoformat(),
                               time="09:00", appointment_type="therapy", now=clinic.now()).id
    ben_entry = join(app, people["ben"], doctor_id=people["doctor"])
    cid_entry = join(app, people["cid"], doctor_id=people["doctor"])
    assert run(app) == 0  # nothing freed yet
    with app.app_context():
        booking.reschedule_by_patient(patient=db.session.get(User, people["ana"]), appointment_id=therapy,
                                      date=(DAY + timedelta(days=1)).isoformat(), time="09:00", now=clinic.now())
    assert run(app) == 2
    assert offers(app) == [(ben_entry, instant(DAY, "09:00"), "open"), (cid_entry, instant(DAY, "09:30"), "open")]
    assert holds(app) == [(ben_entry, people["ben"], instant(DAY, "09:00"), instant(DAY, "09:30")),
                          (cid_entry, people["cid"], instant(DAY, "09:30"), instant(DAY, "10:00"))]
    assert offer_mails(sent_mail) == [("ben@example.com", offer_subject("09:00")),
                                      ("cid@example.com", offer_subject("09:30"))]


def test_an_offer_of_a_doctor_hidden_since_cannot_be_booked(app, people, make_user, sent_mail):
    """Hiding a doctor stops new bookings with them; a time held for the waitlist before is no
    exception (its "Book it" says the offer is gone, and nothing is booked), nor a booking the
    admin is told to move."""
    accept, _decline = ben_offered_anas_9_oclock(app, people, sent_mail)
    admin = make_user(role="admin")
    with app.app_context():
        _doctor, to_move = staff.set_doctor_active(actor=db.session.get(User, admin), doctor_id=people["doctor"],
                                                   active=False, now=clinic.now())
        assert to_move == []
    assert app.test_client().get(accept).status_code == 410
    assert app.test_client().post(accept).status_code == 410
    assert offers(app)[0].status == "open"  # until it runs out, as any offer not taken
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == SCHEDULED)) == 0


@pytest.mark.parametrize("taken_off", ["time off", "a clinic closure", "hours removed"])
def test_a_held_time_the_calendar_takes_off_since_cannot_be_booked(app, people, make_user, sent_mail, taken_off):
    """The hold keeps other patients off the time, not the doctor's calendar: time off, a closure
    or hours removed since the offer stop its "Book it" (the offer is gone, nothing is booked),
    and the desk is not sent to the hold among the bookings to move."""
    admin = make_user(role="admin")
    accept, _decline = ben_offered_anas_9_oclock(app, people, sent_mail)
    with app.app_context():
        actor = db.session.get(User, admin)
        if taken_off == "hours removed":
            [window] = db.session.scalars(select(WeeklyHours).where(
                WeeklyHours.doctor_id == people["doctor"], WeeklyHours.weekday == DAY.weekday()))
            schedule.remove_window(actor=actor, window_id=window.id)
        else:
            _period, inside = schedule.add_blocked_period(
                actor=actor, doctor_id=people["doctor"] if taken_off == "time off" else None,
                start_date=DAY.isoformat(), end_date=DAY.isoformat(), start_time="09:00", end_time="10:00",
                reason="Away", now=clinic.now())
            assert inside == []  # the hold is no booking to move
    assert app.test_client().get(accept).status_code == 410  # its page offers no button that can only fail
    assert app.test_client().post(accept).status_code == 410
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == SCHEDULED)) == 0


def test_the_worker_makes_the_offers_and_expires_the_holds(app, clock, people, make_user, run_worker, sent_mail):
    """The real worker pass: a cancelled 60-minute visit is offered to Ben and Cid (Dan, third,
    finds it all held); Ben books his, Cid lets hers run out, and the next pass offers it to Dan."""
    dan = make_user(email="dan@example.com")
    with app.app_context():
        ana = db.session.get(User, people["ana"])
        therapy = booking.book(actor=ana, patient=ana, doctor_id=people["doctor"], date=DAY.isoformat(),
                               time="09:00", appointment_type="therapy", now=clinic.now()).id
    ben_entry, cid_entry, dan_entry = (join(app, who, doctor_id=people["doctor"])
                                       for who in (people["ben"], people["cid"], dan))
    cancel(app, people["ana"], therapy)

    def worker_pass():
        done = run_worker()
        return done["offers_expired"], done["offers_made"]

    assert worker_pass() == (0, 2)
    assert offers(app) == [(ben_entry, instant(DAY, "09:00"), "open"), (cid_entry, instant(DAY, "09:30"), "open")]
    accept, _decline = offer_links(sent_mail, "ben@example.com")
    assert app.test_client().post(accept).status_code == 200
    clock.advance(minutes=app.config["WAITLIST_HOLD_MINUTES"])
    assert worker_pass() == (1, 1)  # Cid's hold ran out; its time goes to Dan
    assert offers(app) == [(ben_entry, instant(DAY, "09:00"), "accepted"),
                           (cid_entry, instant(DAY, "09:30"), "expired"),
                           (dan_entry, instant(DAY, "09:30"), "open")]
    assert holds(app) == [(dan_entry, dan, instant(DAY, "09:30"), instant(DAY, "10:00"))]
    with app.app_context():
        booked = db.session.execute(select(Appointment.patient_id, Appointment.starts_at).where(
            Appointment.status == SCHEDULED)).all()
        assert booked == [(people["ben"], instant(DAY, "09:00"))]
        assert [db.session.get(WaitlistEntry, entry).status for entry in (ben_entry, cid_entry, dan_entry)] == [
            "booked", "active", "active"]
    assert offer_mails(sent_mail) == [("ben@example.com", offer_subject("09:00")),
                                      ("cid@example.com", offer_subject("09:30")),
                                      ("dan@example.com", offer_subject("09:30"))]
    assert worker_pass() == (0, 0)


def one_doctor_and_patients(app, count, closes=570):
    """A committed clinic: one doctor with Monday 09:00-09:30 (or until minute `closes`), `count`
    patients. (doctor id, patient ids)"""
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctor = Doctor(display_name="Dr. Held", specialty="General Practice")
        doctor.weekly_hours = [WeeklyHours(weekday=DAY.weekday(), start_minute=540, end_minute=closes)]
        db.session.add(doctor)
        people = []
        for number in range(count):
            person = User(email=f"p{number}@example.com", full_name=f"Patient {number}", role="patient")
            person.set_password(PASSWORD)
            db.session.add(person)
            people.append(person)
        db.session.commit()
        return doctor.id, [person.id for person in people]


@pytest.mark.concurrency
def test_twenty_patients_booking_a_held_slot_while_its_offer_is_accepted(committing_app, clock, tmp_path):
    """Exactly one appointment: the offer's patient's."""
    app = committing_app
    doctor_id, ids = one_doctor_and_patients(app, 22)
    first = book(app, ids[0], doctor_id, "09:00")
    join(app, ids[1], doctor_id=doctor_id)
    cancel(app, ids[0], first)
    run(app)
    with app.app_context():
        offer = db.session.scalars(select(WaitlistOffer)).one()
        token = waitlist.answer_tokens(offer)["accept"]
    start, results = threading.Barrier(21), []

    def accept():
        with app.app_context():
            start.wait()
            try:
                results.append(("accepted", waitlist.accept(token, now=clinic.now()).patient_id))
            except DomainError as error:
                results.append(("refused", error.message))

    def book_it(patient_id):
        with app.app_context():
            start.wait()
            try:
                results.append(("booked", book(app, patient_id, doctor_id, "09:00")))
            except DomainError as error:
                results.append(("refused", error.message))

    threads = [threading.Thread(target=accept)] + [threading.Thread(target=book_it, args=(i,)) for i in ids[2:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ("accepted", ids[1]) in results and not [r for r in results if r[0] == "booked"]
    with app.app_context():
        holding = db.session.execute(select(Appointment.patient_id, Appointment.status).where(
            Appointment.status != "cancelled")).all()
    assert holding == [(ids[1], SCHEDULED)]


@pytest.mark.concurrency
def test_two_workers_never_make_two_offers_for_one_freed_slot(committing_app, clock):
    app = committing_app
    doctor_id, ids = one_doctor_and_patients(app, 4)
    first = book(app, ids[0], doctor_id, "09:00")
    for patient_id in ids[1:]:
        join(app, patient_id, doctor_id=doctor_id)
    cancel(app, ids[0], first)
    with app.app_context():  # the same time freed twice (say, a cancel and a block removed)
        waitlist.time_freed(doctor_id, instant(DAY, "09:00"), instant(DAY, "09:30"), now=clinic.now())
        db.session.commit()
    start, made = threading.Barrier(2), []

    def worker():
        with app.app_context():
            start.wait()
            made.append(waitlist.offer_freed_time(now=clinic.now()))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(made) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(WaitlistOffer.id))) == 1
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == HELD)) == 1


@pytest.mark.concurrency
def test_two_workers_offering_two_freed_times_make_one_offer_to_one_patient(committing_app, clock, monkeypatch):
    """Two cancellations free 09:00 and 09:30; one patient waits. Two workers, each taking one of
    the freed times, both look for who waits before either offers (on PostgreSQL; SQLite lets one
    writer in at a time): the patient is offered one time, not held two, and neither worker waits
    for the other."""
    app = committing_app
    doctor_id, ids = one_doctor_and_patients(app, 3, closes=600)
    visits = [book(app, ids[0], doctor_id, "09:00"), book(app, ids[1], doctor_id, "09:30")]
    entry = join(app, ids[2], doctor_id=doctor_id)
    cancel(app, ids[0], visits[0])
    cancel(app, ids[1], visits[1])
    start, made = threading.Barrier(2), []
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        both_looked, look = threading.Barrier(2, timeout=20), waitlist._waiting_for

        def looking_together(*args):
            found = look(*args)
            both_looked.wait()
            return found

        monkeypatch.setattr(waitlist, "_waiting_for", looking_together)

    def worker():
        with app.app_context():
            start.wait()
            made.append(waitlist.offer_freed_time(now=clinic.now(), limit=1))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == [0, 1]
    with app.app_context():
        assert db.session.execute(select(WaitlistOffer.entry_id, WaitlistOffer.status)).all() == [(entry, "open")]
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == HELD)) == 1


@pytest.mark.concurrency
def test_a_long_booking_over_two_freed_slots_while_the_worker_holds_them(committing_app, clock, monkeypatch):
    """A cancelled hour frees 09:00 and 09:30, and two patients wait. The worker holds 09:00 for the
    first; at that moment another patient books 09:00-10:00 (on PostgreSQL the booking waits for
    that hold); the worker's hold of 09:30 would then wait for the booking: a deadlock, which
    PostgreSQL broke by failing one of them (the booking with a 500, or the worker's pass). The
    worker gives 09:30 up instead, and notes it freed again: the booking is refused cleanly (09:00
    is held), and the next pass offers 09:30 to the second in line."""
    app = committing_app
    doctor_id, ids = one_doctor_and_patients(app, 5, closes=600)
    with app.app_context():
        owner = db.session.get(User, ids[0])
        hour = booking.book(actor=owner, patient=owner, doctor_id=doctor_id, date=DAY.isoformat(), time="09:00",
                            duration=60, now=clinic.now()).id
    entries = [join(app, ids[1], doctor_id=doctor_id), join(app, ids[2], doctor_id=doctor_id),
               join(app, ids[4], doctor_id=doctor_id)]
    cancel(app, ids[0], hour)
    first_held, hold = threading.Event(), waitlist._hold

    def hold_then_let_the_booking_in(*args, **kwargs):
        held = hold(*args, **kwargs)
        if not first_held.is_set():
            first_held.set()
            time.sleep(0.5)  # the booking is sent meanwhile, and waits for this hold (PostgreSQL)
        return held

    monkeypatch.setattr(waitlist, "_hold", hold_then_let_the_booking_in)
    outcomes = {}

    def worker():
        with app.app_context():
            outcomes["worker"] = waitlist.offer_freed_time(now=clinic.now())

    def book_the_hour():
        first_held.wait(timeout=20)
        with app.app_context():
            patient = db.session.get(User, ids[3])
            try:
                booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=DAY.isoformat(),
                             time="09:00", duration=60, now=clinic.now())
                outcomes["booking"] = "booked"
            except DomainError as error:
                outcomes["booking"] = error.message

    threads = [threading.Thread(target=worker), threading.Thread(target=book_the_hour)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes["booking"] == "Time slot overlaps with another booking"
    with app.app_context():  # 09:30 given up once, not once for each entry after the second
        assert len(db.session.scalars(select(FreedTime.id)).all()) == 2 - outcomes["worker"]
    monkeypatch.setattr(waitlist, "_hold", hold)
    # On PostgreSQL the worker gave 09:30 up, and the next pass offers it; SQLite let the booking
    # in only once the worker's pass had committed both holds.
    assert outcomes["worker"] + run(app) == 2
    assert offers(app) == [(entries[0], instant(DAY, "09:00"), "open"), (entries[1], instant(DAY, "09:30"), "open")]
    with app.app_context():
        assert db.session.execute(select(Appointment.patient_id, Appointment.status).where(
            Appointment.status != "cancelled").order_by(Appointment.starts_at)).all() == [
                (ids[1], HELD), (ids[2], HELD)]


def test_booking_an_offer_while_logged_in_does_not_speak_of_logging_in(app, people, login_as, sent_mail):
    accept, _decline = ben_offered_anas_9_oclock(app, people, sent_mail)
    page = login_as(people["ben"]).post(accept)
    assert page.status_code == 200 and "See your booking" in page.text and "log in" not in page.text
    anonymous = app.test_client().get(accept)  # (opened again without a login: it says to log in)
    assert "you will be asked to log in" in anonymous.text


def test_the_time_a_patient_cancels_is_not_offered_back_to_them(app, people):
    """Ana cancels her 09:00 while on the waitlist for that doctor's days: it goes to Ben, who
    waits too, not back to her (she let go of it)."""
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    join(app, people["ana"], doctor_id=people["doctor"])
    ben_entry = join(app, people["ben"], doctor_id=people["doctor"])
    cancel(app, people["ana"], ana_visit)
    assert run(app) == 1
    assert offers(app) == [(ben_entry, instant(DAY, "09:00"), "open")]


def test_a_patient_without_an_email_address_is_not_offered_a_time_by_the_worker(app, people, make_user):
    """The worker's offer is an email: it would hold the time for someone it cannot reach. The next
    in line gets it (the desk can still offer a time by hand, by phone)."""
    by_phone = make_user(phone="555 0101", full_name="Phone Only")
    first = join(app, by_phone, doctor_id=people["doctor"])
    with app.app_context():  # (registered by phone at the desk, or the desk removed the address since)
        db.session.get(User, by_phone).email = None
        db.session.commit()
    ben_entry = join(app, people["ben"], doctor_id=people["doctor"])
    cancel(app, people["ana"], book(app, people["ana"], people["doctor"], "09:00"))
    assert run(app) == 1
    assert offers(app) == [(ben_entry, instant(DAY, "09:00"), "open")]
    with app.app_context():
        assert db.session.get(WaitlistEntry, first).status == "active"  # still waiting


@pytest.mark.parametrize("let_go_before", [False, True], ids=["first time", "once let go"])
def test_a_time_the_clinic_cancelled_is_offered_to_its_patient(app, people, make_user, let_go_before):
    """The desk cancelled Ana's 09:00 (doctor unavailable): she did not let go of it, so waiting
    for that doctor, she is offered it. Also when she had once cancelled that time herself and
    booked it again: the last cancel of her time is the clinic's."""
    from clinica_web.services import staff_actions
    desk = make_user(email="desk@example.com", role="reception")
    if let_go_before:
        cancel(app, people["ana"], book(app, people["ana"], people["doctor"], "09:00"))
        assert run(app) == 0  # nobody waits yet
    ana_visit = book(app, people["ana"], people["doctor"], "09:00")
    with app.app_context():
        staff_actions.cancel_by_staff(actor=db.session.get(User, desk), reason="doctor_unavailable",
                                      appointment=db.session.get(Appointment, ana_visit), now=clinic.now())
    ana_entry = join(app, people["ana"], doctor_id=people["doctor"])
    assert run(app) == 1
    assert offers(app) == [(ana_entry, instant(DAY, "09:00"), "open")]


def held_answers(page):
    """The (Book it, No thanks) form actions of the patient's waitlist page's held times."""
    return re.findall(r'action="(/waitlist/offers/[^"/]+)"', page), re.findall(
        r'action="(/waitlist/offers/[^"]+/decline)"', page)


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_a_time_held_for_a_patient_is_on_their_pages_to_book_or_let_go(app, client, clock, people, sent_mail,
                                                                       answer):
    """Ben, logged in, need not find the email: My bookings says a time is held for him and until
    when, and his waitlist page books it or lets it go. Nobody else sees it; once its hold has run
    out, neither does he."""
    ben_offered_anas_9_oclock(app, people, sent_mail)
    cid_entry = join(app, people["cid"], doctor_id=people["doctor"])
    assert client.post("/login", data={"email": "ben@example.com", "password": PASSWORD}).status_code == 303
    bookings = client.get("/bookings").text
    assert ("From the waitlist, Mon 15 Mar 2027, 09:00 with Dr. Laura Rossi is held for you until "
            "Wed 10 Mar 2027, 12:15: ") in bookings and 'href="/waitlist#held"' in bookings
    page = client.get("/waitlist").text
    assert "Held for you" in page and ("Mon 15 Mar 2027, 09:00 with Dr. Laura Rossi (30 min): held for you until "
                                       "Wed 10 Mar 2027, 12:15.") in page
    cid = app.test_client()
    assert cid.post("/login", data={"email": "cid@example.com", "password": PASSWORD}).status_code == 303
    assert "Held for you" not in cid.get("/waitlist").text and "From the waitlist" not in cid.get("/bookings").text
    [accept], [decline] = held_answers(page)
    done = client.post(accept if answer == "accept" else decline)
    assert done.status_code == 200
    assert offers(app)[0].status == ("accepted" if answer == "accept" else "declined")
    with app.app_context():
        visit = db.session.scalars(select(Appointment).where(Appointment.patient_id == people["ben"],
                                                             Appointment.status != CANCELLED)).one_or_none()
    if answer == "accept":
        assert "Booked: Mon 15 Mar 2027, 09:00" in done.text and visit.status == SCHEDULED
    else:
        assert visit is None and run(app) == 1  # let go: the next in line, Cid, is offered it
        assert [(o.entry_id, o.status) for o in offers(app)][-1] == (cid_entry, "open")
    assert "Held for you" not in client.get("/waitlist").text
    assert "From the waitlist" not in client.get("/bookings").text
    if answer == "decline":  # Cid's now, on Cid's pages; gone from them once its hold runs out
        assert "Held for you" in cid.get("/waitlist").text and "From the waitlist" in cid.get("/bookings").text
        clock.set(offers_expiry(app))
        assert "Held for you" not in cid.get("/waitlist").text and "From the waitlist" not in cid.get("/bookings").text


def offers_expiry(app):
    with app.app_context():
        return db.session.scalar(select(func.max(WaitlistOffer.expires_at)))


def test_an_offer_s_links_sent_to_an_address_corrected_since_act_for_nobody(app, people, sent_mail):
    """Ben's offer went to ben@example.com; the desk corrects his address: the emailed Book it and
    No thanks do nothing, the time stays held for him, and links made for the new address work."""
    accept, decline = ben_offered_anas_9_oclock(app, people, sent_mail)
    with app.app_context():
        desk = User(email="desk@example.com", full_name="Desk", role="reception")
        desk.set_password(PASSWORD)
        db.session.add(desk)
        db.session.commit()
        patients.update_contact(actor=desk, patient_id=people["ben"], full_name="Ben Carter",
                                email="ben.carter@example.com", phone="", now=clinic.now())
    browser = app.test_client()
    for path in (accept, decline):
        assert browser.get(path).status_code == 410 and browser.post(path).status_code == 410
    assert [o.status for o in offers(app)] == ["open"]
    with app.app_context():
        fresh = waitlist.answer_tokens(db.session.scalars(select(WaitlistOffer)).one())
    assert browser.post(f"/waitlist/offers/{fresh['accept']}").status_code == 200
    assert [o.status for o in offers(app)] == ["accepted"]


def test_a_held_time_the_calendar_has_lost_since_is_not_shown_to_book(app, client, people, sent_mail, make_block):
    """Time off added over Ben's held time: "Book it" would refuse it (as the email's page does not
    offer it), so his pages do not show it to book."""
    ben_offered_anas_9_oclock(app, people, sent_mail)
    assert client.post("/login", data={"email": "ben@example.com", "password": PASSWORD}).status_code == 303
    assert "Held for you" in client.get("/waitlist").text
    make_block(doctor_id=people["doctor"], start=instant(DAY, "09:00"), end=instant(DAY, "10:00"))
    assert "Held for you" not in client.get("/waitlist").text
    assert "From the waitlist" not in client.get("/bookings").text
