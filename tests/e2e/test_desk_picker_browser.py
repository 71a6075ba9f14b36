"""The desk books and reschedules with the patients' slot picker (DESIGN.md section 20), in
headless Chromium at phone and desk widths, with and without JavaScript: a day's free times load
in place (htmx) or by plain GET, a time leads to a confirmation step, and a reason typed before
changing the day, or asking "Why not?", is still there when the move is confirmed. Every page is checked for sideways
scrolling and, with JavaScript (axe runs in the page), by axe."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment, Doctor, User
from clinica_web.services import clinic, slots
from tests.e2e.conftest import DESK, PHONE, focus_settles_on, login, screenshot, writing_to_the_server_database
from tests.e2e.test_browser import assert_fits, look, monday

CASES = [(DESK, True), (DESK, False), (PHONE, True), (PHONE, False)]
IDS = ["1280-js", "1280-nojs", "390-js", "390-nojs"]
# A week of its own for each case, far from the demo's appointments and the other browser tests.
WEEKS = {"1280-js": 8, "1280-nojs": 9, "390-js": 10, "390-nojs": 11}
REASON = "Patient asked by phone for a later day"


def long_date(day):
    return day.strftime("%A %d %B %Y")


def case_name(viewport, javascript):
    return f"{viewport['width']}-{'js' if javascript else 'nojs'}"


def checker(javascript):
    """look() (screenshot, axe, fits) with JavaScript; without it, the screenshot and the fit."""
    if javascript:
        return look
    return lambda page, name: (screenshot(page, name), assert_fits(page, name))


def keep_a_marker(page):
    """Set a mark on the window: a full page load loses it, an htmx swap keeps it."""
    page.evaluate("window.__same_page = true")


def same_page(page):
    return page.evaluate("window.__same_page === true")


def show_day(page, day, javascript):
    """Choose a day with the date field, then Enter sends it (not the field's change: typing a date
    changes it at each digit): with htmx the times are swapped in, without it the form is sent."""
    date_field = page.get_by_label("Day", exact=True)
    date_field.fill(day.isoformat())
    date_field.press("Enter")
    page.get_by_role("heading", name=long_date(day)).wait_for()


@pytest.mark.parametrize("viewport, javascript", CASES, ids=IDS)
def test_desk_books_a_patient_through_the_picker_and_the_confirmation(new_page, viewport, javascript):
    name = case_name(viewport, javascript)
    monday_ = monday(WEEKS[name])
    tuesday = monday_ + timedelta(days=1)
    page, look_at = new_page(viewport=viewport, javascript=javascript), checker(javascript)
    login(page, "desk@clinica.test")
    page.goto("/desk/book?q=ben")
    page.get_by_role("link", name="Ben Carter").click()
    page.get_by_role("heading", name="Book for Ben Carter").wait_for()
    page.get_by_label("Doctor").select_option(label="Dr. Laura Rossi (General Practice)")
    if javascript:  # htmx brings that doctor's times, and their month (out of band)
        page.locator("#month caption", has_text="Dr. Laura Rossi's free times").wait_for(state="attached")
    else:
        page.get_by_role("button", name="Show free times").click()
    keep_a_marker(page)
    show_day(page, monday_, javascript)
    assert same_page(page) is javascript  # htmx swapped the day's times in; without it, a page load
    if javascript:
        assert focus_settles_on(page, "slots-heading")  # the button pressed is gone
    page.get_by_role("link", name="Next day ›").click()
    page.get_by_role("heading", name=long_date(tuesday)).wait_for()
    assert same_page(page) is javascript  # htmx swapped the free times in; without it, a page load
    if javascript:
        page.wait_for_url(re.compile(rf"date={tuesday.isoformat()}"))  # a bookmarkable address
        assert focus_settles_on(page, "slots-heading")  # read out; the link pressed is gone
    look_at(page, f"desk-picker-book-{name}")

    page.get_by_role("button", name=f"Book 10:30, {long_date(tuesday)}, with Dr. Laura Rossi").click()
    heading = f"Book Ben Carter with Dr. Laura Rossi on {long_date(tuesday)} at 10:30?"
    page.get_by_role("heading", name=heading).wait_for()
    look_at(page, f"desk-picker-confirm-book-{name}")
    page.get_by_label("Note for the doctor (optional)").fill("Walk-in follow-up")
    page.get_by_role("button", name=f"Book 10:30 on {long_date(tuesday)}").click()
    page.get_by_text("Booked for Ben Carter").wait_for()
    assert page.get_by_text("Walk-in follow-up").is_visible()


def booked_for_ana(server, day, hhmm):
    """Ana's visit with Dr. Rossi at `hhmm` on `day`, written straight into the served database."""
    with writing_to_the_server_database(server):
        ana = db.session.scalars(select(User).where(User.full_name == "Ana Torres")).one()
        rossi = db.session.scalars(select(Doctor).where(Doctor.display_name == "Dr. Laura Rossi")).one()
        hours, minutes = map(int, hhmm.split(":"))
        start = slots.local_instant(day, hours * 60 + minutes, clinic.tz())
        visit = Appointment(patient=ana, doctor=rossi, starts_at=start, ends_at=start + timedelta(minutes=30),
                            duration_minutes=30, appointment_type="consultation", status=SCHEDULED,
                            created_at=clinic.now(), updated_at=clinic.now())
        db.session.add(visit)
        db.session.commit()
        return visit.id


