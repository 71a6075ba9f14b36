"""The patient's way through the site: doctors, the slot list (page and HTMX partial), booking,
my bookings and cancelling, with and without JavaScript."""
import html
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, Appointment, Doctor, User
from tests.conftest import PASSWORD, TODAY, instant, next_weekday, table_snapshot

MONDAY = next_weekday(0, weeks=1)
HTMX = {"HX-Request": "true"}


def slot_times(html):
    return re.findall(r'class="slot"[^>]*>(\d\d:\d\d)</a>', html)


def booking_key(html):
    return re.search(r'name="booking_key" type="hidden" value="([^"]+)"', html)[1]


def open_slot(client, doctor_id, time, day=MONDAY, type_name="consultation"):
    """GET the confirmation page of a slot; returns the response."""
    return client.get(f"/doctors/{doctor_id}/book?date={day}&time={time}&type={type_name}")


def book_slot(client, doctor_id, time, day=MONDAY, notes="", type_name="consultation"):
    page = open_slot(client, doctor_id, time, day, type_name)
    assert page.status_code == 200, page.text
    form = {"date": day.isoformat(), "time": time, "type": type_name, "booking_key": booking_key(page.text),
            "notes": notes}
    return client.post(f"/doctors/{doctor_id}/book", data=form)


def appointments(app):
    with app.app_context():
        return db.session.scalars(select(Appointment).order_by(Appointment.id)).all()


def test_home_leads_to_booking(client, make_doctor):
    make_doctor()
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/doctors"' in home.text and "Book an appointment" in home.text
    assert "General Practice" in home.text


def test_doctors_list_filters_by_specialty(client, make_doctor):
    make_doctor(name="Dr. Laura Rossi", specialty="General Practice")
    make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics")
    make_doctor(name="Dr. Hidden", specialty="Pediatrics", active=False)
    everyone = client.get("/doctors").text
    assert "Dr. Laura Rossi" in everyone and "Dr. Marco Bianchi" in everyone and "Dr. Hidden" not in everyone
    pediatrics = client.get("/doctors?specialty=Pediatrics").text
    assert "Dr. Marco Bianchi" in pediatrics and "Dr. Laura Rossi" not in pediatrics


def test_booking_page_shows_free_slots_for_date_and_type(client, make_doctor, make_user, make_appointment):
    doctor_id = make_doctor()
    make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=MONDAY, hhmm="10:00", duration=30)
    page = client.get(f"/doctors/{doctor_id}?date={MONDAY}&type=therapy")
    assert page.status_code == 200
    times = slot_times(page.text)
    # Therapy is 60 minutes: 09:00 fits before 10:00, 09:15 would run into the booking.
    assert times[:2] == ["09:00", "10:30"]
    assert "12:00" in times and "12:15" not in times  # must end by 13:00
    assert 'rel="prev"' in page.text and 'rel="next"' in page.text
    assert f'href="/doctors/{doctor_id}?date={MONDAY - timedelta(days=1)}&amp;type=therapy"' in page.text


def test_booking_page_without_date_opens_first_free_day(client, make_doctor, make_user, make_appointment):
    doctor_id = make_doctor(weekdays=[0], windows=[("09:00", "10:00")])  # one hour on Mondays
    # Today, if it is a Monday (its free hour may not have passed yet), else the next Monday.
    coming_monday = TODAY if TODAY.weekday() == 0 else next_weekday(0)
    following_monday = coming_monday + timedelta(weeks=1)
    for hhmm in ("09:00", "09:30"):  # the coming Monday is full
        make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=coming_monday, hhmm=hhmm)
    page = client.get(f"/doctors/{doctor_id}").text
    assert re.search(r'name="date" type="date" value="([\d-]+)"', page)[1] == following_monday.isoformat()
    assert slot_times(page) == ["09:00", "09:15", "09:30"]


