"""Hostile text in every form and JSON endpoint that stores text.

Every place gets every value of HOSTILE (one test per place, the values in a loop: a fresh app
per value would cost minutes). A value is either refused with a clear 4xx message, or stored and
then shown escaped everywhere it appears: the pages, the outgoing emails (HTML part escaped, no
injected headers), the desk's CSV (formula cells neutralised) and the ICS attachment (parsed back
intact, no injected lines). Never a 500, and every table is still there afterwards.

Which values each place refuses is pinned too, so a loosened rule shows up here.
"""
import csv
import io
import re
import secrets
from datetime import timedelta
from functools import cached_property

import pytest
from icalendar import Calendar
from markupsafe import escape
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import (
    ApiToken,
    Appointment,
    AppointmentChange,
    BlockedPeriod,
    Doctor,
    OutboxEmail,
    User,
    WeeklyHours,
)
from clinica_web.services import tokens
from clinica_web.services.clinic import now as clinic_now
from tests.conftest import PASSWORD, instant, next_weekday, table_snapshot

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
CRLF = "Ana\r\nBcc: evil@example.com"
ICS_LINES = "Ana\r\nEND:VEVENT\r\nATTENDEE:mailto:evil@example.com"
LONG = "A" * 10_000
RLO = "Ana \u202egnp.exe"  # the right-to-left override: shows as "Ana exe.png"
HOSTILE = [
    SCRIPT,
    IMG,
    "'; DROP TABLE users; --",
    "Robert'); DELETE FROM appointments;--",
    CRLF,
    ICS_LINES,
    'Ana"; ROLE=CHAIR:mailto:evil@example.com',  # iCalendar parameter syntax
    LONG,
    "🦷😀",
    "مرحبا שלום",  # right-to-left text
    RLO,
    "Zoe\u0301 Z\u0336a\u0337l\u0338g\u0335o\u0336",  # combining characters
    '=HYPERLINK("http://evil.example","x")',  # spreadsheet formulas (the CSV)
    "-2+3",
    "@SUM(1+1)",
]
# One-line fields (names, specialty, token name) refuse line breaks, the override and the length.
REFUSED_BY_NAMES = {CRLF, ICS_LINES, LONG, RLO}
# Header injection after a valid address, a second recipient, a non-ASCII local part (undeliverable).
EMAIL_ONLY = [
    "ana@example.com\r\nBcc: evil@example.com", "ana@example.com\nTo: evil@example.com",
    "ana@example.com, evil@example.com", '"Ana" <ana@example.com>, evil@example.com', "zoé@example.com",
]
# The markup of the first two values: never in any response or email unescaped.
RAW_MARKUP = ("<script>alert(1)", "<img src=x", "<img")
MONDAY = next_weekday(0, weeks=1)  # bookable: inside the doctor's hours and the horizon
TUESDAY = MONDAY + timedelta(days=1)
PAST_MONDAY = MONDAY - timedelta(weeks=3)  # a visit that has happened and can be documented
TIMES = [f"{hour:02d}:{minute:02d}" for hour in (9, 10, 11, 12, 14, 15, 16, 17) for minute in (0, 30)]
assert len(TIMES) >= len(HOSTILE)


def label(value):
    return repr(value[:40])


def folded(value):
    """A one-line value as the services store it: runs of whitespace folded into one space."""
    return " ".join(value.split())


def as_email(value):
    return value if "@" in value else f"{value}@example.com"


# ---------------------------------------------------------------------------------------------
# Checks


def assert_no_raw_markup(text, where=""):
    for raw in RAW_MARKUP:
        assert raw not in text, f"unescaped {raw!r} in {where}"


def assert_shown_escaped(html, stored, where=""):
    """The stored value is on the page, escaped; its raw markup is not."""
    assert str(escape(stored)) in html, f"{label(stored)} not shown (escaped) on {where}"
    assert_no_raw_markup(html, where)


def assert_refused(response, value, where=""):
    """A clear 4xx: a message by the field or above the form, an error page, or a JSON error."""
    assert response.status_code in (400, 409, 422), (response.status_code, label(value), where)
    if response.is_json:
        body = response.get_json()
        assert body.get("error") or body.get("errors"), (body, where)
    else:
        assert re.search(r'class="(error|form-errors)"|<h1>Bad request</h1>', response.text), (label(value), where)
        assert_no_raw_markup(response.text, where)


def feed(values, submit, where):
    """submit(index, value) -> response, for each value. Never a 5xx; refusals are clear 4xx.

    Returns ([(index, value, response) of the values accepted], {value refused: its response})."""
    stored, refused = [], {}
    for index, value in enumerate(values):
        response = submit(index, value)
        assert response.status_code < 500, f"{response.status_code} for {label(value)} on {where}"
        if response.status_code in (200, 201, 303):
            stored.append((index, value, response))
        else:
            assert_refused(response, value, where)
            refused[value] = response
    return stored, refused


