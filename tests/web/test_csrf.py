"""CSRF protection with the token check switched on, as in production.

Every state-changing route of the website (found in the URL map, so a route added later is
covered the day it is added) refuses a request without a valid token: 400, the "This form has
expired" page, and nothing changes. The JSON API (/v1/) is exempt: it authenticates by header,
never by cookie. An htmx request carries the token only in the X-CSRFToken header (base.html's
hx-headers) and is accepted.
"""
import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import (
    ARRIVED,
    ApiToken,
    Appointment,
    BlockedPeriod,
    User,
    WaitlistEntry,
    WaitlistOffer,
    WeeklyHours,
)
from clinica_web.services import accounts, clinic, links, tokens, waitlist
from tests.conftest import PASSWORD, instant, next_weekday, table_snapshot

MONDAY = next_weekday(0, weeks=1)
LAST_MONDAY = MONDAY - timedelta(weeks=3)
EXPIRED = "This form has expired"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


# ---------------------------------------------------------------------------------------------
# Tokens as the pages carry them


def form_tokens(html):
    """The csrf_token value of every hidden token input on a page."""
    return [re.search(r'value="([^"]*)"', tag)[1] for tag in re.findall(r'<input[^>]*name="csrf_token"[^>]*>', html)]


def header_token(html):
    """The token in the body's hx-headers attribute (JSON), which htmx sends with every request."""
    attribute = re.search(r"<body[^>]*\shx-headers='([^']*)'", html)
    assert attribute, "no hx-headers on <body>"
    return json.loads(attribute[1])["X-CSRFToken"]


def login(app, email):
    """A client logged in through the login form, token and all."""
    client = app.test_client()
    token = form_tokens(client.get("/login").text)[0]
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text[:300]
    return client


def token_of(client, url="/doctors"):  # a page every user may open
    return header_token(client.get(url).text)


# ---------------------------------------------------------------------------------------------
# The clinic


@pytest.fixture
def clinic_data(app, make_doctor, make_user, make_appointment):
    doctor = make_doctor(with_user=True)
    ana = make_user(email="ana@example.com", full_name="Ana Torres")
    reception = make_user(role="reception", email="desk@example.com", full_name="Rita Desk")
    make_user(role="admin", email="admin@example.com", full_name="Ada Admin")
    future = make_appointment(doctor_id=doctor, patient_id=ana, day=MONDAY, hhmm="09:00")
    movable = make_appointment(doctor_id=doctor, patient_id=ana, day=MONDAY, hhmm="13:00")
    own = make_appointment(doctor_id=doctor, patient_id=ana, day=MONDAY, hhmm="16:00")
    past = make_appointment(doctor_id=doctor, patient_id=ana, day=LAST_MONDAY, hhmm="09:00")
    reset_links = []
    with app.app_context():
        doctor_email = db.session.scalars(select(User.email).where(User.role == "doctor")).one()
        db.session.add(BlockedPeriod(doctor_id=doctor, starts_at=instant(MONDAY, "14:00"),
                                     ends_at=instant(MONDAY, "15:00"), reason="Away"))
        db.session.add(BlockedPeriod(doctor_id=None, starts_at=instant(MONDAY + timedelta(days=1), "00:00"),
                                     ends_at=instant(MONDAY + timedelta(days=2), "00:00"), reason="Holiday"))
        entry = WaitlistEntry(patient_id=ana, specialty="General Practice", appointment_type="consultation",
                              from_date=MONDAY, to_date=MONDAY, part_of_day="any", status="active",
                              created_at=clinic.now())
        db.session.add(entry)
        offer_tokens = {}
        for hhmm, action in (("17:00", waitlist.ACCEPT), ("17:30", waitlist.DECLINE)):  # two slots held for Ana
            start, end = instant(MONDAY, hhmm), instant(MONDAY, hhmm) + timedelta(minutes=30)
            held = Appointment(patient_id=ana, doctor_id=doctor, starts_at=start, ends_at=end, duration_minutes=30,
                               appointment_type="consultation", status="held", notes="")
            offer = WaitlistOffer(entry=entry, doctor_id=doctor, starts_at=start, ends_at=end, appointment=held,
                                  status="open", expires_at=clinic.now() + timedelta(minutes=15),
                                  created_at=clinic.now())
            db.session.add_all([held, offer])
            db.session.flush()
            offer_tokens[action] = waitlist.answer_tokens(offer)["accept" if action == waitlist.ACCEPT else "decline"]
        db.session.commit()
        tokens.create_api_token(db.session.get(User, reception), now=clinic.now())
        accounts.request_password_reset(email="ana@example.com", now=clinic.now())
        accounts.send_reset_links(make_link=reset_links.append, now=clinic.now())
        ids = SimpleNamespace(
            doctor=doctor, ana=ana, reception=reception, future=future, movable=movable, own=own, past=past,
            window=db.session.scalars(select(WeeklyHours.id).order_by(WeeklyHours.id)).first(),
            block=db.session.scalars(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id == doctor)).one(),
            closure=db.session.scalars(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id.is_(None))).one(),
            api_token=db.session.scalars(select(ApiToken.id)).one(),
            reset=reset_links[0],  # the token itself
            entry=db.session.scalars(select(WaitlistEntry.id)).one(),
            accept_offer=offer_tokens[waitlist.ACCEPT], decline_offer=offer_tokens[waitlist.DECLINE],
            confirm_link=links.make("confirm", target_id=future, sequence=0, expires_at=instant(MONDAY, "09:00"),
                                    recipient="ana@example.com"),
        )
    return SimpleNamespace(
        ids=ids,
        clients={"patient": login(app, "ana@example.com"), "doctor": login(app, doctor_email),
                 "reception": login(app, "desk@example.com"), "admin": login(app, "admin@example.com")},
    )


