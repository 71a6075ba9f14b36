"""The account page: a patient keeps their own name and phone up to date (the desk sees them at
once); the email address, their login, stays the desk's to change."""
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import AccessEvent, User
from tests.conftest import table_snapshot


def details(app, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        return user.full_name, user.phone, user.email


def test_a_patient_saves_their_name_and_phone_and_stays_logged_in(app, client, patient, make_user, login_as):
    page = client.get("/account").text
    assert 'value="Ana Torres"' in page and "to change it, call the clinic" in page
    response = client.post("/account/details", data={"full_name": "  Ana María Torres ", "phone": "+56 9 1234 5678"})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert "Your details are saved." in client.get("/account").text
    assert details(app, patient) == ("Ana María Torres", "+56 9 1234 5678", "ana@example.com")
    assert client.get("/bookings").status_code == 200  # still logged in: nothing about the login changed
    desk = login_as(make_user(email="desk@example.com", role="reception"))
    assert "+56 9 1234 5678" in desk.get(f"/desk/patients/{patient}").text
    with app.app_context():  # the audit trail is of staff; the patient's own change is not in it
        assert db.session.scalar(select(func.count(AccessEvent.id)).where(
            AccessEvent.action.like("changed patient%"))) == 0
    client.post("/account/details", data={"full_name": "Ana María Torres", "phone": ""})
    assert details(app, patient)[1] is None  # a phone is optional for a patient with an email address


def test_bad_details_are_refused_with_a_message_and_change_nothing(app, client, patient):
    before = table_snapshot(app)
    for data, message in (({"full_name": "", "phone": ""}, "Enter your full name."),
                          ({"full_name": "A" * 121, "phone": ""}, "A name has at most 120 characters."),
                          ({"full_name": "Ana", "phone": "call me"}, "phone")):
        response = client.post("/account/details", data=data)
        assert response.status_code == 422 and message in response.text, data
    assert table_snapshot(app) == before
    # The email address is not among what this form changes, whatever is posted.
    client.post("/account/details", data={"full_name": "Ana", "phone": "", "email": "mallory@example.com"})
    assert details(app, patient)[2] == "ana@example.com"


def test_staff_have_no_patient_details_to_save(client, make_user, login_as):
    desk = login_as(make_user(email="desk@example.com", role="reception"))
    assert "Your details" not in desk.get("/account").text
    assert desk.post("/account/details", data={"full_name": "X", "phone": ""}).status_code == 404
    assert client.post("/account/details", data={"full_name": "X"}).status_code == 302  # to the login
