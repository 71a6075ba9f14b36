"""The desk's timeline in headless Chromium: at desk and phone widths, with and without JavaScript,
checked by axe-core; one doctor at a time on a phone, its refresh keeping the doctor in view and
the focus, and its printed form."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import ARRIVED, SCHEDULED, Appointment, BlockedPeriod, Doctor, User
from clinica_web.services import clinic, slots
from tests.e2e.conftest import DESK, PHONE, SCREENSHOTS, login, screenshot, writing_to_the_server_database
from tests.e2e.test_browser import TODAY, assert_accessible, assert_fits, look, monday, small_touch_targets

DAY = monday(7) + timedelta(days=2)  # a Wednesday: Dr. Rossi, Dr. Bianchi and Dr. Moreno work


@pytest.fixture(scope="module")
def busy_wednesday(server):
    """On DAY: Ana with Dr. Rossi at 10:00 (confirmed), Ben with her at 14:30 inside her time off
    (14:00-16:00, "Training"), and Ben with Dr. Bianchi at 09:00, arrived."""
    with writing_to_the_server_database(server):
        zone = clinic.tz()
        people = {user.full_name: user for user in db.session.scalars(
            select(User).where(User.full_name.in_(["Ana Torres", "Ben Carter"])))}
        doctors = {doctor.display_name: doctor for doctor in db.session.scalars(select(Doctor))}
        rossi, bianchi = doctors["Dr. Laura Rossi"], doctors["Dr. Marco Bianchi"]

        def at(hhmm):
            hours, minutes = map(int, hhmm.split(":"))
            return slots.local_instant(DAY, hours * 60 + minutes, zone)

        def visit(patient, doctor, hhmm, minutes, kind, status=SCHEDULED, confirmed=False):
            start = at(hhmm)
            return Appointment(patient=people[patient], doctor=doctor, starts_at=start,
                               ends_at=start + timedelta(minutes=minutes), duration_minutes=minutes,
                               appointment_type=kind, status=status, confirmed_at=start if confirmed else None)

        visits = [visit("Ana Torres", rossi, "10:00", 30, "consultation", confirmed=True),
                  visit("Ben Carter", rossi, "14:30", 15, "follow_up"),
                  visit("Ben Carter", bianchi, "09:00", 30, "consultation", status=ARRIVED)]
        db.session.add_all([*visits, BlockedPeriod(doctor=rossi, starts_at=at("14:00"), ends_at=at("16:00"),
                                                   reason="Training")])
        db.session.commit()
        return {"rossi": rossi.id, "bianchi": bianchi.id, "visits": [v.id for v in visits]}


def box_shows(page, doctor_id):
    """Whether the grid's box shows that doctor's column (its heading inside the box's visible part)."""
    return page.evaluate("""(id) => {
        const box = document.getElementById('timeline').getBoundingClientRect();
        const head = document.getElementById('tl-doctor-' + id).getBoundingClientRect();
        return head.left >= box.left - 1 && head.right <= box.right + 1;
    }""", doctor_id)


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_desk_reads_the_day_and_books_a_free_time(new_page, busy_wednesday, viewport, javascript):
    page = new_page(viewport=viewport, javascript=javascript)
    login(page, "desk@clinica.test")
    page.get_by_role("link", name="Timeline", exact=True).first.click()
    page.wait_for_load_state()
    assert "Timeline: " in page.locator("h1").inner_text()
    page.goto(f"/desk/timeline?date={DAY}")
    name = f"desk-timeline-{'js' if javascript else 'no-js'}"
    if javascript:
        look(page, name)
    else:  # axe needs JavaScript (the markup is the same); the layout is checked all the same
        screenshot(page, name)
        assert_fits(page, name)

    headings = page.locator("thead th.tl-doctor")
    assert [text.split("\n")[0] for text in headings.all_inner_texts()] == [
        "Dr. Diego Moreno", "Dr. Laura Rossi", "Dr. Marco Bianchi"]
    ana = page.locator("td", has=page.get_by_role("link", name="Ana Torres"))
    assert "10:00–10:30 · Consultation · Scheduled" in ana.inner_text() and "Confirmed" in ana.inner_text()
    inside = page.locator(f"#visit-{busy_wednesday['visits'][1]}").locator("xpath=ancestor::td")
    assert "Time off: Training" in inside.inner_text()  # a clash: a visit inside her time off

    # Free times and walk-ins are links big enough for a finger, like the site's buttons.
    assert small_touch_targets(page) == []
    assert page.evaluate("""() => [...document.querySelectorAll('.tl-free a')]
        .filter(a => a.getBoundingClientRect().height < 44).length""") == 0

    bianchi = busy_wednesday["bianchi"]
    if viewport is PHONE:
        # One doctor at a time: the first fills the box; the link to Dr. Bianchi brings his column in.
        assert box_shows(page, int(headings.first.get_attribute("id").rsplit("-", 1)[1]))
        assert not box_shows(page, bianchi)
        page.get_by_role("link", name="Dr. Marco Bianchi", exact=True).click()
        page.wait_for_timeout(300)
        assert box_shows(page, bianchi)
        assert_fits(page, name + " on Dr. Bianchi")
        # The viewport as it is (a full-page screenshot resizes the viewport, and the box with it).
        page.screenshot(path=str(SCREENSHOTS / f"{name}-bianchi-{viewport['width']}.png"))

    # A free time is a link to book it: the patient is found next, the time carried along.
    page.get_by_role("link", name="Book 11:00 with Dr. Marco Bianchi").click()
    page.wait_for_load_state()
    assert f"doctor_id={bianchi}" in page.url and f"date={DAY}" in page.url and "time=11:00" in page.url
    page.go_back()
    page.get_by_role("link", name="Ana Torres").click()
    page.wait_for_load_state()
    assert re.search(rf"/desk/appointments/{busy_wednesday['visits'][0]}$", page.url)


def test_the_refresh_keeps_the_doctor_in_view_and_the_focus(new_page, busy_wednesday):
    page = new_page(viewport=PHONE)
    login(page, "desk@clinica.test")
    page.goto(f"/desk/timeline?date={DAY}")
    page.get_by_role("link", name="Dr. Marco Bianchi", exact=True).click()
    page.wait_for_timeout(300)
    link = page.get_by_role("link", name="Book 11:00 with Dr. Marco Bianchi")
    link.focus()
    scrolled = page.evaluate("document.getElementById('timeline').scrollLeft")
    assert scrolled > 0
    with page.expect_response(lambda r: "/desk/timeline" in r.url and r.request.headers.get("hx-request")):
        # What the 30-second poll does (hx-get into the box, innerHTML), now rather than in 30 seconds.
        page.evaluate("() => htmx.ajax('GET', location.pathname + location.search, "
                      "{target: '#timeline', swap: 'innerHTML'})")
    page.wait_for_timeout(300)
    assert page.evaluate("document.getElementById('timeline').scrollLeft") == scrolled
    assert page.evaluate("document.activeElement.id") == f"free-{busy_wednesday['bianchi']}-660"
    assert_accessible(page, "timeline after a refresh")


def test_today_and_a_doctors_own_timeline(new_page, busy_wednesday):
    page = new_page(viewport=PHONE)
    login(page, "rossi@clinica.test")
    page.goto("/desk/timeline")
    look(page, "desk-timeline-doctor-today")
    page.goto(f"/desk/timeline?date={DAY}")
    assert page.locator("thead th.tl-doctor").count() == 1
    assert page.get_by_role("link", name=re.compile("^Book ")).count() == 0  # doctors do not book
    look(page, "desk-timeline-doctor")
    assert TODAY < DAY


def test_the_timeline_prints_without_the_controls(new_page, busy_wednesday):
    page = new_page(viewport=DESK)
    login(page, "desk@clinica.test")
    page.goto(f"/desk/timeline?date={DAY}")
    page.emulate_media(media="print")
    screenshot(page, "desk-timeline-print")
    for hidden in (page.locator(".nav ul"), page.locator("form.filter"), page.locator(".day-nav"),
                   page.get_by_role("link", name="Book 11:00 with Dr. Marco Bianchi")):
        assert not hidden.is_visible()
    assert page.get_by_text("Time off: Training").first.is_visible()
    widths = page.evaluate("[document.querySelector('.tl-table').scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1]
    assert page.pdf(format="A4")  # the named page: A4 landscape