# Who sends each form, and a form that would succeed with its token (so the refusals below are the
# token's doing). Routes not listed here are still checked: as an admin, with an empty form.
SENDERS = {
    "auth.login": ("anonymous", {"email": "ana@example.com", "password": PASSWORD}),
    "auth.register": ("anonymous", {"full_name": "New Patient", "email": "new@example.com", "password": PASSWORD,
                                    "confirm": PASSWORD}),
    "auth.password_reset_request": ("anonymous", {"email": "ana@example.com"}),
    "auth.password_reset": ("anonymous", {"password": "a-new-password-1", "confirm": "a-new-password-1"}),
    "auth.logout": ("patient", {}),
    "pages.book": ("patient", {"date": MONDAY.isoformat(), "time": "10:00", "type": "consultation",
                               "booking_key": "k" * 32}),
    "pages.cancel_booking": ("patient", {}),
    "pages.reminder_confirm": ("anonymous", {}),
    "pages.waitlist": ("patient", {"target": "specialty:General Practice", "type": "follow_up", "part_of_day": "any",
                                   "from_date": MONDAY.isoformat(), "to_date": MONDAY.isoformat()}),
    "pages.leave_waitlist": ("patient", {}),
    "pages.waitlist_offer": ("anonymous", {}),
    "pages.waitlist_decline": ("anonymous", {}),
    "pages.choose_language": ("anonymous", {"language": "es"}),
    "pages.account": ("patient", {"language": "es"}),
    "pages.account_details": ("patient", {"full_name": "Ana Torres-Vidal", "phone": ""}),
    "pages.confirm_reschedule": ("patient", {"doctor_id": "{doctor}", "date": MONDAY.isoformat(), "time": "11:30"}),
    "desk.set_status": ("reception", {"to": ARRIVED}),
    "desk.undo": ("reception", {}),
    "desk.set_reminders": ("reception", {"reminders": "off"}),
    "desk.cancel": ("reception", {"reason": "patient_called", "note": "Asked by phone"}),
    "desk.reschedule": ("reception", {"doctor_id": "{doctor}", "date": MONDAY.isoformat(), "time": "11:00",
                                      "reason": "Asked by phone"}),
    "desk.document": ("doctor", {"text": "Seen and treated."}),
    "desk.book_submit": ("reception", {"patient_id": "{ana}", "doctor_id": "{doctor}", "date": MONDAY.isoformat(),
                                       "time": "12:00", "type": "consultation", "booking_key": "d" * 32}),
    "desk.create_patient": ("reception", {"full_name": "Walk In", "email": "walk-in@example.com"}),
    "desk.edit_patient": ("reception", {"full_name": "Ana Torres", "email": "ana@example.com", "phone": "555 1234"}),
    "desk.add_window": ("doctor", {"weekday": "5", "start": "09:00", "end": "10:00"}),
    "desk.remove_window": ("doctor", {"back": "/desk/"}),
    "desk.add_block": ("doctor", {"start_date": MONDAY.isoformat(), "reason": "Away"}),
    "desk.remove_block": ("doctor", {"back": "/desk/"}),
    "desk.offer_by_hand": ("reception", {"entry_id": "{entry}", "doctor_id": "{doctor}", "date": MONDAY.isoformat(),
                                         "time": "11:30"}),
    "admin.doctors": ("admin", {"display_name": "Dr. New", "specialty": "Dermatology", "email": "doc@example.com",
                                "password": PASSWORD}),
    "admin.staff_accounts": ("admin", {"full_name": "New Desk", "email": "new-desk@example.com", "role": "admin",
                                       "password": PASSWORD}),
    "admin.api_tokens": ("admin", {"email": "desk@example.com", "name": "Billing"}),
    "admin.closures": ("admin", {"start_date": MONDAY.isoformat(), "reason": "Closed"}),
}
URL_VALUES = {  # (endpoint or "*", argument) -> the id in the clinic (as a format string)
    ("pages.cancel_booking", "appointment_id"): "{own}",
    ("pages.confirm_reschedule", "appointment_id"): "{own}",
    ("desk.cancel", "appointment_id"): "{future}",
    ("desk.reschedule", "appointment_id"): "{movable}",
    ("desk.set_reminders", "appointment_id"): "{future}",
    ("*", "appointment_id"): "{past}",
    ("*", "doctor_id"): "{doctor}",
    ("*", "window_id"): "{window}",
    ("admin.remove_closure", "period_id"): "{closure}",
    ("*", "period_id"): "{block}",
    ("*", "user_id"): "{reception}",
    ("*", "token_id"): "{api_token}",
    ("pages.reminder_confirm", "token"): "{confirm_link}",
    ("pages.waitlist_offer", "token"): "{accept_offer}",
    ("pages.waitlist_decline", "token"): "{decline_offer}",
    ("*", "token"): "{reset}",
    ("*", "entry_id"): "{entry}",
    ("*", "patient_id"): "{ana}",
}