def assert_safe_email(message, *, to, patient_name=None, doctor_name=None, never=(), ics=True):
    """Headers not injected, HTML escaped, the ICS parses back to one event with one attendee."""
    assert [str(address.addr_spec) for address in message["To"].addresses] == [to]
    assert message.get_all("Bcc") is None and message.get_all("Cc") is None
    assert len(message.get_all("Subject")) == 1 and len(message.get_all("To")) == 1
    for header, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), (header, value)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert_no_raw_markup(html, "email HTML")
    if patient_name is not None:
        assert str(escape(patient_name)) in html and patient_name in text
    if doctor_name is not None:
        assert str(escape(doctor_name)) in html and doctor_name in text
        assert str(message["Subject"]).endswith(f" with {doctor_name}")
    calendars = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    if not ics:
        assert calendars == []
        return
    raw = calendars[0].get_payload(decode=True)
    lines = raw.decode().replace("\r\n ", "").split("\r\n")  # unfolded content lines
    for name in ("BEGIN:VEVENT", "END:VEVENT", "ATTENDEE", "ORGANIZER", "SUMMARY", "END:VCALENDAR"):
        assert sum(line.startswith(name) for line in lines) == 1, (name, raw)
    [event] = Calendar.from_ical(raw).walk("VEVENT")
    assert str(event["ATTENDEE"]) == f"mailto:{to}"
    if patient_name is not None:
        assert event["ATTENDEE"].params["CN"] == patient_name
    if doctor_name is not None:
        assert str(event["SUMMARY"]).endswith(f": appointment with {doctor_name}")
    everything = "".join([str(message["Subject"]), html, text, raw.decode()])
    for secret in never:  # notes and reasons are never emailed
        assert secret not in everything and str(escape(secret)) not in everything, label(secret)


def csv_rows(client, day):
    response = client.get(f"/desk/day.csv?date={day}")
    assert response.status_code == 200
    return [{name.lower(): value for name, value in row.items()} for row in csv.DictReader(io.StringIO(response.text))]


