"""The desk's side of reminders and confirmations (DESIGN.md section 16): the day list and the
appointment page show a confirmed visit and the state of its reminders ("Reminder sent 09:02",
"Reminder failed", "Reminder due 14:30", "Reminders off"), and reception turns a patient's
reminders off and on again from the appointment page.

The reminders themselves (planned, re-timed, sent) are tested in tests/services/test_reminders.py.
"""
import html as html_lib
import re
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from clinica_web import mail
from clinica_web.extensions import db
from clinica_web.models import AccessEvent, Doctor, OutboxEmail, User
from clinica_web.models.outbox import FAILED, PENDING, REMINDER, SENT
from clinica_web.services import booking, clinic, reminders
from tests.conftest import TZ_NAME, instant, next_weekday

TZ = ZoneInfo(TZ_NAME)
WEDNESDAY = next_weekday(2, weeks=1)  # at least a week ahead: both reminders (24 and 2 hours) are still to come
THURSDAY = WEDNESDAY + timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def clinic_people(make_doctor, make_user):
    """A doctor with a login and two patients (ids)."""
    doctor = make_doctor(with_user=True, windows=(("07:00", "18:00"),))
    return SimpleNamespace(doctor=doctor, ana=make_user(email="ana@example.com", full_name="Ana Torres"),
                           ben=make_user(email="ben@example.com", full_name="Ben Carter"))


def book(app, patient_id, doctor_id, day=WEDNESDAY, hhmm="10:00"):
    """Book through the service, as the patient would: its reminders are planned."""
    with app.app_context():
        patient = db.session.get(User, patient_id)
        return booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=day.isoformat(), time=hhmm,
                            now=clinic.now()).id


def text_of(html):
    """The visible text of some HTML, whitespace collapsed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def row_of(client, day, name):
    """The visible text of the day list's one row that names `name`."""
    page = client.get(f"/desk/?date={day.isoformat()}")
    assert page.status_code == 200
    [row] = [row for row in re.findall(r'<tr class="status-row-.*?</tr>', page.text, re.S) if name in row]
    return text_of(row)


def status_cell(row_text):
    """The part of a row's text that the Status column says (after the visit, before the actions)."""
    return row_text.split(" min ", 1)[1]


def summary_of(client, appointment_id):
    page = client.get(f"/desk/appointments/{appointment_id}")
    assert page.status_code == 200
    return text_of(re.search(r'<dl class="summary">.*?</dl>', page.text, re.S)[0])


def local(at, visit_day):
    """How the desk writes a reminder's time: "HH:MM" on the visit's day, else "Tue 08 Dec, 10:00"."""
    at = at.astimezone(TZ)
    return at.strftime("%H:%M" if at.date() == visit_day else "%a %d %b, %H:%M")


def reminder_rows(app, *appointment_ids, status=PENDING):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.kind == REMINDER, OutboxEmail.status == status,
            OutboxEmail.appointment_id.in_(appointment_ids)))


def wants_reminders(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id).wants_reminders


def audited(app, action):
    with app.app_context():
        return db.session.execute(select(AccessEvent.actor_id, AccessEvent.patient_id)
                                  .where(AccessEvent.action == action)).all()


def user_of(app, doctor_id):
    """A doctor's login."""
    with app.app_context():
        return db.session.get(Doctor, doctor_id).user_id


def switch(client, appointment_id, to):
    return client.post(f"/desk/appointments/{appointment_id}/reminders", data={"reminders": to})


# ---------------------------------------------------------------------------------------------
# Confirmed


def test_a_confirmed_visit_says_so_on_the_day_list_and_its_page(app, desk, clinic_people):
    ana_visit = book(app, clinic_people.ana, clinic_people.doctor, hhmm="10:00")
    ben_visit = book(app, clinic_people.ben, clinic_people.doctor, hhmm="11:00")
    with app.app_context():
        reminders.confirm_by_patient(patient=db.session.get(User, clinic_people.ana), appointment_id=ana_visit,
                                     now=clinic.now())
    assert "Confirmed" in status_cell(row_of(desk.client, WEDNESDAY, "Ana Torres"))
    assert "Confirmed" not in status_cell(row_of(desk.client, WEDNESDAY, "Ben Carter"))
    assert "Confirmed by the patient" in summary_of(desk.client, ana_visit)
    assert "Confirmed" not in summary_of(desk.client, ben_visit)
    history = text_of(desk.client.get(f"/desk/appointments/{ana_visit}").text).split("History")[-1]
    assert "Confirmed by the patient" in history  # the history line says who confirmed


# ---------------------------------------------------------------------------------------------
# The reminder's state


