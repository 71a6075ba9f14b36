"""Finding a time in one look on the site (DESIGN.md section 17): the month view, no dead ends,
and /find, reachable from the home page."""
import re
from datetime import date

import pytest

from clinica_web.extensions import db
from clinica_web.models import BlockedPeriod
from tests.conftest import instant

NOW_DAY = date(2027, 3, 10)  # a Wednesday; March 2027 has no daylight-saving change in Santiago
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def fixed_clock(clock):
    clock.set(instant(NOW_DAY, "12:00"))


def day_cells(html):
    """{day of month: (css status, what a screen reader hears)} of a month view."""
    cells = re.findall(r'<td class="day day-([a-z-]+)[^"]*"[^>]*>(.*?)</td>', html, re.S)
    found = {}
    for status, inside in cells:
        said = re.search(r'<span class="visually-hidden">([^<]*)</span>', inside)[1]
        found[int(re.search(r'class="day-number"[^>]*>(\d+)<', inside)[1])] = (status, said)
    return found


def test_the_month_view_marks_every_day_and_links_the_open_ones(client, make_doctor, make_appointment, make_user):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))
    patient = make_user(email="ana@example.com")
    for hhmm in ("09:00", "09:30"):
        make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 11), hhmm=hhmm)
    with client.application.app_context():
        holiday = date(2027, 3, 15)
        db.session.add(BlockedPeriod(doctor_id=None, reason="Clinic holiday", starts_at=instant(holiday, "00:00"),
                                     ends_at=instant(date(2027, 3, 16), "00:00")))
        db.session.commit()
    page = client.get(f"/doctors/{doctor_id}/calendar?month=2027-03&type=consultation")
    assert page.status_code == 200 and "<h2 id=\"month-heading\"" in page.text and "March 2027" in page.text
    cells = day_cells(page.text)
    assert len(cells) == 31
    assert cells[9] == ("past", "Tuesday 09 March 2027: past")
    assert cells[11] == ("full", "Thursday 11 March 2027: fully booked")
    assert cells[13] == ("day-off", "Saturday 13 March 2027: no hours")
    assert cells[15] == ("closed", "Monday 15 March 2027: clinic closed: Clinic holiday")
    # The cell shows "Closed"; the reason is written under the month for everyone, not only read out.
    notes = re.search(r'<ul class="month-notes">(.*?)</ul>', page.text, re.S)[1]
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", notes)).strip() == "Clinic closed: Clinic holiday (Mon 15 Mar)"
    assert cells[16] == ("open", "Tuesday 16 March 2027: 3 free times")
    assert f'href="/doctors/{doctor_id}?date=2027-03-16&amp;type=consultation"' in page.text
    assert f'hx-get="/doctors/{doctor_id}/slots?date=2027-03-16&amp;type=consultation"' in page.text
    assert "date=2027-03-11" not in page.text  # a full day is not a link
    assert "month=2027-04" in page.text and "month=2027-02" not in page.text  # nothing to book before this month


def test_the_month_partial_for_htmx_and_months_beyond_the_horizon(client, make_doctor):
    doctor_id = make_doctor()
    partial = client.get(f"/doctors/{doctor_id}/calendar?month=2027-06", headers=HTMX)
    assert partial.status_code == 200 and "<html" not in partial.text
    cells = day_cells(partial.text)
    assert cells[30][0] == "beyond-horizon" and cells[7][0] == "open"  # the horizon is 8 June
    assert "month=2027-07" not in partial.text  # no next month: nothing can be booked then


@pytest.mark.parametrize("month, message", [
    *[(month, "Invalid month format (YYYY-MM)") for month in ("2027-13", "27-03", "2027-3", "x")],
    *[(month, "Choose a month from 2000-01 to 2099-12") for month in ("0001-01", "1999-12", "2100-01", "9999-12")]])
def test_a_bad_month_is_a_clear_400(client, make_doctor, month, message):
    doctor_id = make_doctor()
    for path in (f"/doctors/{doctor_id}/calendar?month={month}", f"/doctors/{doctor_id}?month={month}"):
        page = client.get(path)
        assert page.status_code == 400 and message in page.text


