"""The patient's waitlist page (DESIGN.md section 18, its first part): join, list, leave; and the
link to it from a day without free time."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import WaitlistEntry
from tests.conftest import PASSWORD, instant
from tests.web.test_desk import text_of

NOW_DAY = date(2027, 3, 10)


@pytest.fixture(autouse=True)
def fixed_clock(clock):
    clock.set(instant(NOW_DAY, "12:00"))


@pytest.fixture
def patient(client, make_user):
    user_id = make_user(email="ana@example.com")
    assert client.post("/login", data={"email": "ana@example.com", "password": PASSWORD}).status_code == 303
    return user_id


def join(client, **fields):
    data = {"target": "specialty:General Practice", "type": "follow_up", "from_date": "2027-03-11",
            "to_date": "2027-03-20", "part_of_day": "morning", **fields}
    return client.post("/waitlist", data=data)


def entries(app):
    with app.app_context():
        return db.session.execute(select(WaitlistEntry.doctor_id, WaitlistEntry.specialty, WaitlistEntry.status)
                                  .order_by(WaitlistEntry.id)).all()


def test_a_patient_joins_sees_and_leaves_the_waitlist(app, client, make_doctor, patient):
    doctor_id = make_doctor()
    assert join(client).status_code == 303
    assert join(client, target=f"doctor:{doctor_id}", part_of_day="afternoon").status_code == 303
    page = client.get("/waitlist").text
    assert "any doctor of General Practice" in page and "Dr. Laura Rossi" in page
    assert "Thursday 11 March 2027 to Saturday 20 March 2027, morning (before 13:00)" in page
    assert entries(app) == [(None, "General Practice", "active"), (doctor_id, None, "active")]
    with app.app_context():
        first = db.session.scalars(select(WaitlistEntry.id).order_by(WaitlistEntry.id)).first()
    assert client.post(f"/waitlist/{first}/leave").status_code == 303
    assert entries(app)[0].status == "left" and "any doctor of General Practice" not in client.get("/waitlist").text


@pytest.mark.parametrize("fields, message", [
    ({"to_date": "2027-05-20"}, "Choose at most 60 days"),
    ({"from_date": "2027-03-09"}, "The first day cannot be in the past"),
    ({"to_date": "2027-03-05", "from_date": "2027-03-12"}, "The last day comes before the first"),
    ({"target": "specialty:Astrology"}, "Not a valid choice"),
    ({"target": "doctor:999"}, "Not a valid choice"),
])
def test_what_cannot_be_waited_for_is_refused_and_nothing_saved(app, client, make_doctor, patient, fields, message):
    make_doctor()
    response = join(client, **fields)
    assert response.status_code == 422 and message in response.text
    assert entries(app) == []


def test_at_most_three_at_once(app, client, make_doctor, patient):
    make_doctor()
    for part_of_day, kind in (("morning", "follow_up"), ("afternoon", "follow_up"), ("any", "consultation")):
        assert join(client, part_of_day=part_of_day, type=kind).status_code == 303
    fourth = join(client, type="therapy")
    assert fourth.status_code == 422 and "at most 3 things at once" in fourth.text
    assert len(entries(app)) == 3


def test_the_same_wait_twice_is_refused(app, client, make_doctor, patient):
    make_doctor()
    assert join(client).status_code == 303
    again = join(client, from_date="2027-03-15", part_of_day="any")
    assert again.status_code == 422 and "You are already waiting for this on some of these days" in again.text
    assert len(entries(app)) == 1


def test_another_patients_entry_cannot_be_left(app, client, make_doctor, make_user, patient, login_as):
    make_doctor()
    assert join(client).status_code == 303
    other = login_as(make_user(email="ben@example.com"))
    with app.app_context():
        anas = db.session.scalars(select(WaitlistEntry.id)).one()
    assert other.post(f"/waitlist/{anas}/leave").status_code == 404
    assert entries(app)[0].status == "active"


def test_a_full_day_links_to_the_waitlist_prefilled(client, make_doctor, make_appointment, make_user, patient):
    doctor_id = make_doctor(windows=(("09:00", "09:30"),))
    make_appointment(doctor_id=doctor_id, patient_id=make_user(email="ben@example.com"), day=date(2027, 3, 11),
                     hhmm="09:00")
    day = client.get(f"/doctors/{doctor_id}/slots?date=2027-03-11&type=consultation", headers={"HX-Request": "true"})
    link = f"/waitlist?doctor_id={doctor_id}&amp;date=2027-03-11&amp;type=consultation"
    assert "fully booked" in day.text and f'href="{link}"' in day.text
    form = client.get(link.replace("&amp;", "&")).text
    assert f'<option selected value="doctor:{doctor_id}">' in form
    assert 'value="2027-03-11"' in form and '<option selected value="consultation">' in form


def test_a_link_from_a_day_near_the_horizon_prefills_a_form_that_goes_through(app, client, make_doctor, patient):
    doctor_id = make_doctor()
    horizon = NOW_DAY + timedelta(days=app.config["BOOKING_HORIZON_DAYS"])  # 8 June 2027
    form = client.get(f"/waitlist?doctor_id={doctor_id}&date={horizon - timedelta(days=3)}&type=consultation").text
    values = dict(re.findall(r'<input[^>]*name="(\w+_date)"[^>]*value="([^"]*)"', form))
    assert values == {"from_date": str(horizon - timedelta(days=3)), "to_date": str(horizon)}  # not 2 weeks on
    sent = client.post("/waitlist", data={"target": f"doctor:{doctor_id}", "type": "consultation",
                                          "from_date": str(horizon - timedelta(days=3)), "to_date": str(horizon),
                                          "part_of_day": "any"})
    assert sent.status_code == 303 and len(entries(app)) == 1


def test_the_list_heads_each_wait_and_tells_the_leave_buttons_apart(app, client, make_doctor, patient):
    make_doctor()
    for part in ("morning", "afternoon"):
        assert join(client, part_of_day=part).status_code == 303
    page = client.get("/waitlist").text
    assert page.count("<h3>Any doctor of General Practice</h3>") == 2
    described = re.findall(r'<button type="submit" class="button" aria-describedby="([^"]+)">', page)
    assert len(set(described)) == 2
    said = [text_of(re.search(rf'<p id="{key}">(.*?)</p>', page, re.S)[1]) for key in described]
    assert [text.split(", ")[-1] for text in said] == ["morning (before 13:00).", "afternoon (from 13:00)."]


def test_staff_are_sent_from_the_patients_pages_to_the_desk_s(client, make_user, login_as):
    desk = login_as(make_user(email="desk@example.com", role="reception"))
    assert desk.get("/waitlist").headers["Location"] == "/desk/waitlist"
    assert desk.get("/bookings").headers["Location"] == "/desk/"
    assert desk.post("/waitlist", data={}).status_code == 303  # nothing joined for staff
