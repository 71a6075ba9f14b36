"""The admin pages: doctors, staff accounts, API tokens, clinic closures, the audit trail.

Each page and action is for admins only (403 for other roles, the login page for strangers).
Each action is checked by what people notice afterwards: the patient pages, logging in, the API,
the slot list; bad input gets a 4xx with a clear message and changes nothing.
"""
import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import ApiToken, BlockedPeriod, Doctor, User, WeeklyHours
from clinica_web.services import accounts, audit, clinic, schedule, sessions, staff
from clinica_web.services.errors import InvalidInput, NotAllowed
from tests.conftest import PASSWORD, instant, next_weekday, table_snapshot

MONDAY = next_weekday(0, weeks=1)
TUESDAY = MONDAY + timedelta(days=1)
API_URL = "/v1/clinic/appointments/in_date_range?start_date=2026-01-01&end_date=2026-01-02"
NEW_DOCTOR = {"display_name": "Dr. Sofia Greco", "specialty": "Dermatology", "email": "sofia@example.org",
              "password": "skin-deep-2026"}
NEW_ACCOUNT = {"full_name": "Rita Desk", "email": "rita@example.org", "role": "reception", "password": "front-desk-77"}

# Every admin page and action: (method, url). Ids need not exist: the role check comes first.
ENDPOINTS = [
    ("GET", "/admin/"),
    ("GET", "/admin/doctors"),
    ("POST", "/admin/doctors"),
    ("POST", "/admin/doctors/1/deactivate"),
    ("POST", "/admin/doctors/1/activate"),
    ("GET", "/admin/staff"),
    ("POST", "/admin/staff"),
    ("POST", "/admin/staff/1/deactivate"),
    ("POST", "/admin/staff/1/reactivate"),
    ("GET", "/admin/tokens"),
    ("POST", "/admin/tokens"),
    ("POST", "/admin/tokens/1/revoke"),
    ("GET", "/admin/closures"),
    ("POST", "/admin/closures"),
    ("GET", "/admin/closures/1"),
    ("POST", "/admin/closures/1/remove"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/reports"),
    ("GET", "/admin/reports.csv"),
]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def slot_times(response):
    return re.findall(r'class="slot"[^>]*>(\d\d:\d\d)</a>', response.get_data(as_text=True))


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def get_user(app, email):
    with app.app_context():
        user = accounts.find_by_email(email)
        return user and {"id": user.id, "role": user.role, "active": user.active}


@pytest.fixture
def admin(make_user, auth):
    """A logged-in admin; returns the id."""
    user_id = make_user(role="admin", email="boss@example.org", full_name="Ada Admin")
    assert auth.login("boss@example.org").status_code == 303
    return user_id


@pytest.fixture
def other_client(app):
    """A second browser."""
    return app.test_client()


def login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


# ---------------------------------------------------------------------------------------------
# Who may open the admin pages


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_strangers_are_sent_to_log_in(client, method, url):
    response = client.open(url, method=method)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["patient", "doctor", "reception"])
@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_other_roles_are_refused(client, make_user, auth, role, method, url):
    make_user(role=role, email=f"{role}@example.org")
    assert auth.login(f"{role}@example.org").status_code == 303
    response = client.open(url, method=method)
    assert response.status_code == 403
    assert "Not allowed" in response.text


@pytest.mark.parametrize("role", ["patient", "doctor", "reception"])
def test_refused_actions_change_nothing(app, client, make_user, make_doctor, auth, role):
    doctor_id = make_doctor()
    target_id = make_user(role="reception", email="target@example.org")
    make_user(role=role, email=f"{role}@example.org")
    auth.login(f"{role}@example.org")
    users_before, doctors_before = count(app, User), count(app, Doctor)
    assert client.post("/admin/doctors", data=NEW_DOCTOR).status_code == 403
    assert client.post("/admin/staff", data=NEW_ACCOUNT).status_code == 403
    assert client.post(f"/admin/doctors/{doctor_id}/deactivate").status_code == 403
    assert client.post(f"/admin/staff/{target_id}/deactivate").status_code == 403
    assert client.post("/admin/tokens", data={"email": "target@example.org", "name": "x"}).status_code == 403
    assert client.post("/admin/closures", data={"start_date": MONDAY.isoformat()}).status_code == 403
    assert (count(app, User), count(app, Doctor)) == (users_before, doctors_before)
    assert count(app, ApiToken) == 0 and count(app, BlockedPeriod) == 0
    assert get_user(app, "target@example.org")["active"]
    assert "Dr. Laura Rossi" in client.get("/doctors").text


