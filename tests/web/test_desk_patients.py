"""The desk's patients (DESIGN.md section 20): search as you type, a patient's page, editing their
contact details, and registering a patient at the desk with an email address or by phone only."""
import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import COMPLETED, NO_SHOW, PATIENT, AccessEvent, Appointment, Doctor, OutboxEmail, User
from clinica_web.models.outbox import REMINDER, SKIPPED
from tests.conftest import PASSWORD, instant, next_weekday, table_snapshot

MONDAY = next_weekday(0, weeks=1)  # 8 to 14 days away: bookable
LAST_MONDAY = MONDAY - timedelta(weeks=3)  # in the past
HTMX = {"HX-Request": "true"}


def text_of(html):
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def user_row(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        return {"full_name": user.full_name, "email": user.email, "phone": user.phone}


def events(app, patient_id):
    with app.app_context():
        return [(e.action, e.detail) for e in db.session.scalars(
            select(AccessEvent).where(AccessEvent.patient_id == patient_id).order_by(AccessEvent.id))]


def non_reminder_emails(app):
    with app.app_context():
        return db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind != REMINDER)).all()


def doctor_login(app, login_as, doctor_id):
    with app.app_context():
        return login_as(db.session.get(Doctor, doctor_id).user_id)


@pytest.fixture
def people(make_user):
    return {
        "ana": make_user(email="ana.torres@example.com", full_name="Ana Torres", phone="+56 9 8765 4321"),
        "ben": make_user(email="ben@example.com", full_name="Ben Carter", phone="(02) 555-1234"),
        "anabel": make_user(email="anabel@example.com", full_name="Anabel Ruiz"),
    }


# ---------------------------------------------------------------------------------------------
# Search as you type


@pytest.mark.parametrize("query, expected", [
    ("ana", ["Ana Torres", "Anabel Ruiz"]),  # by name, case-insensitive, in name order
    ("TORRES", ["Ana Torres"]),
    ("ben@exam", ["Ben Carter"]),  # by email
    ("98765", ["Ana Torres"]),  # phone digits, whatever the punctuation typed or stored
    ("9 87-65", ["Ana Torres"]),
    ("5551234", ["Ben Carter"]),
])
def test_search_finds_patients_by_name_email_or_phone(desk, people, query, expected):
    page = desk.client.get("/desk/patients", query_string={"q": query})
    assert page.status_code == 200
    assert re.findall(r'<a href="/desk/patients/\d+">([^<]+)</a>', page.text) == expected


def test_search_lists_only_patients_and_links_to_their_pages(desk, people, staff):
    staff("reception", full_name="Ana Staff")
    page = desk.client.get("/desk/patients?q=ana").text
    assert "Ana Staff" not in page
    assert f'href="/desk/patients/{people["ana"]}"' in page
    assert "2 patients match “ana”" in text_of(page)


@pytest.mark.parametrize("query", ["", "a", " a ", "%", "\t"])
def test_a_short_query_asks_for_more_and_lists_nobody(desk, people, query):
    page = desk.client.get("/desk/patients", query_string={"q": query})
    assert page.status_code == 200
    assert "Type at least two letters" in page.text
    assert "Ana Torres" not in page.text


@pytest.mark.parametrize("query", ["%%", "__", "a%", "\\\\", "'; drop table users; --", "<script>x</script>",
                                   "ana\x07\x1b", "ana\u202e", "x" * 5000, "😀😀", "١٢٣٤"])
def test_odd_queries_are_answered_and_match_nothing_they_should_not(desk, people, query):
    response = desk.client.get("/desk/patients", query_string={"q": query})
    assert response.status_code == 200
    assert "<script>x</script>" not in response.text
    if query.startswith("ana"):  # control characters are dropped: still a search for "ana"
        assert "Ana Torres" in response.text
    else:
        assert "Ana Torres" not in response.text and "Ben Carter" not in response.text


