"""The desk's waitlist page (DESIGN.md section 18, issue 17 item 4): each doctor's queue in joining
order and the open offers; a doctor sees only their own; a time offered by hand is held and
emailed like the worker's offers, or refused with the reason and nothing changed; the page costs
the same queries however long the queues are."""
import html as html_lib
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import HELD, AccessEvent, Appointment, Doctor, User, WaitlistEntry, WaitlistOffer
from clinica_web.services import availability, booking, clinic, waitlist
from tests.conftest import instant, table_snapshot

NOW_DAY = date(2027, 3, 10)  # a Wednesday
DAY = date(2027, 3, 15)  # the next Monday


@pytest.fixture(autouse=True)
def fixed_clock(clock):
    clock.set(instant(NOW_DAY, "12:00"))
    return clock


@pytest.fixture
def clinic_people(app, make_doctor, make_user):
    """Dr. Laura Rossi (General Practice, with a login), Dr. Pia Nuñez (Pediatrics), three patients."""
    rossi = make_doctor(with_user=True)
    nunez = make_doctor(name="Dr. Pia Nuñez", specialty="Pediatrics")
    with app.app_context():
        rossi_user = db.session.get(Doctor, rossi).user_id
    return dict(rossi=rossi, nunez=nunez, rossi_user=rossi_user,
                ana=make_user(email="ana@example.com", full_name="Ana Torres"),
                ben=make_user(email="ben@example.com", full_name="Ben Carter"),
                cid=make_user(email="cid@example.com", full_name="Cid Moreno"))


@pytest.fixture
def desk(make_user, login_as):
    return login_as(make_user(role="reception", email="rita@example.com", full_name="Rita Desk"))


def join(app, patient_id, *, doctor_id=None, specialty=None, appointment_type="consultation", part_of_day="any"):
    with app.app_context():
        return waitlist.join(patient=db.session.get(User, patient_id), doctor_id=doctor_id, specialty=specialty,
                             appointment_type=appointment_type, from_date=DAY.isoformat(),
                             to_date=(DAY + timedelta(days=4)).isoformat(), part_of_day=part_of_day,
                             now=clinic.now()).id


def offer(client, entry_id, doctor_id, hhmm, day=DAY, **more):
    return client.post("/desk/waitlist/offer", data={"entry_id": str(entry_id), "doctor_id": str(doctor_id),
                                                     "date": day.isoformat(), "time": hhmm, **more})


def text_of(html):
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def sections(html):
    """{doctor's heading: the visible text of their section}."""
    found = re.findall(r'<section class="doctor-waitlist"[^>]*>\s*<h2[^>]*>(.*?)</h2>(.*?)</section>', html, re.S)
    return {text_of(heading): text_of(body) for heading, body in found}


def rossi_html(html):
    return re.search(r'<section class="doctor-waitlist"[^>]*>\s*<h2[^>]*>Dr. Laura Rossi.*?</section>', html, re.S)[0]


def flashes(html):
    return [text_of(m) for m in re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)]


def held_and_offered(app):
    with app.app_context():
        held = db.session.execute(select(Appointment.patient_id, Appointment.doctor_id, Appointment.starts_at,
                                         Appointment.duration_minutes).where(Appointment.status == HELD)).all()
        offers = db.session.execute(select(WaitlistOffer.entry_id, WaitlistOffer.starts_at, WaitlistOffer.status,
                                           WaitlistOffer.expires_at)).all()
        return held, offers


def offer_mail(sent_mail):
    return [m for m in sent_mail() if m["Subject"].strip().startswith("A time has freed up")]


# ---------------------------------------------------------------------------------------------
# The page


