"""Emails in the recipient's language whoever triggered them, and the services' messages in the
reader's language on pages while the JSON API keeps them in English (DESIGN.md section 19)."""
import re
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from flask_babel import force_locale, get_locale
from icalendar import Calendar

from clinica_web import i18n
from clinica_web.extensions import db
from clinica_web.models import Appointment, User
from clinica_web.services import booking, clinic, lifecycle, staff_actions
from tests.conftest import PASSWORD, instant, next_weekday

MONDAY = next_weekday(0, weeks=1)
SPANISH = {"Accept-Language": "es-CL,es;q=0.9"}
ENGLISH = {"Accept-Language": "en"}


def speaks(app, user_id, language):
    with app.app_context():
        db.session.get(User, user_id).language = language
        db.session.commit()


def log_in(app, email, headers=None):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}, headers=headers).status_code == 303
    return client


def book_on_the_page(client, doctor_id, hhmm, day=MONDAY):
    page = client.get(f"/doctors/{doctor_id}/book?date={day}&time={hhmm}&type=consultation")
    key = re.search(r'name="booking_key" type="hidden" value="([^"]+)"', page.text)[1]
    form = {"date": day.isoformat(), "time": hhmm, "type": "consultation", "booking_key": key}
    return client.post(f"/doctors/{doctor_id}/book", data=form)


