"""The desk's timeline page (/desk/timeline): who may open it, odd input, what it shows and links
to, its htmx refresh, and a constant number of queries whatever the day holds.

The grid itself (rows, cells, free times, walk-ins) is tested in tests/services/test_timeline.py.
"""
import re
from datetime import timedelta
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import AccessEvent, Appointment, Doctor, User
from tests.conftest import instant, next_weekday, table_snapshot
from tests.web.test_desk import fill_day, text_of

DAY = next_weekday(0, weeks=1)  # a Monday 8 to 14 days away
HTMX = {"HX-Request": "true"}
URL = f"/desk/timeline?date={DAY}"


@pytest.fixture
def clinic_day(app, make_doctor, make_user, make_appointment, make_block):
    """Two doctors on DAY: Dr. Rossi (a login; a visit at 10:00, one at 14:30 inside her time off)
    and Dr. Bianchi (a visit at 11:00), and a clinic closure from 17:00."""
    rossi = make_doctor(name="Dr. Laura Rossi", with_user=True)
    bianchi = make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics")
    ana = make_user(full_name="Ana Torres", email="ana@example.com")
    visit = make_appointment(doctor_id=rossi, patient_id=ana, day=DAY, hhmm="10:00")
    inside = make_appointment(doctor_id=rossi, patient_id=make_user(full_name="Ben Ortiz"), day=DAY, hhmm="14:30",
                              appointment_type="follow_up", duration=15)
    other = make_appointment(doctor_id=bianchi, patient_id=make_user(full_name="Cy Other"), day=DAY, hhmm="11:00")
    make_block(doctor_id=rossi, start=instant(DAY, "14:00"), end=instant(DAY, "16:00"), reason="Training")
    make_block(doctor_id=None, start=instant(DAY, "17:00"), end=instant(DAY, "18:00"), reason="Fire drill")
    with app.app_context():
        rossi_user = db.session.get(Doctor, rossi).user_id
    return type("ClinicDay", (), dict(rossi=rossi, bianchi=bianchi, ana=ana, visit=visit, inside=inside,
                                      other=other, rossi_user=rossi_user))


def cell_links(html):
    """Every link of the grid, resolved as a browser would from /desk/timeline."""
    grid = html.split('<table class="tl-table">')[1].split("</table>")[0]
    return [urljoin("/desk/timeline", href.replace("&amp;", "&")) for href in re.findall(r'href="([^"]+)"', grid)]


def query_of(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# ---------------------------------------------------------------------------------------------
# Who may open it


def test_patients_are_refused_and_visitors_sent_to_log_in(app, clinic_day, login_as):
    patient = login_as(clinic_day.ana)
    refused = patient.get(URL)
    assert refused.status_code == 403 and "Ana Torres" not in refused.text.split("<main")[1]
    visitor = app.test_client().get(URL)
    assert visitor.status_code == 302 and visitor.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["reception", "admin"])
def test_reception_and_admins_see_every_working_doctor(clinic_day, staff, login_as, role):
    page = login_as(staff(role)).get(URL)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Timeline: Monday" in text
    assert "Dr. Laura Rossi" in text and "Dr. Marco Bianchi" in text
    assert "Ana Torres" in text and "Cy Other" in text


def test_a_doctor_sees_their_own_column_and_cannot_book(app, clinic_day, login_as):
    client = login_as(clinic_day.rossi_user)
    page = client.get(URL).text
    grid = page.split('<table class="tl-table">')[1]
    assert "Ana Torres" in grid and "Cy Other" not in grid and "Dr. Marco Bianchi" not in grid
    assert not [link for link in cell_links(page) if "/desk/book" in link]  # doctors do not book
    assert ">Free<" in grid
    # Another doctor's timeline is not theirs to see, and asking for it records no view of it.
    before = table_snapshot(app)
    assert client.get(f"{URL}&doctor_id={clinic_day.bianchi}").status_code == 404
    assert table_snapshot(app) == before


# ---------------------------------------------------------------------------------------------
# Odd input: a clear 4xx that changes nothing


@pytest.mark.parametrize("bad, message", [
    ("0001-01-01", "Choose a date from 2000-01-01 to 2099-12-31"),
    ("9999-12-31", "Choose a date from 2000-01-01 to 2099-12-31"),
    ("garbage", "Invalid date format (YYYY-MM-DD)"),
    ("2026-02-30", "Invalid date format (YYYY-MM-DD)"),
    ("2026-11-05%01", "Invalid date format (YYYY-MM-DD)"),
    ("2026-11-05%00", "Text must not contain NUL characters."),
    ("9" * 5000, "Invalid date format (YYYY-MM-DD)"),
])
def test_odd_dates_are_a_clear_400_that_changes_nothing(app, desk, bad, message):
    before = table_snapshot(app)
    for headers in ({}, HTMX):
        response = desk.client.get(f"/desk/timeline?date={bad}", headers=headers)
        assert response.status_code == 400
        assert message in response.text
    assert table_snapshot(app) == before  # not even an audit entry


