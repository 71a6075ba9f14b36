"""The patient's flow once in Spanish (DESIGN.md section 19): the footer's switcher, then log in,
choose a doctor and a day, book, and find the booking, every page in Spanish and accessible."""
import re

import pytest

from tests.e2e.conftest import DESK, PHONE
from tests.e2e.test_browser import look, monday

SPANISH_LONG_DATE = r"(lunes|martes|miércoles|jueves|viernes|sábado|domingo) \d{1,2} de [a-z]+ de \d{4}"


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_a_patient_books_in_spanish(new_page, viewport):
    page = new_page(viewport=viewport)
    page.goto("/")
    page.get_by_role("button", name="Español").click()
    assert page.locator("html").get_attribute("lang") == "es"
    page.get_by_role("heading", level=1).wait_for()
    look(page, f"es-home-{viewport['width']}")

    page.goto("/login")
    page.get_by_label("Correo electrónico").fill("ana@clinica.test")
    page.get_by_label("Contraseña").fill("demo-pass-123")
    page.get_by_role("button", name="Iniciar sesión").click()
    page.goto("/doctors")
    page.get_by_role("link", name="Pedir hora con Dr. Laura Rossi").click()
    look(page, f"es-doctor-{viewport['width']}")

    day = monday(5 if viewport is DESK else 6)
    page.goto(page.url.split("?")[0] + f"?date={day.isoformat()}")
    page.get_by_role("heading", name=re.compile(f"^{SPANISH_LONG_DATE}$")).wait_for()
    page.get_by_role("link", name=re.compile(f"^11:15, {SPANISH_LONG_DATE}, con Dr. Laura Rossi$")).click()
    page.get_by_role("heading", name="Confirma tu cita").wait_for()
    look(page, f"es-confirm-{viewport['width']}")
    page.get_by_role("button", name="Reservar esta hora").click()
    page.get_by_text("Tu cita está reservada").wait_for()
    look(page, f"es-booked-{viewport['width']}")

    page.get_by_role("navigation").get_by_role("link", name="Mis reservas").click()
    page.get_by_role("heading", name="Próximas").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    look(page, f"es-bookings-{viewport['width']}")