def test_a_pending_reminder_then_the_sent_one_with_their_clinic_times(app, desk, clinic_people, clock, run_worker):
    visit = book(app, clinic_people.ana, clinic_people.doctor, hhmm="10:00")
    first_due = instant(WEDNESDAY, "10:00") - timedelta(hours=24)  # the day before: its weekday is named
    expected = f"Reminder due {local(first_due, WEDNESDAY)}"
    assert re.fullmatch(r"Reminder due \w{3} \d\d \w{3}, \d\d:\d\d", expected)
    assert expected in row_of(desk.client, WEDNESDAY, "Ana Torres")
    assert expected in summary_of(desk.client, visit)

    clock.set(first_due)
    run_worker()  # (it sends the booking's confirmation too)
    assert reminder_rows(app, visit, status=SENT) == 1
    assert f"Reminder sent {local(first_due, WEDNESDAY)}" in row_of(desk.client, WEDNESDAY, "Ana Torres")

    clock.set(instant(WEDNESDAY, "08:00"))  # the two-hour one, on the visit's day: the time alone
    run_worker()
    assert reminder_rows(app, visit, status=SENT) == 2
    row = row_of(desk.client, WEDNESDAY, "Ana Torres")
    assert "Reminder sent 08:00" in row and "Reminder due" not in row
    assert "Reminder sent 08:00" in summary_of(desk.client, visit)


def test_a_reminder_due_on_the_visits_day_shows_the_time_alone(app, desk, clinic_people, clock):
    clock.set(instant(WEDNESDAY, "07:00"))  # too late for the 24-hour reminder: only the 2-hour one
    book(app, clinic_people.ana, clinic_people.doctor, hhmm="10:00")
    assert re.search(r"Reminder due 08:00( |$)", row_of(desk.client, WEDNESDAY, "Ana Torres"))


@pytest.mark.parametrize("app_config", [{"MAIL_MAX_ATTEMPTS": 1}])
def test_a_reminder_that_could_not_be_sent_shows_failed(app, desk, clinic_people, clock, run_worker, monkeypatch):
    visit = book(app, clinic_people.ana, clinic_people.doctor, hhmm="10:00")
    book(app, clinic_people.ben, clinic_people.doctor, hhmm="11:00")

    def refuse(message):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(mail, "deliver", refuse)
    clock.set(instant(WEDNESDAY, "10:00") - timedelta(hours=24))
    run_worker()  # Ana's fails (and the bookings' confirmations); Ben's is not due yet
    assert reminder_rows(app, visit, status=FAILED) == 1
    row = row_of(desk.client, WEDNESDAY, "Ana Torres")
    assert "Reminder failed" in row and "Reminder due" not in row
    assert "Reminder failed" in summary_of(desk.client, visit)
    assert "Reminder due" in row_of(desk.client, WEDNESDAY, "Ben Carter")


def test_a_visit_without_reminders_says_nothing_of_them(desk, clinic_people, make_appointment):
    make_appointment(doctor_id=clinic_people.doctor, patient_id=clinic_people.ana, day=WEDNESDAY, hhmm="10:00")
    assert "Reminder" not in row_of(desk.client, WEDNESDAY, "Ana Torres")  # inserted directly: none planned


# ---------------------------------------------------------------------------------------------
# Reception turns a patient's reminders off and on


@pytest.mark.parametrize("role", ["reception", "admin"])
def test_the_desk_turns_a_patients_reminders_off_and_on(app, clinic_people, staff, login_as, role):
    actor = staff(role)
    client = login_as(actor)
    first = book(app, clinic_people.ana, clinic_people.doctor, hhmm="10:00")
    second = book(app, clinic_people.ana, clinic_people.doctor, day=THURSDAY, hhmm="10:00")
    other = book(app, clinic_people.ben, clinic_people.doctor, hhmm="11:00")
    assert reminder_rows(app, first, second) == 4 and reminder_rows(app, other) == 2
    assert "Turn reminders off" in client.get(f"/desk/appointments/{first}").text

    response = switch(client, first, "off")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/desk/appointments/{first}"
    page = client.get(response.headers["Location"]).text
    assert "Reminder emails are off for Ana Torres" in text_of(page)
    assert "Turn reminders on" in page and "Reminders off" in summary_of(client, first)
    assert not wants_reminders(app, clinic_people.ana)
    assert reminder_rows(app, first, second) == 0  # every upcoming visit of hers, not only this one
    assert reminder_rows(app, other) == 2  # Ben's stay
    ana_row = row_of(client, WEDNESDAY, "Ana Torres")
    assert "Reminders off" in ana_row and "Reminder due" not in ana_row
    assert "Reminders off" in row_of(client, THURSDAY, "Ana Torres")
    assert "Reminder due" in row_of(client, WEDNESDAY, "Ben Carter")
    assert audited(app, "reminders_off") == [(actor, clinic_people.ana)]

    response = switch(client, second, "on")
    assert response.status_code == 303
    assert "Reminder emails are on for Ana Torres" in text_of(client.get(response.headers["Location"]).text)
    assert wants_reminders(app, clinic_people.ana)
    assert reminder_rows(app, first, second) == 4  # planned again
    assert "Reminder due" in row_of(client, WEDNESDAY, "Ana Torres")
    assert audited(app, "reminders_on") == [(actor, clinic_people.ana)]