def test_slot_partial_for_htmx_and_full_page_otherwise(client, make_doctor):
    doctor_id = make_doctor()
    url = f"/doctors/{doctor_id}/slots?date={MONDAY}&type=consultation"
    partial = client.get(url, headers=HTMX)
    assert partial.status_code == 200
    assert "<html" not in partial.text and "09:00" in slot_times(partial.text)
    assert "HX-Request" in partial.headers["Vary"]
    assert partial.headers["HX-Push-Url"] == f"/doctors/{doctor_id}?date={MONDAY}&type=consultation"
    page = client.get(url)
    assert "<html" in page.text and slot_times(page.text) == slot_times(partial.text)
    assert "HX-Request" in page.headers["Vary"]
    # A history restore needs the whole page even though htmx asks.
    restore = client.get(url, headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_slot_list_is_progressively_enhanced(client, make_doctor):
    """A real GET form and real links, with hx-* attributes on top."""
    doctor_id = make_doctor()
    page = client.get(f"/doctors/{doctor_id}?date={MONDAY}").text
    assert f'<form method="get" action="/doctors/{doctor_id}"' in page
    assert f'hx-get="/doctors/{doctor_id}/slots"' in page
    assert re.search(rf'<a class="slot" href="/doctors/{doctor_id}/book\?date={MONDAY}&amp;time=09:00', page)


@pytest.mark.parametrize(
    "query, status, message",
    [
        ("date=2026-13-01", 400, "Invalid date format (YYYY-MM-DD)"),
        ("date=tomorrow", 400, "Invalid date format (YYYY-MM-DD)"),
        ("type=massage", 400, "Invalid appointment type"),
    ],
)
def test_slot_list_bad_query_is_a_clear_400(client, make_doctor, query, status, message):
    doctor_id = make_doctor()
    for url in (f"/doctors/{doctor_id}?{query}", f"/doctors/{doctor_id}/slots?{query}"):
        response = client.get(url)
        assert response.status_code == status
        assert message in response.text


def test_unknown_or_inactive_doctor_is_404(client, make_doctor):
    inactive = make_doctor(active=False)
    assert client.get("/doctors/999999").status_code == 404
    assert client.get(f"/doctors/{inactive}").status_code == 404
    assert client.get("/doctors/99999999999999999999/slots").status_code == 404


def test_booking_with_an_unknown_or_inactive_doctor_is_404_and_books_nothing(app, client, make_doctor, patient):
    inactive = make_doctor(active=False)
    form = {"date": MONDAY.isoformat(), "time": "09:00", "type": "consultation"}
    assert client.post("/doctors/999999/book", data=form).status_code == 404
    assert client.post(f"/doctors/{inactive}/book", data=form).status_code == 404
    assert appointments(app) == []


def test_past_days_and_days_past_the_horizon_offer_nothing(client, make_doctor):
    doctor_id = make_doctor(weekdays=range(7))
    assert slot_times(client.get(f"/doctors/{doctor_id}?date={MONDAY - timedelta(days=30)}").text) == []
    far = MONDAY + timedelta(days=120)
    assert slot_times(client.get(f"/doctors/{doctor_id}?date={far}").text) == []


def test_choosing_a_slot_logged_out_goes_through_login_and_back(client, make_doctor, make_user):
    doctor_id = make_doctor()
    make_user(email="ana@example.com")
    slot_url = f"/doctors/{doctor_id}/book?date={MONDAY}&time=09:30&type=consultation"
    response = client.get(slot_url)
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    login_url = response.headers["Location"]
    assert client.get(login_url).status_code == 200
    logged_in = client.post(login_url, data={"email": "ana@example.com", "password": "correct-horse-9"})
    assert logged_in.status_code == 303
    assert logged_in.headers["Location"] == slot_url
    confirm = client.get(logged_in.headers["Location"])
    assert "Confirm your appointment" in confirm.text and "09:30" in confirm.text


def test_full_booking_flow_without_javascript(app, client, make_doctor, patient, sent_mail):
    doctor_id = make_doctor()
    response = book_slot(client, doctor_id, "09:30", notes="Knee hurts")
    assert response.status_code == 303
    detail = client.get(response.headers["Location"])
    assert "Your appointment is booked" in detail.text
    assert "Dr. Laura Rossi" in detail.text and "09:30" in detail.text and "Knee hurts" in detail.text
    [booked] = appointments(app)
    assert booked.starts_at == instant(MONDAY, "09:30") and booked.patient_id == patient
    assert len(sent_mail()) == 1
    # The slot is gone from the list.
    assert "09:30" not in slot_times(client.get(f"/doctors/{doctor_id}?date={MONDAY}").text)
    # And it is in "My bookings", upcoming.
    mine = client.get("/bookings").text
    upcoming = mine.split('id="past-heading"')[0]
    assert f'href="/bookings/{booked.id}"' in upcoming and "Scheduled" in upcoming


def test_double_submitted_form_books_once_and_shows_the_booking(app, client, make_doctor, patient):
    doctor_id = make_doctor()
    page = open_slot(client, doctor_id, "10:00")
    form = {"date": MONDAY.isoformat(), "time": "10:00", "type": "consultation", "booking_key": booking_key(page.text)}
    first = client.post(f"/doctors/{doctor_id}/book", data=form)
    second = client.post(f"/doctors/{doctor_id}/book", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(appointments(app)) == 1


def test_back_on_the_page_of_a_time_just_booked_says_it_is_yours(app, client, make_doctor, patient):
    """Reopening the confirmation page (the back button) after booking: "You have booked this
    time" and a link to the booking, not "taken by someone else"."""
    doctor_id = make_doctor()
    booked = client.get(book_slot(client, doctor_id, "09:30").headers["Location"])
    assert booked.status_code == 200
    [appointment] = appointments(app)
    again = open_slot(client, doctor_id, "09:30")
    assert again.status_code == 200
    assert "You have booked this time" in again.text and "someone else" not in again.text
    assert f'href="/bookings/{appointment.id}"' in again.text and "Book this time" not in again.text
    assert len(appointments(app)) == 1


def test_slot_taken_in_the_meantime_says_so_and_offers_fresh_slots(app, client, make_doctor, make_user,
                                                                   make_appointment, patient):
    doctor_id = make_doctor()
    page = open_slot(client, doctor_id, "11:00")
    make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=MONDAY, hhmm="11:00")  # someone was faster
    form = {"date": MONDAY.isoformat(), "time": "11:00", "type": "consultation", "booking_key": booking_key(page.text)}
    response = client.post(f"/doctors/{doctor_id}/book", data=form)
    assert response.status_code == 409
    assert "Time slot overlaps with another booking" in response.text
    fresh = slot_times(response.text)
    assert "11:00" not in fresh and "10:45" not in fresh and "11:15" not in fresh
    assert "10:30" in fresh and "11:30" in fresh
    assert len(appointments(app)) == 1
    # Opening the taken slot again says so at once.
    again = open_slot(client, doctor_id, "11:00")
    assert again.status_code == 409 and "Book this time" not in again.text


@pytest.mark.parametrize(
    "form, message",
    [
        ({"date": "", "time": "09:00"}, "Missing required fields"),
        ({"date": "2026-02-31", "time": "09:00"}, "Invalid date format (YYYY-MM-DD)"),
        ({"time": "9.00"}, "Invalid time format (HH:MM)"),
        ({"time": "08:00"}, "Outside doctor availability"),
        ({"type": "<script>alert(1)</script>"}, "Invalid appointment type"),
        ({"notes": "x" * 2001}, "at most 2000"),
    ],
)
def test_tampered_or_bad_booking_form_changes_nothing(app, client, make_doctor, patient, form, message):
    doctor_id = make_doctor()
    data = {"date": MONDAY.isoformat(), "time": "09:00", "type": "consultation", "booking_key": "k" * 20, **form}
    response = client.post(f"/doctors/{doctor_id}/book", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert appointments(app) == []


def test_staff_cannot_book_for_themselves_on_the_patient_pages(app, client, make_doctor, make_user, auth):
    """A time chosen by staff goes to booking on behalf of a patient, never to a booking of their own."""
    doctor_id = make_doctor()
    make_user(email="desk@example.com", role="reception")
    auth.login("desk@example.com")
    response = client.post(f"/doctors/{doctor_id}/book", data={"date": MONDAY.isoformat(), "time": "09:00",
                                                               "type": "consultation", "booking_key": "k" * 20})
    assert response.status_code == 303 and response.headers["Location"].startswith("/desk/book?")
    assert appointments(app) == []


def test_my_bookings_lists_upcoming_and_past_with_status(client, make_doctor, make_appointment, patient):
    doctor_id = make_doctor()
    last_week = MONDAY - timedelta(days=14)
    past = make_appointment(doctor_id=doctor_id, patient_id=patient, day=last_week, hhmm="09:00", status="completed")
    cancelled = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY, hhmm="12:00", status=CANCELLED)
    upcoming = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY, hhmm="09:00")
    page = client.get("/bookings").text
    upcoming_part, past_part = page.split('id="past-heading"')
    assert f"/bookings/{upcoming}" in upcoming_part and f"/bookings/{past}" not in upcoming_part
    assert f"/bookings/{past}" in past_part and "Completed" in past_part
    assert f"/bookings/{cancelled}" in past_part and "Cancelled" in past_part