def test_the_booking_page_shows_the_month_of_its_day(client, make_doctor):
    doctor_id = make_doctor()
    page = client.get(f"/doctors/{doctor_id}?date=2027-04-05")
    assert "April 2027" in page.text and day_cells(page.text)[5][0] == "open"


def test_the_month_beside_the_slots_follows_the_visit_type_and_the_month(
        client, make_doctor, make_appointment, make_user):
    """The slot list is swapped alone; when the type or the month changes, the month comes along."""
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))
    make_appointment(doctor_id=doctor_id, patient_id=make_user(email="ben@example.com"), day=date(2027, 3, 16),
                     hhmm="09:00")
    shown = f"http://localhost/doctors/{doctor_id}?date=2027-03-15&type=consultation"

    def swap(query):
        return client.get(f"/doctors/{doctor_id}/slots?{query}", headers={**HTMX, "HX-Current-URL": shown}).text

    same = swap("date=2027-03-16&type=consultation")
    assert 'hx-swap-oob="true"' not in same  # the same month and type: the month beside it is right
    therapy = swap("date=2027-03-16&type=therapy")
    assert 'id="month" aria-labelledby="month-heading" hx-swap-oob="true"' in therapy
    assert day_cells(therapy)[16] == ("full", "Tuesday 16 March 2027: fully booked")  # 60 minutes do not fit
    assert "type=therapy" in therapy.split('id="month"')[1] and "type=consultation" not in therapy
    april = swap("date=2027-04-05&type=consultation")
    assert 'hx-swap-oob="true"' in april and "April 2027" in april
    bare = client.get(f"/doctors/{doctor_id}/slots?date=2027-04-05&type=therapy", headers=HTMX).text
    assert 'id="month"' not in bare  # no page address, no month: the slot partial stays lean


def test_moving_the_month_keeps_it_in_the_address_and_a_day_of_it_needs_no_second_month(client, make_doctor):
    """htmx puts the booking page of that month in the address bar (a reload or a shared link shows
    that month); a day then chosen in that month comes without the month view, one of another with it."""
    doctor_id = make_doctor()
    page = client.get(f"/doctors/{doctor_id}?date=2027-03-15&type=consultation").text
    next_month = re.search(r'<a id="month-next"[^>]*>', page)[0]
    there = f"/doctors/{doctor_id}?type=consultation&amp;month=2027-04"
    assert f'href="{there}#month" hx-get="{there}"' in next_month and 'hx-push-url="true"' in next_month
    moved = f"http://localhost/doctors/{doctor_id}?type=consultation&month=2027-04"

    def swap(day):
        return client.get(f"/doctors/{doctor_id}/slots?date={day}&type=consultation",
                          headers={**HTMX, "HX-Current-URL": moved}).text

    assert 'id="month"' not in swap("2027-04-05")
    assert 'hx-swap-oob="true"' in swap("2027-05-03") and "May 2027" in swap("2027-05-03")