def test_each_doctor_has_their_queue_in_joining_order_and_their_open_offers(app, desk, clinic_people):
    people = clinic_people
    ana = join(app, people["ana"], specialty="General Practice", part_of_day="morning")
    ben = join(app, people["ben"], doctor_id=people["rossi"], appointment_type="follow_up")
    join(app, people["cid"], specialty="Pediatrics")
    assert offer(desk, ben, people["rossi"], "09:00").status_code == 303

    page = desk.get("/desk/waitlist")
    assert page.status_code == 200
    found = sections(page.text)
    assert list(found) == ["Dr. Laura Rossi General Practice", "Dr. Pia Nuñez Pediatrics"]
    rossi, nunez = found.values()
    assert "Open offers (1) Patient Time Held until Ben Carter Mon 15 Mar 2027, 09:00 12:15" in rossi
    queue = rossi.partition("Waiting")[2]
    assert queue.index("Ana Torres") < queue.index("Ben Carter") and "Cid Moreno" not in rossi
    assert ("Ana Torres Any doctor of General Practice Consultation, Mon 15 Mar – Fri 19 Mar 2027 "
            "Morning (before 13:00) Wed 10 Mar 2027, 12:00") in queue
    assert "Ben Carter Follow-up, Mon 15 Mar – Fri 19 Mar 2027 Any time" in queue
    assert "Offered Mon 15 Mar 2027, 09:00, held until 12:15" in queue  # Ben's: no second offer
    assert len(re.findall(r'name="entry_id" value="(\d+)"', page.text)) == 2  # Ana's and Cid's forms
    assert "Cid Moreno Any doctor of Pediatrics" in nunez and "No time is on offer" in nunez
    assert f'name="entry_id" value="{ana}"' in rossi_html(page.text)

    one = sections(desk.get(f"/desk/waitlist?doctor_id={people['nunez']}").text)
    assert list(one) == ["Dr. Pia Nuñez Pediatrics"]
    with app.app_context():
        assert db.session.scalars(select(AccessEvent.action)).all().count("viewed waitlist") == 2


def test_an_entry_whose_days_have_passed_or_that_was_left_is_not_listed(app, desk, clinic_people, clock):
    join(app, clinic_people["ana"], specialty="General Practice")
    ben = join(app, clinic_people["ben"], doctor_id=clinic_people["rossi"])
    with app.app_context():
        waitlist.leave(patient=db.session.get(User, clinic_people["ben"]), entry_id=ben, now=clinic.now())
    assert "Ana Torres" in desk.get("/desk/waitlist").text and "Ben Carter" not in desk.get("/desk/waitlist").text
    clock.set(instant(DAY + timedelta(days=5), "08:00"))
    assert "Ana Torres" not in desk.get("/desk/waitlist").text


def test_a_doctor_sees_only_their_own_queue(app, clinic_people, login_as):
    join(app, clinic_people["ana"], specialty="General Practice")
    join(app, clinic_people["cid"], specialty="Pediatrics")
    doctor = login_as(clinic_people["rossi_user"])
    page = doctor.get("/desk/waitlist")
    assert list(sections(page.text)) == ["Dr. Laura Rossi General Practice"]
    assert "Cid Moreno" not in page.text and '<select id="doctor_id"' not in page.text  # no doctor picker
    before = table_snapshot(app)
    assert doctor.get(f"/desk/waitlist?doctor_id={clinic_people['nunez']}").status_code == 404
    assert table_snapshot(app) == before  # no view recorded of what was not shown
    assert '<a href="/desk/waitlist">Waitlist</a>' in page.text  # in the staff nav


def test_patients_and_visitors_cannot_open_it(app, client, clinic_people, login_as):
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    patient = login_as(clinic_people["ana"])
    before = table_snapshot(app)
    assert patient.get("/desk/waitlist").status_code == 403
    assert offer(patient, entry, clinic_people["rossi"], "09:00").status_code == 403
    for response in (client.get("/desk/waitlist"), offer(client, entry, clinic_people["rossi"], "09:00")):
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert table_snapshot(app) == before


# ---------------------------------------------------------------------------------------------
# A time offered by hand


