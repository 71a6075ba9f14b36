"""The desk's slot picker (DESIGN.md section 20): booking for a patient and rescheduling use the
patients' picker (a day's free times loaded with htmx, day buttons, the doctor's month), and a
confirmation step; a reason typed for a move survives changing the doctor, the day or the month,
with and without JavaScript; bad input is a clear 4xx that changes nothing; and the picker's
pages run a fixed number of queries.

The flows' older guarantees (messages, emails, history) are in test_desk.py.
"""
import html as html_lib
import re
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment
from tests.conftest import instant, next_weekday, table_snapshot

MONDAY = next_weekday(0, weeks=1)  # 8 to 14 days away
TUESDAY = MONDAY + timedelta(days=1)
BEFORE = MONDAY - timedelta(days=7)  # the clock stands on the Monday before, at 08:00
HTMX = {"HX-Request": "true"}
REASON = "Patient asked by phone: afternoons only"


# ---------------------------------------------------------------------------------------------
# Helpers


def text_of(html):
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def slot_times(html):
    """The times the picker offers: buttons of its form (name="time")."""
    return re.findall(r'name="time" value="(\d\d:\d\d)" class="slot" form="desk-picker"', html)


def hrefs(html, pattern=""):
    return [html_lib.unescape(h) for h in re.findall(r'href="([^"]*)"', html) if re.search(pattern, h)]


def args_of(url):
    return {name: values[0] for name, values in parse_qs(urlsplit(html_lib.unescape(url)).query).items()}


def appointments(app):
    with app.app_context():
        return [(a.patient_id, a.doctor_id, a.starts_at, a.status, a.notes) for a in
                db.session.scalars(select(Appointment).order_by(Appointment.id))]


def typed_reason(html):
    """What the reason field holds, or None where there is none."""
    found = re.search(r'<textarea[^>]*name="reason"[^>]*>(.*?)</textarea>', html, re.S)
    return html_lib.unescape(found[1]).strip() if found else None


def key_of(html):
    return re.search(r'name="booking_key" type="hidden" value="([^"]+)"', html)[1]


@pytest.fixture
def clinic_world(app, clock, make_doctor, make_user, desk):
    clock.set(instant(BEFORE, "08:00"))
    rossi = make_doctor(name="Dr. Laura Rossi")
    bianchi = make_doctor(name="Dr. Marco Bianchi", specialty="Pediatrics", weekdays=(0, 2, 4),
                          windows=(("08:00", "12:00"),))
    retired = make_doctor(name="Dr. Old Retired", active=False)
    ana = make_user(full_name="Ana Torres", email="ana@example.com", phone="+56 9 1234 5678")
    ben = make_user(full_name="Ben Ortiz", email="ben@example.com")
    return SimpleNamespace(rossi=rossi, bianchi=bianchi, retired=retired, ana=ana, ben=ben, desk=desk,
                           client=desk.client)


def picker_url(world, **args):
    return "/desk/book?" + "&".join(f"{name}={value}" for name, value in
                                    {"patient_id": world.ana, "doctor_id": world.rossi, "date": MONDAY,
                                     "type": "consultation", **args}.items())


# ---------------------------------------------------------------------------------------------
# Booking for a patient


