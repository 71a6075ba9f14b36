"""Real people's flows in headless Chromium against gunicorn, with and without JavaScript,
at phone and desk widths, checked by axe-core after every page and HTMX swap."""
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from clinica_web.database import begin_write
from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment, Doctor, User, WaitlistEntry, WaitlistOffer, WeeklyHours
from clinica_web.services import clinic, links, waitlist
from tests.e2e.conftest import (
    DESK,
    PHONE,
    axe_violations,
    emailed_link,
    focus_settles_on,
    login,
    screenshot,
    welcome_link,
    writing_to_the_server_database,
)

TODAY = datetime.now(ZoneInfo("America/Santiago")).date()


def monday(weeks_ahead):
    """A Monday `weeks_ahead` weeks after the coming one (far from the demo's appointments)."""
    return TODAY + timedelta(days=(7 - TODAY.weekday()) % 7 or 7) + timedelta(weeks=weeks_ahead)


def assert_accessible(page, what):
    violations = axe_violations(page)
    assert violations == [], f"{what}: {violations}"


def look(page, name):
    """Screenshot, axe check and layout check of the page as it is now."""
    screenshot(page, name)
    assert_accessible(page, name)
    assert_fits(page, name)


def assert_fits(page, what):
    """The page is no wider than the viewport (no sideways scrolling), and every visible action
    (button, button-styled link) lies inside it: none is hidden off-screen in a scrolling table.
    Measured once the page has loaded: before its stylesheet is applied (a revalidation of app.css
    can still be under way when the headings are there) the unstyled page is wider than a phone."""
    page.wait_for_load_state("load")
    problems = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const found = [];
        const scrolled = document.documentElement.scrollWidth;
        if (scrolled > width) found.push(`page ${scrolled}px wide`);
        for (const el of document.querySelectorAll('button, a.button, input[type=submit]')) {
            const box = el.getBoundingClientRect();
            if (!el.checkVisibility() || box.width === 0) continue;
            if (box.left < -0.5 || box.right > width + 0.5) {
                found.push(`${el.textContent.trim().slice(0, 40)}: ${Math.round(box.left)}..${Math.round(box.right)}`);
            }
        }
        return found;
    }""")
    assert problems == [], f"{what} at {page.viewport_size['width']} px: {problems}"


def register(page, server, email, name="Eve Example"):
    """Register, then open the welcome email's link, as a new patient does."""
    page.goto("/register")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("a-long-password-1")
    page.get_by_label("Repeat password").fill("a-long-password-1")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(welcome_link(server, email))
    assert page.get_by_role("button", name=re.compile("Log out")).is_visible()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_patient_books_with_htmx_and_cancels(new_page, server, viewport):
    page = new_page(viewport=viewport)
    width = viewport["width"]
    page.goto("/")
    look(page, "home")
    register(page, server, f"eve-{width}@example.com")
    page.get_by_role("link", name="Book an appointment").first.click()
    look(page, "doctors")
    page.get_by_role("link", name="Book with Dr. Laura Rossi").click()
    look(page, "doctor")

    # A day typed digit by digit stays as typed (the list is not reloaded under the typing, which
    # put the cursor back in the month); Enter reloads only the slot list (HTMX), puts the focus
    # on its heading (a screen reader reads the new day), and keeps a bookable URL.
    day = monday(2 if width == 1280 else 3)
    date_input = page.get_by_label("Day", exact=True)
    date_input.focus()
    page.keyboard.type(f"{day:%m%d%Y}", delay=120)
    assert date_input.input_value() == day.isoformat()
    date_input.press("Enter")
    page.get_by_role("heading", name=day.strftime("%A %d %B %Y")).wait_for()
    assert focus_settles_on(page, "slots-heading")
    assert f"date={day.isoformat()}" in page.url
    look(page, "doctor-after-swap")
    # Another visit type: the list is reloaded as the select changes; the focus stays on the select,
    # and the list's heading is read out through the page's status region.
    visit_type = page.get_by_label("Visit type")
    chosen = visit_type.input_value()
    visit_type.focus()
    visit_type.select_option("follow_up")
    page.get_by_text("for a follow-up (15 min)").wait_for()
    assert focus_settles_on(page, "type")
    # Written as the swap settles, a moment after the new list shows: waited for, not read at once.
    expect(page.locator("#swap-status")).to_have_text(day.strftime("%A %d %B %Y"))
    visit_type.select_option(chosen)
    page.get_by_text("for a consultation (30 min)").wait_for()

    page.get_by_role("link", name=f"10:00, {day.strftime('%A %d %B %Y')}, with Dr. Laura Rossi").click()
    page.get_by_role("heading", name="Confirm your appointment").wait_for()
    look(page, "confirm")
    page.get_by_label("Anything the doctor should know?").fill("Back pain since Tuesday")
    page.get_by_role("button", name="Book this time").click()
    page.get_by_text("Your appointment is booked").wait_for()
    look(page, "booking")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My bookings").click()
    look(page, "bookings")
    # Each upcoming row links to the booking and to changing or cancelling it.
    assert page.get_by_role("link", name=re.compile(f"^Change the time of .*{day.strftime('%d %b %Y')}")).is_visible()
    page.get_by_role("link", name=re.compile("^" + day.strftime("%a %d %b %Y"))).click()
    page.get_by_role("link", name="Cancel this appointment").click()
    look(page, "cancel")
    page.get_by_role("button", name="Yes, cancel it").click()
    page.get_by_text("Your appointment is cancelled").wait_for()
    assert page.get_by_text("Cancelled", exact=True).is_visible()


