"""The desk's pages in Spanish (DESIGN.md section 19) for a receptionist whose language is "es":
the day list (and its CSV's header), an appointment, booking for a patient up to its confirmation,
a patient's page, and the explainer's reasons."""
import csv
import html
import io
from datetime import timedelta

import pytest
from babel.dates import format_date

from clinica_web.extensions import db
from clinica_web.models import User
from tests.conftest import next_weekday

MONDAY = next_weekday(0, weeks=1)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def in_spanish(day) -> str:
    return format_date(day, "EEEE d 'de' MMMM 'de' yyyy", locale="es")


@pytest.fixture
def rita(app, staff, login_as):
    """A logged-in receptionist whose saved language is Spanish: a test client."""
    user_id = staff("reception", full_name="Rita Desk")
    with app.app_context():
        db.session.get(User, user_id).language = "es"
        db.session.commit()
    return login_as(user_id)


@pytest.fixture
def visit(make_doctor, make_user, make_appointment):
    doctor = make_doctor()
    patient = make_user(email="ana@example.com", full_name="Ana Torres", phone="2 2345 6789")
    appointment = make_appointment(doctor_id=doctor, patient_id=patient, day=MONDAY, hhmm="09:00")
    return doctor, patient, appointment


def test_pending_documentation_heads_its_links_column_with_actions(app, staff, login_as, make_doctor, make_user,
                                                                   make_appointment):
    """Its last column holds "Escribir documentación" links: "Open" (to open) is not "Disponible"."""
    make_appointment(doctor_id=make_doctor(), patient_id=make_user(), day=MONDAY - timedelta(weeks=3), hhmm="09:00",
                     status="completed")
    admin = staff("admin", full_name="Ada Admin")
    with app.app_context():
        db.session.get(User, admin).language = "es"
        db.session.commit()
    page = text(login_as(admin).get("/desk/pending-documentation"))
    assert '<th scope="col">Estado</th><th scope="col">Acciones</th>' in page and "Disponible" not in page


def test_the_day_list_and_its_csv_read_in_spanish(rita, visit):
    page = text(rita.get(f"/desk/?date={MONDAY}"))
    assert f"<h1>Lista del día: {in_spanish(MONDAY)}</h1>" in page
    assert '<th scope="col">Hora</th><th scope="col">Paciente</th><th scope="col">Tipo de visita</th>' in page
    assert ">Agendada</span>" in page
    assert ">Reservar para un paciente</a>" in page and ">Descargar CSV</a>" in page
    assert ">‹ Día anterior</a>" in page and ">Día siguiente ›</a>" in page
    assert "Day list" not in page and "Book for a patient" not in page and "Download CSV" not in page

    empty = text(rita.get(f"/desk/?date={MONDAY + timedelta(days=1)}"))
    assert "No hay citas este día." in empty and "No appointments" not in empty

    rows = list(csv.reader(io.StringIO(rita.get(f"/desk/day.csv?date={MONDAY}").text)))
    assert rows[0] == ["Fecha", "Hora", "Médico", "Paciente", "Teléfono", "Correo electrónico", "Tipo de visita",
                       "Minutos", "Estado", "Cancelación"]
    assert rows[1][8] == "Agendada"


def test_an_appointment_reads_in_spanish(rita, visit):
    _doctor, _patient, appointment = visit
    page = text(rita.get(f"/desk/appointments/{appointment}"))
    assert f"<title>Cita {appointment} · " in page
    assert "<h1>Ana Torres con Dr. Laura Rossi</h1>" in page
    assert "<dt>Cuándo</dt>" in page and "<dt>Recordatorios</dt>" in page
    assert ">Cambiar la hora</a>" in page and ">Cancelar</a>" in page
    assert '<h2 id="history-heading">Historial</h2>' in page
    assert "Aún sin escribir" in page
    assert "Not yet written" not in page and "History" not in page

    cancel = text(rita.get(f"/desk/appointments/{appointment}/cancel"))
    assert "<h1>¿Cancelar esta cita?</h1>" in cancel
    assert "El paciente llamó" in cancel and ">Mantenerla</a>" in cancel
    assert "Patient called" not in cancel