def test_odd_doctor_ids_are_ignored_and_an_unknown_doctor_is_not_found(clinic_day, desk):
    for value in ("%C2%B2", "-1", "0", "99999999999999999999", "abc", "1.5"):
        response = desk.client.get(f"{URL}&doctor_id={value}")
        assert response.status_code == 200, value
        assert "Dr. Marco Bianchi" in response.text
    assert desk.client.get(f"{URL}&doctor_id={clinic_day.bianchi + 100}").status_code == 404


# ---------------------------------------------------------------------------------------------
# What it shows, and where it leads


def test_visits_link_to_their_page_and_carry_status_confirmation_and_clash(app, clinic_day, desk):
    with app.app_context():
        db.session.get(Appointment, clinic_day.visit).confirmed_at = instant(DAY, "08:00")
        db.session.commit()
    page = desk.client.get(URL).text
    paths = [urlsplit(link).path for link in cell_links(page)]
    assert {f"/desk/appointments/{v}" for v in (clinic_day.visit, clinic_day.inside, clinic_day.other)} <= set(paths)
    before, visit = page.split(f'id="visit-{clinic_day.visit}"')
    assert 'class="tl-visits tl-scheduled"' in before.rsplit("<td", 1)[1]  # coloured by its status
    visit = text_of(visit.split("</td>")[0])
    assert "10:00–10:30 · Consultation · Scheduled" in visit and "Confirmed" in visit
    inside = text_of(page.split(f'id="visit-{clinic_day.inside}"')[1].split("</td>")[0])
    assert "14:30–14:45 · Follow-up · Scheduled" in inside
    assert "Time off: Training" in inside and "Confirmed" not in inside
    assert "Clinic closed: Fire drill" in text_of(page)
    assert desk.client.get(f"/desk/appointments/{clinic_day.visit}").status_code == 200


def test_free_times_link_to_booking_that_time(clinic_day, desk):
    page = desk.client.get(URL).text
    booking = [query_of(link) for link in cell_links(page) if urlsplit(link).path == "/desk/book"]
    rossi = {q["time"] for q in booking if q["doctor_id"] == str(clinic_day.rossi)}
    assert {"09:00", "09:30", "10:30", "16:00"} <= rossi
    assert not {"09:45", "10:00", "14:00", "17:00"} & rossi  # before a visit, a visit, time off, closed
    assert all(q["date"] == DAY.isoformat() and q["type"] == "consultation" for q in booking)
    # The desk's booking flow takes it from there: find the patient, carrying the time.
    found = desk.client.get(f"/desk/book?doctor_id={clinic_day.rossi}&date={DAY}&type=consultation&time=09:00")
    assert found.status_code == 200 and "09:00" in found.text


def test_today_marks_now_and_offers_a_walk_in(app, clinic_day, desk, clock):
    clock.set(instant(DAY, "09:07"))
    page = desk.client.get(URL).text
    now_row = page.split('id="tl-now"')[1].split("</th>")[0]
    assert ">09:00" in now_row and "Now 09:07" in now_row
    walk_ins = {query_of(urljoin("/desk/timeline", href.replace("&amp;", "&")))["doctor_id"]: text_of(label)
                for href, label in re.findall(r'class="button button-small tl-walk-in"[^>]*href="([^"]+)">(.*?)</a>',
                                              page)}
    assert walk_ins == {str(clinic_day.rossi): "Walk-in 09:15 with Dr. Laura Rossi",
                        str(clinic_day.bianchi): "Walk-in 09:15 with Dr. Marco Bianchi"}
    assert 'href="#tl-now"' in page
    # Another day: no "now", no walk-in.
    tomorrow = desk.client.get(f"/desk/timeline?date={DAY + timedelta(days=1)}").text
    assert 'id="tl-now"' not in tomorrow and "Walk-in" not in tomorrow


@pytest.mark.parametrize("hhmm", ["01:45", "23:10"])
def test_outside_the_hours_today_has_no_link_to_a_now_the_grid_does_not_show(clinic_day, desk, clock, hhmm):
    clock.set(instant(DAY, hhmm))
    page = desk.client.get(URL).text
    assert 'id="tl-now"' not in page and 'href="#tl-now"' not in page