def test_patient_books_without_javascript(new_page, server):
    page = new_page(viewport=PHONE, javascript=False)
    register(page, server, "nojs@example.com", name="No Script")
    page.goto("/doctors/1")
    day = monday(4)
    page.get_by_label("Day", exact=True).fill(day.isoformat())
    page.get_by_role("button", name="Show free times").click()
    page.get_by_role("heading", name=day.strftime("%A %d %B %Y")).wait_for()
    page.get_by_role("link", name=re.compile(r"^11:30, ")).click()
    page.get_by_role("button", name="Book this time").click()
    page.get_by_text("Your appointment is booked").wait_for()
    page.goto("/bookings")
    assert page.get_by_text(day.strftime("%d %b %Y")).first.is_visible()


def test_slot_taken_between_page_load_and_click(new_page, browser, server):
    day = monday(5)
    first = new_page()
    register(first, server, "first@example.com", name="First Patient")
    first.goto(f"/doctors/1/book?date={day}&time=12:00&type=consultation")
    first.get_by_role("button", name="Book this time").wait_for()

    second = new_page()
    register(second, server, "second@example.com", name="Second Patient")
    second.goto(f"/doctors/1/book?date={day}&time=12:00&type=consultation")
    second.get_by_role("button", name="Book this time").click()
    second.get_by_text("Your appointment is booked").wait_for()

    first.get_by_role("button", name="Book this time").click()
    alert = first.get_by_role("alert")
    alert.wait_for()
    assert "just taken" in alert.inner_text() and "Time slot overlaps with another booking" in alert.inner_text()
    offered = first.locator(".slot").all_inner_texts()
    assert "12:00" not in offered and "12:30" in offered
    look(first, "slot-taken")


def test_reception_runs_the_day_and_books_on_behalf(new_page, server):
    doctor, day, _ids = visits_starting_now(server, ["Ben Carter"])
    page = new_page()
    login(page, "desk@clinica.test")
    page.goto(f"/desk?date={day}&doctor_id={doctor}")
    look(page, "day-list")
    row = page.locator("tr", has_text="Ben Carter").first
    time_link = row.locator("a[id^=visit-]").get_attribute("id")
    row.get_by_role("button", name=re.compile("^Arrived")).focus()
    page.keyboard.press("Enter")
    page.locator("tr", has_text="Ben Carter").first.get_by_text("Arrived", exact=True).wait_for()
    # The button pressed is gone: the keyboard carries on from the visit's row (its time link), and
    # the live flash area says what changed.
    assert focus_settles_on(page, time_link)
    assert page.locator("#flash").inner_text().strip().startswith("Ben Carter, ")
    page.locator("tr", has_text="Ben Carter").first.get_by_role("button", name=re.compile("^Completed")).click()
    page.locator("tr", has_text="Ben Carter").first.get_by_text("Completed", exact=True).wait_for()
    # Undo is a button of the same form with its own formaction: htmx must post it there.
    page.locator("tr", has_text="Ben Carter").first.get_by_role("button", name=re.compile("^Undo")).click()
    page.locator("tr", has_text="Ben Carter").first.get_by_role("button", name=re.compile("^Completed")).wait_for()
    assert page.locator("#flash .flash-error").count() == 0
    assert_accessible(page, "day-list after HTMX actions")

    page.get_by_role("link", name="Book for a patient").first.click()
    page.get_by_label("Name, email or phone").fill("ana")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Ana Torres").click()
    target = monday(6)
    page.get_by_label("Day", exact=True).fill(target.isoformat())
    page.get_by_role("button", name="Show free times").click()
    look(page, "desk-book")
    page.get_by_role("button", name=re.compile(r"^Book 09:30, ")).click()
    look(page, "desk-book-confirm")  # the confirmation step: "Book Ana Torres with … at 09:30?"
    page.get_by_role("button", name=re.compile(r"^Book 09:30 on ")).click()
    page.get_by_text("Booked for Ana Torres").wait_for()
    look(page, "desk-appointment")


