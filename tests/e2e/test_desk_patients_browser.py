"""The desk's patients in the browser (DESIGN.md section 20): register by phone only, find as you
type (htmx) or with the plain form (no JavaScript), the patient's page, and editing contact
details; at phone and desk widths, axe-checked, fitting the screen."""
import re
import urllib.request

import pytest

from tests.e2e.conftest import DESK, PHONE, login, screenshot
from tests.e2e.test_browser import look


@pytest.fixture(autouse=True, scope="module")
def warm_server(server):
    """The first request waits for gunicorn's workers to load the app (seconds on a busy machine),
    longer than a page is given to load."""
    urllib.request.urlopen(server[0] + "/login", timeout=60).close()


def register_by_phone(page, name, phone):
    """The booking page's first step: a new patient with a phone and no email address."""
    page.goto("/desk/book")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_role("button", name="Register and continue").click()
    page.get_by_text(f"{name} is registered").wait_for()
    assert "cannot log in and get no email" in page.locator("#flash").inner_text()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_reception_finds_a_patient_as_they_type_and_edits_the_contact_details(new_page, viewport):
    width = viewport["width"]
    name, phone = f"Pablo Phone {width}", f"+56 9 {width:04d} 4321"
    page = new_page(viewport=viewport)
    login(page, "desk@clinica.test")
    register_by_phone(page, name, phone)

    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("heading", name="Patients").wait_for()
    look(page, "desk-patients")
    page.get_by_label("Name, email or phone").press_sequentially(f"{width:04d} 43", delay=40)  # phone digits
    result = page.locator("#patient-results").get_by_role("link", name=name)
    result.wait_for()
    # The search is in the address (pushed with the last keystroke's answer: the first digits
    # may already have found the patient).
    page.wait_for_url(re.compile(rf"/desk/patients\?q={width:04d}(\+|%20)43$"))
    assert "no email" in page.locator("#patient-results").inner_text()
    look(page, "desk-patients-found")

    result.click()
    page.get_by_role("heading", name=name).wait_for()
    summary = page.locator(".patient-summary").inner_text()
    assert "No email" in summary and phone in summary
    look(page, "desk-patient")

    page.get_by_role("link", name="Edit contact details").click()
    page.get_by_label("Email (optional)").fill("not an email")
    page.get_by_role("button", name="Save contact details").click()
    page.get_by_text("Enter a valid email address").wait_for()
    look(page, "desk-patient-edit-error")
    page.get_by_label("Email (optional)").fill(f"pablo.{width}@example.com")
    page.get_by_role("button", name="Save contact details").click()
    page.get_by_text("The contact details are saved.").wait_for()
    assert f"pablo.{width}@example.com" in page.locator(".patient-summary").inner_text()


def test_the_booking_step_finds_as_you_type_and_keeps_the_chosen_time(new_page):
    page = new_page()
    login(page, "desk@clinica.test")
    page.goto("/desk/book?doctor_id=1&type=consultation&time=10:00&date=2099-01-05")
    page.get_by_label("Name, email or phone").press_sequentially("ben", delay=40)
    link = page.locator("#patient-results").get_by_role("link", name="Ben Carter")
    link.wait_for()
    assert "/desk/book?q=ben" in page.url and "time=10" in page.url
    assert re.search(r"patient_id=\d+&doctor_id=1&date=2099-01-05&type=consultation&time=10(:|%3A)00",
                     link.get_attribute("href"))
    look(page, "desk-find-patient-htmx")


def test_without_javascript_the_plain_form_finds_and_opens_a_patient(new_page):
    page = new_page(viewport=PHONE, javascript=False)
    login(page, "desk@clinica.test")
    page.goto("/desk/patients")
    page.get_by_label("Name, email or phone").fill("ana")
    page.get_by_role("button", name="Search").click()
    assert page.url.endswith("/desk/patients?q=ana")
    page.locator("#patient-results").get_by_role("link", name="Ana Torres").click()
    page.get_by_role("heading", name="Ana Torres").wait_for()
    assert page.get_by_role("heading", name="Past visits").is_visible()
    screenshot(page, "desk-patient-nojs")  # (axe and the layout check need JavaScript: the tests above run them)


def test_a_doctor_reads_the_patients_visits(new_page):
    page = new_page()
    login(page, "rossi@clinica.test")
    page.goto("/desk/patients?q=ana")
    page.locator("#patient-results").get_by_role("link", name="Ana Torres").click()
    page.get_by_role("heading", name="Past visits").wait_for()
    assert page.get_by_role("link", name="Edit contact details").count() == 0
    look(page, "desk-patient-doctor")