def test_my_bookings_offers_changes_until_the_cutoff_and_the_phone_after(
        client, make_doctor, make_appointment, patient, clock):
    doctor_id = make_doctor()
    clock.set(instant(MONDAY, "07:00"))
    soon = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY, hhmm="09:00")
    later = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY + timedelta(days=1), hhmm="10:00")
    listing = client.get("/bookings").text
    rows = {int(booking_id): row for booking_id, row in re.findall(r'<tr>\s*<td><a href="/bookings/(\d+)">(.*?)</tr>',
                                                                   listing, re.S)}
    assert f'href="/bookings/{later}/reschedule"' in rows[later] and f'href="/bookings/{later}/cancel"' in rows[later]
    assert "/reschedule" not in rows[soon] and "/cancel" not in rows[soon] and 'href="tel:' in rows[soon]


def test_a_patient_is_told_of_a_visit_inside_a_closure_or_their_doctor_s_time_off(
        client, make_doctor, make_appointment, make_block, patient, clock, count_queries):
    """Closed or away after the booking: My bookings flags the visit, its page says what happened
    and what to do. A closure's reason is the clinic's to say; a doctor's time off keeps its own."""
    rossi, silva = make_doctor(), make_doctor(name="Dr. Sofia Silva")
    clock.set(instant(MONDAY - timedelta(days=3), "09:00"))
    tuesday = MONDAY + timedelta(days=1)
    wednesday = MONDAY + timedelta(days=2)
    make_block(doctor_id=None, start=instant(MONDAY, "00:00"), end=instant(tuesday, "00:00"), reason="Inventory")
    make_block(doctor_id=rossi, start=instant(tuesday, "09:00"), end=instant(tuesday, "13:00"), reason="Surgery")
    make_block(doctor_id=silva, start=instant(wednesday, "09:00"), end=instant(wednesday, "13:00"))  # not Rossi's
    closed = make_appointment(doctor_id=silva, patient_id=patient, day=MONDAY, hhmm="10:00")
    queries_for_one = count_queries(lambda: client.get("/bookings"))
    away = make_appointment(doctor_id=rossi, patient_id=patient, day=tuesday, hhmm="10:00")
    fine = make_appointment(doctor_id=rossi, patient_id=patient, day=wednesday, hhmm="10:00")
    for hhmm in ("11:00", "12:00"):
        make_appointment(doctor_id=rossi, patient_id=patient, day=tuesday, hhmm=hhmm)
    assert count_queries(lambda: client.get("/bookings")) == queries_for_one  # one query, whatever the visits
    listing = client.get("/bookings").text
    rows = {int(booking_id): row for booking_id, row in re.findall(r'<tr>\s*<td><a href="/bookings/(\d+)">(.*?)</tr>',
                                                                   listing, re.S)}
    assert '<span class="badge-clash">Clinic closed: Inventory</span>' in rows[closed]
    assert '<span class="badge-clash">Doctor not available</span>' in rows[away]
    assert "badge-clash" not in rows[fine] and "Surgery" not in listing
    page = client.get(f"/bookings/{closed}").text
    assert "The clinic is closed at this time (Inventory). Please choose another time below" in page
    page = client.get(f"/bookings/{away}").text
    assert "Dr. Laura Rossi is not available at this time." in page and "Surgery" not in page
    assert "not available at this time" not in client.get(f"/bookings/{fine}").text
    clock.set(instant(tuesday, "08:00"))  # inside the change cutoff: the phone, not "choose another time"
    page = client.get(f"/bookings/{away}").text
    assert "not available at this time. We will contact you to move it." in page and "choose another time" not in page
    assert page.count('href="tel:') == 1  # the one "too late to change online: call" notice
    clock.set(instant(wednesday, "12:00"))  # over: nothing to move
    rows = client.get("/bookings").text
    assert "badge-clash" not in rows and "not available" not in client.get(f"/bookings/{away}").text