def neutralised(value):
    """The CSV cell of a value: a would-be formula gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def assert_tables_intact(app, **at_least):
    """Every table still answers, with at least the rows the test made (none dropped or emptied)."""
    models = (User, Doctor, WeeklyHours, Appointment, AppointmentChange, BlockedPeriod, OutboxEmail, ApiToken)
    assert set(at_least) <= {model.__tablename__ for model in models}
    with app.app_context():
        for model in models:
            count = db.session.scalar(select(func.count()).select_from(model))
            assert count >= at_least.get(model.__tablename__, 0), model.__tablename__


def stored_row(app, model, id_):
    with app.app_context():
        return db.session.get(model, id_)


def redirect_id(response):
    return int(response.headers["Location"].rsplit("/", 1)[1])


# ---------------------------------------------------------------------------------------------
# People


class People:
    """A doctor with a login, a receptionist, an admin and a patient (Ana); their logged-in
    clients are made on first use (a login costs a request)."""

    def __init__(self, app, make_doctor, make_user, login_as):
        self.doctor_id = make_doctor(with_user=True)
        with app.app_context():
            self.doctor_user = db.session.get(Doctor, self.doctor_id).user_id
        self.reception = make_user(role="reception", email="desk@example.com", full_name="Rita Desk")
        self.admin_id = make_user(role="admin", email="admin@example.com", full_name="Ada Admin")
        self.patient = make_user(email="ana@example.com", full_name="Ana Torres")
        self._login_as = login_as

    @cached_property
    def desk(self):
        return self._login_as(self.reception)

    @cached_property
    def admin(self):
        return self._login_as(self.admin_id)

    @cached_property
    def doctor(self):
        return self._login_as(self.doctor_user)

    @cached_property
    def ana(self):
        return self._login_as(self.patient)

    def staff_token(self, app):
        """A clinic API token of the receptionist."""
        with app.app_context():
            return tokens.create_api_token(db.session.get(User, self.reception), now=clinic_now())


@pytest.fixture
def people(app, make_doctor, make_user, login_as):
    return People(app, make_doctor, make_user, login_as)


def book_on_page(client, doctor_id, day, time, notes=""):
    return client.post(f"/doctors/{doctor_id}/book", data={
        "date": day.isoformat(), "time": time, "type": "consultation", "notes": notes,
        "booking_key": secrets.token_urlsafe(24),
    })


def book_at_desk(people, patient_id, time, notes="", day=MONDAY):
    return people.desk.post("/desk/book", data={
        "patient_id": patient_id, "doctor_id": people.doctor_id, "date": day.isoformat(), "time": time,
        "type": "consultation", "notes": notes, "booking_key": secrets.token_urlsafe(24),
    })


def assert_patients_shown_everywhere(people, sent_mail, booked):
    """Patients' names, emails and phones on the staff pages, the CSV and their booking emails.

    booked: [(user, appointment id, the patient's own client or None)], all on MONDAY."""
    day_list = people.desk.get(f"/desk/?date={MONDAY}").text
    rows = csv_rows(people.desk, MONDAY)
    emails = {message["To"].addresses[0].addr_spec: message for message in sent_mail()
              if message.get_body(("plain",)).get_content().count("Booking number")}
    for user, appointment_id, own_client in booked:
        detail = people.desk.get(f"/desk/appointments/{appointment_id}").text
        for page, where in [(day_list, "day list"), (detail, "appointment detail")]:
            assert_shown_escaped(page, user.full_name, where)
            if user.phone:
                assert_shown_escaped(page, user.phone, where)
        assert_shown_escaped(detail, user.email, "appointment detail")
        if own_client is not None:  # the header of every page they see
            page = own_client.get(f"/bookings/{appointment_id}").text
            assert_shown_escaped(page, user.full_name, "the patient's own header")
        [row] = [row for row in rows if row["email"] == neutralised(user.email)]
        assert (row["patient"], row["phone"]) == (neutralised(user.full_name), neutralised(user.phone or ""))
        assert_safe_email(emails[user.email], to=user.email, patient_name=user.full_name)


# ---------------------------------------------------------------------------------------------
# Accounts: the registration page, the API's registration, patients registered at the desk

PATIENT_FIELDS = {  # field -> (values, the values refused)
    "full_name": (HOSTILE, REFUSED_BY_NAMES),
    "email": (HOSTILE + EMAIL_ONLY, set(HOSTILE + EMAIL_ONLY) - {"-2+3"}),
    "phone": (HOSTILE, set(HOSTILE) - {"-2+3"}),  # digits, spaces and + - ( ) . only
}


def patient_form(field, index, value):
    submitted = {"full_name": "Pat Patient", "email": f"new-{index}@example.com", "phone": "+56 9 1234 5678"}
    submitted[field] = as_email(value) if field == "email" else value
    return submitted


def check_stored_patient(user, field, value):
    if field == "email":
        assert user.email == as_email(value)
    else:
        assert getattr(user, field) == folded(value), label(value)


def user_with_email(app, email):
    with app.app_context():
        return db.session.scalars(select(User).where(User.email == email)).one()


@pytest.mark.parametrize("field", PATIENT_FIELDS)
def test_register_page(app, people, sent_mail, login_as, field):
    values, refused_values = PATIENT_FIELDS[field]
    stored, refused = feed(values, lambda index, value: app.test_client().post("/register", data={
        **patient_form(field, index, value), "password": PASSWORD, "confirm": PASSWORD,
    }), "/register")
    assert set(refused) == refused_values
    welcomes = sent_mail()
    assert len(welcomes) == len(stored)
    booked = []
    for (index, value, _response), welcome in zip(stored, welcomes):
        user = user_with_email(app, patient_form(field, index, value)["email"])
        check_stored_patient(user, field, value)
        assert_safe_email(welcome, to=user.email, patient_name=user.full_name, ics=False)
        client = login_as(user.id)
        response = book_on_page(client, people.doctor_id, MONDAY, TIMES[index])
        assert response.status_code == 303, response.text[:300]
        booked.append((user, redirect_id(response), client))
    assert_patients_shown_everywhere(people, sent_mail, booked)
    assert_tables_intact(app, users=4 + len(stored), appointments=len(stored))


@pytest.mark.parametrize("field", ["full_name", "email"])
def test_register_api(app, client, field):
    values, refused_values = PATIENT_FIELDS[field]

    def register(index, value):
        body = {"full_name": "Pat Patient", "email": f"api-{index}@example.com", "password": PASSWORD}
        body[field] = as_email(value) if field == "email" else value
        return client.post("/v1/auth/register", json=body)

    stored, refused = feed(values, register, "/v1/auth/register")
    assert set(refused) == refused_values
    for _index, value, response in stored:
        assert response.status_code == 201
        user = stored_row(app, User, response.get_json()["id"])
        assert response.get_json() == {"id": user.id, "email": user.email, "full_name": user.full_name}
        check_stored_patient(user, field, value)
    assert_tables_intact(app, users=len(stored))


@pytest.mark.parametrize("field", PATIENT_FIELDS)
def test_desk_patient_registration(app, people, sent_mail, field):
    values, refused_values = PATIENT_FIELDS[field]
    stored, refused = feed(values, lambda index, value: people.desk.post(
        "/desk/patients", data=patient_form(field, index, value)), "/desk/patients")
    assert set(refused) == refused_values
    booked = []
    for index, value, response in stored:
        patient_id = int(re.search(r"patient_id=(\d+)", response.headers["Location"])[1])
        user = stored_row(app, User, patient_id)
        check_stored_patient(user, field, value)
        # The next step says who was registered (a flash message) and shows them.
        assert_shown_escaped(people.desk.get(response.headers["Location"]).text, user.full_name, "booking step")
        response = book_at_desk(people, patient_id, TIMES[index])
        assert response.status_code == 303 and "/desk/appointments/" in response.headers["Location"]
        booked.append((user, redirect_id(response), None))
    assert_patients_shown_everywhere(people, sent_mail, booked)
    assert_tables_intact(app, users=4 + len(stored), appointments=len(stored))


# ---------------------------------------------------------------------------------------------
# Booking notes: the patient's booking page, the booking API, the desk


def check_notes(app, people, sent_mail, stored, refused):
    assert list(refused) == [LONG]  # over the notes limit (2000), and said so
    assert "A note has at most 2000 characters" in refused[LONG].get_data(as_text=True)
    for _index, value, response in stored:
        appointment_id = response.get_json()["id"] if response.is_json else redirect_id(response)
        assert stored_row(app, Appointment, appointment_id).notes == value.strip()
        assert_shown_escaped(people.ana.get(f"/bookings/{appointment_id}").text, value.strip(), "my booking")
        desk_page = people.desk.get(f"/desk/appointments/{appointment_id}").text
        assert_shown_escaped(desk_page, value.strip(), "desk detail")
    messages = sent_mail()
    assert len(messages) == len(stored)
    for message in messages:  # a patient's notes are never emailed
        assert_safe_email(message, to="ana@example.com", patient_name="Ana Torres",
                          never=[value.strip() for _i, value, _r in stored if len(value.strip()) > 3])
    assert_tables_intact(app, appointments=len(stored))


def test_booking_notes_on_the_booking_page(app, people, sent_mail):
    stored, refused = feed(HOSTILE, lambda index, value: book_on_page(
        people.ana, people.doctor_id, MONDAY, TIMES[index], notes=value), "booking page")
    check_notes(app, people, sent_mail, stored, refused)


def test_booking_notes_in_the_api(app, people, client, sent_mail):
    token = client.post("/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD}).get_json()["token"]
    stored, refused = feed(HOSTILE, lambda index, value: client.post(
        "/v1/bookings", headers={"Authorization": f"Bearer {token}"},
        json={"doctor_id": people.doctor_id, "date": MONDAY.isoformat(), "time": TIMES[index], "notes": value},
    ), "POST /v1/bookings")
    check_notes(app, people, sent_mail, stored, refused)


def test_booking_notes_at_the_desk(app, people, sent_mail):
    stored, refused = feed(HOSTILE, lambda index, value: book_at_desk(
        people, people.patient, TIMES[index], notes=value), "desk booking")
    check_notes(app, people, sent_mail, stored, refused)


@pytest.mark.parametrize("where", ["page", "desk"])
def test_the_one_time_booking_key_takes_any_text(app, people, where):
    """The key is a hidden field the browser sends back: any text may come back in it. A key
    longer than any the form makes is refused (PostgreSQL would not store it: it was a 500), and
    so is one with a colon, which only the API's keys have (booking.api_booking_key)."""
    keys = [SCRIPT, "'; DROP TABLE users; --", "🦷😀", CRLF, LONG]
    for index, key in enumerate(keys):
        data = {"date": MONDAY.isoformat(), "time": TIMES[index], "type": "consultation", "booking_key": key}
        if where == "page":
            response = people.ana.post(f"/doctors/{people.doctor_id}/book", data=data)
            booked = response.status_code == 303
        else:
            response = people.desk.post(
                "/desk/book", data={**data, "patient_id": people.patient, "doctor_id": people.doctor_id})
            booked = "/desk/appointments/" in response.headers.get("Location", "")
            if not booked:  # the desk goes back to the booking step and says why
                response = people.desk.get(response.headers["Location"])
        refused = key == LONG or ":" in key
        assert response.status_code < 500, (response.status_code, label(key))
        assert booked == (not refused), label(key)
        if refused:
            assert "This form is out of date. Please reload the page and try again." in response.text
    taken = {key for key in keys if key != LONG and ":" not in key}
    with app.app_context():
        assert set(db.session.scalars(select(Appointment.booking_key))) == taken
    assert_tables_intact(app, appointments=len(taken))


# ---------------------------------------------------------------------------------------------
# The desk: cancel and reschedule reasons (pages and the clinic API), documentation


@pytest.fixture
def appointments_of_ana(app, people, make_appointment):
    """One scheduled appointment of Ana's per hostile value, on MONDAY at TIMES[index]."""
    return [make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=MONDAY, hhmm=time)
            for time in TIMES[:len(HOSTILE)]]


def check_reasons(app, people, sent_mail, stored, refused, appointment_ids, said=lambda value: value):
    """said: how the history writes a typed reason (a cancellation puts its reason code's label first)."""
    assert list(refused) == [LONG]  # over the reasons limit (500)
    for index, value, _response in stored:
        recorded = stored_row(app, AppointmentChange, _last_change_id(app, appointment_ids[index])).reason
        assert recorded == said(value.strip())
        page = people.desk.get(f"/desk/appointments/{appointment_ids[index]}").text
        assert_shown_escaped(page, value.strip(), "the appointment's history")
    messages = sent_mail()
    assert len(messages) == len(stored)
    for message in messages:  # reasons are never emailed
        assert_safe_email(message, to="ana@example.com", patient_name="Ana Torres",
                          never=[value.strip() for _i, value, _r in stored if len(value.strip()) > 3])
    assert_tables_intact(app, appointments=len(appointment_ids))


def _last_change_id(app, appointment_id):
    with app.app_context():
        return db.session.scalar(select(func.max(AppointmentChange.id))
                                 .where(AppointmentChange.appointment_id == appointment_id))


def test_cancel_reason_at_the_desk(app, people, sent_mail, appointments_of_ana):
    stored, refused = feed(HOSTILE, lambda index, value: people.desk.post(
        f"/desk/appointments/{appointments_of_ana[index]}/cancel", data={"reason": "other", "note": value}),
        "desk cancel")
    for index, value, _response in stored:
        assert stored_row(app, Appointment, appointments_of_ana[index]).cancel_reason == (value.strip() or None)
    assert stored_row(app, Appointment, appointments_of_ana[HOSTILE.index(LONG)]).status == "scheduled"
    check_reasons(app, people, sent_mail, stored, refused, appointments_of_ana,
                  said=lambda note: f"Other: {note}" if note else "Other")


def test_reschedule_reason_at_the_desk(app, people, sent_mail, appointments_of_ana):
    stored, refused = feed(HOSTILE, lambda index, value: people.desk.post(
        f"/desk/appointments/{appointments_of_ana[index]}/reschedule",
        data={"doctor_id": people.doctor_id, "date": TUESDAY.isoformat(), "time": TIMES[index], "reason": value},
    ), "desk reschedule")
    check_reasons(app, people, sent_mail, stored, refused, appointments_of_ana)


def test_reschedule_reason_in_the_clinic_api(app, people, client, sent_mail, appointments_of_ana):
    with app.app_context():
        token = tokens.create_api_token(db.session.get(User, people.reception), now=clinic_now())

    def reschedule(index, value):
        starts_at = instant(TUESDAY, TIMES[index]).isoformat()
        return client.put(f"/v1/clinic/appointments/reschedule_appointments/{appointments_of_ana[index]}",
                          headers={"X-User-Token": token},
                          json={"appointment": {"scheduled_at": starts_at, "reason": value}})

    stored, refused = feed(HOSTILE, reschedule, "PUT reschedule_appointments")
    for _index, _value, response in stored:
        assert response.get_json()["scheduled_at"].endswith("Z")
    check_reasons(app, people, sent_mail, stored, refused, appointments_of_ana)


def test_documentation_text(app, people, make_appointment):
    visits = [make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=PAST_MONDAY, hhmm=time)
              for time in TIMES[:len(HOSTILE)]]
    stored, refused = feed(HOSTILE, lambda index, value: people.doctor.post(
        f"/desk/appointments/{visits[index]}/documentation", data={"text": value}), "documentation")
    assert list(refused) == []  # 10 000 characters are within the documentation limit (20 000)
    for index, value, _response in stored:
        assert stored_row(app, Appointment, visits[index]).documentation == value.strip()
        page = people.doctor.get(f"/desk/appointments/{visits[index]}/documentation").text
        assert_shown_escaped(page, value.strip(), "the documentation form")
    assert_tables_intact(app, appointments=len(visits))


# ---------------------------------------------------------------------------------------------
# Blocked periods: a doctor's own (desk) and clinic closures (admin)


def test_blocked_period_reason(app, people):
    hours_url = f"/desk/doctors/{people.doctor_id}/hours"
    stored, refused = feed(HOSTILE, lambda index, value: people.doctor.post(
        f"/desk/doctors/{people.doctor_id}/blocks",
        data={"start_date": (MONDAY + timedelta(days=index)).isoformat(), "reason": value},
    ), "blocked period")
    # Over the reasons limit (200); a direction override (it is shown on the public pages, as the
    # names that refuse it are)
    assert list(refused) == [LONG, RLO]
    page = people.doctor.get(hours_url).text
    for _index, value, _response in stored:
        assert_shown_escaped(page, folded(value), hours_url)
    with app.app_context():
        reasons = set(db.session.scalars(select(BlockedPeriod.reason)))
    assert reasons == {folded(value) for _i, value, _r in stored}
    assert_tables_intact(app, blocked_periods=len(stored))


def test_clinic_closure_reason(app, people):
    stored, refused = feed(HOSTILE, lambda index, value: people.admin.post(
        "/admin/closures", data={"start_date": (MONDAY + timedelta(days=index)).isoformat(), "reason": value},
    ), "clinic closure")
    assert list(refused) == [LONG, RLO]
    listing = people.admin.get("/admin/closures").text
    for _index, value, response in stored:
        assert stored_row(app, BlockedPeriod, redirect_id(response)).reason == folded(value)
        assert_shown_escaped(listing, folded(value), "/admin/closures")
        assert_shown_escaped(people.admin.get(response.headers["Location"]).text, folded(value), "the closure")
    assert_tables_intact(app, blocked_periods=len(stored))


# ---------------------------------------------------------------------------------------------
# Admin: doctors (name and specialty), staff accounts, API token names


@pytest.mark.parametrize("field", ["display_name", "specialty"])
def test_admin_doctor(app, people, sent_mail, field):
    def add(index, value):
        data = {"display_name": "Dr. New", "specialty": "Dermatology", "email": f"doc-{index}@example.com",
                "password": PASSWORD, field: value}
        return people.admin.post("/admin/doctors", data=data)

    stored, refused = feed(HOSTILE, add, "/admin/doctors")
    assert set(refused) == REFUSED_BY_NAMES
    doctors = {}  # time booked -> (name, specialty)
    for index, value, _response in stored:
        with app.app_context():
            doctor = db.session.scalars(select(Doctor).join(Doctor.user)
                                        .where(User.email == f"doc-{index}@example.com")).one()
            assert getattr(doctor, field) == folded(value)
            db.session.add(WeeklyHours(doctor_id=doctor.id, weekday=0, start_minute=9 * 60, end_minute=18 * 60))
            db.session.commit()
            doctor_id, doctors[TIMES[index]] = doctor.id, (doctor.display_name, doctor.specialty)
        # The doctor's booking page; the doctors list filtered by that specialty.
        where, query = ((f"/doctors/{doctor_id}", {"date": MONDAY}) if field == "display_name"
                        else ("/doctors", {"specialty": doctors[TIMES[index]][1]}))
        assert_shown_escaped(people.ana.get(where, query_string=query).text, folded(value), where)
        response = book_on_page(people.ana, doctor_id, MONDAY, TIMES[index])
        assert response.status_code == 303, response.text[:300]
    pages = {url: client.get(url).text for client, url in [
        (people.admin, "/admin/doctors"), (people.ana, "/doctors"), (people.ana, "/bookings"),
        (people.desk, f"/desk/?date={MONDAY}"),
    ]}
    rows = {row["time"]: row for row in csv_rows(people.desk, MONDAY)}
    emails = sent_mail()
    assert len(emails) == len(stored)
    for message, (time, (name, specialty)) in zip(emails, doctors.items()):
        for url, page in pages.items():
            assert_shown_escaped(page, name if field == "display_name" else specialty, url)
        assert rows[time]["doctor"] == neutralised(name)
        assert_safe_email(message, to="ana@example.com", patient_name="Ana Torres", doctor_name=name)
        assert str(escape(f"{name}, {specialty}")) in message.get_body(("html",)).get_content()
    assert_tables_intact(app, doctors=1 + len(stored), appointments=len(stored))


def test_admin_staff_account_name(app, people, login_as):
    stored, refused = feed(HOSTILE, lambda index, value: people.admin.post("/admin/staff", data={
        "full_name": value, "email": f"staff-{index}@example.com", "role": "reception", "password": PASSWORD,
    }), "/admin/staff")
    assert set(refused) == REFUSED_BY_NAMES
    page = people.admin.get("/admin/staff").text
    for index, value, _response in stored:
        user = user_with_email(app, f"staff-{index}@example.com")
        assert user.full_name == folded(value)
        assert_shown_escaped(page, folded(value), "/admin/staff")
        assert_shown_escaped(login_as(user.id).get("/desk/").text, folded(value), "their own header")
    assert_tables_intact(app, users=4 + len(stored))


def test_api_token_name(app, people):
    stored, refused = feed(HOSTILE, lambda index, value: people.admin.post(
        "/admin/tokens", data={"email": "desk@example.com", "name": value}), "/admin/tokens")
    assert set(refused) == REFUSED_BY_NAMES
    page = people.admin.get("/admin/tokens").text
    with app.app_context():
        names = list(db.session.scalars(select(ApiToken.name).order_by(ApiToken.id)))
    assert names == [folded(value) for _i, value, _r in stored]
    for _index, value, _response in stored:
        assert_shown_escaped(page, folded(value), "/admin/tokens")
    assert_tables_intact(app, api_tokens=len(stored))


# ---------------------------------------------------------------------------------------------
# Text that is not stored but shown again: query strings


def test_query_strings_are_shown_escaped_or_refused(app, people):
    pages = [
        (people.ana, "/doctors", "specialty"),
        (people.ana, f"/doctors/{people.doctor_id}", "date"),
        (people.ana, f"/doctors/{people.doctor_id}", "type"),
        (people.ana, f"/doctors/{people.doctor_id}/slots", "date"),
        (people.ana, f"/doctors/{people.doctor_id}/book", "time"),
        (people.desk, "/desk/", "date"),
        (people.desk, "/desk/book", "q"),
        (people.desk, "/desk/pending-documentation", "doctor_id"),
        (people.admin, "/admin/audit", "patient"),
    ]
    for client, url, name in pages:
        feed(HOSTILE, lambda _index, value: client.get(url, query_string={name: value}), f"{url}?{name}=")
    assert_tables_intact(app)


# ---------------------------------------------------------------------------------------------
# Fields that are parsed, not stored (dates, times, ids, choices): hostile text there is refused
# and stores nothing.

PARSED_VALUES = [SCRIPT, "'; DROP TABLE users; --", LONG, "🦷😀", CRLF, str(2**63)]


def parsed_field_requests(people):
    """(client, url, valid form, the fields to spoil one at a time)."""
    desk_book = {"patient_id": people.patient, "doctor_id": people.doctor_id, "date": MONDAY.isoformat(),
                 "time": "09:00", "type": "consultation", "booking_key": "k" * 32}
    return [
        (people.ana, f"/doctors/{people.doctor_id}/book",
         {"date": MONDAY.isoformat(), "time": "09:00", "type": "consultation", "booking_key": "p" * 32},
         ["date", "time", "type"]),
        (people.desk, "/desk/book", desk_book, ["patient_id", "doctor_id", "date", "time", "type"]),
        (people.desk, "/desk/appointments/{appointment}/reschedule",
         {"doctor_id": people.doctor_id, "date": TUESDAY.isoformat(), "time": "09:00", "reason": "Moved"},
         ["doctor_id", "date", "time"]),
        (people.desk, "/desk/appointments/{appointment}/status", {"to": "arrived"}, ["to"]),
        (people.doctor, f"/desk/doctors/{people.doctor_id}/hours/windows",
         {"weekday": "5", "start": "09:00", "end": "10:00"}, ["weekday", "start", "end"]),
        (people.doctor, f"/desk/doctors/{people.doctor_id}/blocks",
         {"start_date": MONDAY.isoformat(), "start_time": "09:00", "end_date": MONDAY.isoformat(), "end_time": "10:00"},
         ["start_date", "start_time", "end_date", "end_time"]),
        (people.admin, "/admin/closures",
         {"start_date": MONDAY.isoformat(), "start_time": "09:00", "end_date": MONDAY.isoformat(), "end_time": "10:00"},
         ["start_date", "start_time", "end_date", "end_time"]),
        (people.admin, "/admin/staff",
         {"full_name": "New Desk", "email": "new-desk@example.com", "role": "reception", "password": PASSWORD},
         ["role"]),
    ]


def test_parsed_fields_refuse_hostile_text_and_store_nothing(app, people, make_appointment):
    appointment = make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=MONDAY, hhmm="12:00")
    before = table_rows(app)
    for client, url, valid, fields in parsed_field_requests(people):
        url = url.format(appointment=appointment)
        for field in fields:
            for value in PARSED_VALUES:
                response = client.post(url, data={**valid, field: value})
                where = f"{url} {field}={label(value)}"
                assert response.status_code < 500, where
                if response.status_code == 303:  # the desk's forms flash why and go back a step
                    assert "/desk/appointments/" not in response.headers["Location"], where
                else:
                    assert_refused(response, value, where)
    assert table_rows(app) == before