def test_a_time_offered_by_hand_is_held_and_emailed(app, desk, clinic_people, sent_mail):
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    response = offer(desk, entry, clinic_people["rossi"], "10:00")
    assert response.status_code == 303 and response.headers["Location"] == "/desk/waitlist"
    page = desk.get("/desk/waitlist").text
    assert flashes(page) == ["Ana Torres is offered Mon 15 Mar 2027, 10:00 with Dr. Laura Rossi and has been "
                             "emailed; the time is held for them until 12:15."]
    start = instant(DAY, "10:00")
    assert held_and_offered(app) == (
        [(clinic_people["ana"], clinic_people["rossi"], start, 30)],
        [(entry, start, "open", instant(NOW_DAY, "12:15"))])
    [message] = offer_mail(sent_mail)
    assert "ana@example.com" in message["To"]
    assert message["Subject"].strip() == "A time has freed up: Mon 15 Mar 10:00 with Dr. Laura Rossi"
    # The held time is nobody else's: the patients' page no longer offers it.
    with app.app_context():
        rossi = availability.active_doctor(clinic_people["rossi"])
        assert 600 not in availability.free_slots(rossi, DAY, 30, now=clinic.now())
        event = db.session.scalars(select(AccessEvent).where(AccessEvent.action == "offered waitlist time")).one()
        assert (event.patient_id, event.detail) == (clinic_people["ana"], "Dr. Laura Rossi, Mon 15 Mar 2027, 10:00")
    # Offered once: the row shows the offer, and a second offer to the same entry is refused.
    refused = offer(desk, entry, clinic_people["rossi"], "11:00")
    assert refused.status_code == 422 and flashes(refused.text) == [
        "A time is already on offer to this patient: wait for their answer"]
    assert len(held_and_offered(app)[1]) == 1


def test_a_time_offered_by_hand_to_a_patient_without_email_is_held_and_sends_nothing(
        app, desk, clinic_people, sent_mail):
    """Such a patient is who the desk offers by hand (the worker's email cannot reach them): the
    time is held, the desk is told to call, no email and no link is made for nobody."""
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    with app.app_context():
        db.session.get(User, clinic_people["ana"]).email = None
        db.session.commit()
    response = offer(desk, entry, clinic_people["rossi"], "10:00")
    assert response.status_code == 303
    assert flashes(desk.get("/desk/waitlist").text) == [
        "Ana Torres is offered Mon 15 Mar 2027, 10:00 with Dr. Laura Rossi and has no email address: tell them. "
        "The time is held for them until 12:15."]
    assert held_and_offered(app)[1] == [(entry, instant(DAY, "10:00"), "open", instant(NOW_DAY, "12:15"))]
    assert offer_mail(sent_mail) == []