def visits_starting_now(server, patient_names):
    """Visits the desk can mark now (arrival opens 15 minutes before a visit, and ends with its day):
    one for each named demo patient, from this minute on the server's real clock (or a quarter hour
    either side, where the patient's own demo visits are in the way: a patient is in one place at
    a time), with a doctor of their own (so no demo visit is in the way). Written straight into
    the server's database, as if booked earlier. Returns (doctor id, the local day, appointment ids)."""
    with writing_to_the_server_database(server):
        now = clinic.now().replace(second=0, microsecond=0)
        if clinic.to_local(now + timedelta(minutes=len(patient_names) * 15 + 5)).date() != clinic.local_today(now):
            # A few minutes before midnight: let the visits fall on one (the next) day.
            db.session.rollback()
            time.sleep(6 * 60)
            begin_write()
            now = clinic.now().replace(second=0, microsecond=0)
        doctor = Doctor(display_name=f"Dr. Now {now:%H%M%S}", specialty="General Practice", active=True)
        patients = [db.session.scalars(select(User).where(User.full_name == name)).one() for name in patient_names]
        candidates = [now + timedelta(minutes=15 * n) for n in (0, 1, -1, -2, -3, -4, -5, -6, -7, -8)
                      if clinic.local_today(now + timedelta(minutes=15 * n)) == clinic.local_today(now)]
        visits, taken = [], []
        for patient in patients:
            held = db.session.execute(select(Appointment.starts_at, Appointment.ends_at).where(
                Appointment.patient_id == patient.id, Appointment.status != "cancelled")).all()
            start = next(t for t in candidates if t not in taken
                         and not any(s < t + timedelta(minutes=15) and t < e for s, e in held))
            taken.append(start)
            visits.append(Appointment(patient=patient, doctor=doctor, starts_at=start,
                                      ends_at=start + timedelta(minutes=15), duration_minutes=15,
                                      appointment_type="follow_up", status=SCHEDULED, created_at=now, updated_at=now))
        db.session.add_all([doctor, *visits])
        db.session.commit()
        return doctor.id, clinic.local_today(now), [visit.id for visit in visits]


def test_day_list_clicks_in_quick_succession_all_count_and_focus_survives_a_refresh(new_page, server):
    rossi, day, (ana, ben) = visits_starting_now(server, ["Ana Torres", "Ben Carter"])
    page = new_page()
    login(page, "desk@clinica.test")
    page.goto(f"/desk/?date={day}&doctor_id={rossi}")
    # Two rows marked arrived in the same instant: the second request must not wait behind the first.
    page.evaluate("([first, second]) => { document.getElementById(first).click(); "
                  "document.getElementById(second).click(); }", [f"status-{ana}-arrived", f"status-{ben}-arrived"])
    page.wait_for_load_state("networkidle")
    page.reload()
    for name in ("Ana Torres", "Ben Carter"):
        assert page.locator("tr", has_text=name).locator(".status").inner_text() == "Arrived"

    # A keyboard user on a button or a link keeps their place when the list refreshes itself.
    for focused in (f"status-{ben}-completed", f"patient-{ben}", f"visit-{ana}"):
        page.locator(f"#{focused}").focus()
        page.evaluate("() => new Promise(done => htmx.ajax('GET', location.pathname + location.search, "
                      "{target: '#day-list', swap: 'innerHTML'}).then(() => setTimeout(done, 50)))")
        assert page.evaluate("document.activeElement.id") == focused