def test_turning_off_what_is_off_changes_nothing(app, desk, clinic_people):
    visit = book(app, clinic_people.ana, clinic_people.doctor)
    assert switch(desk.client, visit, "off").status_code == 303
    assert switch(desk.client, visit, "off").status_code == 303
    assert len(audited(app, "reminders_off")) == 1
    assert not wants_reminders(app, clinic_people.ana)


@pytest.mark.parametrize("value", ["", "maybe", "OFF"])
def test_a_switch_to_something_else_is_refused(app, desk, clinic_people, value):
    visit = book(app, clinic_people.ana, clinic_people.doctor)
    assert switch(desk.client, visit, value).status_code == 400
    assert wants_reminders(app, clinic_people.ana) and reminder_rows(app, visit) == 2


def test_doctors_and_patients_cannot_turn_reminders_off(app, clinic_people, login_as, make_doctor):
    visit = book(app, clinic_people.ana, clinic_people.doctor)
    doctor_user = user_of(app, clinic_people.doctor)
    other_doctor = user_of(app, make_doctor(name="Dr. Marco Bianchi", with_user=True))
    for user_id in (doctor_user, other_doctor, clinic_people.ana, clinic_people.ben):
        response = switch(login_as(user_id), visit, "off")
        assert response.status_code == 403, user_id
    assert switch(login_as(doctor_user), 999999, "off").status_code == 403  # refused before any lookup
    assert wants_reminders(app, clinic_people.ana) and reminder_rows(app, visit) == 2
    assert audited(app, "reminders_off") == []
    page = login_as(doctor_user).get(f"/desk/appointments/{visit}").text  # the doctor sees the state, no switch
    assert "Reminder due" in text_of(page) and "Turn reminders" not in page


def test_the_switch_for_an_unknown_appointment_is_a_404(desk):
    assert switch(desk.client, 999999, "off").status_code == 404


# ---------------------------------------------------------------------------------------------
# Queries


def test_reminder_states_cost_one_query_whatever_the_day_holds(app, desk, make_doctor, make_user, count_queries):
    doctors = [make_doctor(name=f"Dr. Number {n}", windows=(("07:00", "18:00"),)) for n in range(3)]
    patients = [make_user(full_name=f"Patient {n}") for n in range(12)]
    book(app, patients[0], doctors[0], day=WEDNESDAY, hhmm="10:00")
    visits = [book(app, patient, doctors[n % 3], day=THURSDAY, hhmm=f"{9 + n // 3:02d}:00")
              for n, patient in enumerate(patients)]
    with app.app_context():  # Thursday: one visit confirmed, two patients without reminders, some sent, one failed
        reminders.confirm_by_patient(patient=db.session.get(User, patients[1]), appointment_id=visits[1],
                                     now=clinic.now())
        for patient in patients[2:4]:
            reminders.set_wanted(actor=db.session.get(User, desk.id), patient=db.session.get(User, patient),
                                 wanted=False, now=clinic.now())
        db.session.execute(update(OutboxEmail).where(OutboxEmail.appointment_id.in_(visits[4:8]),
                                                     OutboxEmail.next_attempt_at < instant(WEDNESDAY, "23:00"))
                           .values(status=SENT, sent_at=clinic.now()))
        db.session.execute(update(OutboxEmail).where(OutboxEmail.appointment_id == visits[8],
                                                     OutboxEmail.next_attempt_at < instant(WEDNESDAY, "23:00"))
                           .values(status=FAILED))
        db.session.commit()

    def queries(day):
        page = []
        used = count_queries(lambda: page.append(desk.client.get(f"/desk/?date={day}")))
        assert page[0].status_code == 200
        return used, text_of(page[0].text)

    quiet_queries, quiet_page = queries(WEDNESDAY)
    busy_queries, busy_page = queries(THURSDAY)
    assert busy_queries == quiet_queries
    assert "Reminder due" in quiet_page
    for said in ("Confirmed", "Reminders off", "Reminder sent", "Reminder failed", "Reminder due"):
        assert said in busy_page, said
