"""Every page of the URL map, read in Spanish, has none of the catalogue's English sentences left
(DESIGN.md section 19). A page added later without its translation fails here; a page added
without an entry below fails `test_every_page_is_read`."""
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import ApiToken, BlockedPeriod, User, WeeklyHours
from clinica_web.services import clinic, tokens
from tests.conftest import PASSWORD, instant, next_weekday

CATALOGUE = Path(__file__).resolve().parents[2] / "clinica_web" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
MONDAY = next_weekday(0, weeks=1)
LAST_MONDAY = MONDAY - timedelta(weeks=3)

# endpoint -> (who reads it, the URL). Who: None (a visitor), "patient", "reception", "doctor", "admin".
PAGES = {
    "pages.home": (None, "/"),
    "pages.doctors": (None, "/doctors"),
    "pages.doctor": ("patient", "/doctors/{doctor}?date=" + MONDAY.isoformat()),
    "pages.calendar": ("patient", "/doctors/{doctor}/calendar"),
    "pages.slots": ("patient", "/doctors/{doctor}/slots?date=" + MONDAY.isoformat()),
    "pages.book": ("patient", "/doctors/{doctor}/book?date=" + MONDAY.isoformat() + "&time=11:00"),
    "pages.find": (None, "/find?specialty=General+Practice"),
    "pages.account": ("patient", "/account"),
    "pages.bookings": ("patient", "/bookings"),
    "pages.booking_detail": ("patient", "/bookings/{future}"),
    "pages.cancel_booking": ("patient", "/bookings/{future}/cancel"),
    "pages.reschedule_booking": ("patient", "/bookings/{future}/reschedule?date=" + MONDAY.isoformat()),
    "pages.confirm_reschedule": ("patient", "/bookings/{future}/reschedule/confirm?doctor_id={doctor}&date="
                                 + MONDAY.isoformat() + "&time=11:30"),
    "pages.waitlist": ("patient", "/waitlist"),
    "pages.waitlist_offer": (None, "/waitlist/offers/not-a-link"),
    "pages.waitlist_decline": (None, "/waitlist/offers/not-a-link/decline"),
    "pages.reminder_confirm": (None, "/reminders/not-a-link/confirm"),
    "pages.reminder_cancel": (None, "/reminders/not-a-link/cancel"),
    "pages.reminder_reschedule": (None, "/reminders/not-a-link/reschedule"),
    "auth.login": (None, "/login"),
    "auth.register": (None, "/register"),
    "auth.registered": (None, "/register/sent"),
    "auth.welcome": (None, "/register/welcome/not-a-link"),
    "auth.password_reset_request": (None, "/password-reset"),
    "auth.password_reset": (None, "/password-reset/not-a-link"),
    "desk.day": ("reception", "/desk/?date=" + MONDAY.isoformat()),
    "desk.appointment": ("reception", "/desk/appointments/{future}"),
    "desk.cancel": ("reception", "/desk/appointments/{future}/cancel"),
    "desk.reschedule": ("reception", "/desk/appointments/{future}/reschedule"),
    "desk.document": ("doctor", "/desk/appointments/{past}/documentation"),
    "desk.book": ("reception", "/desk/book?patient_id={patient}&doctor_id={doctor}&date=" + MONDAY.isoformat()),
    "desk.explain": ("reception", "/desk/explain?doctor_id={doctor}&date=" + MONDAY.isoformat() + "&time=14:15"),
    "desk.my_hours": ("doctor", "/desk/hours"),
    "desk.hours": ("admin", "/desk/doctors/{doctor}/hours"),
    "desk.remove_window": ("admin", "/desk/hours/windows/{window}/delete"),
    "desk.remove_block": ("admin", "/desk/blocks/{block}/delete"),
    "desk.pending_documentation": ("doctor", "/desk/pending-documentation"),
    "desk.waitlist": ("reception", "/desk/waitlist"),
    "desk.timeline": ("reception", "/desk/timeline?date=" + MONDAY.isoformat()),
    "desk.patients": ("reception", "/desk/patients?q=Ana"),
    "desk.patient": ("reception", "/desk/patients/{patient}"),
    "desk.edit_patient": ("reception", "/desk/patients/{patient}/edit"),
    "admin.index": ("admin", "/admin/"),
    "admin.audit_trail": ("admin", "/admin/audit"),
    "admin.closures": ("admin", "/admin/closures"),
    "admin.closure": ("admin", "/admin/closures/{closure}"),
    "admin.remove_closure": ("admin", "/admin/closures/{closure}/remove"),
    "admin.doctors": ("admin", "/admin/doctors"),
    "admin.doctor_active": ("admin", "/admin/doctors/{doctor}/deactivate"),
    "admin.staff_accounts": ("admin", "/admin/staff"),
    "admin.account_active": ("admin", "/admin/staff/{reception}/deactivate"),
    "admin.api_tokens": ("admin", "/admin/tokens"),
    "admin.revoke_token": ("admin", "/admin/tokens/{token}/revoke"),
    "admin.report": ("admin", "/admin/reports?from=" + LAST_MONDAY.isoformat() + "&to="
                     + (MONDAY + timedelta(days=6)).isoformat()),
}
# Not pages: files, and the one page whose words are the patient's (the CSV's header is checked
# in its own test).
NOT_PAGES = {"favicon", "static", "pages.booking_calendar", "desk.day_csv", "admin.report_csv"}