def test_the_booking_page_of_another_month_stays_the_booking_page(client, make_doctor, make_appointment, make_user):
    """What the month's arrows lead to: without JavaScript (and on Reload or Back after htmx) the
    booking page with that month beside its first day with free times; for htmx the same two
    parts, the day's times out of band, so the page is what its address says. The month's arrows
    lead on the same way."""
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))
    for hhmm in ("09:00", "09:30"):  # Thursday 1 April full for a 30-minute visit: Friday the 2nd is first
        make_appointment(doctor_id=doctor_id, patient_id=make_user(email=f"p{hhmm[3]}@example.com"),
                         day=date(2027, 4, 1), hhmm=hhmm)
    page = client.get(f"/doctors/{doctor_id}?type=consultation&month=2027-04")
    assert page.status_code == 200 and "Book with Dr. Laura Rossi" in page.text
    assert re.search(r'<h2 id="month-heading"[^>]*>April 2027</h2>', page.text)
    assert '<h2 id="slots-heading" tabindex="-1" data-day="2027-04-02">Friday 02 April 2027</h2>' in page.text
    assert f'href="/doctors/{doctor_id}/book?date=2027-04-02&amp;time=09:00&amp;type=consultation"' in page.text
    parts = client.get(f"/doctors/{doctor_id}?type=consultation&month=2027-05", headers=HTMX).text
    assert "<html" not in parts and re.search(r'<h2 id="month-heading"[^>]*>May 2027</h2>', parts)
    day = parts.split('<div id="slots" hx-swap-oob="innerHTML">')[1]
    # (Saturday the 1st has no hours.)
    assert '<h2 id="slots-heading" tabindex="-1" data-day="2027-05-03">Monday 03 May 2027</h2>' in day
    previous = re.search(r'<a id="month-prev"[^>]*>', parts)[0]
    assert f'href="/doctors/{doctor_id}?type=consultation&amp;month=2027-04#month"' in previous
    # This month: its first day with a free time to come (today's hours are over at noon).
    this_month = client.get(f"/doctors/{doctor_id}?month=2027-03").text
    assert '<h2 id="slots-heading" tabindex="-1" data-day="2027-03-11">Thursday 11 March 2027</h2>' in this_month
    assert client.get(f"/doctors/{doctor_id}?month=2027-13").status_code == 400


def test_the_month_marks_the_day_whose_times_are_shown_beside_it(client, make_doctor):
    doctor_id = make_doctor()
    page = client.get(f"/doctors/{doctor_id}?date=2027-03-16").text
    assert re.findall(r'<td class="day day-[a-z-]+ day-shown" data-date="([0-9-]+)" aria-current="true">', page) == [
        "2027-03-16"]
    assert '<h2 id="slots-heading" tabindex="-1" data-day="2027-03-16">' in page  # (app.js moves the mark)
    # The month its arrow brings marks the day brought with it; the month page alone, none.
    arrow = client.get(f"/doctors/{doctor_id}?month=2027-04", headers=HTMX).text
    assert re.findall(r'day-shown" data-date="([0-9-]+)"', arrow) == ["2027-04-01"]
    assert "day-shown" not in client.get(f"/doctors/{doctor_id}/calendar?month=2027-04").text


@pytest.mark.parametrize("asked, shown", [("2020-01", "March 2027"), ("2027-02", "March 2027"),
                                          ("2027-06", "June 2027"), ("2030-01", "June 2027")])
def test_an_old_or_far_month_link_shows_a_month_that_can_be_booked(client, make_doctor, asked, shown):
    """This month (10 March 2027) and the horizon's (8 June) bound what a month link shows: one
    bookmarked long ago does not leave the patient dozens of clicks from a day to book."""
    doctor_id = make_doctor()
    for path in (f"/doctors/{doctor_id}?month={asked}", f"/doctors/{doctor_id}/calendar?month={asked}"):
        page = client.get(path).text
        assert re.search(rf'<h2 id="month-heading"[^>]*>{shown}</h2>', page), path


def test_the_months_arrows_stay_in_place_where_there_is_no_month_to_go_to(client, make_doctor):
    """The words stay, not a link, with the arrow's id: htmx gives the focus back to them when the
    arrow just pressed has gone (the last month), instead of dropping it to the page's top."""
    doctor_id = make_doctor()
    this_month = client.get(f"/doctors/{doctor_id}?month=2027-03").text
    assert '<span id="month-prev" class="month-nav-end" tabindex="-1">‹ Previous month</span>' in this_month
    assert '<a id="month-next"' in this_month
    last = client.get(f"/doctors/{doctor_id}?month=2027-06", headers=HTMX).text
    assert '<span id="month-next" class="month-nav-end" tabindex="-1">Next month ›</span>' in last


@pytest.mark.parametrize("day", ["2027-04-05", "2027-04-04"])  # a day with free times, and a Sunday without
def test_an_htmx_page_address_that_does_not_parse_is_no_error(client, make_doctor, day):
    doctor_id = make_doctor()
    partial = client.get(f"/doctors/{doctor_id}/slots?date={day}", headers={**HTMX, "HX-Current-URL": "http://[/"})
    assert partial.status_code == 200 and "<html" not in partial.text and 'id="month"' not in partial.text