def test_cancel_with_confirmation_step(app, client, make_doctor, patient, sent_mail):
    doctor_id = make_doctor()
    booked = book_slot(client, doctor_id, "14:00")
    detail_url = booked.headers["Location"]
    appointment_id = int(detail_url.rsplit("/", 1)[1])
    confirm = client.get(f"/bookings/{appointment_id}/cancel")
    assert confirm.status_code == 200 and "Yes, cancel it" in confirm.text
    assert appointments(app)[0].status == "scheduled"  # asking changes nothing
    done = client.post(f"/bookings/{appointment_id}/cancel")
    assert done.status_code == 303
    assert "Your appointment is cancelled" in client.get(done.headers["Location"]).text
    assert appointments(app)[0].status == CANCELLED
    assert [m["Subject"].split(":")[0] for m in sent_mail()] == ["Your appointment is booked",
                                                                 "Your appointment is cancelled"]
    assert "14:00" in slot_times(client.get(f"/doctors/{doctor_id}?date={MONDAY}").text)  # free again


def test_another_patients_booking_is_invisible(app, client, make_doctor, make_user, make_appointment, patient):
    doctor_id = make_doctor()
    theirs = make_appointment(doctor_id=doctor_id, patient_id=make_user(email="ben@example.com"), day=MONDAY,
                              hhmm="09:00")
    assert client.get(f"/bookings/{theirs}").status_code == 404
    assert client.get(f"/bookings/{theirs}/cancel").status_code == 404
    assert client.post(f"/bookings/{theirs}/cancel").status_code == 404
    assert client.get("/bookings/999999").status_code == 404
    assert f"/bookings/{theirs}" not in client.get("/bookings").text
    assert appointments(app)[0].status == "scheduled"


def test_pages_need_login(client, make_doctor):
    for url in ("/bookings", "/bookings/1", "/bookings/1/cancel"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------------------------------------
# A fixed number of SQL queries per request, whatever the amount of data.


def add_many_appointments(app, doctor_id, patient_id, days):
    """Fill `days` more weekdays of the doctor's mornings (from the week after MONDAY), every half hour."""
    from clinica_web.models import Appointment as A

    with app.app_context():
        latest = db.session.scalar(select(func.max(A.starts_at)).where(A.doctor_id == doctor_id))
        day = max(MONDAY + timedelta(days=7), latest.date() + timedelta(days=1) if latest else MONDAY)
        added = 0
        while added < days:
            if day.weekday() < 5:
                for minute in range(540, 780, 30):
                    start = instant(day, f"{minute // 60:02d}:{minute % 60:02d}")
                    db.session.add(A(patient_id=patient_id, doctor_id=doctor_id, starts_at=start,
                                     ends_at=start + timedelta(minutes=30), duration_minutes=30,
                                     appointment_type="consultation"))
                added += 1
            day += timedelta(days=1)
        db.session.commit()


def test_slot_list_and_booking_run_a_fixed_number_of_queries(
        app, client, make_doctor, make_user, patient, count_queries):
    doctor_id = make_doctor()
    other = make_user(email="busy@example.com")
    partial_url = f"/doctors/{doctor_id}/slots?date={MONDAY}&type=consultation"

    def measure():
        client.get(partial_url, headers=HTMX)  # a worker's first: it loads what it keeps (below)
        partial = count_queries(lambda: client.get(partial_url, headers=HTMX))
        page = count_queries(lambda: client.get(f"/doctors/{doctor_id}"))  # searches for the first free day
        mine = count_queries(lambda: client.get("/bookings"))
        return partial, page, mine

    add_many_appointments(app, doctor_id, other, days=2)
    small = measure()
    add_many_appointments(app, doctor_id, other, days=40)
    assert measure() == small
    # The logged-in patient's session, and one query: the calendar version, the day's busy time and
    # the patient's own visits that day (times that clash with them are not offered); the doctor,
    # their hours and the visit types are kept in memory under that version.
    assert small[0] == 2

    booking_queries = count_queries(lambda: book_slot(client, doctor_id, "09:00"))
    add_many_appointments(app, doctor_id, other, days=20)
    assert count_queries(lambda: book_slot(client, doctor_id, "10:00")) == booking_queries
    assert small[0] <= 8 and booking_queries <= 30
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.patient_id == patient)) == 2