def test_only_admins_see_the_admin_link(client, make_user, auth, admin):
    page = client.get("/doctors")
    assert 'href="/admin/"' in page.text
    auth.logout()
    make_user(role="reception", email="desk@example.org")
    auth.login("desk@example.org")
    assert 'href="/admin/"' not in client.get("/doctors").text


def test_index_links_to_every_section(client, admin):
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "<h1>Admin</h1>" in page.text
    for url in ["/admin/doctors", "/admin/staff", "/admin/tokens", "/admin/closures", "/admin/audit", "/admin/reports"]:
        assert f'href="{url}"' in page.text


@pytest.mark.parametrize("url", [url for method, url in ENDPOINTS
                                 if method == "GET" and url != "/admin/closures/1" and not url.endswith(".csv")])
def test_pages_are_accessible_html(client, admin, make_doctor, url):
    make_doctor()
    page = client.get(url)
    assert page.status_code == 200
    body = page.text
    assert "<h1>" in body and 'style="' not in body and "<script>" not in body
    for th in re.findall(r"<th(?:\s[^>]*)?>", body):
        assert "scope=" in th
    # Every visible input has a label.
    for input_id in re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', body):
        if input_id != "csrf_token":
            assert f'for="{input_id}"' in body, input_id


# ---------------------------------------------------------------------------------------------
# Doctors


def test_adding_a_doctor_makes_them_bookable_and_able_to_log_in(app, client, admin, other_client, appointment_types):
    response = client.post("/admin/doctors", data={**NEW_DOCTOR, "email": "Sofia@Example.ORG"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/doctors"
    listing = client.get("/admin/doctors")
    assert "Dr. Sofia Greco is added" in text(listing)
    assert "Dermatology" in listing.text and "sofia@example.org" in listing.text
    with app.app_context():
        doctor = db.session.scalars(select(Doctor).where(Doctor.display_name == "Dr. Sofia Greco")).one()
        doctor_id, user = doctor.id, doctor.user
        assert (user.email, user.role, user.full_name, doctor.active) == ("sofia@example.org", "doctor",
                                                                          "Dr. Sofia Greco", True)
        schedule.add_window(actor=db.session.get(User, admin), doctor_id=doctor_id, weekday=0,
                            start="09:00", end="10:00")
    assert f'href="/desk/doctors/{doctor_id}/hours"' in listing.text
    # Patients find and can book the new doctor.
    assert "Dr. Sofia Greco" in client.get("/doctors?specialty=Dermatology").text
    slots = slot_times(client.get(f"/doctors/{doctor_id}?date={MONDAY}"))
    assert slots == ["09:00", "09:15", "09:30"]
    # The doctor logs in with the initial password.
    assert login(other_client, "sofia@example.org", NEW_DOCTOR["password"]).status_code == 303


def test_a_specialty_the_clinic_has_keeps_its_spelling(app, client, admin, make_doctor):
    """Patients choose and wait for a specialty by its name: "  general   PRACTICE" is the clinic's
    General Practice, not a second one that splits its doctors (/find, the waitlist)."""
    make_doctor(specialty="General Practice")
    response = client.post("/admin/doctors", data={**NEW_DOCTOR, "specialty": "  general   PRACTICE"})
    assert response.status_code == 303
    with app.app_context():
        assert sorted(db.session.scalars(select(Doctor.specialty))) == ["General Practice", "General Practice"]
    assert client.post("/admin/doctors", data={**NEW_DOCTOR, "email": "new@example.org", "display_name": "Dr. New",
                                               "specialty": "Cardiology"}).status_code == 303
    with app.app_context():  # a new one is kept as typed
        assert "Cardiology" in db.session.scalars(select(Doctor.specialty)).all()


@pytest.mark.parametrize("change, field_message", [
    ({"display_name": ""}, "Enter the doctor's name."),
    ({"specialty": "  "}, "Enter the specialty."),
    ({"email": ""}, "Enter an email address."),
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"password": "short"}, "Field must be between 8 and 200 characters long."),
    ({"password": ""}, "Enter a password."),
    ({"email": "TAKEN@example.org"}, "An account already uses this email"),
])
def test_adding_a_doctor_refuses_bad_input(app, client, admin, make_user, change, field_message):
    make_user(email="taken@example.org")
    users_before = count(app, User)
    response = client.post("/admin/doctors", data={**NEW_DOCTOR, **change})
    assert response.status_code == 422
    assert field_message in text(response)
    assert 'aria-invalid="true"' in response.text
    assert count(app, User) == users_before and count(app, Doctor) == 0