def test_a_nul_in_the_query_is_refused(desk, people):
    assert desk.client.get("/desk/patients", query_string={"q": "ana\x00"}).status_code == 400


def test_htmx_gets_the_results_alone_and_a_plain_get_the_whole_page(desk, people):
    page = desk.client.get("/desk/patients?q=ben")
    partial = desk.client.get("/desk/patients?q=ben", headers=HTMX)
    assert "<html" in page.text and 'id="patient-results" aria-live="polite"' in page.text
    assert 'hx-trigger="input changed delay:300ms, search"' in page.text and 'hx-push-url="true"' in page.text
    assert "<html" not in partial.text and "Ben Carter" in partial.text
    assert partial.text.strip() in page.text  # the page holds the same results
    assert "HX-Request" in partial.headers["Vary"] and "HX-Request" in page.headers["Vary"]
    assert "HX-Push-Url" not in partial.headers  # the request's own address is pushed


def test_doctors_and_admins_search_too(app, make_doctor, people, staff, login_as):
    admin = login_as(staff("admin"))
    doctor = doctor_login(app, login_as, make_doctor(with_user=True))
    for client in (admin, doctor):
        assert "Ben Carter" in client.get("/desk/patients?q=ben").text


def test_the_nav_leads_staff_to_patients(desk, login_as, people):
    assert '<a href="/desk/patients">Patients</a>' in desk.client.get("/desk/").text
    assert '<a href="/desk/patients">Patients</a>' not in login_as(people["ana"]).get("/").text


# The booking page's first step: the same search, leading on to booking with the chosen time.

CARRIED = {"doctor_id": "7", "date": MONDAY.isoformat(), "type": "consultation", "time": "10:30"}


def test_booking_search_results_carry_the_chosen_time(desk, people):
    expected = (f'/desk/book?patient_id={people["ben"]}&amp;doctor_id=7&amp;date={MONDAY}&amp;type=consultation'
                '&amp;time=10:30')
    page = desk.client.get("/desk/book", query_string={"q": "ben", **CARRIED}).text  # without JavaScript
    assert expected in page
    assert 'hx-get="/desk/patients"' in page and "hx-vals='{\"for\": \"book\"}'" in page
    partial = desk.client.get("/desk/patients", query_string={"q": "ben", "for": "book", **CARRIED}, headers=HTMX)
    assert "<html" not in partial.text and expected in partial.text
    assert partial.headers["HX-Push-Url"] == f"/desk/book?q=ben&doctor_id=7&date={MONDAY}&type=consultation&time=10:30"
    plain = desk.client.get("/desk/patients", query_string={"q": "ben", "for": "book", **CARRIED})
    assert plain.status_code == 302 and plain.headers["Location"].startswith("/desk/book?q=ben&doctor_id=7")
    nobody = desk.client.get("/desk/book", query_string={"q": "zzz"}).text
    assert "No patient matches “zzz”. Register them below." in nobody


def test_a_doctors_search_never_leads_to_booking(app, make_doctor, people, login_as):
    doctor = doctor_login(app, login_as, make_doctor(with_user=True))
    partial = doctor.get("/desk/patients", query_string={"q": "ben", "for": "book"}, headers=HTMX)
    assert f'href="/desk/patients/{people["ben"]}"' in partial.text and "/desk/book" not in partial.text


# ---------------------------------------------------------------------------------------------
# A patient's page