def test_doctor_writes_documentation(new_page):
    page = new_page(viewport=PHONE)
    login(page, "rossi@clinica.test")
    page.goto("/desk/pending-documentation")
    look(page, "pending-documentation")
    links = page.get_by_role("link", name=re.compile("^Write documentation"))
    before = links.count()
    assert before >= 1
    links.first.click()
    page.get_by_label("Visit documentation").fill("Examined; advised rest. Review in two weeks.")
    look(page, "documentation")
    page.get_by_role("button", name="Save documentation").click()
    page.get_by_text("Documentation saved.").wait_for()
    assert page.get_by_role("link", name=re.compile("^Write documentation")).count() == before - 1


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_main_pages_logged_out_and_in(new_page, server, viewport):
    """Every page at the phone's and the desk's width: screenshots, axe, and nothing off-screen."""
    page = new_page(viewport=viewport)
    for url, name in [("/login", "login"), ("/register", "register"), ("/register/sent", "registered"),
                      ("/password-reset", "password-reset"), ("/doctors/999", "not-found")]:
        page.goto(url)
        look(page, name)
    # The page a reset link opens (asking changes nothing until the new password is posted).
    page.goto("/password-reset")
    page.get_by_label("Email").fill("ben@clinica.test")
    page.get_by_role("button", name=re.compile("link")).click()
    page.goto(emailed_link(server, "ben@clinica.test", "/password-reset/"))
    look(page, "new-password")
    # A doctor's documentation form, read and not saved.
    login(page, "rossi@clinica.test")
    page.goto("/desk/pending-documentation")
    page.get_by_role("link", name=re.compile("^Write documentation")).first.click()
    look(page, "documentation")
    page.goto("/account")
    look(page, "account")
    page.get_by_role("button", name=re.compile("Log out")).click()
    login(page, "admin@clinica.test")
    for url, name in [("/admin/", "admin"), ("/admin/doctors", "admin-doctors"), ("/admin/staff", "admin-staff"),
                      ("/admin/tokens", "admin-tokens"), ("/admin/closures", "admin-closures"),
                      ("/admin/audit", "admin-audit"), ("/desk/doctors/1/hours", "hours"),
                      (f"/desk/explain?doctor_id=1&date={monday(1)}&time=13:00", "explain"),
                      ("/desk/pending-documentation", "pending-documentation"),
                      ("/desk/waitlist", "desk-waitlist"),
                      ("/admin/doctors/1/deactivate", "confirm"),
                      ("/desk/book?q=a", "desk-find-patient")]:
        page.goto(url)
        look(page, name)
    # The desk's pages of one appointment and of booking on behalf, from the demo's next weekday.
    page.goto(f"/desk/?date={TODAY + timedelta(days=1 if TODAY.weekday() < 4 else 7 - TODAY.weekday())}")
    look(page, "day-list")
    detail = "/desk/" + page.locator("#day-list td a").first.get_attribute("href")
    patient = page.goto("/desk/book?q=ana") and page.get_by_role("link", name="Ana Torres").get_attribute("href")
    for url, name in [(detail, "desk-appointment"), (detail + "/reschedule", "desk-reschedule"),
                      (detail + "/cancel", "desk-cancel"), (patient + f"&date={monday(1)}", "desk-book")]:
        page.goto(url)
        look(page, name)


def test_day_list_prints_one_page_per_doctor(new_page):
    page = new_page()
    login(page, "desk@clinica.test")
    day = TODAY + timedelta(days=1 if TODAY.weekday() < 4 else 7 - TODAY.weekday())
    page.goto(f"/desk?date={day}")
    doctors = page.locator("section.doctor-day").count()
    assert doctors >= 2
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name=re.compile("^Arrived")).first.is_visible()
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == doctors


TOUCH_TARGETS = "a.button, button, .slot, .nav a, input:not([type=hidden]), select, textarea"


def small_touch_targets(page):
    """Visible controls smaller than 44 x 44 CSS pixels (WCAG 2.5.5 target size)."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(el => el.offsetParent !== null)
        .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
        .filter(([, r]) => r.height < 44 || r.width < 44)
        .map(([html]) => html)""", TOUCH_TARGETS)


