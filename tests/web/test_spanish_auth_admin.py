"""Accounts, error pages and the admin pages in Spanish (DESIGN.md section 19): logging in,
registering, resetting a password, the 404 page and the admin's pages, with their form errors
and flashes; the JSON API's error stays English whatever the browser asks."""
import html

import pytest

from clinica_web.extensions import db
from clinica_web.models import User
from tests.conftest import PASSWORD

SPANISH = {"Accept-Language": "es-CL,es;q=0.9,en;q=0.5"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def spanish_admin(app, make_user, login_as):
    """A logged-in admin whose saved language is Spanish: the test client."""
    user_id = make_user(role="admin", email="jefa@example.org", full_name="Ada Admin")
    with app.app_context():
        db.session.get(User, user_id).language = "es"
        db.session.commit()
    return login_as(user_id)


def test_the_login_page_and_its_error_read_in_spanish(client, make_user):
    page = text(client.get("/login", headers=SPANISH))
    assert "<h1>Iniciar sesión</h1>" in page
    assert "Correo electrónico" in page and "Contraseña" in page
    assert "¿Olvidaste tu contraseña?" in page
    assert '¿Primera vez aquí? <a href="/register">Crea una cuenta</a>.' in page
    assert "Forgot your password?" not in page and "New here?" not in page

    make_user(email="ana@example.com")
    refused = client.post("/login", data={"email": "ana@example.com", "password": "wrong-password"}, headers=SPANISH)
    assert refused.status_code == 422
    assert "Correo o contraseña incorrectos (o la cuenta está bloqueada por unos minutos)." in text(refused)
    assert "Wrong email or password" not in text(refused)


def test_a_page_that_needs_a_login_says_so_in_spanish(client):
    response = client.get("/bookings", headers=SPANISH, follow_redirects=True)
    assert "Inicia sesión para continuar." in text(response)
    assert "Please log in" not in text(response)


def test_the_register_page_and_its_errors_read_in_spanish(client):
    page = text(client.get("/register", headers=SPANISH))
    assert "<h1>Crear una cuenta</h1>" in page
    assert "Nombre completo" in page and "Teléfono (opcional)" in page and "Repite la contraseña" in page
    assert "Al menos 8 caracteres." in page
    assert '¿Ya tienes cuenta? <a href="/login">Inicia sesión</a>.' in page

    refused = client.post("/register", headers=SPANISH, data={
        "full_name": "", "email": "nueva@example.com", "password": PASSWORD, "confirm": "something-else"})
    assert refused.status_code == 422
    errors = text(refused)
    assert "Las contraseñas no coinciden." in errors
    assert "Este campo es obligatorio." in errors  # WTForms' own message, in its own catalogue
    assert "The passwords differ." not in errors and "This field is required." not in errors

    sent = client.post("/register", headers=SPANISH, follow_redirects=True, data={
        "full_name": "Nueva Paciente", "email": "nueva@example.com", "password": PASSWORD, "confirm": PASSWORD})
    assert "<h1>Revisa tu correo</h1>" in text(sent)
    assert "sirve durante dos días" in text(sent)


def test_the_password_reset_request_reads_in_spanish(client):
    page = text(client.get("/password-reset", headers=SPANISH))
    assert "<h1>Restablece tu contraseña</h1>" in page
    assert "te enviaremos un enlace para elegir una nueva contraseña" in page
    assert "Envíame un enlace" in page
    done = client.post("/password-reset", data={"email": "nadie@example.com"}, headers=SPANISH, follow_redirects=True)
    assert "Si una cuenta usa esa dirección, le enviamos un enlace para elegir una nueva contraseña." in text(done)

    expired = client.get("/password-reset/not-a-link", headers=SPANISH)
    assert expired.status_code == 400
    assert "<h1>Este enlace ya no funciona</h1>" in text(expired) and "Pide un enlace nuevo" in text(expired)


def test_the_404_page_reads_in_spanish_and_the_api_stays_english(client):
    response = client.get("/no-such-page", headers=SPANISH)
    assert response.status_code == 404
    page = text(response)
    assert "<title>Página no encontrada" in page
    assert "<h1>Página no encontrada</h1>" in page and "No hay nada en esta dirección." in page
    assert "Volver a la página de inicio" in page
    assert "Page not found" not in page

    english = client.get("/v1/no-such-thing").get_json()
    assert client.get("/v1/no-such-thing", headers=SPANISH).get_json() == english
    assert "nothing at this address" in str(english)


def test_the_reason_a_view_gives_abort_is_explained_in_spanish(client):
    """A message a view gives abort() is translated by the error page."""
    response = client.post("/language", data={}, headers=SPANISH)
    assert response.status_code == 400
    assert "Elige un idioma" in text(response) and "Solicitud no válida" in text(response)


def test_the_admin_doctors_page_its_errors_and_flashes_read_in_spanish(spanish_admin, make_doctor):
    doctor_id = make_doctor()
    page = text(spanish_admin.get("/admin/doctors"))
    assert "<title>Médicos · Administración" in page
    assert "<h1>Médicos</h1>" in page and "Agregar un médico" in page
    assert "Nombre que ven los pacientes" in page and "Por ejemplo, “Dra. Laura Rossi”." in page
    assert "Visible" in page and "Horario" in page
    assert "Add a doctor" not in page

    refused = spanish_admin.post("/admin/doctors", data={
        "display_name": "", "specialty": "Dermatología", "email": "sofia@example.org", "password": PASSWORD})
    assert refused.status_code == 422
    assert "Escribe el nombre del médico." in text(refused)

    asked = text(spanish_admin.get(f"/admin/doctors/{doctor_id}/deactivate"))
    assert "¿Ocultar a Dr. Laura Rossi a los pacientes?" in asked
    hidden = spanish_admin.post(f"/admin/doctors/{doctor_id}/deactivate", follow_redirects=True)
    assert "Dr. Laura Rossi ya no se muestra a los pacientes y no se puede reservar hora." in text(hidden)
    assert "Oculto" in text(hidden)


def test_the_admin_staff_and_token_pages_name_roles_in_spanish(spanish_admin):
    staff = text(spanish_admin.get("/admin/staff"))
    assert "<h1>Cuentas del personal</h1>" in staff
    assert "Administrador" in staff and "(tú)" in staff
    assert '<option value="reception">Recepción</option>' in staff
    created = spanish_admin.post("/admin/staff", follow_redirects=True, data={
        "full_name": "Rita Desk", "email": "rita@example.org", "role": "reception", "password": PASSWORD})
    assert "Se creó la cuenta de recepción de Rita Desk (rita@example.org)." in text(created)

    tokens = spanish_admin.post("/admin/tokens", data={"email": "rita@example.org", "name": "Exportación"})
    page = text(tokens)
    assert "Nuevo token para rita@example.org" in page
    assert "Cópialo ahora: no se volverá a mostrar." in page
    assert "Actúa como Rita Desk (recepción)." in page