def test_creating_a_doctor_writes_both_rows_or_neither(app, admin, make_user, monkeypatch):
    """If the email is taken between the check and the commit, neither the user nor the doctor stays."""
    make_user(email="taken@example.org")
    users_before = count(app, User)
    monkeypatch.setattr(accounts, "find_by_email", lambda email: None)
    with app.app_context():
        with pytest.raises(InvalidInput, match="already uses this email"):
            staff.create_doctor(actor=db.session.get(User, admin), display_name="Dr. Twin", specialty="Cardiology",
                                email="taken@example.org", password=PASSWORD, now=clinic.now())
    assert count(app, User) == users_before and count(app, Doctor) == 0


def test_only_admins_may_call_the_staff_services(app, make_user):
    reception_id = make_user(role="reception", email="desk@example.org")
    with app.app_context():
        actor = db.session.get(User, reception_id)
        with pytest.raises(NotAllowed):
            staff.create_doctor(actor=actor, now=clinic.now(), **NEW_DOCTOR)
        with pytest.raises(NotAllowed):
            staff.set_active(actor=actor, user_id=reception_id, active=False, now=clinic.now())
        with pytest.raises(NotAllowed):
            staff.create_token_for(actor=actor, email="desk@example.org", name="Mine", now=clinic.now())
    assert count(app, Doctor) == 0 and count(app, ApiToken) == 0
    assert get_user(app, "desk@example.org")["active"]


def test_hidden_doctor_disappears_from_patient_pages_and_comes_back(
    client, admin, make_doctor, make_user, make_appointment,
):
    doctor_id = make_doctor(name="Dr. Laura Rossi")
    hidden_id = make_doctor(name="Dr. Already Hidden", active=False, with_user=True)
    patient_id = make_user(email="ana@example.com")
    make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=MONDAY, hhmm="10:00")
    listing = client.get("/admin/doctors").text
    assert "Dr. Already Hidden" in listing and "Hidden" in listing  # the admin sees everyone
    assert f'href="/desk/doctors/{hidden_id}/hours"' in listing

    response = client.post(f"/admin/doctors/{doctor_id}/deactivate")
    assert response.status_code == 303
    flashed = text(client.get("/admin/doctors"))
    assert "Dr. Laura Rossi is hidden from patients" in flashed and "Upcoming bookings with them: 1;" in flashed
    assert "Dr. Laura Rossi" not in client.get("/doctors").text
    assert client.get(f"/doctors/{doctor_id}").status_code == 404

    assert client.post(f"/admin/doctors/{doctor_id}/activate").status_code == 303
    assert "shown to patients again" in text(client.get("/admin/doctors"))
    assert "Dr. Laura Rossi" in client.get("/doctors").text
    assert client.get(f"/doctors/{doctor_id}?date={MONDAY}").status_code == 200


def test_hiding_an_unknown_doctor_is_a_404(client, admin):
    response = client.post("/admin/doctors/999999/deactivate")
    assert response.status_code == 404
    assert "Doctor not found" in response.text


# ---------------------------------------------------------------------------------------------
# Staff accounts


@pytest.mark.parametrize("role", ["reception", "admin"])
def test_new_staff_account_can_log_in(app, client, admin, other_client, role):
    response = client.post("/admin/staff", data={**NEW_ACCOUNT, "role": role})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/staff"
    listing = text(client.get("/admin/staff"))
    assert f"The {role} account of Rita Desk (rita@example.org) is created." in listing
    assert get_user(app, "rita@example.org")["role"] == role
    assert login(other_client, "rita@example.org", NEW_ACCOUNT["password"]).status_code == 303
    # What the new account may open follows its role.
    assert other_client.get("/admin/").status_code == (200 if role == "admin" else 403)


def test_staff_list_shows_staff_not_patients(client, admin, make_user, make_doctor):
    make_user(role="reception", email="desk@example.org", full_name="Dora Desk")
    make_user(email="patient@example.com", full_name="Paula Patient")
    make_doctor(with_user=True, name="Dr. Laura Rossi")
    page = client.get("/admin/staff").text
    assert "Dora Desk" in page and "Ada Admin" in page and "Dr. Laura Rossi" in page
    assert "Paula Patient" not in page
    assert "(you)" in page  # no deactivate button for oneself