def test_the_desk_books_through_the_picker_and_a_confirmation_step(app, clinic_world, sent_mail):
    client = clinic_world.client
    page = client.get(picker_url(clinic_world))
    assert page.status_code == 200
    assert slot_times(page.text)[:3] == ["09:00", "09:15", "09:30"]
    # The picker's controls and the time buttons belong to one GET form, which carries the patient.
    form = re.search(r'<form id="desk-picker" method="get" action="/desk/book"[^>]*>(.*?)</form>', page.text, re.S)
    assert form and f'name="patient_id" value="{clinic_world.ana}"' in form[1]
    assert 'aria-label="Book 09:30, ' in page.text
    # The doctor's month beside it, its days linking to the desk's picker (not the patients' pages).
    month = page.text.split('id="month"')[1]
    assert f"{MONDAY:%B %Y}" in month
    day_links = hrefs(month, r"date=")
    assert day_links and all(link.startswith("/desk/book?") for link in day_links)
    assert {args_of(link)["patient_id"] for link in day_links} == {str(clinic_world.ana)}

    # A time's button (GET, with the form's fields) opens the confirmation step; nothing is booked yet.
    confirm = client.get("/desk/book", query_string={
        "patient_id": clinic_world.ana, "doctor_id": clinic_world.rossi, "date": MONDAY.isoformat(),
        "type": "consultation", "time": "09:30"})
    assert confirm.status_code == 200
    shown = text_of(confirm.text)
    assert f"Book Ana Torres with Dr. Laura Rossi on {MONDAY:%A %d %B %Y} at 09:30?" in shown
    assert "Consultation (30 min)" in shown and "ana@example.com" in shown
    assert re.search(r'<textarea id="notes"[^>]* name="notes"', confirm.text)
    back = hrefs(confirm.text, "Back|desk/book\\?")[-1]
    assert args_of(back) == {"patient_id": str(clinic_world.ana), "doctor_id": str(clinic_world.rossi),
                             "date": MONDAY.isoformat(), "type": "consultation"}
    assert appointments(app) == []

    response = client.post("/desk/book", data={
        "patient_id": clinic_world.ana, "doctor_id": clinic_world.rossi, "date": MONDAY.isoformat(), "time": "09:30",
        "type": "consultation", "booking_key": key_of(confirm.text), "notes": "Bring the X-rays"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/desk/appointments/")
    assert appointments(app) == [(clinic_world.ana, clinic_world.rossi, instant(MONDAY, "09:30"), SCHEDULED,
                                  "Bring the X-rays")]
    assert len(sent_mail()) == 1
    assert "09:30" not in slot_times(client.get(picker_url(clinic_world)).text)


@pytest.mark.parametrize("address", ["http://[/", "http://[::1/desk/book?date=x", "%%%"])
def test_an_htmx_page_address_that_does_not_parse_is_no_error(clinic_world, address):
    """HX-Current-URL is the client's to write: one that is no address loads the free times, the
    month with them (as with no address at all)."""
    partial = clinic_world.client.get(picker_url(clinic_world, date=TUESDAY),
                                      headers={**HTMX, "HX-Current-URL": address})
    assert partial.status_code == 200 and slot_times(partial.text)[0] == "09:00" and 'id="month"' in partial.text


def test_htmx_loads_a_days_free_times_in_place_and_the_month_only_when_it_changes(clinic_world):
    client = clinic_world.client
    here = picker_url(clinic_world)
    partial = client.get(picker_url(clinic_world, date=TUESDAY), headers={**HTMX, "HX-Current-URL": here})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert f"{TUESDAY:%A %d %B %Y}" in partial.text and slot_times(partial.text)[0] == "09:00"
    assert 'id="month"' not in partial.text  # the same month and doctor: the month stays as it is
    assert args_of(partial.headers["HX-Push-Url"])["date"] == TUESDAY.isoformat()
    assert "HX-Request" in partial.headers["Vary"]
    # Another doctor (or visit type): the month comes along, out of band, for that doctor.
    other = client.get(picker_url(clinic_world, doctor_id=clinic_world.bianchi),
                       headers={**HTMX, "HX-Current-URL": here})
    assert 'id="month" aria-labelledby="month-heading" hx-swap-oob="true"' in other.text
    assert "Dr. Marco Bianchi's free times" in other.text
    longer = client.get(picker_url(clinic_world, type="therapy"), headers={**HTMX, "HX-Current-URL": here})
    assert "hx-swap-oob" in longer.text and "therapy (60 min)" in longer.text
    # The selects reload the free times with htmx, sending the whole form; the day does not on its
    # change (typing a date changes it at each digit): its button sends it.
    assert ('hx-get="/desk/book" hx-trigger="change from:#doctor_id, change from:#type" hx-target="#slots"\n'
            '     hx-include="#desk-picker"') in partial.text


def test_an_old_or_far_month_on_the_desks_picker_shows_a_month_that_can_be_booked(clinic_world):
    this_month, last = BEFORE.replace(day=1), (BEFORE + timedelta(days=90)).replace(day=1)  # (the horizon's)
    for asked, shown in (("2020-01", this_month), ("2099-12", last)):
        page = clinic_world.client.get(picker_url(clinic_world, month=asked), headers=HTMX).text
        assert re.search(rf'<h2 id="month-heading"[^>]*>{shown:%B %Y}</h2>', page), asked


def test_the_desks_month_changes_with_htmx_and_by_plain_links(clinic_world):
    client = clinic_world.client
    page = client.get(picker_url(clinic_world)).text
    [next_month] = re.findall(r'<a id="month-next" href="([^"]+)" hx-get="([^"]+)"', page) or [(None, None)]
    assert next_month[0], "a link to the next month"
    # Without JavaScript the link lands on the month (#month); htmx asks for the same page.
    assert next_month[0] == next_month[1] + "#month"
    next_month = (next_month[1], next_month[1])
    assert args_of(next_month[0])["patient_id"] == str(clinic_world.ana)
    wanted = args_of(next_month[0])["month"]
    only_month = client.get(html_lib.unescape(next_month[0]), headers=HTMX)
    assert only_month.status_code == 200 and only_month.text.lstrip().startswith('<section class="month" id="month"')
    assert 'id="slots-heading"' not in only_month.text
    # Without JavaScript: the page, with that month beside the same day's free times.
    full = client.get(html_lib.unescape(next_month[0])).text
    assert "<html" in full and f"{MONDAY:%A %d %B %Y}" in full
    month_name = re.search(r'<h2 id="month-heading"[^>]*>([^<]+)</h2>', full)[1]
    assert month_name == f"{MONDAY.replace(day=1) + timedelta(days=31):%B %Y}" and wanted in next_month[0]


def test_a_day_without_free_times_says_why_and_offers_the_next_one_at_the_desk(clinic_world):
    sunday = MONDAY - timedelta(days=1)
    page = clinic_world.client.get(picker_url(clinic_world, date=sunday)).text
    assert "Dr. Laura Rossi does not see patients on this day." in text_of(page)
    [next_link] = hrefs(page.split('class="next-time"')[1], r"time=")
    assert next_link.startswith("/desk/book?") and args_of(next_link)["time"] == "09:00"
    assert args_of(next_link)["patient_id"] == str(clinic_world.ana)
    assert "Join the waitlist" not in page  # a patient's own page
    assert slot_times(page) == []


def test_a_time_chosen_elsewhere_lands_on_the_confirmation_once_the_patient_is_found(clinic_world):
    """The desk timeline's free gaps (and the patient pages) link to /desk/book?doctor_id=&date=&time=."""
    client = clinic_world.client
    found = client.get(f"/desk/book?doctor_id={clinic_world.rossi}&date={MONDAY}&time=10:00&q=Torres")
    assert found.status_code == 200
    [link] = [link for link in hrefs(found.text, r"patient_id=") if f"patient_id={clinic_world.ana}" in link]
    confirm = client.get(link)
    assert confirm.status_code == 200
    assert f"Book Ana Torres with Dr. Laura Rossi on {MONDAY:%A %d %B %Y} at 10:00?" in text_of(confirm.text)


def test_a_time_taken_meanwhile_says_so_and_books_nothing(app, clinic_world, make_appointment, sent_mail):
    client = clinic_world.client
    make_appointment(doctor_id=clinic_world.rossi, patient_id=clinic_world.ben, day=MONDAY, hhmm="10:00")
    before = appointments(app)
    # Chosen on a page loaded before: the confirmation step says so, over the day's free times.
    stale = client.get(picker_url(clinic_world, time="10:15"))
    assert stale.status_code == 409
    assert "10:15 cannot be booked: Time slot overlaps with another booking. Choose another time." in text_of(
        stale.text)
    assert "10:15" not in slot_times(stale.text) and "10:30" in slot_times(stale.text)
    assert 'name="booking_key"' not in stale.text
    # Confirmed after it was taken: the message, back on the picker.
    posted = client.post("/desk/book", data={"patient_id": clinic_world.ana, "doctor_id": clinic_world.rossi,
                                             "date": MONDAY.isoformat(), "time": "10:15", "type": "consultation",
                                             "booking_key": "k" * 32})
    assert posted.status_code == 303
    again = client.get(posted.headers["Location"]).text
    assert "Time slot overlaps with another booking" in text_of(again)
    assert appointments(app) == before and len(sent_mail()) == 0


# ---------------------------------------------------------------------------------------------
# Rescheduling


@pytest.fixture
def visit(clinic_world, make_appointment):
    """Ana's Monday 10:00-10:30 with Dr. Rossi."""
    return make_appointment(doctor_id=clinic_world.rossi, patient_id=clinic_world.ana, day=MONDAY, hhmm="10:00")


def moved_to(app, appointment_id):
    with app.app_context():
        appointment = db.session.get(Appointment, appointment_id)
        return appointment.doctor_id, appointment.starts_at, appointment.sequence


def test_reschedule_through_the_picker_and_a_confirmation(app, clinic_world, visit, sent_mail):
    client = clinic_world.client
    page = client.get(f"/desk/appointments/{visit}/reschedule")
    assert page.status_code == 200
    times = slot_times(page.text)
    # Its own time counts as free for the times overlapping it, but is not offered: a move there
    # changes nothing.
    assert "10:15" in times and "10:00" not in times
    assert 'aria-label="Move to 10:15, ' in page.text
    # The month counts the day the same way.
    label = re.search(rf"{MONDAY:%A %d %B %Y}: (\d+) free times", page.text)
    assert label and int(label[1]) == len(times)

    confirm = client.get(f"/desk/appointments/{visit}/reschedule",
                         query_string={"doctor_id": clinic_world.bianchi, "date": MONDAY.isoformat(), "time": "08:00"})
    assert confirm.status_code == 200
    shown = text_of(confirm.text)
    assert f"Move Ana Torres from Mon {MONDAY:%d %b %Y}, 10:00 to Mon {MONDAY:%d %b %Y}, 08:00?" in shown
    assert "with Dr. Marco Bianchi (Pediatrics)" in shown
    assert moved_to(app, visit) == (clinic_world.rossi, instant(MONDAY, "10:00"), 0)
    moved = client.post(f"/desk/appointments/{visit}/reschedule", data={
        "doctor_id": clinic_world.bianchi, "date": MONDAY.isoformat(), "time": "08:00", "reason": REASON})
    assert moved.status_code == 303
    assert moved_to(app, visit) == (clinic_world.bianchi, instant(MONDAY, "08:00"), 1)
    assert len(sent_mail()) == 1


def test_the_desks_month_and_next_time_count_what_the_patient_could_book(clinic_world, make_appointment):
    """Ana sees Dr. Bianchi on Monday 09:00-10:00, and the desk books or moves her with Dr. Rossi:
    the times that clash with that visit are neither offered nor counted in the month, which says
    as many free times as the day offers; for Ben, who has no visit, the month counts them all."""
    client = clinic_world.client
    make_appointment(doctor_id=clinic_world.bianchi, patient_id=clinic_world.ana, day=MONDAY, hhmm="09:00",
                     duration=60)
    moving = make_appointment(doctor_id=clinic_world.rossi, patient_id=clinic_world.ana, day=MONDAY, hhmm="15:00")

    def day_and_month(url):
        page = client.get(url).text
        label = re.search(rf"{MONDAY:%A %d %B %Y}: (\d+) free times", page)
        return slot_times(page), int(label[1])

    for url in (picker_url(clinic_world), f"/desk/appointments/{moving}/reschedule"):
        times, counted = day_and_month(url)
        assert {"08:45", "09:00", "09:30", "09:45"}.isdisjoint(times) and "10:00" in times, url
        assert counted == len(times), url
    times, counted = day_and_month(picker_url(clinic_world, patient_id=clinic_world.ben))
    assert {"09:00", "09:30"} <= set(times) and counted == len(times)
    # The rest of her Monday taken elsewhere too, and Tuesday 09:00: the next free time the desk is
    # shown is one she could book.
    for day, hhmm, minutes in ((MONDAY, "10:00", 300), (MONDAY, "15:30", 150), (TUESDAY, "09:00", 30)):
        make_appointment(doctor_id=clinic_world.bianchi, patient_id=clinic_world.ana, day=day, hhmm=hhmm,
                         duration=minutes)
    page = client.get(picker_url(clinic_world)).text
    assert slot_times(page) == []
    [next_link] = hrefs(page.split('class="next-time"')[1], r"time=")
    assert (args_of(next_link)["date"], args_of(next_link)["time"]) == (TUESDAY.isoformat(), "09:30")


def test_staff_move_a_visit_inside_the_patients_cutoff(app, clinic_world, visit, clock):
    clock.set(instant(MONDAY, "08:00"))  # two hours before: too late for the patient, not for the desk
    page = clinic_world.client.get(f"/desk/appointments/{visit}/reschedule")
    assert "11:00" in slot_times(page.text)
    confirm = clinic_world.client.get(f"/desk/appointments/{visit}/reschedule?date={MONDAY}&time=11:00")
    assert confirm.status_code == 200
    assert clinic_world.client.post(f"/desk/appointments/{visit}/reschedule", data={
        "doctor_id": clinic_world.rossi, "date": MONDAY.isoformat(), "time": "11:00",
        "reason": REASON}).status_code == 303
    assert moved_to(app, visit)[1] == instant(MONDAY, "11:00")


def test_a_typed_reason_survives_changing_the_day_month_and_doctor_without_javascript(app, clinic_world, visit):
    """No JavaScript: the reason is a field of the picker's GET form, sent with "Show free times" and
    a time's button, and carried by every link of the picker (days, month, next free time)."""
    client = clinic_world.client
    shown = client.get(f"/desk/appointments/{visit}/reschedule",
                       query_string={"doctor_id": clinic_world.bianchi, "date": TUESDAY.isoformat(), "reason": REASON})
    assert shown.status_code == 200
    assert typed_reason(shown.text) == REASON
    assert 'action="/desk/appointments/' in shown.text and 'form="desk-picker"' in shown.text
    # Tuesday is not one of Dr. Bianchi's days: the next free time, the day links and the month's
    # links all carry the reason.
    links = hrefs(shown.text, r"reschedule\?")
    assert len(links) > 5 and all(args_of(link).get("reason") == REASON for link in links), links
    next_day = next(link for link in links if args_of(link).get("date") == (TUESDAY + timedelta(days=1)).isoformat())
    wednesday = client.get(next_day)
    assert typed_reason(wednesday.text) == REASON
    assert "08:00" in slot_times(wednesday.text)
    # A time's button sends the form (the reason as typed) to the confirmation step...
    confirm = client.get(f"/desk/appointments/{visit}/reschedule", query_string={
        "reason": REASON, "doctor_id": clinic_world.bianchi, "date": (TUESDAY + timedelta(days=1)).isoformat(),
        "time": "08:00"})
    assert confirm.status_code == 200
    assert typed_reason(confirm.text) == REASON
    # ... whose "Choose another time" keeps it too.
    assert args_of(hrefs(confirm.text, r"reschedule\?")[-1])["reason"] == REASON
    # A refused move keeps what was typed, and the way back carries it.
    refused = client.post(f"/desk/appointments/{visit}/reschedule", data={
        "doctor_id": clinic_world.bianchi, "date": TUESDAY.isoformat(), "time": "08:00", "reason": REASON})
    assert refused.status_code == 422 and "Doctor not available on this day" in refused.text
    assert typed_reason(refused.text) == REASON
    assert args_of(hrefs(refused.text, r"reschedule\?")[-1]) == {
        "reason": REASON, "doctor_id": str(clinic_world.bianchi), "date": TUESDAY.isoformat()}
    assert moved_to(app, visit) == (clinic_world.rossi, instant(MONDAY, "10:00"), 0)


def test_a_typed_reason_survives_changing_the_day_month_and_doctor_with_htmx(clinic_world, visit):
    """With htmx: the reason is outside the part that is swapped, and each request sends it as it is
    typed now (hx-include), not the copy in the link; the address bar keeps it."""
    client = clinic_world.client
    url = f"/desk/appointments/{visit}/reschedule"
    page = client.get(url).text
    assert 'hx-include="#desk-picker"' in page  # the doctor and day controls send the whole form
    for link in re.findall(r"<a [^>]*hx-get=[^>]*>", page):
        hx_get = html_lib.unescape(re.search(r'hx-get="([^"]*)"', link)[1])
        assert "reason=" not in hx_get, link
        if "month=" not in hx_get:  # the days of the picker and of the month: they load free times
            assert 'hx-include="#reason"' in link, link
    partial = client.get(url, query_string={"doctor_id": clinic_world.rossi, "date": TUESDAY.isoformat(),
                                            "reason": REASON},
                         headers={**HTMX, "HX-Current-URL": f"http://localhost{url}"})
    assert partial.status_code == 200 and "<textarea" not in partial.text  # what is typed is never replaced
    assert args_of(partial.headers["HX-Push-Url"])["reason"] == REASON
    assert "10:00" in slot_times(partial.text)  # the time buttons still belong to the form with the reason
    month = client.get(url, query_string={"doctor_id": clinic_world.bianchi, "month": f"{MONDAY:%Y-%m}",
                                          "reason": REASON}, headers=HTMX)
    assert month.text.lstrip().startswith('<section class="month"') and "<textarea" not in month.text


# ---------------------------------------------------------------------------------------------
# Bad input: a clear 4xx, nothing changed


@pytest.mark.parametrize("args, status, message", [
    ({"date": "0001-01-01"}, 400, "Choose a date from 2000-01-01 to 2099-12-31"),
    ({"date": "9999-12-31"}, 400, "Choose a date from 2000-01-01 to 2099-12-31"),
    ({"date": "2027-02-30"}, 400, "Invalid date format (YYYY-MM-DD)"),
    ({"date": "\x1b[31m"}, 400, "Invalid date format (YYYY-MM-DD)"),
    ({"date": "2027-01-01\x00"}, 400, "Text must not contain NUL characters."),
    ({"month": "0001-01"}, 400, "Choose a month from 2000-01 to 2099-12"),
    ({"month": "2027-13"}, 400, "Invalid month format (YYYY-MM)"),
    ({"doctor_id": "{retired}"}, 400, "Doctor not found"),
    ({"doctor_id": "9" * 5000}, 400, "Doctor not found"),
    ({"doctor_id": "²"}, 400, "Doctor not found"),
    ({"type": "massage"}, 400, "Invalid appointment type"),
    ({"time": "25:00"}, 400, "Invalid time format (HH:MM)"),
    ({"time": "9am"}, 400, "Invalid time format (HH:MM)"),
    ({"time": "10:00\n"}, 400, "Invalid time format (HH:MM)"),
    ({"time": "9" * 5000}, 400, "Invalid time format (HH:MM)"),
    ({"time": "10:10"}, 409, "10:10 cannot be booked: Outside doctor availability"),
    ({"time": "07:00", "date": "{monday}"}, 409, "07:00 cannot be booked: Outside doctor availability"),
])
def test_bad_picker_input_is_a_clear_4xx(app, clinic_world, visit, args, status, message):
    before = table_snapshot(app)
    values = {name: value.format(retired=clinic_world.retired, monday=MONDAY) for name, value in args.items()}
    pages = [("/desk/book", {"patient_id": clinic_world.ana, "doctor_id": clinic_world.rossi,
                             "date": MONDAY.isoformat(), **values})]
    if "type" not in args:
        pages.append((f"/desk/appointments/{visit}/reschedule", {"reason": REASON, **values}))
    for url, query in pages:
        for headers in ({}, HTMX):
            response = clinic_world.client.get(url, query_string=query, headers=headers)
            assert response.status_code == status, (url, query, response.status_code)
            assert message in text_of(response.text), (url, query)
    del before["access_events"]
    after = table_snapshot(app)
    del after["access_events"]
    assert after == before


def test_a_reason_too_long_to_carry_is_refused(app, clinic_world, visit):
    response = clinic_world.client.get(f"/desk/appointments/{visit}/reschedule", query_string={"reason": "x" * 501})
    assert response.status_code == 400 and "A reason has at most 500 characters." in response.text
    posted = clinic_world.client.post(f"/desk/appointments/{visit}/reschedule", data={
        "doctor_id": clinic_world.rossi, "date": MONDAY.isoformat(), "time": "11:00", "reason": "x" * 10_000})
    assert posted.status_code == 422 and "A reason has at most 500 characters." in posted.text
    assert moved_to(app, visit) == (clinic_world.rossi, instant(MONDAY, "10:00"), 0)


def test_moving_to_an_inactive_doctor_is_refused(app, clinic_world, visit, sent_mail):
    posted = clinic_world.client.post(f"/desk/appointments/{visit}/reschedule", data={
        "doctor_id": clinic_world.retired, "date": MONDAY.isoformat(), "time": "11:00", "reason": REASON})
    assert posted.status_code == 422 and "Doctor not found" in text_of(posted.text)
    assert moved_to(app, visit) == (clinic_world.rossi, instant(MONDAY, "10:00"), 0)
    assert sent_mail() == []


# ---------------------------------------------------------------------------------------------
# A fixed number of queries, whatever the day and the month hold


def test_the_pickers_pages_run_as_many_queries_on_a_busy_month_as_on_a_quiet_one(
        clinic_world, visit, make_user, make_appointment, count_queries):
    client = clinic_world.client
    reschedule = f"/desk/appointments/{visit}/reschedule"
    here = picker_url(clinic_world)
    pages = [
        (picker_url(clinic_world), {}),
        (picker_url(clinic_world, date=TUESDAY), {**HTMX, "HX-Current-URL": here}),
        (picker_url(clinic_world, doctor_id=clinic_world.bianchi), {**HTMX, "HX-Current-URL": here}),
        (picker_url(clinic_world, month=f"{MONDAY:%Y-%m}"), HTMX),
        (picker_url(clinic_world, time="15:00"), {}),
        (f"{reschedule}?reason=r", {}),
        (f"{reschedule}?date={TUESDAY}&reason=r", HTMX),
        (f"{reschedule}?month={MONDAY:%Y-%m}", HTMX),
        (f"{reschedule}?date={TUESDAY}&time=15:00&reason=r", {}),
    ]

    def measure():
        def run(url, headers):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
        return [count_queries(lambda: run(url, headers)) for url, headers in pages]

    quiet = measure()
    patients = [make_user(full_name=f"Patient {n}") for n in range(4)]
    for offset in range(-3, 12):
        day = MONDAY + timedelta(days=offset)
        if day.weekday() < 5:
            for n, hhmm in enumerate(("09:00", "11:00", "12:00", "16:00")):
                if (day, hhmm) != (MONDAY, "10:00"):
                    make_appointment(doctor_id=clinic_world.rossi, patient_id=patients[n], day=day, hhmm=hhmm)
    assert measure() == quiet