@pytest.fixture
def history(app, clock, make_doctor, make_appointment, people, desk):
    """Ana: a documented past visit, a no-show, a visit cancelled late by the desk, one upcoming."""
    doctor = make_doctor(with_user=True)
    other = make_doctor(name="Dr. Marco Bianchi", with_user=True)
    ana = people["ana"]
    seen = make_appointment(doctor_id=doctor, patient_id=ana, day=LAST_MONDAY, hhmm="09:00", status=COMPLETED)
    missed = make_appointment(doctor_id=other, patient_id=ana, day=LAST_MONDAY + timedelta(days=1), hhmm="09:00",
                              status=NO_SHOW)
    with app.app_context():
        visit = db.session.get(Appointment, seen)
        visit.documentation, visit.documented_at = "Sore throat; rest and fluids.", instant(LAST_MONDAY, "10:00")
        db.session.commit()
    late = make_appointment(doctor_id=doctor, patient_id=ana, day=LAST_MONDAY + timedelta(days=7), hhmm="10:00")
    clock.set(instant(LAST_MONDAY + timedelta(days=7), "08:00"))  # two hours before: inside the cutoff
    assert desk.client.post(f"/desk/appointments/{late}/cancel", data={"reason": "patient_called"}).status_code == 303
    clock.set(instant(LAST_MONDAY + timedelta(days=14), "12:00"))
    upcoming = make_appointment(doctor_id=doctor, patient_id=ana, day=MONDAY, hhmm="11:00")
    return dict(doctor=doctor, other=other, seen=seen, missed=missed, late=late, upcoming=upcoming, ana=ana)


def sections(page):
    upcoming, _, past = page.partition('id="past-heading"')
    return upcoming, past