@pytest.fixture
def clinic_in_spanish(app, make_doctor, make_user, make_appointment):
    doctor = make_doctor(with_user=True)
    patient = make_user(email="ana@example.com", full_name="Ana Torres")
    people = {role: make_user(role=role, email=f"{role}@example.com", full_name=f"{role.title()} Person")
              for role in ("reception", "admin")}
    future = make_appointment(doctor_id=doctor, patient_id=patient, day=MONDAY, hhmm="09:00")
    past = make_appointment(doctor_id=doctor, patient_id=patient, day=LAST_MONDAY, hhmm="10:00")
    with app.app_context():
        db.session.add(BlockedPeriod(doctor_id=doctor, starts_at=instant(MONDAY, "14:00"),
                                     ends_at=instant(MONDAY, "15:00"), reason="Away"))
        db.session.add(BlockedPeriod(doctor_id=None, starts_at=instant(MONDAY + timedelta(days=1), "00:00"),
                                     ends_at=instant(MONDAY + timedelta(days=2), "00:00"), reason="Holiday"))
        for user in db.session.scalars(select(User)):
            user.language = "es"
        db.session.commit()
        tokens.create_api_token(db.session.get(User, people["reception"]), now=clinic.now())
        ids = dict(
            window=db.session.scalar(select(func.min(WeeklyHours.id))),
            block=db.session.scalar(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id == doctor)),
            closure=db.session.scalar(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id.is_(None))),
            token=db.session.scalar(select(func.min(ApiToken.id))),
            doctor_user=db.session.scalar(select(User.email).where(User.role == "doctor")),
        )
    return SimpleNamespace(doctor=doctor, patient=patient, future=future, past=past, **people, **ids)


class VisibleText(HTMLParser):
    """The words a reader meets: text outside scripts and styles, and the attributes read aloud."""

    READ_ALOUD = ("aria-label", "title", "placeholder", "alt", "aria-description")

    def __init__(self):
        super().__init__()
        self.parts, self._skipping = [], 0

    def handle_starttag(self, tag, attrs):
        self._skipping += tag in ("script", "style")
        self.parts.extend(value for name, value in attrs if name in self.READ_ALOUD and value)

    def handle_endtag(self, tag):
        self._skipping -= tag in ("script", "style") and self._skipping > 0

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def visible_text(html):
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_sentences():
    """The catalogue's English phrases that Spanish readers must not meet: each message's words
    between placeholders and markup, of at least two words (single words like "Email" are shared)."""
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    phrases = set()
    for message in catalogue:
        if not message.id or not message.string:
            continue
        english = message.id if isinstance(message.id, str) else message.id[0]
        spanish = message.string if isinstance(message.string, str) else message.string[0]
        if english == spanish:
            continue
        for chunk in re.split(r"%\(\w+\)[sd]|%[sd]|<[^>]*>|\{\{[^}]*\}\}", english):
            chunk = " ".join(chunk.split()).strip(" .,:;·()")
            if len(chunk.split()) >= 2 and len(chunk) >= 10:
                phrases.add(chunk)
    return phrases


def test_every_page_is_read(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if "GET" in rule.methods and not rule.endpoint.startswith(("api.", "clinic_api."))}
    assert endpoints - set(PAGES) - NOT_PAGES == set(), "add the new page to PAGES"


def test_every_page_reads_in_spanish(app, clinic_in_spanish):
    world = vars(clinic_in_spanish)
    emails = {None: None, "patient": "ana@example.com", "reception": "reception@example.com",
              "admin": "admin@example.com", "doctor": world["doctor_user"]}
    clients = {}
    for who, email in emails.items():
        clients[who] = app.test_client()
        clients[who].set_cookie("language", "es", domain=app.config["SERVER_NAME"])
        if email:
            assert clients[who].post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    phrases = english_sentences()
    assert len(phrases) > 100  # the check means something
    problems = {}
    for endpoint, (who, url) in PAGES.items():
        response = clients[who].get(url.format(**world), follow_redirects=True)
        html = response.get_data(as_text=True)
        if response.status_code >= 500 or '<html lang="es">' not in html:
            problems[endpoint] = f"{response.status_code}, not a Spanish page"
            continue
        text = visible_text(html)
        left = sorted(phrase for phrase in phrases if phrase in text)
        if left:
            problems[endpoint] = left[:5]
    assert problems == {}, "\n".join(f"{endpoint}: {left}" for endpoint, left in problems.items())