def state_changing_requests(app, ids):
    """(endpoint, method, url, sender, form) for every POST/PUT/PATCH/DELETE outside the API."""
    found = []
    for rule in app.url_map.iter_rules():
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if not methods or rule.rule.startswith("/v1/"):
            continue
        sender, form = SENDERS.get(rule.endpoint, ("admin", {}))
        actions = re.search(r"<any\(([^)]*)\):action>", rule.rule)
        for action in [a.strip() for a in actions[1].split(",")] if actions else [None]:
            url = rule.rule
            for name in rule.arguments:
                if name == "action":
                    value = action
                else:
                    template = URL_VALUES.get((rule.endpoint, name)) or URL_VALUES[("*", name)]
                    value = template.format(**vars(ids))
                url = re.sub(rf"<[^>]*:{name}>|<{name}>", str(value), url)
            for method in sorted(methods):
                found.append((rule.endpoint, method, url, sender,
                              {key: str(value).format(**vars(ids)) for key, value in form.items()}))
    return found


# ---------------------------------------------------------------------------------------------
# Refused without a valid token


@pytest.mark.parametrize("token", ["missing", "garbage", "another session's", "for the header only, wrong"])
def test_every_state_changing_route_refuses_a_request_without_a_valid_token(app, clinic_data, sent_mail, token):
    requests = state_changing_requests(app, clinic_data.ids)
    assert len(requests) >= 26  # every route with a POST: a new one is picked up here
    another = token_of(app.test_client(), "/login")  # valid, but for another session
    stranger = app.test_client()  # logs in, registers, resets a password
    mail_before = len(sent_mail())  # the worker sends what was queued before: no change of ours
    before = table_snapshot(app)
    for endpoint, method, url, sender, form in requests:
        client = clinic_data.clients.get(sender) or stranger
        data, headers = dict(form), {}
        if token == "garbage":
            data["csrf_token"] = "not-a-token"
        elif token == "another session's":
            data["csrf_token"] = another
        elif token == "for the header only, wrong":
            headers = {**HTMX, "X-CSRFToken": another}
        response = client.open(url, method=method, data=data, headers=headers)
        assert response.status_code == 400, (endpoint, url, response.status_code)
        assert f"<h1>{EXPIRED}</h1>" in response.text, endpoint
        assert "Nothing was changed" in response.text
    assert table_snapshot(app) == before
    assert len(sent_mail()) == mail_before
    # Still logged in (log out refused), and the refused login logged nobody in.
    assert clinic_data.clients["patient"].get("/bookings").status_code == 200
    assert stranger.get("/bookings").status_code == 302