@pytest.mark.parametrize("change, message", [
    ({"email": "TAKEN@example.org"}, "Email already exists"),
    ({"full_name": ""}, "Enter the full name."),
    ({"email": ""}, "Enter an email address."),
    ({"password": "short"}, "Field must be between 8 and 200 characters long."),
    ({"role": "doctor"}, "Not a valid choice."),
    ({"role": "patient"}, "Not a valid choice."),
])
def test_creating_an_account_refuses_bad_input(app, client, admin, make_user, change, message):
    make_user(email="taken@example.org")
    users_before = count(app, User)
    response = client.post("/admin/staff", data={**NEW_ACCOUNT, **change})
    assert response.status_code == 422
    assert message in text(response)
    assert count(app, User) == users_before


def test_the_service_creates_only_reception_and_admin_accounts(app, admin):
    with app.app_context():
        with pytest.raises(InvalidInput, match="reception or admin"):
            staff.create_account(actor=db.session.get(User, admin), now=clinic.now(),
                                 **{**NEW_ACCOUNT, "role": "doctor"})
    assert get_user(app, "rita@example.org") is None


def test_deactivated_account_cannot_log_in_until_reactivated(app, client, admin, make_user, other_client):
    user_id = make_user(role="reception", email="desk@example.org", full_name="Dora Desk")
    assert login(other_client, "desk@example.org").status_code == 303
    assert other_client.get("/desk/").status_code == 200

    response = client.post(f"/admin/staff/{user_id}/deactivate")
    assert response.status_code == 303
    assert "Dora Desk (desk@example.org) can no longer log in" in text(client.get("/admin/staff"))
    # The open session ends, and logging in again fails.
    assert other_client.get("/desk/").status_code == 302
    refused = login(other_client, "desk@example.org")
    assert refused.status_code == 422 and "Wrong email or password" in refused.text
    assert "Deactivated" in client.get("/admin/staff").text

    assert client.post(f"/admin/staff/{user_id}/reactivate").status_code == 303
    assert "can log in again" in text(client.get("/admin/staff"))
    fresh = app.test_client()
    assert login(fresh, "desk@example.org").status_code == 303
    assert fresh.get("/desk/").status_code == 200


def test_admin_cannot_deactivate_themselves(app, client, admin):
    response = client.post(f"/admin/staff/{admin}/deactivate")
    assert response.status_code == 403
    assert "You cannot deactivate your own account" in text(response)
    assert get_user(app, "boss@example.org")["active"]
    assert client.get("/admin/").status_code == 200


def test_patients_and_unknown_ids_are_not_staff_accounts(app, client, admin, make_user):
    patient_id = make_user(email="patient@example.com")
    for user_id in (patient_id, 999999):
        response = client.post(f"/admin/staff/{user_id}/deactivate")
        assert response.status_code == 404
        assert "Staff account not found" in response.text
    assert get_user(app, "patient@example.com")["active"]


# ---------------------------------------------------------------------------------------------
# API tokens


def shown_token(response):
    match = re.search(r'id="new-token" type="text" value="([^"]+)"', response.get_data(as_text=True))
    return match and match[1]


def test_token_is_shown_once_works_and_stops_after_revoke(app, client, admin, make_user, other_client):
    make_user(role="reception", email="desk@example.org")
    response = client.post("/admin/tokens", data={"email": "Desk@example.org", "name": "Billing export"})
    assert response.status_code == 200
    assert "Copy it now: it will not be shown again." in text(response)
    assert response.headers["Cache-Control"] == "no-store"
    token = shown_token(response)
    assert token

    api = other_client.get(API_URL, headers={"X-User-Token": token})
    assert api.status_code == 200 and api.get_json() == []

    listing = client.get("/admin/tokens")
    assert token not in listing.text and shown_token(listing) is None
    assert "Billing export" in listing.text and "desk@example.org" in listing.text and "Active" in listing.text

    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
    assert client.post(f"/admin/tokens/{token_id}/revoke").status_code == 303
    after = text(client.get("/admin/tokens"))
    assert "The token “Billing export” of desk@example.org is revoked" in after and "Revoked" in after
    assert other_client.get(API_URL, headers={"X-User-Token": token}).status_code == 401