def test_the_patient_page_shows_contact_details_visits_and_counts(app, desk, history):
    page = desk.client.get(f"/desk/patients/{history['ana']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Ana Torres" in text and "ana.torres@example.com" in text and "+56 9 8765 4321" in text
    assert "Reminders On" in text and "No-shows 1" in text and "Late cancellations 1" in text
    upcoming, past = sections(page.text)
    assert f'href="/desk/appointments/{history["upcoming"]}"' in upcoming
    for visit in ("seen", "missed", "late"):
        assert f'href="/desk/appointments/{history[visit]}"' in past
        assert f'href="/desk/appointments/{history[visit]}"' not in upcoming
    assert "Late cancellation" in past and "No show" in past and "Dr. Marco Bianchi" in past
    assert "<caption" in page.text and 'scope="col"' in page.text
    assert ("viewed patient", None) in events(app, history["ana"])


def test_a_cancelled_upcoming_visit_is_listed_apart_not_among_the_upcoming_ones(app, desk, history, make_appointment):
    cancelled = make_appointment(doctor_id=history["doctor"], patient_id=history["ana"], day=MONDAY, hhmm="15:00",
                                 status="cancelled")
    page = desk.client.get(f"/desk/patients/{history['ana']}").text
    upcoming, _, cancelled_part = sections(page)[0].partition('id="cancelled-heading"')
    assert f'href="/desk/appointments/{history["upcoming"]}"' in upcoming
    assert f'href="/desk/appointments/{cancelled}"' not in upcoming
    assert f'href="/desk/appointments/{cancelled}"' in cancelled_part and "Cancelled" in cancelled_part


def test_without_cancelled_upcoming_visits_there_is_no_cancelled_list(desk, history):
    assert 'id="cancelled-heading"' not in desk.client.get(f"/desk/patients/{history['ana']}").text


def test_reception_sees_that_documentation_was_written_but_never_reads_it(desk, history):
    page = desk.client.get(f"/desk/patients/{history['ana']}").text
    assert "Sore throat" not in page
    assert "Written " in sections(page)[1]


@pytest.mark.parametrize("role", ["admin", "doctor"])
def test_doctors_and_admins_read_each_past_visits_documentation(app, history, staff, login_as, role):
    client = (doctor_login(app, login_as, history["doctor"]) if role == "doctor" else login_as(staff("admin")))
    page = client.get(f"/desk/patients/{history['ana']}").text
    assert "Sore throat; rest and fluids." in sections(page)[1]
    assert "Edit contact details" not in page if role == "doctor" else "Edit contact details" in page


def test_a_doctor_is_linked_only_to_their_own_visits(app, history, login_as):
    page = doctor_login(app, login_as, history["doctor"]).get(f"/desk/patients/{history['ana']}").text
    assert f'href="/desk/appointments/{history["seen"]}"' in page
    assert f'href="/desk/appointments/{history["missed"]}"' not in page  # Dr. Bianchi's (it would be a 404)
    assert "Dr. Marco Bianchi" in page  # still listed: the patient's whole story


def test_the_patient_page_queries_are_as_many_for_1_or_20_visits(desk, make_doctor, make_user, make_appointment,
                                                                 count_queries):
    doctor = make_doctor()
    few, many = make_user(full_name="Few Visits"), make_user(full_name="Many Visits")
    make_appointment(doctor_id=doctor, patient_id=few, day=LAST_MONDAY, hhmm="16:00")
    for number in range(20):
        day = LAST_MONDAY + timedelta(days=number % 5) if number < 10 else MONDAY + timedelta(days=number % 5)
        make_appointment(doctor_id=doctor, patient_id=many, day=day, hhmm=f"{9 + number // 5:02d}:00",
                         status=NO_SHOW if number < 10 else "scheduled")
    counts = []
    for patient in (few, many):
        counts.append(count_queries(lambda: desk.client.get(f"/desk/patients/{patient}")))
    assert counts[0] == counts[1]
    assert "No-shows 10" in text_of(desk.client.get(f"/desk/patients/{many}").text)


def test_only_patients_have_a_page(desk, staff):
    for patient_id in (staff("admin"), 999999, 2**31 - 1):
        assert desk.client.get(f"/desk/patients/{patient_id}").status_code == 404
    assert desk.client.get("/desk/patients/99999999999999999999").status_code == 404


def test_the_appointment_page_and_the_day_list_link_to_the_patient(desk, history, count_queries):
    link = f'href="/desk/patients/{history["ana"]}"'
    assert link in desk.client.get(f"/desk/appointments/{history['upcoming']}").text
    day_list = desk.client.get(f"/desk/?date={MONDAY}").text
    link = f'<a href="patients/{history["ana"]}" id="patient-{history["upcoming"]}">Ana Torres</a>'
    assert link in day_list  # relative to /desk/


# ---------------------------------------------------------------------------------------------
# Editing contact details


def test_reception_edits_contact_details_and_each_change_is_audited(app, desk, people):
    ana = people["ana"]
    form = desk.client.get(f"/desk/patients/{ana}/edit").text
    assert 'value="ana.torres@example.com"' in form and 'value="Ana Torres"' in form
    response = desk.client.post(f"/desk/patients/{ana}/edit", data={
        "full_name": "Ana  Torres Vega", "email": "ANA.VEGA@example.com", "phone": "+56 9 8765 4321"})
    assert response.status_code == 303 and response.headers["Location"] == f"/desk/patients/{ana}"
    assert user_row(app, ana) == {"full_name": "Ana Torres Vega", "email": "ana.vega@example.com",
                                  "phone": "+56 9 8765 4321"}
    assert events(app, ana) == [("changed patient full name", "Ana Torres → Ana Torres Vega"),
                                ("changed patient email", "ana.torres@example.com → ana.vega@example.com")]
    assert "The contact details are saved." in desk.client.get(f"/desk/patients/{ana}").text


def test_saving_unchanged_details_records_nothing(app, desk, people):
    response = desk.client.post(f"/desk/patients/{people['ben']}/edit", data={
        "full_name": "Ben Carter", "email": "ben@example.com", "phone": "(02) 555-1234"})
    assert response.status_code == 303
    assert events(app, people["ben"]) == []


def test_the_desk_may_remove_an_email_when_there_is_a_phone(app, desk, people):
    response = desk.client.post(f"/desk/patients/{people['ben']}/edit", data={
        "full_name": "Ben Carter", "email": "", "phone": "(02) 555-1234"})
    assert response.status_code == 303
    assert user_row(app, people["ben"])["email"] is None
    assert events(app, people["ben"]) == [("changed patient email", "ben@example.com → (none)")]
    assert "No email" in desk.client.get(f"/desk/patients/{people['ben']}").text


@pytest.mark.parametrize("form, message", [
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"email": "ben@example.com"}, "Another account already uses this email address"),  # Ben's
    ({"email": "BEN@Example.com"}, "Another account already uses this email address"),
    ({"full_name": "Ana\nTorres"}, "printable"),
    ({"full_name": "Ana\u202eTorres"}, "printable"),
    ({"full_name": ""}, "Enter the patient's full name."),
    ({"full_name": "A" * 121}, "A name has at most 120 characters."),
    ({"email": "a" * 250 + "@example.com"}, "Too long for an email."),
    ({"phone": "call me"}, "A phone number has digits"),
    ({"phone": "+56 9 8765 4321 0000 0000 0000"}, "A phone number has at most 15 digits"),
    ({"phone": "1" * 41}, "A phone number has at most 40 characters."),
    ({"email": "", "phone": ""}, "Without an email address, a phone number is required"),
])
def test_bad_contact_details_are_refused_and_change_nothing(app, desk, people, form, message):
    ana = people["ana"]
    before = table_snapshot(app)
    data = {"full_name": "Ana Torres", "email": "ana.torres@example.com", "phone": "+56 9 8765 4321", **form}
    response = desk.client.post(f"/desk/patients/{ana}/edit", data=data)
    assert response.status_code == 422
    assert message in html_lib.unescape(response.text)
    assert 'aria-invalid="true"' in response.text
    assert table_snapshot(app) == before