def test_an_appointments_history_names_statuses_in_spanish(app, rita, visit):
    """A status step in the history reads "Estado: agendada → inasistencia", not the stored names."""
    from clinica_web.models import AppointmentChange
    from clinica_web.services import clinic

    _doctor, _patient, appointment = visit
    with app.app_context():
        db.session.add(AppointmentChange(appointment_id=appointment, kind="status", from_value="scheduled",
                                         to_value="no_show", at=clinic.now()))
        db.session.commit()
    page = text(rita.get(f"/desk/appointments/{appointment}"))
    assert "Estado: agendada → inasistencia" in page
    assert "scheduled" not in page.split('id="history-heading"')[1] and "no show" not in page


def test_booking_for_a_patient_reads_in_spanish(rita, visit):
    doctor, patient, _appointment = visit
    find = text(rita.get("/desk/book"))
    assert "<h1>Reservar para un paciente</h1>" in find
    assert "1. Busca al paciente" in find and ">Registrar y continuar</button>" in find
    assert "Correo electrónico (opcional)" in find

    picker = text(rita.get(f"/desk/book?patient_id={patient}&doctor_id={doctor}&date={MONDAY}"))
    assert "<h1>Reservar para Ana Torres</h1>" in picker
    assert "horas libres con Dr. Laura Rossi" in picker
    assert 'aria-label="Reservar a las 11:00, ' in picker
    assert "free times with" not in picker and "Choose another patient" not in picker

    confirm = text(rita.get(f"/desk/book?patient_id={patient}&doctor_id={doctor}&date={MONDAY}&time=11:00"))
    assert (f"<h1>¿Reservar para Ana Torres con Dr. Laura Rossi el {in_spanish(MONDAY)} a las 11:00?</h1>"
            in confirm)
    assert f">Reservar a las 11:00 el {in_spanish(MONDAY)}</button>" in confirm
    assert "Nota para el médico (opcional)" in confirm and ">Volver a las horas libres</a>" in confirm

    taken = text(rita.get(f"/desk/book?patient_id={patient}&doctor_id={doctor}&date={MONDAY}&time=09:00"))
    assert "No se puede reservar a las 09:00: " in taken and "Elige otra hora." in taken


def test_a_patient_page_reads_in_spanish(rita, visit):
    _doctor, patient, _appointment = visit
    page = text(rita.get(f"/desk/patients/{patient}"))
    assert '<h2 id="upcoming-heading">Próximas consultas</h2>' in page
    assert "No hay consultas anteriores." in page
    assert ">Editar datos de contacto</a>" in page and ">Reservar una cita</a>" in page
    assert "<dt>Inasistencias</dt>" in page and "<dt>Cancelaciones tardías</dt>" in page
    assert "Upcoming visits" not in page and "No past visits." not in page

    found = text(rita.get("/desk/patients?q=ana"))
    assert "1 paciente coincide con “ana”." in found

    edit = text(rita.get(f"/desk/patients/{patient}/edit"))
    assert "<h1>Datos de contacto de Ana Torres</h1>" in edit and ">Guardar datos de contacto</button>" in edit


def test_the_explainer_says_why_in_spanish_and_the_api_in_english(rita, visit):
    doctor, _patient, _appointment = visit
    page = text(rita.get(f"/desk/explain?doctor_id={doctor}&date={MONDAY}&time=09:00"))
    assert "<h1>¿Por qué no esta hora?</h1>" in page
    assert f"No se puede reservar a las 09:00 el {in_spanish(MONDAY)}" in page
    assert "Cita " in page and " de Ana Torres, " in page
    assert "cannot be booked" not in page and " of Ana Torres" not in page

    sunday = MONDAY + timedelta(days=6)  # the doctor sees patients Monday to Friday
    weekend = text(rita.get(f"/desk/explain?doctor_id={doctor}&date={sunday}&time=09:00"))
    assert "Dr. Laura Rossi no atiende los domingos" in weekend