def test_token_of_a_deactivated_account_stops_working(client, admin, make_user, other_client):
    user_id = make_user(role="reception", email="desk@example.org")
    token = shown_token(client.post("/admin/tokens", data={"email": "desk@example.org", "name": "Sync"}))
    assert other_client.get(API_URL, headers={"X-User-Token": token}).status_code == 200
    client.post(f"/admin/staff/{user_id}/deactivate")
    assert other_client.get(API_URL, headers={"X-User-Token": token}).status_code == 401


@pytest.mark.parametrize("form, message", [
    ({"email": "nobody@example.org", "name": "Sync"}, "No staff account uses this email"),
    ({"email": "patient@example.com", "name": "Sync"}, "No staff account uses this email"),
    ({"email": "gone@example.org", "name": "Sync"}, "This account is deactivated; reactivate it first"),
    ({"email": "", "name": "Sync"}, "Enter the email of a staff account."),
    ({"email": "desk@example.org", "name": ""}, "Name the token."),
    ({"email": "desk@example.org", "name": "x" * 81}, "Field cannot be longer than 80 characters."),
])
def test_creating_a_token_refuses_bad_input(app, client, admin, make_user, form, message):
    make_user(role="reception", email="desk@example.org")
    make_user(email="patient@example.com")
    gone_id = make_user(role="reception", email="gone@example.org")
    client.post(f"/admin/staff/{gone_id}/deactivate")
    response = client.post("/admin/tokens", data=form)
    assert response.status_code == 422
    assert message in text(response)
    assert shown_token(response) is None and count(app, ApiToken) == 0


def test_revoking_an_unknown_token_is_a_404(client, admin):
    response = client.post("/admin/tokens/999999/revoke")
    assert response.status_code == 404
    assert "API token not found" in response.text


# ---------------------------------------------------------------------------------------------
# Clinic closures


@pytest.fixture
def booked_monday(make_doctor, make_user, make_appointment):
    """Two doctors working on MONDAY; one booking at 10:00 with the first. Returns the doctor ids."""
    first = make_doctor(name="Dr. Laura Rossi")
    second = make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics")
    patient_id = make_user(email="ana@example.com", full_name="Ana Torres")
    make_appointment(doctor_id=first, patient_id=patient_id, day=MONDAY, hhmm="10:00")
    return first, second


def test_closure_removes_the_days_slots_and_lists_affected_bookings(app, client, admin, booked_monday):
    first, second = booked_monday
    assert slot_times(client.get(f"/doctors/{second}?date={MONDAY}"))
    response = client.post("/admin/closures", data={"start_date": MONDAY.isoformat(), "reason": "Public holiday"})
    assert response.status_code == 303
    with app.app_context():
        period = db.session.scalars(select(BlockedPeriod)).one()
        assert period.doctor_id is None
    assert response.headers["Location"] == f"/admin/closures/{period.id}"

    page = client.get(f"/admin/closures/{period.id}")
    body = text(page)
    assert "Bookings already made in that time: 1;" in body and "This booking was made" in body
    assert "Clinic closed: Public holiday" in body
    assert "Ana Torres" in body and "Dr. Laura Rossi" in body and "ana@example.com" in body
    assert f"{MONDAY:%a %d %b %Y}, 10:00" in body
    # Every doctor's day is closed to new bookings; the next day is not.
    for doctor_id in (first, second):
        assert slot_times(client.get(f"/doctors/{doctor_id}?date={MONDAY}")) == []
    assert slot_times(client.get(f"/doctors/{second}?date={TUESDAY}"))
    assert "Public holiday" in client.get("/admin/closures").text

    assert client.post(f"/admin/closures/{period.id}/remove").status_code == 303
    assert "The closure is removed" in text(client.get("/admin/closures"))
    assert count(app, BlockedPeriod) == 0
    assert "09:00" in slot_times(client.get(f"/doctors/{second}?date={MONDAY}"))


def test_closure_with_times_closes_part_of_the_day(client, admin, booked_monday):
    first, second = booked_monday
    data = {"start_date": MONDAY.isoformat(), "start_time": "09:00", "end_time": "12:00", "reason": "Staff meeting"}
    closure_page = client.post("/admin/closures", data=data, follow_redirects=True)
    assert closure_page.status_code == 200 and "Ana Torres" in closure_page.text
    times = slot_times(client.get(f"/doctors/{second}?date={MONDAY}"))
    assert "09:00" not in times and "11:30" not in times and "12:00" in times and "14:00" in times