def test_nul_bytes_in_forms_and_queries_are_refused(app, client, make_doctor, patient):
    doctor_id = make_doctor()
    assert client.get(f"/doctors/{doctor_id}?type=consul%00tation").status_code == 400
    data = {"date": MONDAY.isoformat(), "time": "09:00", "type": "consultation", "notes": "bad\x00note"}
    response = client.post(f"/doctors/{doctor_id}/book", data=data)
    assert response.status_code == 400 and "NUL" in response.text
    assert client.post("/login", data={"email": "a\x00@example.com", "password": "x"}).status_code == 400
    assert appointments(app) == []


def test_staff_start_at_the_desk_not_on_the_patient_home(app, make_doctor, make_user):
    """After login reception and admin land on the day list, a doctor on their own day list; the
    patient home sends staff there too. A patient still lands on the home page."""
    doctor_id = make_doctor(with_user=True)
    with app.app_context():
        doctor_email = db.session.get(User, db.session.get(Doctor, doctor_id).user_id).email
    for email, role in [("desk@example.com", "reception"), ("admin@example.com", "admin"), (doctor_email, None),
                        ("pat@example.com", "patient")]:
        if role:
            make_user(email=email, role=role)
        client = app.test_client()
        landing = client.post("/login", data={"email": email, "password": PASSWORD}).headers["Location"]
        home = client.get("/")
        if role == "patient":
            assert landing == "/" and home.status_code == 200
        else:
            assert landing == "/desk/" and home.headers["Location"] == "/desk/", email


def test_staff_who_click_a_time_on_the_patient_pages_book_it_at_the_desk(app, client, make_doctor, make_user, auth):
    """Reception chooses a time on a doctor's public page: the desk's booking on behalf, that time
    carried through finding the patient and ready to book in one click."""
    doctor_id = make_doctor()
    patient_id = make_user(full_name="Ana Torres", email="ana@example.com")
    make_user(email="desk@example.com", role="reception")
    auth.login("desk@example.com")
    to_desk = open_slot(client, doctor_id, "09:30")
    assert to_desk.status_code == 303
    found = client.get(to_desk.headers["Location"] + "&q=ana")
    assert "Booking 09:30" in found.text
    link = re.search(r'href="(/desk/book\?[^"]*patient_id=%d[^"]*)"' % patient_id, found.text)[1].replace("&amp;", "&")
    step_two = client.get(link)
    assert "Book 09:30 on " in step_two.text
    form = {"patient_id": patient_id, "doctor_id": doctor_id, "date": MONDAY.isoformat(), "type": "consultation",
            "time": "09:30", "booking_key": re.search(r'name="booking_key"[^>]*value="([^"]+)"', step_two.text)[1]}
    assert client.post("/desk/book", data=form).status_code == 303
    [booked] = appointments(app)
    assert (booked.patient_id, booked.starts_at) == (patient_id, instant(MONDAY, "09:30"))


def test_a_doctor_who_clicks_a_time_goes_back_to_their_day(client, make_doctor, make_user, auth, app):
    doctor_id = make_doctor(with_user=True)
    with app.app_context():
        email = db.session.get(User, db.session.get(Doctor, doctor_id).user_id).email
    auth.login(email)
    response = open_slot(client, doctor_id, "09:30")
    assert response.status_code == 303 and response.headers["Location"] == "/desk/"
    assert "Reception books appointments for patients." in client.get("/desk/").text