def test_staff_pages_are_accessible_and_touch_targets_are_big_enough(new_page, server):
    page = new_page(viewport=PHONE)
    page.goto("/register/sent")
    look(page, "registered")
    login(page, "desk@clinica.test")
    page.goto("/desk/book?q=ana")
    look(page, "desk-find-patient")
    day = TODAY + timedelta(days=1 if TODAY.weekday() < 4 else 7 - TODAY.weekday())
    page.goto(f"/desk?date={day}")
    page.locator("table a").first.click()
    detail = page.url
    for suffix, name in (("/reschedule", "desk-reschedule"), ("/cancel", "desk-cancel")):
        page.goto(detail + suffix)
        look(page, name)
    for url in ("/", "/doctors", "/doctors/1", "/login", f"/desk?date={day}", "/desk/book?q=ana", detail):
        page.goto(url)
        assert small_touch_targets(page) == [], url


def test_no_errors_in_the_browser_console(new_page):
    """No CSP refusal (htmx injects no style of its own) and no missing file (the favicon) on the
    patient pages, an htmx swap and the desk's day list."""
    page = new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    page.goto("/doctors/1")
    page.get_by_role("link", name=re.compile("Next day")).click()
    page.wait_for_load_state("networkidle")
    login(page, "desk@clinica.test")
    page.goto("/desk/")
    page.wait_for_load_state("networkidle")
    assert errors == []
    assert page.request.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize("viewport, javascript", [(DESK, True), (PHONE, True), (PHONE, False)],
                         ids=["desk", "phone", "phone-no-js"])