def test_several_days_closure(client, admin, booked_monday):
    first, second = booked_monday
    response = client.post("/admin/closures", data={"start_date": MONDAY.isoformat(),
                                                    "end_date": TUESDAY.isoformat()}, follow_redirects=True)
    assert response.status_code == 200
    assert slot_times(client.get(f"/doctors/{second}?date={MONDAY}")) == []
    assert slot_times(client.get(f"/doctors/{second}?date={TUESDAY}")) == []


def test_closure_without_bookings_says_so(client, admin, make_doctor):
    make_doctor()
    page = client.post("/admin/closures", data={"start_date": TUESDAY.isoformat()}, follow_redirects=True)
    assert "No bookings fall in this closure." in page.text


@pytest.mark.parametrize("change, message", [
    ({"start_date": ""}, "Enter the first day."),
    ({"start_date": "01/02/2026"}, "Use a date as YYYY-MM-DD."),
    ({"start_date": "2026-02-30"}, "Invalid date format (YYYY-MM-DD)"),
    ({"end_date": "2026-02-30"}, "Invalid date format (YYYY-MM-DD)"),
    ({"end_date": "yesterday"}, "Use a date as YYYY-MM-DD."),
    ({"end_date": "PREVIOUS"}, "The end must be after the start"),
    ({"start_time": "12:00", "end_time": "09:00"}, "The end must be after the start"),
    ({"start_time": "25:00"}, "Use HH:MM (24-hour)"),
    ({"end_time": "9am"}, "Use a time as HH:MM (24-hour)."),
    ({"start_time": "09:10"}, "Use a quarter hour (:00, :15, :30 or :45)"),
    ({"reason": "x" * 201}, "Field cannot be longer than 200 characters."),
])
def test_closure_refuses_bad_input(app, client, admin, booked_monday, change, message):
    data = {"start_date": MONDAY.isoformat(), "reason": "Holiday", **change}
    if data.get("end_date") == "PREVIOUS":
        data["end_date"] = (MONDAY - timedelta(days=1)).isoformat()
    response = client.post("/admin/closures", data=data)
    assert response.status_code == 422
    assert message in text(response)
    assert count(app, BlockedPeriod) == 0


def test_unknown_closures_and_doctors_blocked_time_are_404(app, client, admin, make_doctor, make_block):
    doctor_id = make_doctor()
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "09:00"), end=instant(MONDAY, "10:00"))
    with app.app_context():
        doctor_block = db.session.scalars(select(BlockedPeriod.id)).one()
    for period_id in (doctor_block, 999999):
        assert client.get(f"/admin/closures/{period_id}").status_code == 404
        response = client.post(f"/admin/closures/{period_id}/remove")
        assert response.status_code == 404 and "Closure not found" in response.text
    assert count(app, BlockedPeriod) == 1
    assert "No closures planned." in client.get("/admin/closures").text  # a doctor's time off is not a closure


# ---------------------------------------------------------------------------------------------
# Audit trail


@pytest.fixture
def audit_events(app, make_user, make_doctor, make_appointment):
    """Two staff members who opened two patients' data. Returns the ids."""
    doctor_id = make_doctor()
    desk_id = make_user(role="reception", email="desk@example.org", full_name="Dora Desk")
    nurse_id = make_user(role="reception", email="nurse@example.org", full_name="Nina Nurse")
    ana_id = make_user(email="ana@example.com", full_name="Ana Torres")
    ben_id = make_user(email="ben@example.com", full_name="Ben Ortiz")
    appointment_id = make_appointment(doctor_id=doctor_id, patient_id=ana_id, day=MONDAY, hhmm="10:00")
    with app.app_context():
        desk, nurse = db.session.get(User, desk_id), db.session.get(User, nurse_id)
        audit.record(actor=desk, action="viewed appointment", patient_id=ana_id, appointment_id=appointment_id,
                     now=clinic.now())
        audit.record(actor=nurse, action="searched patients", patient_id=ben_id, now=clinic.now())
        audit.record(actor=nurse, action="viewed day list", detail=MONDAY.isoformat(), now=clinic.now())
    return dict(desk=desk_id, nurse=nurse_id, ana=ana_id, ben=ben_id, appointment=appointment_id)


def rows(response):
    return re.findall(r"<tr>(.*?)</tr>", response.get_data(as_text=True), re.S)[1:]