@pytest.mark.parametrize("setup, says", [
    ("closure", "The clinic is closed on this day (Strike)."),
    ("time_off", "Dr. Laura Rossi does not see patients on this day."),
    ("weekend", "Dr. Laura Rossi does not see patients on this day."),
    ("full", "Dr. Laura Rossi is fully booked on this day."),
    ("beyond", "This day is beyond the booking horizon: bookings open 90 days ahead."),
])
def test_a_day_without_free_times_says_why(client, make_doctor, make_user, make_appointment, make_block, setup, says):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))
    day = MONDAY
    if setup == "closure":
        make_block(doctor_id=None, start=instant(MONDAY, "00:00"), end=instant(MONDAY + timedelta(days=1), "00:00"),
                   reason="Strike")
    elif setup == "time_off":
        make_block(doctor_id=doctor_id, start=instant(MONDAY, "08:00"), end=instant(MONDAY, "12:00"))
    elif setup == "weekend":
        day = MONDAY + timedelta(days=5)
    elif setup == "full":
        for hhmm in ("09:00", "09:30"):
            make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=MONDAY, hhmm=hhmm)
    else:
        day = TODAY + timedelta(days=91)
    for headers in ({}, {"HX-Request": "true"}):
        page = client.get(f"/doctors/{doctor_id}/slots?date={day}", headers=headers)
        assert page.status_code == 200 and says in " ".join(page.text.split()), setup


def test_today_after_the_doctors_hours_says_there_are_no_more_times(client, make_doctor, clock):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))
    clock.set(instant(MONDAY, "10:30"))
    page = client.get(f"/doctors/{doctor_id}/slots?date={MONDAY}")
    assert "There are no more times today." in page.text and "fully booked" not in page.text


def test_patients_read_completed_or_missed_not_the_desks_statuses(client, make_doctor, make_appointment, patient):
    doctor_id = make_doctor()
    past = MONDAY - timedelta(days=14)
    ids = {status: make_appointment(doctor_id=doctor_id, patient_id=patient, day=past, hhmm=hhmm, status=status,
                                    appointment_type="follow_up")
           for status, hhmm in (("arrived", "09:00"), ("no_show", "10:00"), ("completed", "11:00"))}
    listing = client.get("/bookings").text
    assert "No show" not in listing and "Arrived" not in listing and "Follow-up" in listing
    for status, said in (("arrived", "Completed"), ("no_show", "Missed"), ("completed", "Completed")):
        page = client.get(f"/bookings/{ids[status]}").text
        assert f'<span class="status status-{said.lower()}">{said}</span>' in page, status


def test_cancelling_asks_why_and_the_history_keeps_it(app, client, make_doctor, patient):
    doctor_id = make_doctor()
    appointment_id = int(book_slot(client, doctor_id, "14:00").headers["Location"].rsplit("/", 1)[1])
    form = client.get(f"/bookings/{appointment_id}/cancel").text
    assert 'value="feeling_better"' in form and 'value="doctor_unavailable"' not in form  # the patients' reasons
    done = client.post(f"/bookings/{appointment_id}/cancel", data={"reason": "cannot_attend", "note": "Work trip"})
    assert done.status_code == 303
    with app.app_context():
        row = db.session.get(Appointment, appointment_id)
        assert (row.status, row.cancel_reason_code, row.cancel_reason) == (CANCELLED, "cannot_attend", "Work trip")
    refused = client.post(f"/bookings/{appointment_id}/cancel", data={"reason": "clinic_closed"})
    assert refused.status_code == 422  # a staff reason is not the patient's to give


def test_inside_the_cutoff_the_booking_page_gives_the_clinics_phone(app, client, make_doctor, make_appointment,
                                                                    patient, clock):
    doctor_id = make_doctor()
    visit = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY, hhmm="09:00")
    clock.set(instant(MONDAY, "09:00") - timedelta(hours=23))
    page = client.get(f"/bookings/{visit}").text
    assert "too late to change this booking online" in page and 'href="tel:+56223456789"' in page
    assert "Cancel this appointment" not in page
    refused = client.post(f"/bookings/{visit}/cancel", data={"reason": "other"})
    assert "Too late to change this booking online; please call the clinic" in client.get(
        refused.headers["Location"]).text
    with app.app_context():
        assert db.session.get(Appointment, visit).status == "scheduled"
    clock.set(instant(MONDAY, "09:00") - timedelta(hours=25))
    assert "Cancel this appointment" in client.get(f"/bookings/{visit}").text