def test_a_day_without_free_time_links_to_the_next_one_and_to_other_doctors(
        client, make_doctor, make_appointment, make_user):
    rossi = make_doctor(windows=(("09:00", "10:00"),))
    other = make_doctor(name="Dr. Other", windows=(("14:00", "15:00"),))
    make_doctor(name="Dr. Skin", specialty="Dermatology")
    patient = make_user(email="ana@example.com")
    for hhmm in ("09:00", "09:30"):
        make_appointment(doctor_id=rossi, patient_id=patient, day=date(2027, 3, 11), hhmm=hhmm)
    page = client.get(f"/doctors/{rossi}/slots?date=2027-03-11&type=consultation", headers=HTMX).text
    assert "fully booked on this day" in page
    assert "Next free time with Dr. Laura Rossi:" in page
    assert f'href="/doctors/{rossi}/book?date=2027-03-12&amp;time=09:00&amp;type=consultation"' in page
    assert f'href="/doctors/{other}/book?date=2027-03-11&amp;time=14:00&amp;type=consultation"' in page
    assert "Dr. Skin" not in page  # another specialty
    sunday = client.get(f"/doctors/{rossi}/slots?date=2027-03-14", headers=HTMX).text
    assert "does not see patients on this day" in sunday and "date=2027-03-15&amp;time=09:00" in sunday
    # A past day and a day beyond the horizon (8 June) lead to the earliest time from today on.
    for gone in ("2027-03-09", "2027-06-30"):
        page = client.get(f"/doctors/{rossi}/slots?date={gone}", headers=HTMX).text
        assert ("This day has passed." if gone < "2027-03-10" else "beyond the booking horizon") in page
        assert "Next free time with Dr. Laura Rossi:" in page and "date=2027-03-12&amp;time=09:00" in page
        assert f'href="/doctors/{other}/book?date=2027-03-10&amp;time=14:00&amp;type=consultation"' in page  # today


def test_find_lists_each_doctors_earliest_times_earliest_first(client, make_doctor):
    make_doctor(name="Dr. Afternoon", windows=(("16:00", "17:00"),))
    make_doctor(name="Dr. Morning", windows=(("09:00", "10:00"),))
    make_doctor(name="Dr. Skin", specialty="Dermatology", windows=(("13:00", "14:00"),))
    page = client.get("/find?type=follow_up")
    assert page.status_code == 200
    order = [name for name in re.findall(r"<h3>(Dr\. \w+)", page.text)]
    assert order == ["Dr. Skin", "Dr. Afternoon", "Dr. Morning"]  # today 13:00, today 16:00, tomorrow 09:00
    times = re.findall(r'class="slot slot-wide" href="([^"]+)"', page.text)
    assert len(times) == 9 and times[0].endswith("date=2027-03-10&amp;time=13:00&amp;type=follow_up")
    only = client.get("/find?specialty=Dermatology", headers=HTMX)
    assert "<html" not in only.text and re.findall(r"<h3>(Dr\. \w+)", only.text) == ["Dr. Skin"]
    assert "No free time within" in client.get("/find?specialty=Cardiology").text


def test_the_earliest_time_is_two_clicks_from_home_and_the_third_books(client, make_doctor, make_user):
    make_doctor(name="Dr. Morning", windows=(("09:00", "10:00"),))
    make_user(email="ana@example.com")
    client.post("/login", data={"email": "ana@example.com", "password": "correct-horse-9"})
    home = client.get("/").text
    find_url = re.search(r'href="(/find)"[^>]*>Find the earliest time', home)[1]
    first = re.search(r'class="slot slot-wide" href="([^"]+)"', client.get(find_url).text)[1].replace("&amp;", "&")
    confirm = client.get(first)
    assert confirm.status_code == 200 and "Book this time" in confirm.text