def test_the_same_requests_with_their_token_get_through(app, clinic_data):
    """The control for the test above: the 400s come from the token, not from the forms."""
    tokens_of = {sender: token_of(client) for sender, client in clinic_data.clients.items()}
    for endpoint, method, url, sender, form in state_changing_requests(app, clinic_data.ids):
        if endpoint == "auth.logout":
            continue  # would end the patient's session for the requests after it
        if sender == "anonymous":
            client = app.test_client()
            token = token_of(client, "/login")
        else:
            client, token = clinic_data.clients[sender], tokens_of[sender]
        response = client.open(url, method=method, data={**form, "csrf_token": token})
        # The entry was left above: the offer by hand answers with the rules' refusal (422), and
        # the held times' links say the offers are gone (410), as leaving let them go.
        expected = {"desk.offer_by_hand": (200, 303, 422), "pages.waitlist_offer": (200, 303, 410),
                    "pages.waitlist_decline": (200, 303, 410)}.get(endpoint, (200, 303))
        assert response.status_code in expected, (endpoint, url, response.status_code, response.text[:400])
        assert EXPIRED not in response.text, endpoint


def test_the_json_api_needs_no_csrf_token(client, clinic_data):
    response = client.post("/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 200 and response.get_json()["token"]


# ---------------------------------------------------------------------------------------------
# htmx: the token in the X-CSRFToken header only


def test_an_htmx_status_change_with_the_header_token_is_accepted(app, clinic_data, clock):
    clock.set(instant(LAST_MONDAY, "09:00"))  # the visit's day: the list offers its status steps
    desk = clinic_data.clients["reception"]
    page = desk.get(f"/desk/?date={LAST_MONDAY}").text
    assert f'formaction="appointments/{clinic_data.ids.past}/status"' in page  # the button htmx posts (from /desk/)
    response = desk.post(f"/desk/appointments/{clinic_data.ids.past}/status", data={"to": ARRIVED},
                         headers={**HTMX, "X-CSRFToken": header_token(page)})
    assert response.status_code == 200
    assert 'id="flash"' in response.text and "status-arrived" in response.text  # the refreshed list partial
    with app.app_context():
        assert db.session.get(Appointment, clinic_data.ids.past).status == ARRIVED


def test_an_htmx_request_with_a_wrong_header_token_changes_nothing(app, clinic_data):
    desk = clinic_data.clients["reception"]
    for headers in [HTMX, {**HTMX, "X-CSRFToken": "not-a-token"},
                    {**HTMX, "X-CSRFToken": token_of(app.test_client(), "/login")}]:
        response = desk.post(f"/desk/appointments/{clinic_data.ids.past}/status", data={"to": ARRIVED},
                             headers=headers)
        assert response.status_code == 400 and EXPIRED in response.text
    with app.app_context():
        assert db.session.get(Appointment, clinic_data.ids.past).status == "scheduled"


# ---------------------------------------------------------------------------------------------
# The pages carry the token: in every POST form, and in <body hx-headers>


def test_pages_carry_the_token_in_every_form_and_in_hx_headers(app, clinic_data):
    ids = clinic_data.ids
    pages = {
        "anonymous": ["/login", "/register", "/password-reset", f"/password-reset/{ids.reset}", "/doctors"],
        "patient": ["/", f"/doctors/{ids.doctor}/book?date={MONDAY}&time=10:00&type=consultation",
                    f"/bookings/{ids.future}/cancel", "/bookings"],
        "reception": [f"/desk/?date={LAST_MONDAY}", f"/desk/appointments/{ids.past}",
                      f"/desk/appointments/{ids.future}/cancel", f"/desk/appointments/{ids.future}/reschedule",
                      "/desk/book", f"/desk/book?patient_id={ids.ana}&doctor_id={ids.doctor}&date={MONDAY}",
                      "/desk/waitlist"],
        "doctor": [f"/desk/appointments/{ids.past}/documentation", f"/desk/doctors/{ids.doctor}/hours"],
        "admin": ["/admin/doctors", "/admin/staff", "/admin/tokens", "/admin/closures",
                  f"/admin/closures/{ids.closure}"],
    }
    forms_seen = 0
    for sender, urls in pages.items():
        client = clinic_data.clients.get(sender) or app.test_client()
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            html = response.text
            token = header_token(html)
            assert token, url
            post_forms = re.findall(r'<form[^>]*method="post"[^>]*>.*?</form>', html, re.S | re.I)
            for form in post_forms:
                assert form_tokens(form) == [token], (url, form[:200])
            forms_seen += len(post_forms)
    assert forms_seen >= 30
