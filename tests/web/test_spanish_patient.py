"""The patient's pages in Spanish (DESIGN.md section 19): home, doctors, the booking page with its
slot list (page and htmx partial), booking, my bookings, a booking, cancelling and the waitlist,
with their flashes and form errors; the status styles stay the same in every language."""
import html
from datetime import timedelta

import pytest
from babel.dates import format_date

from clinica_web.extensions import db
from clinica_web.models import User
from tests.conftest import next_weekday

SPANISH = {"Accept-Language": "es-CL,es;q=0.9,en;q=0.5"}
HTMX = {"HX-Request": "true"}
MONDAY = next_weekday(0, weeks=1)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def in_spanish(day) -> str:
    """A day as the Spanish pages write it in full: "lunes 7 de diciembre de 2026"."""
    return format_date(day, "EEEE d 'de' MMMM 'de' yyyy", locale="es")


@pytest.fixture
def ana(app, make_user, login_as):
    """A logged-in patient whose saved language is Spanish: (id, client)."""
    user_id = make_user(email="ana@example.com", full_name="Ana Torres")
    with app.app_context():
        db.session.get(User, user_id).language = "es"
        db.session.commit()
    return user_id, login_as(user_id)


def test_the_home_and_doctors_pages_read_in_spanish(client, make_doctor):
    make_doctor()
    home = text(client.get("/", headers=SPANISH))
    assert "<title>Inicio · " in home
    assert "Elige un médico, un día y una hora libre: listo en un minuto." in home
    assert ">Buscar la primera hora libre</a>" in home and ">Pedir hora</a>" in home
    assert '<h2 id="specialties-heading">Nuestras especialidades</h2>' in home
    assert "Pick a doctor" not in home and "Our specialties" not in home

    doctors = text(client.get("/doctors", headers=SPANISH))
    assert "<h1>Médicos</h1>" in doctors
    assert '<option value="">Todas las especialidades</option>' in doctors
    assert ">Pedir hora con Dr. Laura Rossi</a>" in doctors
    assert "Book with" not in doctors and "All specialties" not in doctors

    none = text(client.get("/doctors?specialty=Nope", headers=SPANISH))
    assert 'Ningún médico coincide. <a href="/doctors">Ver todos los médicos</a>.' in none


def test_the_booking_page_and_its_slot_list_read_in_spanish(ana, make_doctor):
    _user_id, client = ana
    doctor_id = make_doctor()
    page = text(client.get(f"/doctors/{doctor_id}?date={MONDAY}"))
    assert "<h1>Pedir hora con Dr. Laura Rossi</h1>" in page
    assert '<label for="type">Tipo de consulta</label>' in page
    assert "Ver horas libres" in page and "Día siguiente ›" in page
    assert "30 horas libres de consulta (30 min). Elige una:" in page
    assert f'aria-label="09:00, {in_spanish(MONDAY)}, con Dr. Laura Rossi"' in page
    assert "free times for a" not in page and "Next day" not in page

    partial = text(client.get(f"/doctors/{doctor_id}/slots?date={MONDAY}", headers=HTMX))
    assert "<html" not in partial
    assert f'<h2 id="slots-heading" tabindex="-1" data-day="{MONDAY}">{in_spanish(MONDAY)}</h2>' in partial
    assert "30 horas libres de consulta (30 min). Elige una:" in partial
    assert f'aria-label="17:30, {in_spanish(MONDAY)}, con Dr. Laura Rossi"' in partial


def test_one_free_time_is_said_in_the_singular(ana, make_doctor):
    _user_id, client = ana
    doctor_id = make_doctor(windows=(("09:00", "09:30"),))
    page = text(client.get(f"/doctors/{doctor_id}/slots?date={MONDAY}", headers=HTMX))
    assert "1 hora libre de consulta (30 min). Elígela:" in page


def test_confirming_and_booking_a_time_read_in_spanish(ana, make_doctor):
    _user_id, client = ana
    doctor_id = make_doctor()
    page = text(client.get(f"/doctors/{doctor_id}/book?date={MONDAY}&time=11:00"))
    assert "<h1>Confirma tu cita</h1>" in page
    assert "<dt>Médico</dt>" in page and "<dt>Cuándo</dt>" in page and "<dt>Tipo de visita</dt>" in page
    assert "¿Algo que el médico deba saber? (opcional)" in page
    assert "Solo la clínica lo ve; nunca se incluye en los correos." in page
    assert ">Reservar esta hora</button>" in page and ">Elegir otra hora</a>" in page

    too_long = text(client.post(f"/doctors/{doctor_id}/book", data={
        "date": MONDAY.isoformat(), "time": "11:00", "type": "consultation", "booking_key": "a", "notes": "x" * 2001}))
    assert "Una nota puede tener como máximo 2000 caracteres." in too_long

    booked = text(client.post(f"/doctors/{doctor_id}/book", follow_redirects=True, data={
        "date": MONDAY.isoformat(), "time": "11:00", "type": "consultation", "booking_key": "b", "notes": ""}))
    assert "Tu cita está reservada. Te enviamos los detalles por correo." in booked
    assert "<h1>Cita con Dr. Laura Rossi</h1>" in booked

    again = text(client.get(f"/doctors/{doctor_id}/book?date={MONDAY}&time=11:00"))
    assert "<h1>Ya reservaste esta hora</h1>" in again and ">Ver tu reserva</a>" in again