def test_doctors_cannot_edit_contact_details(app, make_doctor, people, login_as):
    doctor = doctor_login(app, login_as, make_doctor(with_user=True))
    assert doctor.get(f"/desk/patients/{people['ana']}/edit").status_code == 403
    before = table_snapshot(app)
    assert doctor.post(f"/desk/patients/{people['ana']}/edit", data={"full_name": "X", "phone": "1"}).status_code == 403
    assert table_snapshot(app) == before


def test_editing_a_staff_account_or_no_one_is_not_found(app, desk, staff):
    admin = staff("admin")
    before = table_snapshot(app)
    for user_id in (admin, 999999):
        assert desk.client.post(f"/desk/patients/{user_id}/edit", data={"full_name": "X", "phone": "1"}).status_code \
            == 404
    assert table_snapshot(app) == before


# ---------------------------------------------------------------------------------------------
# Registering at the desk: by phone only, or with an email (a set-your-password link)


def register(desk, **form):
    return desk.client.post("/desk/patients", data={"full_name": "Walk In", "email": "", "phone": "", **form,
                                                    **CARRIED})


def new_patient(app, name="Walk In"):
    with app.app_context():
        return db.session.scalars(select(User).where(User.full_name == name, User.role == PATIENT)).one()


def test_a_patient_registered_by_phone_only_is_booked_and_never_emailed(app, desk, make_doctor, clock, sent_mail,
                                                                        run_worker):
    doctor = make_doctor()
    response = register(desk, phone="+56 9 1111 2222")
    assert response.status_code == 303
    patient = new_patient(app)
    assert patient.email is None and patient.phone == "+56 9 1111 2222"
    assert response.headers["Location"].startswith(f"/desk/book?patient_id={patient.id}&doctor_id=7")
    assert "cannot log in and get no email" in desk.client.get("/desk/").text
    assert ("registered patient", None) in events(app, patient.id)

    booked = desk.client.post("/desk/book", data={
        "patient_id": patient.id, "doctor_id": doctor, "date": MONDAY.isoformat(), "time": "09:00",
        "type": "consultation", "booking_key": "p" * 24})
    assert booked.status_code == 303
    assert non_reminder_emails(app) == []  # no confirmation queued
    page = desk.client.get(booked.headers["Location"]).text
    assert "Walk In · no email · +56 9 1111 2222" in text_of(page)
    # The desk is told it has to pass the news on itself: nobody is emailed.
    assert "Booked for Walk In. They have no email address: tell them the details." in text_of(page)
    assert "emailed" not in text_of(page)
    visit = booked.headers["Location"].rsplit("/", 1)[1]
    moved = desk.client.post(f"/desk/appointments/{visit}/reschedule", data={
        "doctor_id": doctor, "date": MONDAY.isoformat(), "time": "10:00", "reason": "Called to move it"})
    assert moved.status_code == 303
    page = text_of(desk.client.get(moved.headers["Location"]).text)
    assert "The appointment is moved. The patient has no email address: tell them the new time." in page
    assert "emailed" not in page
    assert f"patients/{patient.id}" in desk.client.get(f"/desk/?date={MONDAY}").text
    assert "None" not in desk.client.get(f"/desk/day.csv?date={MONDAY}").text

    clock.set(instant(MONDAY, "08:00"))  # the reminders fall due: skipped, the worker carries on
    done = run_worker()
    assert done["failed"] == 0 and done["sent"] == 0
    assert sent_mail() == []
    with app.app_context():
        reasons = set(db.session.scalars(select(OutboxEmail.last_error).where(OutboxEmail.status == SKIPPED)))
    assert reasons == {"The patient has no email address"}
    cancelled = desk.client.post(f"/desk/appointments/{visit}/cancel", data={"reason": "patient_called"})
    assert cancelled.status_code == 303
    page = text_of(desk.client.get(cancelled.headers["Location"]).text)
    assert "The appointment is cancelled. The patient has no email address: tell them." in page
    assert "emailed" not in page and non_reminder_emails(app) == []