def test_the_visit_of_a_booked_offer_has_the_offer_in_its_history(app, desk, clinic_people, clock, sent_mail):
    """Section 14: the waitlist offer is a change of the visit, recorded when it was made and by
    whom (here the desk's Rita; the worker's offers say "System"), before the patient's booking."""
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    assert offer(desk, entry, clinic_people["rossi"], "10:00").status_code == 303
    [message] = offer_mail(sent_mail)
    text = message.get_body(preferencelist=("plain",)).get_content()
    [accept] = [path for path in re.findall(r"https?://[^/\s]+(/waitlist/offers/\S+)", text)
                if not path.endswith("/decline")]
    clock.advance(minutes=5)
    assert app.test_client().post(accept).status_code == 200
    with app.app_context():
        visit_id = db.session.scalars(select(WaitlistOffer.appointment_id)).one()
    page = desk.get(f"/desk/appointments/{visit_id}").text
    history = re.search(r'<section aria-labelledby="history-heading">(.*?)</section>', page, re.S)[1]
    rows = [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", history, re.S)[1:]]
    assert rows == ["Wed 10 Mar 2027, 12:00 Rita Desk Offered from the waitlist",
                    "Wed 10 Mar 2027, 12:05 Ana Torres Booked: scheduled"]


@pytest.mark.parametrize("ending", ["runs out", "declined"])
def test_a_time_offered_by_hand_is_freed_when_its_hold_runs_out_or_is_declined(
        app, desk, clinic_people, clock, run_worker, sent_mail, ending):
    """The hold goes and the time is free again, the audit keeps its words, and the worker goes on
    sending (the audit entry once pointed at the held row, which then could not be deleted: the
    worker failed every pass and sent no email at all, and "No thanks" was a 500)."""
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    assert offer(desk, entry, clinic_people["rossi"], "10:00").status_code == 303
    [message] = offer_mail(sent_mail)
    if ending == "declined":
        text = message.get_body(preferencelist=("plain",)).get_content()
        [decline] = re.findall(r"https?://[^/\s]+(/waitlist/offers/\S+/decline)", text)
        assert app.test_client().post(decline).status_code == 200
    else:
        clock.advance(minutes=app.config["WAITLIST_HOLD_MINUTES"])
    done = run_worker()
    assert done["offers_expired"] == (1 if ending == "runs out" else 0)
    assert held_and_offered(app)[0] == []
    with app.app_context():
        rossi = availability.active_doctor(clinic_people["rossi"])
        assert 600 in availability.free_slots(rossi, DAY, 30, now=clinic.now())
        event = db.session.scalars(select(AccessEvent).where(AccessEvent.action == "offered waitlist time")).one()
        assert (event.patient_id, event.appointment_id, event.detail) == (
            clinic_people["ana"], None, "Dr. Laura Rossi, Mon 15 Mar 2027, 10:00")
    with app.app_context():  # and the emails still go out: a booking's confirmation, at once
        ben = db.session.get(User, clinic_people["ben"])
        booking.book(actor=ben, patient=ben, doctor_id=clinic_people["rossi"], date=DAY.isoformat(), time="15:00",
                     now=clinic.now())
    assert run_worker()["sent"] >= 1


def test_the_page_shown_narrowed_to_a_doctor_stays_narrowed(desk, clinic_people, app):
    entry = join(app, clinic_people["cid"], specialty="Pediatrics")
    response = offer(desk, entry, clinic_people["nunez"], "10:00", showing=str(clinic_people["nunez"]))
    assert response.headers["Location"] == f"/desk/waitlist?doctor_id={clinic_people['nunez']}"


@pytest.mark.parametrize("hhmm, day, message", [
    ("09:00", DAY, "Time slot overlaps with another booking"),  # Ben's visit
    ("13:00", DAY, "Outside doctor availability"),  # the lunch break
    ("10:00", DAY + timedelta(days=5), "Doctor not available on this day"),  # a Saturday
    ("10:00", NOW_DAY - timedelta(days=1), "Date must be in the future"),
    ("11:00", DAY, "The patient already has a booking at this time"),  # Ana's visit with Dr. Nuñez
    ("9am", DAY, "Invalid time format (HH:MM)"),
    ("", DAY, "Give a day and a time (HH:MM)"),
])
def test_a_time_the_booking_rules_stop_is_refused_and_nothing_changes(
        app, desk, clinic_people, make_appointment, sent_mail, hhmm, day, message):
    make_appointment(doctor_id=clinic_people["rossi"], patient_id=clinic_people["ben"], day=DAY, hhmm="09:00")
    make_appointment(doctor_id=clinic_people["nunez"], patient_id=clinic_people["ana"], day=DAY, hhmm="11:00")
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    mail_before, before = len(sent_mail()), table_snapshot(app)
    response = offer(desk, entry, clinic_people["rossi"], hhmm, day=day)
    assert response.status_code == 422 and flashes(response.text) == [message]
    assert table_snapshot(app) == before and len(sent_mail()) == mail_before
    # The page again, the refusal beside the form and what was typed still in it.
    form = re.search(rf'<form[^>]*class="offer-form"[^>]*>(?:(?!</form>).)*name="entry_id" value="{entry}"'
                     rf'(?:(?!</form>).)*</form>', response.text, re.S)[0]
    assert f'-error">{html_lib.escape(message, quote=False)}</p>' in form  # the time field's description
    assert f'name="date" type="date" value="{day.isoformat()}"' in form
    assert re.search(rf'name="time"[^>]* value="{hhmm}" aria-invalid="true"', form)


def test_an_entry_is_offered_only_its_doctor_or_specialty(app, desk, clinic_people):
    ben = join(app, clinic_people["ben"], doctor_id=clinic_people["rossi"])
    cid = join(app, clinic_people["cid"], specialty="Pediatrics")
    for entry, doctor_id, message in [
        (ben, clinic_people["nunez"], "This patient waits for Dr. Laura Rossi, not Dr. Pia Nuñez"),
        (cid, clinic_people["rossi"], "This patient waits for any doctor of Pediatrics, not Dr. Laura Rossi"),
        (999, clinic_people["rossi"], "Waitlist entry not found"),
        (ben, 999, "Doctor not found"),
    ]:
        refused = offer(desk, entry, doctor_id, "10:00")
        assert refused.status_code == 422 and flashes(refused.text) == [message]
    with app.app_context():
        waitlist.leave(patient=db.session.get(User, clinic_people["ben"]), entry_id=ben, now=clinic.now())
    left = offer(desk, ben, clinic_people["rossi"], "10:00")
    assert flashes(left.text) == ["This patient is no longer on the waitlist"]
    assert held_and_offered(app) == ([], [])


def test_a_doctor_offers_their_own_times_only(app, clinic_people, login_as):
    ana = join(app, clinic_people["ana"], specialty="General Practice")
    cid = join(app, clinic_people["cid"], specialty="Pediatrics")
    doctor = login_as(clinic_people["rossi_user"])
    assert flashes(offer(doctor, cid, clinic_people["nunez"], "10:00").text) == ["You can only offer your own times"]
    assert held_and_offered(app) == ([], [])
    offer(doctor, ana, clinic_people["rossi"], "10:00")
    assert flashes(doctor.get("/desk/waitlist").text)[0].startswith("Ana Torres is offered Mon 15 Mar 2027, 10:00")


def test_a_time_taken_a_moment_ago_is_refused_by_the_database(app, desk, clinic_people, make_appointment,
                                                              monkeypatch, sent_mail):
    """The checks saw the time free (their read came before the other booking's commit); the
    database's overlap guard refuses the hold."""
    entry = join(app, clinic_people["ana"], specialty="General Practice")
    make_appointment(doctor_id=clinic_people["rossi"], patient_id=clinic_people["ben"], day=DAY, hhmm="10:00")
    monkeypatch.setattr(availability, "busy_intervals", lambda *args, **kwargs: [])
    before = table_snapshot(app)
    refused = offer(desk, entry, clinic_people["rossi"], "10:00")
    assert refused.status_code == 422 and flashes(refused.text) == ["This time was just taken"]
    assert table_snapshot(app) == before and offer_mail(sent_mail) == []


# ---------------------------------------------------------------------------------------------
# Queries


def test_long_queues_cost_no_more_queries_than_short_ones(app, desk, make_doctor, count_queries):
    doctors = [make_doctor(name=f"Dr. Number {n}") for n in range(2)]
    offer_minutes = iter(range(9 * 60, 13 * 60, 15))

    def add_waiting(count):
        """`count` entries, by name and by specialty, half of them with an open offer."""
        with app.app_context():
            for n in range(count):
                patient = User(email=f"w{n}-{count}@example.com", full_name=f"Waiting {n}", role="patient",
                               password_hash="x")
                entry = WaitlistEntry(patient=patient, doctor_id=doctors[0] if n % 2 else None,
                                      specialty=None if n % 2 else "General Practice", appointment_type="follow_up",
                                      from_date=DAY, to_date=DAY, part_of_day="any", status="active",
                                      created_at=clinic.now())
                db.session.add(entry)
                if n % 2:
                    minute = next(offer_minutes)
                    start = instant(DAY, f"{minute // 60:02d}:{minute % 60:02d}")
                    held = Appointment(patient=patient, doctor_id=doctors[0], starts_at=start,
                                       ends_at=start + timedelta(minutes=15), duration_minutes=15,
                                       appointment_type="follow_up", status=HELD, notes="")
                    db.session.add(WaitlistOffer(entry=entry, doctor_id=doctors[0], starts_at=start,
                                                 ends_at=held.ends_at, appointment=held, status="open",
                                                 expires_at=clinic.now() + timedelta(minutes=15),
                                                 created_at=clinic.now()))
            db.session.commit()

    def measure():
        pages = []
        queries = count_queries(lambda: pages.append(desk.get("/desk/waitlist")))
        assert pages[0].status_code == 200
        return queries, len(re.findall(r"<td>Waiting \d+", pages[0].text))

    add_waiting(2)
    short = measure()
    add_waiting(18)
    long = measure()
    # A specialty's entry is in both doctors' queues; one by name in its doctor's, and its offer too.
    assert (short[1], long[1]) == (2 * 2, 20 * 2)
    assert long[0] == short[0] <= 10