def test_inside_the_cutoff_moving_a_booking_is_refused_with_the_clinics_phone(
        app, client, make_doctor, make_appointment, patient, clock, sent_mail):
    """The move picker, its "move from … to …?" step and the move itself all answer, inside the
    change cutoff, with the booking page: the refusal and the clinic's phone; nothing moves, no email."""
    doctor_id = make_doctor()
    visit = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY, hhmm="09:00")
    phone = app.config["CLINIC_PHONE"]
    cutoff = instant(MONDAY, "09:00") - timedelta(hours=app.config["CHANGE_CUTOFF_HOURS"])
    target = {"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "11:00"}
    for now in (cutoff, cutoff + timedelta(hours=1)):  # from the cutoff on
        clock.set(now)
        before = table_snapshot(app)
        for method, url, data in [
                ("GET", f"/bookings/{visit}/reschedule?date={MONDAY}", None),
                ("GET", f"/bookings/{visit}/reschedule/confirm?{urlencode(target)}", None),
                ("POST", f"/bookings/{visit}/reschedule/confirm", target)]:
            page = client.open(url, method=method, data=data, follow_redirects=True)
            assert page.status_code == 200 and page.request.path == f"/bookings/{visit}", (method, url)
            assert "Too late to change this booking online; please call the clinic" in page.text, (method, url)
            assert f'href="tel:{phone.replace(" ", "")}">{phone}</a>' in page.text, (method, url)
            assert slot_times(page.text) == [] and "Move your appointment?" not in page.text
        # The picker's htmx requests (a tab left open past the cutoff) send the whole tab there.
        swap = client.get(f"/bookings/{visit}/reschedule?date={MONDAY}", headers={"HX-Request": "true"})
        assert (swap.status_code, swap.text, swap.headers["HX-Redirect"]) == (200, "", f"/bookings/{visit}")
        assert table_snapshot(app) == before, now
    with app.app_context():
        row = db.session.get(Appointment, visit)
        assert (row.starts_at, row.doctor_id, row.sequence) == (instant(MONDAY, "09:00"), doctor_id, 0)
    assert sent_mail() == []
    clock.set(cutoff - timedelta(minutes=1))  # the control: a minute earlier the picker opens
    picker = client.get(f"/bookings/{visit}/reschedule?date={MONDAY}")
    assert picker.status_code == 200 and "11:00" in slot_times(picker.text)


def test_the_booking_page_offers_the_calendar_file_and_google_calendar(app, client, make_doctor, make_user,
                                                                       patient):
    doctor_id = make_doctor()
    detail_url = book_slot(client, doctor_id, "09:30").headers["Location"]
    appointment_id = int(detail_url.rsplit("/", 1)[1])
    page = client.get(detail_url).text
    assert f'href="/bookings/{appointment_id}/calendar.ics"' in page
    google = re.search(r'href="(https://calendar\.google\.com/calendar/render\?[^"]+)"', page)[1].replace("&amp;", "&")
    start = instant(MONDAY, "09:30").strftime("%Y%m%dT%H%M%SZ")
    assert "action=TEMPLATE" in google and f"dates={start}%2F" in google
    ics = client.get(f"/bookings/{appointment_id}/calendar.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    assert b"METHOD:PUBLISH" in ics.data and b"LOCATION:" in ics.data
    other = app.test_client()
    make_user(email="ben@example.com")
    other.post("/login", data={"email": "ben@example.com", "password": PASSWORD})
    assert other.get(f"/bookings/{appointment_id}/calendar.ics").status_code == 404  # not theirs


def test_a_patient_changes_the_time_of_their_booking_without_javascript(app, client, make_doctor, patient, sent_mail):
    doctor_id = make_doctor()
    same = make_doctor(name="Dr. Other GP")
    make_doctor(name="Dr. Skin", specialty="Dermatology")
    detail_url = book_slot(client, doctor_id, "09:30").headers["Location"]
    appointment_id = int(detail_url.rsplit("/", 1)[1])
    assert f'href="/bookings/{appointment_id}/reschedule"' in client.get(detail_url).text
    picker = client.get(f"/bookings/{appointment_id}/reschedule?date={MONDAY}")
    assert picker.status_code == 200
    assert "Dr. Other GP" in picker.text and "Dr. Skin" not in picker.text  # the same specialty only
    # Its own time is not offered (moving there changed nothing); the times overlapping it are free for it.
    assert "09:30" not in slot_times(picker.text) and "09:45" in slot_times(picker.text)
    # The day before and after, as on the booking page (the picker's address follows with htmx).
    for rel, other in (("prev", MONDAY - timedelta(days=1)), ("next", MONDAY + timedelta(days=1))):
        link = re.search(rf'<a href="([^"]+)" hx-get="[^"]+" hx-target="#slots" hx-push-url="true" rel="{rel}">',
                         picker.text)
        assert html.unescape(link[1]) == f"/bookings/{appointment_id}/reschedule?doctor_id={doctor_id}&date={other}"
    partial = client.get(f"/bookings/{appointment_id}/reschedule?date={MONDAY}&doctor_id={same}",
                         headers={"HX-Request": "true"})
    assert "<html" not in partial.text and "Dr. Other GP" in partial.text
    confirm_url = f"/bookings/{appointment_id}/reschedule/confirm?doctor_id={same}&date={MONDAY}&time=11:00"
    confirm = client.get(confirm_url)
    assert confirm.status_code == 200 and "Move your appointment?" in confirm.text
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).starts_at == instant(MONDAY, "09:30")  # asking: no move
    moved = client.post(f"/bookings/{appointment_id}/reschedule/confirm",
                        data={"doctor_id": same, "date": MONDAY.isoformat(), "time": "11:00"})
    assert moved.status_code == 303 and moved.headers["Location"] == detail_url
    with app.app_context():
        row = db.session.get(Appointment, appointment_id)
        assert (row.doctor_id, row.starts_at, row.sequence) == (same, instant(MONDAY, "11:00"), 1)
    assert "has been moved from" in sent_mail()[-1].get_body(preferencelist=("plain",)).get_content()
    taken = client.post(f"/bookings/{appointment_id}/reschedule/confirm",
                        data={"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "08:00"})
    assert taken.status_code == 409 and "Outside doctor availability" in taken.text


def test_moving_a_booking_to_the_time_it_has_changes_nothing_and_says_so(
        app, client, make_doctor, patient, sent_mail):
    doctor_id = make_doctor()
    detail_url = book_slot(client, doctor_id, "09:30").headers["Location"]
    appointment_id = int(detail_url.rsplit("/", 1)[1])
    emails = len(sent_mail())
    same = client.post(f"/bookings/{appointment_id}/reschedule/confirm",
                       data={"doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "09:30"})
    assert same.status_code == 303 and same.headers["Location"] == detail_url
    page = client.get(detail_url).text
    assert "That is already the time of your appointment: nothing has changed." in page
    assert "emailed you the new time" not in page
    assert len(sent_mail()) == emails
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).sequence == 0


def test_the_move_picker_says_why_a_day_has_no_time(client, make_doctor, patient):
    doctor_id = make_doctor()  # Monday to Friday
    detail_url = book_slot(client, doctor_id, "09:30").headers["Location"]
    appointment_id = int(detail_url.rsplit("/", 1)[1])
    sunday = MONDAY + timedelta(days=6)
    picker = client.get(f"/bookings/{appointment_id}/reschedule?date={sunday}")
    assert picker.status_code == 200 and slot_times(picker.text) == []
    assert "does not see patients on this day. Try the next day." in picker.text


def test_the_confirmation_says_when_a_time_is_inside_the_change_cutoff(client, make_doctor, patient, clock):
    """Booked inside the cutoff, a visit cannot be changed online at all: said before it is booked."""
    doctor_id = make_doctor()
    clock.set(instant(MONDAY, "08:00"))
    warning = "This time is less than 24 hours away: once booked, it cannot be changed or cancelled online"
    assert warning in open_slot(client, doctor_id, "10:00").text  # two hours ahead
    assert warning not in open_slot(client, doctor_id, "10:00", day=MONDAY + timedelta(days=1)).text  # 26 hours


def test_the_move_confirmation_says_when_the_new_time_is_inside_the_change_cutoff(client, make_doctor,
                                                                                  make_appointment, patient, clock):
    doctor_id = make_doctor()
    visit = make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY + timedelta(days=2), hhmm="09:00")
    clock.set(instant(MONDAY, "08:00"))
    warning = "This time is less than 24 hours away: once moved there, it cannot be changed or cancelled online"

    def confirmation(day):
        return client.get(f"/bookings/{visit}/reschedule/confirm",
                          query_string={"doctor_id": doctor_id, "date": day.isoformat(), "time": "10:00"}).text

    assert warning in confirmation(MONDAY)  # two hours ahead
    assert warning not in confirmation(MONDAY + timedelta(days=1))  # 26 hours


def test_a_patient_is_not_offered_times_that_clash_with_their_own_visits(app, client, make_doctor, make_appointment,
                                                                         patient):
    """Ana sees Dr. Bianchi on Monday 10:00-10:30: Dr. Rossi's 30-minute times 09:45, 10:00 and
    10:15 would overlap it, so her lists (the page, the htmx list, the list after a refusal) leave
    them out, where anyone else sees them."""
    rossi, bianchi = make_doctor(), make_doctor(name="Dr. Marco Bianchi")
    make_appointment(doctor_id=bianchi, patient_id=patient, day=MONDAY, hhmm="10:00")
    clashing = {"09:45", "10:00", "10:15"}
    page = slot_times(client.get(f"/doctors/{rossi}?date={MONDAY}&type=consultation").text)
    partial_url = f"/doctors/{rossi}/slots?date={MONDAY}&type=consultation"
    partials = [slot_times(client.get(partial_url, headers=HTMX).text) for _ in range(2)]  # kept, then from memory
    for times in (page, *partials):
        assert {"09:30", "10:30"} <= set(times) and clashing.isdisjoint(times)
    with app.test_client() as anyone:
        assert clashing <= set(slot_times(anyone.get(partial_url, headers=HTMX).text))
    # Asked for by hand anyway: refused, and the free times then shown still leave it out.
    refused = client.post(f"/doctors/{rossi}/book", data={"date": MONDAY.isoformat(), "time": "10:00",
                                                          "type": "consultation"})
    assert refused.status_code == 422 and "You already have a booking at this time" in refused.text
    assert clashing.isdisjoint(slot_times(refused.text)) and "10:30" in slot_times(refused.text)


def test_moving_a_visit_offers_no_time_that_clashes_with_the_patient_s_other_visits(
        client, make_doctor, make_appointment, patient):
    rossi, bianchi = make_doctor(), make_doctor(name="Dr. Marco Bianchi")
    moving = make_appointment(doctor_id=rossi, patient_id=patient, day=MONDAY, hhmm="09:00")
    make_appointment(doctor_id=bianchi, patient_id=patient, day=MONDAY, hhmm="11:00")
    times = slot_times(client.get(f"/bookings/{moving}/reschedule?date={MONDAY}").text)
    assert {"09:15", "10:30", "11:30"} <= set(times)
    assert {"10:45", "11:00", "11:15"}.isdisjoint(times) and "09:00" not in times  # (its own time: no move)