def test_without_an_email_a_phone_is_required(app, desk):
    before = table_snapshot(app)
    response = register(desk)
    assert response.status_code == 422
    assert "Without an email address, a phone number is required" in response.text
    assert f'value="{MONDAY}"' in response.text  # the chosen time is still carried
    assert table_snapshot(app) == before


def test_an_email_already_in_use_is_refused(app, desk, people):
    before = table_snapshot(app)
    response = register(desk, email="Ana.Torres@example.com")
    assert response.status_code == 422 and "Another account already uses this email address" in response.text
    assert table_snapshot(app) == before


def test_registered_with_an_email_the_patient_sets_a_password_link_that_works_once(desk, client, sent_mail, auth):
    assert register(desk, email="Walk.In@example.com").status_code == 303
    [message] = sent_mail()
    assert message["To"] == "walk.in@example.com"
    assert message["Subject"].strip() == "Choose your Clinica password"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "registered you" in text and "registered you" in html
    link = re.search(r"http://clinica\.test(/password-reset/\S+)", text)[1]
    assert link in html

    assert client.get(link).status_code == 200
    response = client.post(link, data={"password": "my-own-password-1", "confirm": "my-own-password-1"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert auth.login("walk.in@example.com", "my-own-password-1").status_code == 303
    assert "Walk In" in client.get("/bookings").text
    auth.logout()
    again = client.post(link, data={"password": "someone-else-1", "confirm": "someone-else-1"})
    assert again.status_code == 400  # used up by the password it set
    assert auth.login("walk.in@example.com", "someone-else-1").status_code == 422


def test_a_link_sent_to_a_mistyped_address_dies_when_the_desk_corrects_it(app, desk, client, sent_mail, auth):
    """Registered with a typo, the patient's link went to a stranger. The desk corrects the address:
    that link opens nothing any more (nor a reset link asked for before), and the right address
    gets a link of its own."""
    assert register(desk, email="wrong-addr@example.com").status_code == 303
    [to_the_stranger] = sent_mail()
    strangers_link = re.search(r"/password-reset/\S+", to_the_stranger.get_body(("plain",)).get_content())[0]
    stranger = app.test_client()  # who got it sets a password and logs in before the desk notices
    chose = {"password": "stranger-pass-1", "confirm": "stranger-pass-1"}
    assert stranger.post(strangers_link, data=chose).status_code == 303
    assert stranger.post("/login", data={"email": "wrong-addr@example.com", **chose}).status_code == 303
    assert stranger.get("/bookings").status_code == 200
    patient = desk.client.get("/desk/patients", query_string={"q": "wrong-addr"}).text
    patient_id = re.search(r'href="/desk/patients/(\d+)"', patient)[1]
    saved = desk.client.post(f"/desk/patients/{patient_id}/edit", data={
        "full_name": "Walk In", "email": "right-addr@example.com", "phone": ""}, follow_redirects=True)
    assert "The new email address has been sent a link to choose a new password" in saved.text
    assert stranger.get("/bookings").status_code == 302  # signed out
    assert auth.login("right-addr@example.com", "stranger-pass-1").status_code == 422  # and that password retired

    assert client.get(strangers_link).status_code == 400
    taken_over = client.post(strangers_link, data={"password": "stranger-pass-999", "confirm": "stranger-pass-999"})
    assert taken_over.status_code == 400
    assert auth.login("right-addr@example.com", "stranger-pass-999").status_code == 422
    [_, to_the_patient] = sent_mail()
    assert to_the_patient["To"] == "right-addr@example.com"
    own_link = re.search(r"/password-reset/\S+", to_the_patient.get_body(("plain",)).get_content())[0]
    chosen = client.post(own_link, data={"password": "my-own-password-1", "confirm": "my-own-password-1"})
    assert chosen.status_code == 303
    assert auth.login("right-addr@example.com", "my-own-password-1").status_code == 303


def test_the_set_password_link_lasts_a_week(app, desk, client, clock, sent_mail):
    register(desk, email="walk.in@example.com")
    link = re.search(r"/password-reset/\S+", sent_mail()[0].get_body(("plain",)).get_content())[0]
    clock.advance(days=6)
    assert client.get(link).status_code == 200
    clock.advance(days=1, minutes=1)
    assert client.get(link).status_code == 400


def test_nobody_logs_in_to_an_account_without_an_email(app, desk, client, auth):
    register(desk, phone="555 1234")
    for email in ("", "None", "null"):
        response = auth.login(email, PASSWORD)
        assert response.status_code == 422
    assert client.post("/password-reset", data={"email": "None"}).status_code == 303


def test_reception_chooses_the_language_a_patient_is_written_to_in(app, desk, people, make_doctor, run_worker):
    ana, doctor = people["ana"], make_doctor()
    details = {"full_name": "Ana Torres", "email": "ana.torres@example.com", "phone": "+56 9 8765 4321"}
    assert desk.client.post(f"/desk/patients/{ana}/edit", data={**details, "language": "fr"}).status_code == 422
    response = desk.client.post(f"/desk/patients/{ana}/edit", data={**details, "language": "es"})
    assert response.status_code == 303
    assert events(app, ana) == [("changed patient language", "(none) → es")]
    assert "Español" in desk.client.get(f"/desk/patients/{ana}").text
    # The desk works in English; the patient's booking email is in Spanish.
    booked = desk.client.post("/desk/book", data={
        "patient_id": ana, "doctor_id": doctor, "date": MONDAY.isoformat(), "time": "09:00",
        "type": "consultation", "booking_key": "l" * 24})
    assert booked.status_code == 303 and "Booked for Ana Torres" in desk.client.get(booked.headers["Location"]).text
    run_worker()
    with app.app_context():
        subject = db.session.scalars(select(OutboxEmail.subject).where(
            OutboxEmail.recipient == "ana.torres@example.com", OutboxEmail.kind != "reminder")).one()
    assert subject.startswith("Tu cita está reservada: ")


def test_the_missing_phone_is_said_in_the_pages_language(app, desk):
    response = desk.client.post("/desk/patients", data={"full_name": "Walk In", "email": "", "phone": "", **CARRIED},
                                headers={"Accept-Language": "es"})
    assert response.status_code == 422
    assert "Sin correo electrónico, se necesita un número de teléfono" in response.text
    assert "a phone number is required" not in response.text