def table_rows(app):
    """Every row of every table (but the audit trail of pages viewed, and logins)."""
    rows = table_snapshot(app)
    del rows["access_events"]
    return rows


# ---------------------------------------------------------------------------------------------
# Dates at the edges: year 1 and 9999 overflow date arithmetic. Every route that takes a date
# answers them with a clear 4xx and stores nothing.

EDGE_DATES = ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"]
DATE_PARAMS = ("date", "start_date", "end_date", "from", "to", "month")


def get_routes(app, ids):
    """Every GET route of the pages, with its ids filled in from `ids` (name -> value)."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/v1/", "/static/")):
            continue
        if set(rule.arguments) - set(ids):
            continue  # tokens and the like: no date there
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<[^>]*{name}>", str(ids[name]), path)
        yield path


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])  # the ones that overflowed; the forms try all
def test_edge_dates_in_any_page_are_a_4xx_not_a_500(app, people, make_appointment, day):
    appointment_id = make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=MONDAY,
                                      hhmm="09:00")
    ids = {"doctor_id": people.doctor_id, "appointment_id": appointment_id, "action": "deactivate"}
    query = "&".join(f"{name}={day}" for name in DATE_PARAMS)
    answered = {}
    for client in (people.admin, people.doctor, people.ana):
        for path in get_routes(app, ids):
            response = client.get(f"{path}?{query}&doctor_id={people.doctor_id}")
            assert response.status_code < 500, (path, response.status_code)
            if client is people.admin:  # the one who may open every page
                answered[path] = response.status_code
    # The pages that read a date refuse it, saying which dates they take.
    for path in ["/desk/", "/desk/day.csv", f"/doctors/{people.doctor_id}", f"/doctors/{people.doctor_id}/slots",
                 f"/desk/appointments/{appointment_id}/reschedule"]:
        assert answered[path] == 400, path
    page = people.admin.get(f"/desk/?date={day}")
    assert "Choose a date from 2000-01-01 to 2099-12-31" in page.text


@pytest.mark.parametrize("day", EDGE_DATES)
def test_edge_dates_in_any_form_change_nothing(app, people, make_appointment, day):
    appointment_id = make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=MONDAY,
                                      hhmm="09:00")
    posts = [
        (people.doctor, f"/desk/doctors/{people.doctor_id}/blocks",
         {"start_date": day, "end_date": day, "reason": "Away"}),
        (people.doctor, f"/desk/doctors/{people.doctor_id}/blocks",
         {"start_date": MONDAY.isoformat(), "end_date": day, "reason": "Away"}),
        (people.admin, "/admin/closures", {"start_date": day, "end_date": day, "reason": "Holiday"}),
        (people.desk, "/desk/book", {"patient_id": people.patient, "doctor_id": people.doctor_id, "date": day,
                                     "time": "10:00", "type": "consultation",
                                     "booking_key": secrets.token_urlsafe(24)}),
        (people.desk, f"/desk/appointments/{appointment_id}/reschedule",
         {"doctor_id": people.doctor_id, "date": day, "time": "10:00", "reason": "Moved"}),
        (people.ana, f"/doctors/{people.doctor_id}/book",
         {"date": day, "time": "10:00", "type": "consultation", "booking_key": secrets.token_urlsafe(24)}),
    ]
    messages = ("Choose a date from 2000-01-01 to 2099-12-31", "Date must be in the future",
                "Date is beyond the booking horizon")
    for client, path, data in posts:
        response = client.post(path, data=data)
        if response.status_code == 303:  # the desk's booking form says what is wrong on the page it returns to
            response = client.get(response.headers["Location"])
        assert response.status_code < 500 and any(message in response.text for message in messages), path
    with app.app_context():
        assert db.session.scalar(select(func.count(BlockedPeriod.id))) == 0
        assert db.session.scalar(select(func.count(Appointment.id))) == 1
        moved = db.session.get(Appointment, appointment_id)
        assert moved.starts_at == instant(MONDAY, "09:00") and moved.sequence == 0


@pytest.mark.parametrize("day", EDGE_DATES)
def test_edge_dates_in_the_apis(app, people, client, make_appointment, day):
    appointment_id = make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=MONDAY,
                                      hhmm="09:00")
    login = client.post("/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json['token']}"}
    with app.app_context():
        staff = {"X-User-Token": tokens.create_api_token(db.session.get(User, people.reception), now=clinic_now())}
    slots = client.get(f"/v1/bookings/available-slots?doctor_id={people.doctor_id}&date={day}", headers=bearer)
    assert slots.status_code == 200 and slots.json == []  # as any past day or any beyond the horizon (section 10)
    booked = client.post("/v1/bookings", headers=bearer,
                         json={"doctor_id": people.doctor_id, "date": day, "time": "10:00"})
    expected = "Date must be in the future" if day < "2000" else "Date is beyond the booking horizon"
    assert booked.status_code == 400 and booked.json == {"error": expected}
    in_range = client.get(f"/v1/clinic/appointments/in_date_range?start_date={day}&end_date={day}", headers=staff)
    assert in_range.status_code == 422
    assert in_range.json == {"errors": {"start_date": ["is invalid"], "end_date": ["is invalid"]}}
    for scheduled_at in (day, f"{day}T10:00:00Z", f"{day}T23:59:59-12:00", f"{day}T00:00:00+14:00"):
        moved = client.put(f"/v1/clinic/appointments/reschedule_appointments/{appointment_id}", headers=staff,
                           json={"appointment": {"scheduled_at": scheduled_at}})
        assert moved.status_code == 422 and moved.json == {"errors": {"scheduled_at": ["is invalid"]}}
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id))) == 1
        assert db.session.get(Appointment, appointment_id).sequence == 0


def test_numbers_too_long_for_int_are_refused_not_a_500(app, people, make_appointment, client, clock):
    """int() refuses strings of over 4 300 digits with ValueError: every id and page number is
    checked as text first. (A status change with such a `doctor_id` to go back to once saved the
    change, then failed.)"""
    huge = "9" * 5000
    appointment_id = make_appointment(doctor_id=people.doctor_id, patient_id=people.patient, day=PAST_MONDAY,
                                      hhmm="09:00")
    clock.set(instant(PAST_MONDAY, "09:00"))  # the visit's day: its status can change
    answers = [
        people.desk.post(f"/desk/appointments/{appointment_id}/status", data={"to": "arrived", "doctor_id": huge}),
        people.desk.post(f"/desk/appointments/{appointment_id}/undo", data={"doctor_id": huge}),
        people.desk.get(f"/desk/?doctor_id={huge}"),
        people.desk.get(f"/desk/day.csv?doctor_id={huge}"),
        people.desk.get(f"/desk/book?patient_id={huge}"),
        people.desk.post("/desk/book", data={"patient_id": huge, "doctor_id": people.doctor_id,
                                             "date": MONDAY.isoformat(), "time": "10:00"}),
    ]
    assert all(answer.status_code < 500 for answer in answers), [answer.status_code for answer in answers]
    with app.app_context():
        kinds = db.session.scalars(select(AppointmentChange.kind).where(
            AppointmentChange.appointment_id == appointment_id).order_by(AppointmentChange.id)).all()
    assert kinds == ["status", "status_undo"]  # each change made once, and answered with a redirect
    staff = {"X-User-Token": people.staff_token(app)}
    for url in (f"/v1/clinic/appointments/pending_documentation?page={huge}",
                f"/v1/clinic/appointments/in_date_range?start_date={MONDAY}&end_date={MONDAY}&provider_id={huge}"):
        assert client.get(url, headers=staff).status_code == 422, url


def test_a_file_where_a_form_expects_text_is_a_400(client, people):
    """Multipart with a file part: Flask-WTF would hand the file to the field's validators."""
    for url, field in [("/login", "email"), ("/register", "full_name"), ("/password-reset", "email")]:
        response = client.post(url, data={field: (io.BytesIO(b"zzz"), "a.txt")}, content_type="multipart/form-data")
        assert response.status_code == 400 and "This site takes no files" in response.text, url
    response = people.desk.post("/desk/patients", data={"full_name": (io.BytesIO(b"x"), "a.txt")},
                                content_type="multipart/form-data")
    assert response.status_code == 400