def parts(message):
    """(subject, text, html, the ICS's VEVENT or None) of a sent message."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    calendars = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    event = Calendar.from_ical(calendars[0].get_payload(decode=True)).walk("VEVENT")[0] if calendars else None
    return message["Subject"].strip(), text, html, event


def spanish_time(day, hhmm):
    """A start as a Spanish subject says it: "lun 7 dic 10:30"."""
    return f"{format_date(day, 'EEE d MMM', locale='es')} {hhmm}"


def spanish_when(day, hhmm):
    """A start as Spanish emails and pages say it: "lun 7 dic 2026, 10:30"."""
    return f"{format_date(day, 'EEE d MMM yyyy', locale='es')}, {hhmm}"


@pytest.fixture
def ana(app, make_user):
    """A patient who reads Spanish."""
    user_id = make_user(email="ana@example.com", full_name="Ana Torres")
    speaks(app, user_id, "es")
    return user_id


def test_a_spanish_patients_booking_email_is_in_spanish(app, make_doctor, ana, sent_mail):
    doctor_id = make_doctor()
    client = log_in(app, "ana@example.com")
    assert book_on_the_page(client, doctor_id, "10:30").status_code == 303
    [message] = sent_mail()
    subject, text, html, event = parts(message)
    assert subject == f"Tu cita está reservada: {spanish_time(MONDAY, '10:30')} con Dr. Laura Rossi"
    for body in (text, html):
        assert "Hola, Ana Torres:" in body and "Tu cita en Clinica está reservada." in body
        assert f"{spanish_when(MONDAY, '10:30')}, horario de Santiago (30 min)" in body
        assert "Your appointment" not in body and "Hello" not in body
    assert "Médico:         Dr. Laura Rossi, General Practice" in text
    assert "N.º de reserva:" in text and '"Mis reservas"' in text
    assert '<html lang="es">' in html and "<strong>Dónde</strong>" in html and "Ver tu reserva</a>" in html
    assert str(event["SUMMARY"]) == "Clinica: cita con Dr. Laura Rossi"
    assert str(event["DESCRIPTION"]).startswith("Tu reserva: http://clinica.test/bookings/")
    assert str(event["DESCRIPTION"]).endswith("Para cambiarla, llama al +56 2 2345 6789.")
    assert str(event.walk("VALARM")[0]["DESCRIPTION"]) == "Cita con Dr. Laura Rossi en una hora"


def test_an_english_desk_user_moving_a_spanish_patients_visit_sends_spanish(app, make_doctor, make_user, ana,
                                                                            make_appointment, sent_mail):
    doctor_id = make_doctor()
    visit = make_appointment(doctor_id=doctor_id, patient_id=ana, day=MONDAY, hhmm="10:00")
    desk_id = make_user(role="reception", email="desk@example.com", full_name="Rita Desk")
    speaks(app, desk_id, "en")
    with app.test_request_context("/desk/", headers=ENGLISH):
        assert str(get_locale()) == "en"  # the desk's page is in English ...
        desk = db.session.get(User, desk_id)
        staff_actions.reschedule(actor=desk, appointment=db.session.get(Appointment, visit),
                                 starts_at=instant(MONDAY, "11:00"), reason="Doctor late", now=clinic.now())
        assert str(get_locale()) == "en"  # ... and stays so after writing the patient's email
    [message] = sent_mail()
    subject, text, html, event = parts(message)
    assert subject == f"Tu cita cambió de hora: {spanish_time(MONDAY, '11:00')} con Dr. Laura Rossi"
    for body in (text, html):
        assert (f"Tu cita en Clinica cambió del {spanish_when(MONDAY, '10:00')} al {spanish_when(MONDAY, '11:00')}:"
                in body)
        assert "El archivo de calendario adjunto actualiza el evento en tu calendario." in body
    assert re.search(r"Antes: +" + re.escape(spanish_when(MONDAY, "10:00")) + ", horario de Santiago", text)
    assert str(event["SUMMARY"]) == "Clinica: cita con Dr. Laura Rossi"


def test_an_english_patient_gets_english_whoever_writes_to_them(app, make_doctor, make_user, make_appointment,
                                                                sent_mail):
    doctor_id = make_doctor()
    ben = make_user(email="ben@example.com", full_name="Ben Ruiz")
    speaks(app, ben, "en")
    visit = make_appointment(doctor_id=doctor_id, patient_id=ben, day=MONDAY, hhmm="10:00")
    desk_id = make_user(role="reception", email="desk@example.com")
    speaks(app, desk_id, "es")
    with app.test_request_context("/desk/", headers=SPANISH):
        assert str(get_locale()) == "es"
        staff_actions.cancel_by_staff(actor=db.session.get(User, desk_id),
                                      appointment=db.session.get(Appointment, visit), reason="doctor_unavailable",
                                      now=clinic.now())
    [message] = sent_mail()
    subject, text, html, event = parts(message)
    assert subject == f"Your appointment is cancelled: Mon {MONDAY:%d %b} 10:00 with Dr. Laura Rossi"
    assert "Your appointment at Clinica is cancelled by the clinic." in text and "Hola" not in text
    assert '<html lang="en">' in html and str(event["SUMMARY"]) == "Clinica: appointment with Dr. Laura Rossi"


@pytest.mark.parametrize("app_config", [{"DEFAULT_LOCALE": "es"}])
def test_a_patient_without_a_language_gets_the_clinics_default(app, make_doctor, make_user, sent_mail):
    doctor_id = make_doctor()
    patient_id = make_user(email="eva@example.com", full_name="Eva Paz")  # no language saved
    with app.app_context():
        patient = db.session.get(User, patient_id)
        booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=MONDAY.isoformat(), time="09:00",
                     now=clinic.now())
    [message] = sent_mail()
    assert parts(message)[0].startswith("Tu cita está reservada:")


def test_the_worker_writes_a_spanish_patients_reminder_and_reset_email_in_spanish(app, client, make_doctor, ana,
                                                                                  clock, sent_mail):
    doctor_id = make_doctor()
    with app.app_context():
        patient = db.session.get(User, ana)
        booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=MONDAY.isoformat(), time="10:00",
                     now=clinic.now())
    already = len(sent_mail())
    clock.set(instant(MONDAY, "10:00") - timedelta(hours=24))
    [reminder] = sent_mail()[already:]
    subject, text, html, _event = parts(reminder)
    assert subject == f"Recordatorio de tu cita: {spanish_time(MONDAY, '10:00')} con Dr. Laura Rossi"
    assert "¿Vas a venir? Avísanos:" in text and re.search(r"Cambiar la hora: +http://clinica\.test/", text)
    assert "Para cambiar la hora o cancelar, llama al +56 2 2345 6789" in text
    assert ">Confirmar</a>" in html and ">Cambiar la hora</a>" in html

    client.post("/password-reset", data={"email": "ana@example.com"}, headers=ENGLISH)
    [reset] = sent_mail()[already + 1:]
    subject, text, html, _event = parts(reset)
    assert subject == "Restablece tu contraseña de Clinica"
    assert "Abre este enlace dentro de 60 minutos para elegir una nueva contraseña:" in text
    assert "Elige una nueva contraseña</a>" in html


# ---------------------------------------------------------------------------------------------
# The services' messages: translated on pages, English in the API


@pytest.fixture
def waitlist_day(clock):
    clock.set(instant(date(2027, 3, 10), "12:00"))


def test_a_service_rule_reads_in_spanish_on_the_page_and_in_english_in_the_api(app, make_doctor, ana,
                                                                               waitlist_day):
    make_doctor()
    page = log_in(app, "ana@example.com").post("/waitlist", headers=SPANISH, data={
        "target": "specialty:General Practice", "type": "follow_up", "from_date": "2027-03-11",
        "to_date": "2027-05-20", "part_of_day": "morning"})
    assert page.status_code == 422
    assert "Elige como máximo 60 días" in page.text and "Choose at most 60 days" not in page.text

    api = app.test_client()
    token = api.post("/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD}).get_json()["token"]
    answer = api.post("/v1/waitlist", headers={**SPANISH, "Authorization": f"Bearer {token}"}, json={
        "specialty": "General Practice", "from_date": "2027-03-11", "to_date": "2027-05-20"})
    assert (answer.status_code, answer.get_json()) == (400, {"error": "Choose at most 60 days"})


def test_a_message_keeps_its_english_and_translates_its_words(app):
    refused = lifecycle.step_refusal("completed", instant(MONDAY, "10:00"), "arrived", now=instant(MONDAY, "09:00"))
    assert refused.message == "An appointment that is completed cannot become arrived"
    with app.test_request_context(headers=SPANISH):
        assert i18n.error_text(refused) == "Una cita en estado «atendida» no puede pasar a «llegada registrada»"
        with force_locale("en"):
            assert i18n.error_text(refused) == refused.message
