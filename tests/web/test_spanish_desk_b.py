"""The desk's timeline and waitlist, the doctor's hours and documentation, the admin's reports
(their charts and CSV) and the navigation, read in Spanish (DESIGN.md section 19)."""
import csv
import html
import io
from datetime import timedelta

import pytest

from clinica_web.extensions import db
from clinica_web.models import Doctor, User
from clinica_web.services import clinic, waitlist
from tests.conftest import instant, next_weekday

DAY = next_weekday(0, weeks=1)  # a Monday 8 to 14 days away
SPANISH = {"Accept-Language": "es-CL,es;q=0.9,en;q=0.5"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def in_spanish(app, login_as):
    """in_spanish(user_id) -> a client logged in as that user, whose saved language is Spanish."""

    def login(user_id):
        with app.app_context():
            db.session.get(User, user_id).language = "es"
            db.session.commit()
        return login_as(user_id)

    return login


@pytest.fixture
def a_day(app, make_doctor, make_user, make_appointment, make_block):
    """Dr. Laura Rossi on DAY: Ana Torres at 10:00, time off from 14:00 to 16:00; a patient on the
    waitlist of any doctor of General Practice."""
    rossi = make_doctor(name="Dr. Laura Rossi")
    ana = make_user(full_name="Ana Torres", email="ana@example.com")
    make_appointment(doctor_id=rossi, patient_id=ana, day=DAY, hhmm="10:00")
    make_block(doctor_id=rossi, start=instant(DAY, "14:00"), end=instant(DAY, "16:00"), reason="Training")
    waiting = make_user(full_name="Wes Waiting")
    with app.app_context():
        waitlist.join(patient=db.session.get(User, waiting), doctor_id=None, specialty="General Practice",
                      appointment_type="consultation", from_date=DAY.isoformat(),
                      to_date=(DAY + timedelta(days=4)).isoformat(), part_of_day="any", now=clinic.now())
    return rossi


def test_the_timeline_and_the_desk_navigation_read_in_spanish(a_day, staff, in_spanish):
    page = text(in_spanish(staff("reception")).get(f"/desk/timeline?date={DAY}"))
    assert '<html lang="es">' in page
    assert "Agenda del día: lunes" in page
    assert "Saltar al contenido" in page and "Lista del día" in page and "Cerrar sesión" in page
    assert "Reservar para un paciente" in page and "Documentación" in page and "Pacientes" in page
    assert "‹ Día anterior" in page and "Día siguiente ›" in page
    assert "Ausencia: Training" in page  # the period's reason is data, as it was written
    assert 'Reservar 09:00<span class="visually-hidden"> con Dr. Laura Rossi</span>' in page
    assert "Reservada para la lista de espera" in page and "No atiende" in page
    assert "Timeline:" not in page and "Previous day" not in page and "Log out" not in page
    assert "Time off" not in page and "Held for the waitlist" not in page


def test_the_desk_waitlist_reads_in_spanish(a_day, staff, in_spanish):
    page = text(in_spanish(staff("reception")).get("/desk/waitlist"))
    assert "<h1>Lista de espera</h1>" in page
    assert "Quién espera a cada médico" in page
    assert "Cualquier médico de General Practice" in page
    assert "Se inscribió" in page and "Ofrecer una hora" in page and "Cualquier hora" in page
    assert "Hora (HH:MM)" in page
    assert "(1, por orden de llegada)" in page
    assert f"lun {DAY.day} " in page  # the days waited for, in Spanish
    assert "Any doctor of" not in page and "first come first" not in page and "Offer a time" not in page


def test_a_doctors_hours_and_pending_documentation_read_in_spanish(app, make_doctor, make_user, in_spanish):
    doctor = make_doctor(with_user=True)
    with app.app_context():
        user_id = db.session.get(Doctor, doctor).user_id
    client = in_spanish(user_id)
    hours = text(client.get("/desk/hours", follow_redirects=True))
    assert "Horario de atención: Dr. Laura Rossi" in hours and "Todas las semanas" in hours
    assert "<td>lunes</td>" in hours and "Mi horario" in hours
    assert "Working hours" not in hours and "<td>Monday</td>" not in hours
    pending = text(client.get("/desk/pending-documentation"))
    assert "Documentación pendiente" in pending and "No hay nada pendiente de documentar." in pending


def test_the_reports_their_charts_and_csv_read_in_spanish(app, make_doctor, staff, in_spanish):
    make_doctor()
    client = in_spanish(staff("admin"))
    index = text(client.get("/admin/"))
    assert "Informes" in index and "Quién abrió los datos de qué paciente, y cuándo." in index
    page = text(client.get(f"/admin/reports?from={DAY}&to={DAY + timedelta(days=6)}"))
    assert "<h1>Informes</h1>" in page and "Descargar CSV" in page
    assert "Ocupación por semana, toda la clínica" in page
    assert "Tasa de inasistencia por semana, toda la clínica" in page
    assert "Minutos reservados sobre minutos disponibles, por médico, en las semanas del" in page
    assert "Inicio de la semana" in page  # the charts' axis
    assert "Toda la clínica" in page and "Anticipación mediana" in page
    assert "Utilisation per week" not in page and "Whole clinic" not in page and "Week starting" not in page

    refused = client.get("/admin/reports?from=2026-02-01&to=2026-01-01")
    assert refused.status_code == 400
    assert "El primer día no puede ser posterior al último. No se muestra nada hasta que se corrija." in text(
        refused)

    rows = list(csv.reader(io.StringIO(client.get(f"/admin/reports.csv?from={DAY}&to={DAY}").get_data(as_text=True))))
    assert rows[0][:3] == ["Médico", "Inicio de la semana", "Fin de la semana"]
    assert rows[-1][0] == "Toda la clínica"


def test_a_patients_navigation_reads_in_spanish(client, make_user, in_spanish):
    page = text(in_spanish(make_user()).get("/bookings"))
    assert "Mis reservas" in page and "Cerrar sesión" in page and "Saltar al contenido" in page
    visitor = text(client.get("/", headers=SPANISH))
    assert "Crear cuenta" in visitor and "Iniciar sesión" in visitor
    assert ">Register<" not in visitor and "Skip to content" not in visitor