def test_audit_trail_shows_who_opened_what(client, admin, audit_events):
    page = client.get("/admin/audit")
    assert page.status_code == 200
    body = text(page)
    assert len(rows(page)) == 3
    assert "Dora Desk" in body and "viewed appointment" in body and "Ana Torres" in body
    assert f'href="/desk/appointments/{audit_events["appointment"]}"' in page.text
    assert "Nina Nurse" in body and "searched patients" in body and "Ben Ortiz" in body


def test_audit_trail_filters_by_patient_and_staff_name_or_email(client, admin, audit_events):
    by_patient = client.get("/admin/audit?patient=ana torres")
    assert len(rows(by_patient)) == 1 and "viewed appointment" in by_patient.text
    by_staff = client.get("/admin/audit?staff=NURSE@example")
    assert len(rows(by_staff)) == 2 and "Dora Desk" not in by_staff.text
    both = client.get("/admin/audit?staff=nina&patient=ana@")
    assert rows(both) == [] and "Nothing recorded for this filter." in both.text
    assert "Show everything" in both.text
    assert rows(client.get("/admin/audit?staff=%25")) == []  # % is a character, not a wildcard
    assert "Staff member (name or email)" in text(client.get("/admin/audit"))


def test_audit_trail_refuses_a_filter_too_long(client, admin, audit_events):
    response = client.get(f"/admin/audit?patient={'a' * 101}")
    assert response.status_code == 400
    assert "Field cannot be longer than 100 characters." in text(response) and rows(response) == []


# ---------------------------------------------------------------------------------------------
# CSRF: every admin form and button carries the token, and a POST without it changes nothing


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    @pytest.fixture
    def admin(self, app, client, make_user):
        user_id = make_user(role="admin", email="boss@example.org")
        with app.app_context():
            user = db.session.get(User, user_id)
            login = sessions.start(user, checked_version=user.session_version, now=clinic.now())
        with client.session_transaction() as session:  # logging in would need a token too
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
            session["login"] = login
        return user_id

    def test_buttons_and_forms_need_the_token(self, app, client, admin, make_doctor, make_user):
        doctor_id = make_doctor()
        desk_id = make_user(role="reception", email="desk@example.org")
        page = client.get("/admin/doctors").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
        # The page's form has its token; a destructive action's confirmation page has its own.
        assert page.count('name="csrf_token"') >= 1
        assert 'name="csrf_token"' in client.get(f"/admin/doctors/{doctor_id}/deactivate").text

        refused = client.post(f"/admin/doctors/{doctor_id}/deactivate")
        assert refused.status_code == 400 and "This form has expired" in refused.text
        assert client.post("/admin/staff", data=NEW_ACCOUNT).status_code == 400
        assert client.post(f"/admin/staff/{desk_id}/deactivate").status_code == 400
        assert "Dr. Laura Rossi" in client.get("/doctors").text
        assert get_user(app, "rita@example.org") is None and get_user(app, "desk@example.org")["active"]

        hidden = client.post(f"/admin/doctors/{doctor_id}/deactivate", data={"csrf_token": token},
                             follow_redirects=True)
        assert "Dr. Laura Rossi is hidden from patients" in hidden.text
        assert "Dr. Laura Rossi" not in client.get("/doctors").text
        assert client.post("/admin/staff", data={**NEW_ACCOUNT, "csrf_token": token}).status_code == 303
        assert get_user(app, "rita@example.org")["role"] == "reception"


