"""Which language a page is in (DESIGN.md section 19): the user's saved choice, else the footer
switcher's cookie, else Accept-Language, else DEFAULT_LOCALE; the API stays English."""
import re

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import RECEPTION, AccessEvent, OutboxEmail, User
from tests.conftest import next_weekday

SPANISH = {"Accept-Language": "es-CL,es;q=0.9,en;q=0.5"}


def page_language(response):
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))[1]


def test_a_visitor_reads_the_language_their_browser_asks_for(client):
    assert page_language(client.get("/", headers=SPANISH)) == "es"
    assert "Idioma" in client.get("/", headers=SPANISH).get_data(as_text=True)
    assert page_language(client.get("/", headers={"Accept-Language": "fr, de;q=0.8"})) == "en"
    assert page_language(client.get("/")) == "en"


@pytest.mark.parametrize("app_config", [{"DEFAULT_LOCALE": "es"}])
def test_without_a_language_the_browser_asks_for_the_clinic_default_is_used(client):
    assert page_language(client.get("/", headers={"Accept-Language": "fr"})) == "es"


def test_the_footer_switcher_works_without_javascript_and_wins_over_the_browser(client):
    response = client.post("/language", data={"language": "es", "next": "/doctors?x=1"})
    assert response.status_code == 303 and response.headers["Location"] == "/doctors?x=1"
    assert "language=es" in response.headers["Set-Cookie"]
    assert page_language(client.get("/", headers={"Accept-Language": "en"})) == "es"
    client.post("/language", data={"language": "en", "next": "/"})
    assert page_language(client.get("/", headers=SPANISH)) == "en"


def test_the_switcher_sends_people_back_only_to_this_site(client):
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "/a\nb"):
        assert client.post("/language", data={"language": "es", "next": target}).headers["Location"] == "/"


@pytest.mark.parametrize("value", ["", "fr", "es\x00", "e" * 5000], ids=["empty", "fr", "nul", "huge"])
def test_a_language_we_do_not_have_is_refused(client, value):
    response = client.post("/language", data={"language": value})
    assert response.status_code == 400
    assert "language=" not in response.headers.get("Set-Cookie", "")


def test_a_logged_in_users_choice_is_saved_and_follows_them_to_another_browser(app, patient, login_as):
    user_id = patient
    client = login_as(user_id)
    client.post("/language", data={"language": "es", "next": "/bookings"})
    elsewhere = login_as(user_id)
    assert page_language(elsewhere.get("/bookings", headers={"Accept-Language": "en"})) == "es"
    with app.app_context():
        assert db.session.get(User, user_id).language == "es"
        # Their own choice is not an access event (reception choosing for a patient is).
        assert db.session.query(AccessEvent).filter_by(action="language").count() == 0


def test_the_account_page_saves_a_language_or_goes_back_to_the_browsers(app, patient, login_as):
    user_id = patient
    client = login_as(user_id)
    page = client.get("/account").get_data(as_text=True)
    assert "emails to you" in page
    response = client.post("/account", data={"language": "es"})
    assert response.status_code == 303
    assert "Tu idioma está guardado." in client.get("/account").get_data(as_text=True)
    client.post("/account", data={"language": ""})
    with app.app_context():
        assert db.session.get(User, user_id).language is None
    assert client.post("/account", data={"language": "klingon"}).status_code == 400


def test_the_account_page_needs_a_login(client):
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("role", ["patient", "reception", "doctor", "admin"])
def test_every_page_links_to_your_account_once_logged_in(client, make_user, login_as, role):
    """It was reachable only by typing its address."""
    assert 'href="/account"' not in client.get("/doctors").text
    page = login_as(make_user(role=role)).get("/doctors").text
    assert '<a href="/account">Your account</a>' in page


def test_the_api_answers_in_english_whatever_the_request_asks(client):
    body = client.get("/v1/doctors/1/calendar?month=nonsense", headers=SPANISH).get_json()
    assert body == client.get("/v1/doctors/1/calendar?month=nonsense").get_json()
    assert body["error"].isascii()


def test_dates_read_as_people_of_the_language_write_them(client, make_doctor):
    doctor_id = make_doctor()
    english = client.get(f"/doctors/{doctor_id}/calendar?month=2027-03").get_data(as_text=True)
    spanish = client.get(f"/doctors/{doctor_id}/calendar?month=2027-03", headers=SPANISH).get_data(as_text=True)
    assert "March 2027" in english
    assert "marzo de 2027" in spanish and "March" not in spanish


def test_the_default_visit_types_read_in_the_pages_language(client, make_doctor, make_user, make_appointment,
                                                            login_as):
    doctor_id = make_doctor()
    monday = next_weekday(0, weeks=1)
    english = client.get(f"/doctors/{doctor_id}?date={monday}").get_data(as_text=True)
    spanish = client.get(f"/doctors/{doctor_id}?date={monday}", headers=SPANISH).get_data(as_text=True)
    assert "Consultation (30 min)" in english and "Follow-up (15 min)" in english
    assert "Consulta (30 min)" in spanish and "Control (15 min)" in spanish and "consulta (30 min)" in spanish
    words_shown = set(re.findall(r"[\w-]+", re.sub(r"<[^>]*>", " ", spanish)))  # not names in links and values
    assert not {"Consultation", "Follow-up", "Procedure", "Therapy", "consultation"} & words_shown
    make_appointment(doctor_id=doctor_id, patient_id=make_user(), day=monday, hhmm="10:00", duration=15,
                     appointment_type="follow_up")
    desk = login_as(make_user(role=RECEPTION, email="desk@example.com"))
    for url in (f"/desk/?date={monday}", f"/desk/timeline?date={monday}"):
        page = desk.get(url, headers=SPANISH).get_data(as_text=True)
        assert "Control" in page and "Follow-up" not in page, url


def test_registering_on_a_spanish_page_saves_spanish_and_welcomes_in_it(app, client):
    response = client.post("/register", headers=SPANISH, data={
        "full_name": "Rosa Díaz", "email": "rosa@example.com", "password": "a-long-password-1",
        "confirm": "a-long-password-1"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(User.language).where(User.email == "rosa@example.com")).one() == "es"
        welcome = db.session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == "rosa@example.com")).one()
        assert welcome.subject == "Te damos la bienvenida a Clinica"