@pytest.mark.parametrize("viewport, javascript", CASES, ids=IDS)
def test_desk_reschedules_with_a_reason_typed_before_changing_the_day(new_page, server, viewport, javascript):
    name = case_name(viewport, javascript)
    thursday = monday(WEEKS[name]) + timedelta(days=3)
    friday = thursday + timedelta(days=1)
    visit = booked_for_ana(server, thursday, "11:00")
    page, look_at = new_page(viewport=viewport, javascript=javascript), checker(javascript)
    login(page, "desk@clinica.test")
    page.goto(f"/desk/appointments/{visit}/reschedule")
    page.get_by_role("heading", name=long_date(thursday)).wait_for()
    look_at(page, f"desk-picker-reschedule-{name}")

    page.get_by_label("Reason").fill(REASON)
    keep_a_marker(page)
    if javascript:  # the day buttons and the month swap in with htmx, and leave the reason alone
        page.get_by_role("link", name="Next day ›").click()
        page.get_by_role("heading", name=long_date(friday)).wait_for()
        # To another month (whichever the horizon allows) and back, then Friday from the month.
        away, back = ("Next month ›", "‹ Previous month")
        if not page.get_by_role("link", name=away).count():
            away, back = back, away
        page.get_by_role("link", name=away).click()
        page.get_by_role("heading", name=friday.strftime("%B %Y"), exact=True).wait_for(state="detached")
        page.get_by_role("link", name=back).click()
        page.get_by_role("heading", name=friday.strftime("%B %Y"), exact=True).wait_for()
        page.get_by_role("link", name=re.compile(rf"^{re.escape(long_date(friday))}: \d+ free")).click()
        page.get_by_role("heading", name=long_date(friday)).wait_for()
        assert same_page(page)
    else:  # the date field and "Show free times" send the reason along; the day links carry it on
        show_day(page, thursday - timedelta(days=1), javascript)
        page.get_by_role("link", name="Next day ›").click()
        page.get_by_role("heading", name=long_date(thursday)).wait_for()
        page.get_by_role("link", name="Next day ›").click()
        page.get_by_role("heading", name=long_date(friday)).wait_for()
    assert page.get_by_label("Reason").input_value() == REASON
    look_at(page, f"desk-picker-reschedule-day-changed-{name}")

    # "Why not?" about a time not listed, and back to the move: the reason is still there (with
    # JavaScript, also what was typed after the times were last drawn).
    reason = REASON + (" (urgent)" if javascript else "")
    page.get_by_label("Reason").fill(reason)
    page.get_by_label("Time not listed? Ask why").fill("07:00")
    page.get_by_role("button", name="Why not?").click()
    page.get_by_role("heading", name=re.compile(r"^07:00 on .* cannot be booked$")).wait_for()
    page.get_by_role("link", name="Back to moving it").click()
    page.get_by_role("heading", name=long_date(friday)).wait_for()
    assert page.get_by_label("Reason").input_value() == reason

    page.get_by_role("button", name=f"Move to 15:00, {long_date(friday)}, with Dr. Laura Rossi").click()
    page.get_by_role("heading", name=re.compile(r"^Move Ana Torres from .*, 11:00 to .*, 15:00\?$")).wait_for()
    assert page.get_by_label("Reason").input_value() == reason
    look_at(page, f"desk-picker-confirm-move-{name}")
    page.get_by_role("button", name=re.compile(r"^Move to ")).click()
    page.get_by_text("The appointment is moved").wait_for()
    assert page.get_by_text(reason).first.is_visible()  # in the appointment's history