def test_the_day_list_and_the_timeline_link_to_each_other(clinic_day, desk):
    timeline = desk.client.get(f"{URL}&doctor_id={clinic_day.rossi}").text
    assert f'href="/desk/?date={DAY}&amp;doctor_id={clinic_day.rossi}">Day list</a>' in timeline
    day_list = desk.client.get(f"/desk/?date={DAY}&doctor_id={clinic_day.rossi}").text
    assert f'href="/desk/timeline?date={DAY}&amp;doctor_id={clinic_day.rossi}">Timeline</a>' in day_list
    assert '<a href="/desk/timeline">Timeline</a>' in day_list  # in the menu
    # Previous and next day, and a date field, like the day list.
    for rel, day in (("prev", DAY - timedelta(days=1)), ("next", DAY + timedelta(days=1))):
        assert f'href="/desk/timeline?date={day}&amp;doctor_id={clinic_day.rossi}" rel="{rel}"' in timeline
    assert 'type="date" value="' + DAY.isoformat() in timeline


def test_a_day_nobody_works(desk, make_doctor):
    make_doctor(weekdays=[0])
    sunday = DAY - timedelta(days=1)
    assert "No doctor works on this day." in desk.client.get(f"/desk/timeline?date={sunday}").text


def test_viewing_the_timeline_is_audited_but_its_refreshes_are_not(app, clinic_day, desk):
    desk.client.get(URL)
    desk.client.get(URL, headers=HTMX)
    with app.app_context():
        events = db.session.execute(select(AccessEvent.action, AccessEvent.detail)
                                    .where(AccessEvent.actor_id == desk.id)).all()
    assert events == [("viewed timeline", DAY.isoformat())]


# ---------------------------------------------------------------------------------------------
# htmx refresh


def test_htmx_refresh_gets_the_grid_alone(clinic_day, desk):
    page = desk.client.get(URL)
    partial = desk.client.get(URL, headers=HTMX)
    assert 'hx-trigger="every 30s"' in page.text and f'hx-get="/desk/timeline?date={DAY}"' in page.text
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    assert "<html" not in partial.text and "hx-trigger" not in partial.text  # no nested poller
    grid = partial.text.split('<table class="tl-table">')[1].split("</table>")[0]
    assert grid == page.text.split('<table class="tl-table">')[1].split("</table>")[0]
    assert "Ana Torres" in grid


# ---------------------------------------------------------------------------------------------
# The same queries whatever the day holds


def test_ten_busy_doctors_cost_the_same_queries_as_two_quiet_ones(app, desk, make_doctor, make_block, count_queries,
                                                                  clock):
    """On a Monday two doctors work, with a visit each; on the Tuesday ten, with 8 visits each. Both
    days have time off and a closure, and are measured as today (with "now" and walk-ins)."""
    quiet, busy = DAY, DAY + timedelta(days=1)
    doctors = [make_doctor(name=f"Dr. Number {n:02d}", weekdays=range(5) if n < 2 else [1]) for n in range(10)]
    with app.app_context():
        patients = [User(email=f"p{n}@example.com", full_name=f"Patient {n}", role="patient", password_hash="x")
                    for n in range(40)]
        db.session.add_all(patients)
        db.session.commit()
        patient_ids = [p.id for p in patients]
    assert fill_day(app, doctors[:2], patient_ids, quiet, 1) == 2
    assert fill_day(app, doctors, patient_ids, busy, 8) == 80
    for day in (quiet, busy):
        make_block(doctor_id=doctors[0], start=instant(day, "16:00"), end=instant(day, "17:00"), reason="Away")
        make_block(doctor_id=None, start=instant(day, "17:30"), end=instant(day, "18:00"), reason="Drill")

    def measure(day):
        """(queries of the page, of its htmx refresh), visits and doctors on the page."""
        clock.set(instant(day, "09:10"))
        responses = []
        counts = [count_queries(lambda: responses.append(desk.client.get(f"/desk/timeline?date={day}", **kw)))
                  for kw in ({}, {"headers": HTMX})]
        assert [r.status_code for r in responses] == [200, 200]
        page = responses[0].text
        return counts, page.count('class="tl-patient"'), page.count('class="tl-doctor"')

    quiet_counts, quiet_visits, quiet_doctors = measure(quiet)
    busy_counts, busy_visits, busy_doctors = measure(busy)
    assert (quiet_visits, quiet_doctors, busy_visits, busy_doctors) == (2, 2, 80, 10)
    assert busy_counts == quiet_counts
    assert max(busy_counts) <= 10