def test_my_bookings_and_a_booking_read_in_spanish(ana, make_doctor, make_appointment):
    user_id, client = ana
    doctor_id = make_doctor()
    future = make_appointment(doctor_id=doctor_id, patient_id=user_id, day=MONDAY, hhmm="09:00")
    make_appointment(doctor_id=doctor_id, patient_id=user_id, day=MONDAY - timedelta(weeks=3), hhmm="10:00",
                     status="no_show")
    page = text(client.get("/bookings"))
    assert "<h1>Mis reservas</h1>" in page
    assert '<h2 id="upcoming-heading">Próximas</h2>' in page
    assert '<h2 id="past-heading">Pasadas y canceladas</h2>' in page
    assert '<th scope="col">Cuándo</th>' in page and '<th scope="col">Estado</th>' in page
    # The words are Spanish; the styles they wear are the same in every language.
    assert '<span class="status status-scheduled">Agendada</span>' in page
    assert '<span class="status status-missed">Inasistencia</span>' in page
    assert ">Cambiar la hora</a>" in page and ">Cancelar</a>" in page
    assert "Upcoming" not in page and "Change the time" not in page

    detail = text(client.get(f"/bookings/{future}"))
    assert "<h1>Cita con Dr. Laura Rossi</h1>" in detail
    assert '<a href="/bookings">Mis reservas</a> › Cita' in detail
    assert "<dt>N.º de reserva</dt>" in detail
    assert ">Descargar a tu calendario (.ics)</a>" in detail and ">Cancelar esta cita</a>" in detail
    assert "Puedes cambiar la hora o cancelar en línea hasta 24 horas antes de la consulta." in detail
    assert "You can change or cancel online" not in detail


def test_cancelling_reads_in_spanish(ana, make_doctor, make_appointment):
    user_id, client = ana
    doctor_id = make_doctor()
    future = make_appointment(doctor_id=doctor_id, patient_id=user_id, day=MONDAY, hhmm="09:00")
    page = text(client.get(f"/bookings/{future}/cancel"))
    assert "<title>Cancelar tu cita · " in page and "<h1>¿Cancelar tu cita?</h1>" in page
    assert "<legend>¿Por qué cancelas?</legend>" in page
    assert "Me siento mejor" in page and "Reservé por error" in page and "Otro motivo" in page
    assert ">Sí, cancelarla</button>" in page and ">No, mantenerla</a>" in page
    assert "Feeling better" not in page and "Why are you cancelling?" not in page

    done = text(client.post(f"/bookings/{future}/cancel", data={"reason": "cannot_attend"}, follow_redirects=True))
    assert "Tu cita está cancelada. Te enviamos una confirmación por correo." in done
    assert '<span class="status status-cancelled">Cancelada</span>' in done


def test_the_waitlist_reads_in_spanish(ana, make_doctor):
    _user_id, client = ana
    doctor_id = make_doctor()
    page = text(client.get("/waitlist"))
    assert "<h1>Lista de espera</h1>" in page
    assert '<label for="target">Quién</label>' in page and "Cualquier médico de General Practice" in page
    assert "<legend>Momento del día</legend>" in page and "Mañana (antes de las 13:00)" in page
    assert ">Consulta (30 min)</option>" in page and "Consultation" not in page  # the visit types too
    assert ">Unirme a la lista de espera</button>" in page and "<p class=\"empty\">Nada todavía.</p>" in page

    refused = client.post("/waitlist", data={"target": "", "type": "consultation"})
    assert refused.status_code == 422
    assert "Elige un médico o una especialidad." in text(refused)

    joined = text(client.post("/waitlist", follow_redirects=True, data={
        "target": f"doctor:{doctor_id}", "type": "consultation", "from_date": MONDAY.isoformat(),
        "to_date": (MONDAY + timedelta(days=4)).isoformat(), "part_of_day": "morning"}))
    assert "Estás en la lista de espera. Te enviaremos un correo cuando se libere una hora." in joined
    assert (f"Consulta, del {in_spanish(MONDAY)} al {in_spanish(MONDAY + timedelta(days=4))}, "
            "mañana (antes de las 13:00).") in joined
    assert 'Salir de esta lista de espera<span class="visually-hidden"> (Dr. Laura Rossi)</span>' in joined
    assert "Leave this waitlist" not in joined and "You are waiting for" not in joined