def test_month_and_find_run_a_fixed_number_of_queries(
        app, client, make_doctor, make_user, make_appointment, count_queries):
    doctor_id = make_doctor()
    patient = make_user(email="ana@example.com")

    def measure():
        def ok(url, **headers):
            assert client.get(url, headers=headers).status_code == 200

        return (count_queries(lambda: ok(f"/doctors/{doctor_id}/calendar?month=2027-03", **HTMX)),
                # The booking page's month arrow: the month and its first free day's times.
                count_queries(lambda: ok(f"/doctors/{doctor_id}?month=2027-03", **HTMX)),
                count_queries(lambda: ok("/find")))

    few = measure()
    assert few[1] == few[0] + 1, few  # the month's, and the day's busy time: the doctor and types read once
    for day in range(11, 31):
        if date(2027, 3, day).weekday() < 5:
            for hhmm in ("09:00", "10:00", "11:00", "14:00", "15:00", "16:00"):
                make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, day), hhmm=hhmm)
    assert measure() == few


def test_a_patient_is_shown_only_times_they_could_book_in_the_month_first_day_next_times_and_find(
        client, make_doctor, make_appointment, make_user, login_as):
    """Ana sees Dr. Bianchi on Thursday 09:00-10:00 and Friday 09:00-09:30. Dr. Rossi's
    Thursday 09:00-10:00 is free for anyone, but every one of its times clashes with her visit,
    and so do Friday's 09:00 and 09:15: she could book none of them (as her day list already
    says). Her month, the day her booking page opens on, the next free time, other doctors' times
    and /find count only what she could book; anyone else's count all of them."""
    rossi = make_doctor(windows=(("09:00", "10:00"),))
    bianchi = make_doctor(name="Dr. Marco Bianchi", windows=(("09:00", "10:00"),))
    ana = make_user(email="ana@example.com")
    make_appointment(doctor_id=bianchi, patient_id=ana, day=date(2027, 3, 11), hhmm="09:00", duration=60)
    make_appointment(doctor_id=bianchi, patient_id=ana, day=date(2027, 3, 12), hhmm="09:00")
    as_ana, anyone = login_as(ana), client

    def month(who):
        return day_cells(who.get(f"/doctors/{rossi}/calendar?month=2027-03&type=consultation").text)

    assert month(anyone)[11] == ("open", "Thursday 11 March 2027: 3 free times")
    assert month(anyone)[12] == ("open", "Friday 12 March 2027: 3 free times")
    assert month(as_ana)[11] == ("full", "Thursday 11 March 2027: fully booked")
    assert month(as_ana)[12] == ("open", "Friday 12 March 2027: 1 free time")

    def first_times(who):  # the booking page without a day opens on the first day with a time for them
        page = who.get(f"/doctors/{rossi}").text
        return re.findall(r'href="/doctors/\d+/book\?date=([\d-]+)&amp;time=([\d:]+)', page)

    assert first_times(anyone) == [("2027-03-11", "09:00"), ("2027-03-11", "09:15"), ("2027-03-11", "09:30")]
    assert first_times(as_ana) == [("2027-03-12", "09:30")]

    thursday = as_ana.get(f"/doctors/{rossi}/slots?date=2027-03-11&type=consultation", headers=HTMX).text
    assert "fully booked on this day" in thursday
    links = re.findall(r'href="/doctors/(\d+)/book\?date=([\d-]+)&amp;time=([\d:]+)', thursday)
    # The next free time with Dr. Rossi, then other doctors': Dr. Bianchi's Friday 09:30 (her own
    # 09:00 is booked), none on Thursday.
    assert links == [(str(rossi), "2027-03-12", "09:30"), (str(bianchi), "2027-03-12", "09:30")]

    def found(who):
        return re.findall(r'href="/doctors/(\d+)/book\?date=([\d-]+)&amp;time=([\d:]+)',
                          who.get("/find?type=consultation").text)

    assert (str(rossi), "2027-03-11", "09:00") in found(anyone)
    assert [time for time in found(as_ana) if time[1] < "2027-03-15"] == [
        (str(rossi), "2027-03-12", "09:30"), (str(bianchi), "2027-03-12", "09:30")]