def test_a_token_for_the_demo_desk_on_the_test_domain(app, client, admin, make_user):
    """The admin tokens page and the create-api-token command take desk@clinica.test."""
    make_user(role="reception", email="desk@clinica.test")
    response = client.post("/admin/tokens", data={"email": "desk@clinica.test", "name": "Demo"})
    assert response.status_code == 200 and shown_token(response)
    result = app.test_cli_runner().invoke(args=["create-api-token", "--email", "desk@clinica.test", "--name", "CLI"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 2


def test_destructive_actions_ask_first_on_a_page_of_their_own(app, client, admin, make_doctor, make_user):
    """Hide a doctor, deactivate an account, revoke a token, remove a closure: the button leads to
    a question (a GET that changes nothing, no JavaScript needed); its POST does it."""
    doctor_id = make_doctor()
    desk_id = make_user(role="reception", email="desk@example.org", full_name="Dora Desk")
    client.post("/admin/tokens", data={"email": "desk@example.org", "name": "Export"})
    client.post("/admin/closures", data={"start_date": "2026-12-24", "reason": "Christmas Eve"})
    with app.app_context():
        token_id = db.session.scalars(select(ApiToken.id)).one()
        closure_id = db.session.scalars(select(BlockedPeriod.id)).one()
    questions = {
        f"/admin/doctors/{doctor_id}/deactivate": ("/admin/doctors", "Hide Dr. Laura Rossi from patients?"),
        f"/admin/staff/{desk_id}/deactivate": ("/admin/staff", "Deactivate Dora Desk (desk@example.org)?"),
        f"/admin/tokens/{token_id}/revoke": ("/admin/tokens", "Revoke the token “Export” of desk@example.org?"),
        f"/admin/closures/{closure_id}/remove": ("/admin/closures", "Reopen the clinic: Thu 24 Dec 2026?"),
    }
    for url, (listing, question) in questions.items():
        assert f'href="{url}"' in client.get(listing).text, url
        page = client.get(url)
        assert page.status_code == 200 and question in text(page), url
        assert f'action="{url}"' in page.text and 'name="csrf_token"' in page.text
    assert get_user(app, "desk@example.org")["active"] and "Dr. Laura Rossi" in client.get("/doctors").text
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
        assert db.session.get(BlockedPeriod, closure_id) is not None
    assert client.get("/admin/doctors/999999/deactivate").status_code == 404


def test_removing_weekly_hours_says_how_many_upcoming_bookings_are_in_them(
        app, client, admin, make_doctor, make_user, make_appointment):
    doctor_id = make_doctor()
    patient = make_user()
    for day, hhmm in ((MONDAY, "09:00"), (MONDAY, "12:30"), (MONDAY + timedelta(weeks=1), "10:00"),
                      (MONDAY, "14:00"), (MONDAY + timedelta(days=1), "09:00")):  # the last two: other hours
        make_appointment(doctor_id=doctor_id, patient_id=patient, day=day, hhmm=hhmm)
    make_appointment(doctor_id=doctor_id, patient_id=patient, day=MONDAY, hhmm="11:00", status="cancelled")
    with app.app_context():
        window_id = db.session.scalars(select(WeeklyHours.id).where(
            WeeklyHours.doctor_id == doctor_id, WeeklyHours.weekday == 0, WeeklyHours.start_minute == 540)).one()
    question = text(client.get(f"/desk/hours/windows/{window_id}/delete"))
    assert "3 upcoming bookings are in these hours: move them if the doctor will not be there." in question


def test_removing_weekly_hours_asks_first_on_a_page_of_its_own(app, client, admin, make_doctor, other_client):
    """The hours page's Remove is a link to a question (a GET that changes nothing, a plain form:
    no JavaScript needed); only the question's POST removes the hours, and patients see it at once."""
    doctor_id = make_doctor()
    with app.app_context():
        window_id = db.session.scalars(select(WeeklyHours.id).where(
            WeeklyHours.doctor_id == doctor_id, WeeklyHours.weekday == 0, WeeklyHours.start_minute == 540)).one()
    hours_url, url = f"/desk/doctors/{doctor_id}/hours", f"/desk/hours/windows/{window_id}/delete"
    hours_page = client.get(hours_url).text
    assert f'href="{url}?back={hours_url}"' in hours_page and f'action="{url}"' not in hours_page
    before = table_snapshot(app)
    question = client.get(f"{url}?back={hours_url}")
    assert question.status_code == 200
    assert "Remove Monday 09:00–13:00 from Dr. Laura Rossi's hours?" in text(question)
    form = re.search(rf'<form method="post" action="{url}"[^>]*>(.*?)</form>', question.text, re.S)[1]
    assert f'name="back" value="{hours_url}"' in form  # (CSRF is switched off in these tests)
    assert "Remove these hours" in form and f'href="{hours_url}"' in form  # or go back
    assert client.get(url).status_code == 200  # asked again, without `back`: still a question
    assert "upcoming booking" not in text(question)  # none in those hours yet
    assert table_snapshot(app) == before
    assert slot_times(other_client.get(f"/doctors/{doctor_id}?date={MONDAY}"))[0] == "09:00"
    done = client.post(url, data={"back": hours_url})
    assert done.status_code == 303 and done.headers["Location"] == hours_url
    with app.app_context():
        assert db.session.get(WeeklyHours, window_id) is None
    assert slot_times(other_client.get(f"/doctors/{doctor_id}?date={MONDAY}"))[0] == "14:00"