def test_patient_changes_the_time_of_a_booking(new_page, server, viewport, javascript):
    """Change the time from the booking page: the picker (htmx swap, or a plain GET without
    JavaScript), the confirmation, the move. With JavaScript each page is also checked by axe and
    for fitting the width (axe runs in the page, so not without it)."""
    page = new_page(viewport=viewport, javascript=javascript)
    name = f"{viewport['width']}-{'js' if javascript else 'nojs'}"
    register(page, server, f"mover-{name}@example.com", name="Mo Mover")
    day = monday({"1280-js": 4, "390-js": 5, "390-nojs": 6}[name])
    page.goto(f"/doctors/1/book?date={day}&time=10:00&type=consultation")
    page.get_by_role("button", name="Book this time").click()
    page.get_by_text("Your appointment is booked").wait_for()
    page.get_by_role("link", name="Change the time").click()
    page.get_by_role("heading", name="Change the time").wait_for()
    if javascript:
        look(page, "reschedule")
    date_input = page.get_by_label("Day", exact=True)
    later = day + timedelta(days=1)
    date_input.fill(later.isoformat())
    if javascript:
        date_input.press("Enter")  # htmx swaps the list in place
    else:
        page.get_by_role("button", name="Show free times").click()
    page.get_by_role("heading", name=later.strftime("%A %d %B %Y")).wait_for()
    page.get_by_role("link", name=re.compile(r"^Move to 11:00")).click()
    page.get_by_role("heading", name="Move your appointment?").wait_for()
    if javascript:
        look(page, "confirm-reschedule")
    page.get_by_role("button", name="Move it").click()
    page.get_by_text("Your appointment is moved").wait_for()
    assert page.get_by_text(later.strftime("%a %d %b %Y") + ", 11:00").first.is_visible()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_a_patient_confirms_from_a_reminder_without_logging_in(new_page, server, viewport):
    """The reminder's Confirm link: one button, no login; the desk then sees the visit confirmed."""
    with writing_to_the_server_database(server):
        now = clinic.now()
        day = clinic.local_today(now) + timedelta(days=5)
        doctor = Doctor(display_name=f"Dr. Remind {viewport['width']}", specialty="General Practice", active=True)
        ben = db.session.scalars(select(User).where(User.full_name == "Ben Carter")).one()
        # An evening time of its own for each width: no other visit of Ben's is in the way.
        start = clinic.local_day_span(day)[0] + timedelta(hours=20 if viewport is DESK else 21)
        visit = Appointment(patient=ben, doctor=doctor, starts_at=start, ends_at=start + timedelta(minutes=15),
                            duration_minutes=15, appointment_type="follow_up", status=SCHEDULED, created_at=now,
                            updated_at=now)
        db.session.add_all([doctor, visit])
        db.session.commit()
        token = links.make("confirm", target_id=visit.id, sequence=visit.sequence, expires_at=visit.starts_at,
                           recipient=ben.email)
        doctor_id = doctor.id
    page = new_page(viewport=viewport)
    page.goto(f"/reminders/{token}/confirm")
    page.get_by_role("heading", name="Will you come to your appointment?").wait_for()
    look(page, "reminder-confirm")
    page.get_by_role("button", name="Yes, I will come").click()
    page.get_by_role("heading", name="Thank you: your appointment is confirmed").wait_for()
    look(page, "reminder-confirmed")
    page.goto(f"/reminders/{token}/confirm")  # used up: reopened, it says the visit is confirmed
    page.get_by_role("heading", name="Thank you: your appointment is confirmed").wait_for()
    page.goto("/reminders/not-a-link/confirm")
    page.get_by_role("heading", name="This link no longer works").wait_for()
    look(page, "reminder-dead-link")
    desk = new_page(viewport=viewport)
    login(desk, "desk@clinica.test")
    desk.goto(f"/desk/?date={day}&doctor_id={doctor_id}")
    assert desk.get_by_text("Confirmed", exact=True).first.is_visible()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_month_of_free_days_and_the_earliest_time_in_three_clicks(new_page, server, viewport, javascript):
    """From the home page to the confirmation of the earliest time in two clicks (the third books);
    the month view on the booking page changes month and picks a day, with htmx and without."""
    width, check = viewport["width"], (look if javascript else (lambda page, name: assert_fits(page, name)))
    page = new_page(viewport=viewport, javascript=javascript)
    page.goto("/")
    page.get_by_role("link", name="Find the earliest time").click()
    page.get_by_role("heading", name="Find the earliest time").wait_for()
    check(page, "find")
    page.get_by_label("Specialty").select_option("Dermatology")
    if not javascript:
        page.get_by_role("button", name="Show times").click()
    page.get_by_role("heading", name=re.compile("^Dermatology")).wait_for()
    assert "specialty=Dermatology" in page.url
    check(page, "find-dermatology")
    first = page.locator(".found a.slot").first
    chosen = first.inner_text()
    first.click()
    page.get_by_role("heading", name="Log in").wait_for()  # nobody is logged in yet: then straight back
    page.get_by_label("Email").fill("ben@clinica.test")
    page.get_by_label("Password").fill("demo-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Confirm your appointment").wait_for()
    assert chosen.split(", ")[1] in page.content() and "Dr. Diego Moreno" in page.content()

    page.goto("/doctors/2")  # Dr. Bianchi: Monday, Wednesday and Friday mornings
    month = page.locator("section.month")
    heading = month.get_by_role("heading").inner_text()
    check(page, "doctor-with-month")
    month.get_by_role("link", name="Next month ›").press("Enter")
    shown = datetime.strptime(heading, "%B %Y").date()
    following = (shown + timedelta(days=31)).replace(day=1).strftime("%B %Y")
    page.locator("section.month").get_by_role("heading", name=following).wait_for()
    # The day's times beside it are those of the month's first free day, as the address says.
    day_shown = page.locator("#slots-heading")
    expect(day_shown).to_contain_text(following)
    check(page, "month-next")
    assert "month=" in page.url  # the address bar follows: a reload stays on that month, and that day
    if javascript:
        expect(page.locator("#month-next")).to_be_focused()  # the arrow pressed, to press again
        expect(page.locator("#month-next")).to_be_in_viewport(ratio=0.95)  # (a longer day above it on a phone)
        expect(page.locator("#swap-status")).to_have_text(f"{following}. {day_shown.inner_text()}")
    on_screen = day_shown.inner_text()
    page.reload()
    page.locator("section.month").get_by_role("heading", name=following).wait_for()
    assert day_shown.inner_text() == on_screen
    open_day = page.locator("section.month td.day-open:not(.day-shown) a").first
    label = open_day.locator(".visually-hidden").inner_text()  # "Monday 04 January 2027: 12 free times"
    open_day.click()
    day_name = label.split(":")[0]
    page.get_by_role("heading", name=day_name).wait_for()
    # The month marks the day now shown beside it, and that day only.
    expect(page.locator("section.month td.day-shown")).to_have_count(1)
    expect(page.locator("section.month td.day-shown .visually-hidden")).to_have_text(label)
    assert page.locator("section.month td.day-day-off").count() >= 8  # Tuesdays, Thursdays, weekends
    check(page, f"month-day-{width}")
    if javascript:  # on to the last month that can be booked: the focus stays on "Next month ›"'s words
        while page.locator("a#month-next").count():
            before = page.locator("#month-heading").inner_text()
            page.locator("a#month-next").press("Enter")
            expect(page.locator("#month-heading")).not_to_have_text(before)
        expect(page.locator("span#month-next")).to_be_focused()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_a_patient_joins_the_waitlist_and_books_a_time_held_for_them(new_page, server, viewport):
    """Join from the waitlist page; a held offer's page (no login) books it with one button."""
    _base, env = server
    page = new_page(viewport=viewport)
    login(page, "ana@clinica.test")
    page.goto("/waitlist")
    look(page, "waitlist")
    page.get_by_label("Who").select_option(label="Any doctor of Dermatology")
    page.get_by_label("Afternoon (from 13:00)").check()
    page.get_by_role("button", name="Join the waitlist").click()
    page.get_by_text("You are on the waitlist").wait_for()
    look(page, "waitlist-joined")
    page.get_by_role("button", name="Leave this waitlist for any doctor of Dermatology").first.click()
    page.get_by_text("You have left that waitlist").wait_for()

    with writing_to_the_server_database(server):  # a time held for Ben, as the worker would hold it
        now = clinic.now()
        ben = db.session.scalars(select(User).where(User.full_name == "Ben Carter")).one()
        day = clinic.local_today(now) + timedelta(days=6)
        # Evening hours that day: a held time is one the doctor's calendar offers ("Book it" checks it still is).
        doctor = Doctor(display_name=f"Dr. Offer {viewport['width']}", specialty="General Practice", active=True,
                        weekly_hours=[WeeklyHours(weekday=day.weekday(), start_minute=20 * 60, end_minute=22 * 60)])
        start = clinic.local_day_span(day)[0] + timedelta(hours=20 if viewport is DESK else 21)
        entry = WaitlistEntry(patient=ben, doctor=doctor, appointment_type="follow_up", from_date=day, to_date=day,
                              part_of_day="any", status="active", created_at=now)
        db.session.add_all([doctor, entry])
        db.session.flush()
        assert waitlist.time_freed(doctor.id, start, start + timedelta(minutes=15), now=now) is None
        held = Appointment(patient=ben, doctor=doctor, starts_at=start, ends_at=start + timedelta(minutes=15),
                           duration_minutes=15, appointment_type="follow_up", status="held", notes="",
                           created_at=now, updated_at=now)
        offer = WaitlistOffer(entry=entry, doctor=doctor, starts_at=start, ends_at=held.ends_at, appointment=held,
                              status="open", expires_at=now + timedelta(minutes=15), created_at=now)
        db.session.add_all([held, offer])
        db.session.commit()
        token = waitlist.answer_tokens(offer)["accept"]
    mine = new_page(viewport=viewport)  # Ben's own pages show the time held for him, as the email does
    login(mine, "ben@clinica.test")
    mine.goto("/bookings")
    look(mine, "bookings-held")
    mine.get_by_role("link", name="book it or let it go").click()
    mine.get_by_role("heading", name="Held for you").wait_for()
    look(mine, "waitlist-held")
    assert mine.get_by_role("button", name="Book it").count() == 1
    mine.goto("/account")  # a patient's account: language, and their own name and phone
    look(mine, "account-patient")
    stranger = new_page(viewport=viewport)
    stranger.goto(f"/waitlist/offers/{token}")
    stranger.get_by_role("heading", name="Book the time held for you").wait_for()
    look(stranger, "waitlist-offer")
    stranger.get_by_role("button", name="Book it").click()
    stranger.get_by_role("heading", name=re.compile("^Booked: ")).wait_for()
    look(stranger, "waitlist-booked")


def test_a_refused_form_low_on_a_long_page_takes_the_focus_to_its_error(new_page):
    """Time off that ends before it starts, at 390 px: the page comes back at the field in error,
    focused and in view, not at the top with the error 3 000 px below."""
    page = new_page(viewport=PHONE)
    login(page, "rossi@clinica.test")
    page.goto("/desk/doctors/1/hours")
    page.get_by_label("First day").fill("2030-01-10")
    page.get_by_label("Last day (optional)").fill("2030-01-09")
    page.get_by_role("button", name="Block this time").click()
    in_view = ("(() => { const e = document.activeElement, r = e.getBoundingClientRect(); "
               "return [e.id, e.getAttribute('aria-invalid'), r.top >= 0 && r.bottom <= window.innerHeight]; })()")
    for _ in range(50):  # Chromium scrolls to the focused field a frame or two after the load
        if page.evaluate(in_view) == ["end_date", "true", True]:
            break
        page.wait_for_timeout(100)
    assert page.evaluate(in_view) == ["end_date", "true", True]  # the field in error: focused, in view
    look(page, "hours-refused")
