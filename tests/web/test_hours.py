"""Working hours and blocked periods from the desk: a doctor manages their own, an admin anyone's,
reception nobody's; what patients can book follows at once."""
import re
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import CANCELLED, SCHEDULED, Appointment, BlockedPeriod, Doctor, WeeklyHours
from clinica_web.services import schedule
from tests.conftest import instant, next_weekday

MONDAY = next_weekday(0, weeks=1)
TUESDAY, WEDNESDAY, THURSDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 3))
SATURDAY = MONDAY + timedelta(days=5)


@pytest.fixture
def rossi(app, make_doctor, login_as):
    """Dr. Rossi (Monday to Friday 09:00-13:00 and 14:00-18:00), logged in: SimpleNamespace(id, user, client)."""
    doctor_id = make_doctor(name="Dr. Laura Rossi", with_user=True)
    with app.app_context():
        user_id = db.session.get(Doctor, doctor_id).user_id
    return SimpleNamespace(id=doctor_id, user=user_id, client=login_as(user_id))


def windows(app, doctor_id):
    """[(weekday, 'HH:MM', 'HH:MM')] of a doctor."""
    with app.app_context():
        return [(w.weekday, w.start_hhmm, w.end_hhmm) for w in schedule.weekly_windows_rows(doctor_id)]


def blocks(app, doctor_id):
    with app.app_context():
        return db.session.execute(select(BlockedPeriod.id, BlockedPeriod.starts_at, BlockedPeriod.ends_at,
                                         BlockedPeriod.reason)
                                  .where(BlockedPeriod.doctor_id == doctor_id).order_by(BlockedPeriod.id)).all()


def slot_times(client, doctor_id, day):
    """The free times a patient is offered on the booking page."""
    page = client.get(f"/doctors/{doctor_id}?date={day}")
    assert page.status_code == 200
    return re.findall(r'class="slot"[^>]*>(\d\d:\d\d)</a>', page.text)


def text_of(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def add_window(client, doctor_id, weekday, start, end):
    return client.post(f"/desk/doctors/{doctor_id}/hours/windows",
                       data={"weekday": str(weekday), "start": start, "end": end})


def add_block(client, doctor_id, start_date, start_time="", end_date="", end_time="", reason=""):
    """POST the block form and follow the redirect to the hours page (what the browser shows)."""
    return client.post(f"/desk/doctors/{doctor_id}/blocks", data={
        "start_date": str(start_date), "start_time": start_time, "end_date": str(end_date), "end_time": end_time,
        "reason": reason,
    }, follow_redirects=True)


# ---------------------------------------------------------------------------------------------
# Weekly windows


def test_my_hours_opens_the_doctors_own_page(rossi):
    response = rossi.client.get("/desk/hours")
    assert response.status_code == 302 and response.headers["Location"] == f"/desk/doctors/{rossi.id}/hours"
    page = rossi.client.get(response.headers["Location"]).text
    assert "Working hours: Dr. Laura Rossi" in page
    assert "Monday 09:00 13:00" in text_of(page) and "Friday 14:00 18:00" in text_of(page)
    # On a phone each row is a card, whose times say which is which (the header row is hidden there).
    assert '<td data-label="From">09:00</td><td data-label="Until">13:00</td>' in page


def test_adding_a_window_opens_those_times_to_patients(app, rossi):
    assert slot_times(rossi.client, rossi.id, SATURDAY) == []
    response = add_window(rossi.client, rossi.id, 5, "09:00", "10:30")
    assert response.status_code == 303 and response.headers["Location"] == f"/desk/doctors/{rossi.id}/hours"
    page = rossi.client.get(response.headers["Location"]).text
    assert "Working hours added." in page and "Saturday 09:00 10:30" in text_of(page)
    assert (5, "09:00", "10:30") in windows(app, rossi.id)
    assert slot_times(rossi.client, rossi.id, SATURDAY) == ["09:00", "09:15", "09:30", "09:45", "10:00"]


def test_windows_may_touch_but_not_overlap(app, rossi):
    before = windows(app, rossi.id)
    for start, end, other in (("12:00", "15:00", "09:00–13:00"), ("08:00", "09:15", "09:00–13:00"),
                              ("10:00", "11:00", "09:00–13:00"), ("17:45", "19:00", "14:00–18:00")):
        response = add_window(rossi.client, rossi.id, 0, start, end)
        assert response.status_code == 422, (start, end)
        assert f"Overlaps the window {other}" in response.text
    assert windows(app, rossi.id) == before
    # Back to back with both Monday windows: fine.
    assert add_window(rossi.client, rossi.id, 0, "13:00", "14:00").status_code == 303
    assert add_window(rossi.client, rossi.id, 0, "18:00", "24:00").status_code == 303
    assert "13:00" in slot_times(rossi.client, rossi.id, MONDAY)


@pytest.mark.parametrize("start, end, message", [
    ("09:10", "10:00", "Use a quarter hour (:00, :15, :30 or :45)"),
    ("09:00", "10:05", "Use a quarter hour (:00, :15, :30 or :45)"),
    ("11:00", "10:00", "The end must be after the start"),
    ("10:00", "10:00", "The end must be after the start"),
    ("9am", "10:00", "Use HH:MM (24-hour)"),
    ("09:00", "25:00", "Use HH:MM (24-hour)"),
    ("9:00", "10:00", "Use HH:MM (24-hour)"),
    ("0\u0669:00", "10:00", "Use HH:MM (24-hour)"),  # an Arabic-Indic nine
    ("", "10:00", "This field is required."),
])
def test_bad_windows_are_refused_with_a_message(app, rossi, start, end, message):
    response = add_window(rossi.client, rossi.id, 5, start, end)
    assert response.status_code == 422
    assert message in response.text
    assert "Working hours: Dr. Laura Rossi" in response.text  # the page again, with the error
    assert not any(weekday == 5 for weekday, *_ in windows(app, rossi.id))


def test_an_unknown_weekday_is_refused(app, rossi):
    before = windows(app, rossi.id)
    assert add_window(rossi.client, rossi.id, 7, "09:00", "10:00").status_code == 422
    assert windows(app, rossi.id) == before


def test_removing_a_window_closes_those_times(app, rossi):
    with app.app_context():
        monday_morning = db.session.scalars(select(WeeklyHours.id).where(
            WeeklyHours.doctor_id == rossi.id, WeeklyHours.weekday == 0, WeeklyHours.start_minute == 540)).one()
    back = f"/desk/doctors/{rossi.id}/hours"
    response = rossi.client.post(f"/desk/hours/windows/{monday_morning}/delete", data={"back": back})
    assert response.status_code == 303 and response.headers["Location"] == back
    assert (0, "09:00", "13:00") not in windows(app, rossi.id) and (0, "14:00", "18:00") in windows(app, rossi.id)
    times = slot_times(rossi.client, rossi.id, MONDAY)
    assert times[0] == "14:00" and "09:00" not in times
    assert "09:00" in slot_times(rossi.client, rossi.id, TUESDAY)
    assert rossi.client.post(f"/desk/hours/windows/{monday_morning}/delete").status_code == 404  # gone


def test_remove_goes_back_only_to_a_page_of_this_site(app, rossi):
    """No open redirect: other sites, and paths a browser or the server would turn into one."""
    with app.app_context():
        window_ids = db.session.scalars(select(WeeklyHours.id).where(WeeklyHours.doctor_id == rossi.id)).all()
    backs = ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
             "/\r\nSet-Cookie: x=1", ""]
    assert len(window_ids) >= len(backs)
    for window_id, back in zip(window_ids, backs):
        response = rossi.client.post(f"/desk/hours/windows/{window_id}/delete", data={"back": back})
        assert response.status_code == 303, repr(back)
        assert response.headers["Location"] == "/desk/", repr(back)


# ---------------------------------------------------------------------------------------------
# Blocked periods


def test_blocking_time_over_bookings_keeps_them_and_lists_them(app, rossi, make_user, make_appointment):
    inside = make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Ana Torres"), day=MONDAY,
                              hhmm="10:00")
    straddling = make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Ben Ortiz"), day=MONDAY,
                                  hhmm="11:45", duration=30)
    make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Carla Cancelled"), day=MONDAY, hhmm="09:00",
                     status=CANCELLED)
    make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Dora Afternoon"), day=MONDAY, hhmm="15:00")
    response = add_block(rossi.client, rossi.id, MONDAY, "09:00", "", "12:00", reason="Conference")
    assert response.status_code == 200
    [(_id, starts_at, ends_at, reason)] = blocks(app, rossi.id)
    assert (starts_at, ends_at, reason) == (instant(MONDAY, "09:00"), instant(MONDAY, "12:00"), "Conference")
    affected = response.text.split('id="affected-heading"')[1].split("</section>")[0]
    assert "Ana Torres" in affected and "Ben Ortiz" in affected
    assert "Carla Cancelled" not in affected and "Dora Afternoon" not in affected
    assert f'href="/desk/appointments/{inside}"' in affected and f'href="/desk/appointments/{straddling}"' in affected
    assert "Time blocked. These bookings are inside it: move or cancel them." in response.text
    with app.app_context():
        assert db.session.get(Appointment, inside).status == SCHEDULED
    times = slot_times(rossi.client, rossi.id, MONDAY)
    assert times[0] == "12:15" and "15:00" not in times  # the block and the bookings are both busy


def test_adding_a_block_redirects_so_a_reload_does_not_add_it_twice(app, rossi):
    response = rossi.client.post(f"/desk/doctors/{rossi.id}/blocks", data={"start_date": str(MONDAY),
                                                                           "reason": "Course"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/desk/doctors/{rossi.id}/hours?block=")
    rossi.client.get(response.headers["Location"])
    assert len(blocks(app, rossi.id)) == 1


def test_blocking_free_time_lists_nothing(app, rossi):
    response = add_block(rossi.client, rossi.id, MONDAY, "14:00", "", "16:00")
    assert response.status_code == 200 and "Time blocked." in response.text
    assert 'id="affected-heading"' not in response.text
    times = slot_times(rossi.client, rossi.id, MONDAY)
    assert "14:00" not in times and "15:45" not in times
    assert "12:30" in times and "16:00" in times


def test_empty_times_block_whole_local_days(app, rossi):
    response = add_block(rossi.client, rossi.id, MONDAY, reason="Holiday")
    assert response.status_code == 200
    [(_id, starts_at, ends_at, _reason)] = blocks(app, rossi.id)
    assert (starts_at, ends_at) == (instant(MONDAY, "00:00"), instant(TUESDAY, "00:00"))
    assert slot_times(rossi.client, rossi.id, MONDAY) == []
    assert slot_times(rossi.client, rossi.id, TUESDAY)[0] == "09:00"
    # Several days: the last day is included whole.
    add_block(rossi.client, rossi.id, TUESDAY, end_date=WEDNESDAY)
    assert slot_times(rossi.client, rossi.id, WEDNESDAY) == []
    assert slot_times(rossi.client, rossi.id, THURSDAY)[0] == "09:00"
    page = rossi.client.get(f"/desk/doctors/{rossi.id}/hours").text
    assert "Holiday" in page


@pytest.mark.parametrize("fields, message", [
    ({"start_time": "12:00", "end_time": "10:00"}, "The end must be after the start"),
    ({"end_date": str(MONDAY - timedelta(days=1))}, "The end must be after the start"),
    # The form's own checks, worded as on the admin's closure form (one form for both).
    ({"start_date": "next monday"}, "Use a date as YYYY-MM-DD."),
    ({"start_time": "9:5"}, "Use a time as HH:MM (24-hour)."),
    ({"start_time": "25:00"}, "Use HH:MM (24-hour)"),
    ({"start_time": "09:20"}, "Use a quarter hour"),
    ({"start_date": ""}, "Enter the first day."),
])
def test_bad_blocked_periods_are_refused(app, rossi, fields, message):
    response = add_block(rossi.client, rossi.id, **{"start_date": MONDAY, **fields})
    assert response.status_code == 422
    assert message in response.text
    assert blocks(app, rossi.id) == []


def test_time_off_already_over_is_refused_and_time_off_under_way_is_kept(app, rossi, clock):
    clock.set(instant(MONDAY, "12:00"))
    over = add_block(rossi.client, rossi.id, MONDAY, start_time="08:00", end_time="11:00", reason="Dentist")
    assert over.status_code == 422 and "This time is already over: choose a time still to come" in over.text
    # Said at the first day, the field to change (the last may well be left empty).
    assert '<p class="error" id="start_date-error">This time is already over' in over.text
    assert add_block(rossi.client, rossi.id, MONDAY - timedelta(days=7)).status_code == 422
    assert blocks(app, rossi.id) == []
    # Off since this morning, until 15:00: what is left of it still stops bookings.
    assert add_block(rossi.client, rossi.id, MONDAY, start_time="08:00", end_time="15:00").status_code == 200
    assert len(blocks(app, rossi.id)) == 1
    assert slot_times(rossi.client, rossi.id, MONDAY)[0] == "15:00"


SPRING_FORWARD, FALL_BACK = date(2027, 9, 5), date(2027, 4, 3)  # Santiago: 00:00-01:00 skipped; 23:00-24:00 twice


@pytest.mark.parametrize("start, end, saved", [
    ("00:30", "02:00", ("01:00", "02:00")),  # from a skipped time: from where the gap ends, not 01:30
    ("00:45", "01:45", ("01:00", "01:45")),  # (was refused: "the end must be after the start")
    ("00:00", "01:00", None),  # only skipped time: nothing to block
])
def test_time_off_from_a_time_the_clocks_skip_starts_where_they_resume(app, rossi, clock, start, end, saved):
    clock.set(instant(SPRING_FORWARD - timedelta(days=5), "12:00"))
    response = add_block(rossi.client, rossi.id, SPRING_FORWARD, start_time=start, end_time=end)
    if saved is None:
        assert response.status_code == 422 and "The end must be after the start" in response.text
        assert blocks(app, rossi.id) == []
        return
    [(_id, starts_at, ends_at, _reason)] = blocks(app, rossi.id)
    assert (starts_at, ends_at) == (instant(SPRING_FORWARD, saved[0]), instant(SPRING_FORWARD, saved[1]))


def test_time_off_in_the_hour_the_clocks_repeat_means_its_first_pass(app, rossi, clock):
    """DESIGN.md section 4: a local time shown twice means its first occurrence, for both bounds."""
    tz = ZoneInfo("America/Santiago")
    clock.set(datetime(2027, 4, 3, 12, 0, tzinfo=tz).astimezone(timezone.utc))
    assert add_block(rossi.client, rossi.id, FALL_BACK, start_time="23:30", end_time="23:45").status_code == 200
    [(_id, starts_at, ends_at, _reason)] = blocks(app, rossi.id)
    first = [datetime(2027, 4, 3, 23, minute, tzinfo=tz).astimezone(timezone.utc) for minute in (30, 45)]
    assert [starts_at, ends_at] == first  # a quarter of an hour, not an hour and a quarter
    backwards = add_block(rossi.client, rossi.id, FALL_BACK, start_time="23:45", end_time="23:15")
    assert backwards.status_code == 422 and "The end must be after the start" in backwards.text


def test_time_off_under_way_lists_only_the_bookings_not_yet_over(app, rossi, make_user, make_appointment, clock):
    clock.set(instant(MONDAY, "13:30"))
    make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Ana Morning"), day=MONDAY, hhmm="11:00")
    make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Carl Now"), day=MONDAY, hhmm="13:15")
    make_appointment(doctor_id=rossi.id, patient_id=make_user(full_name="Ben Later"), day=MONDAY, hhmm="15:00")
    response = add_block(rossi.client, rossi.id, MONDAY, "08:00", "", "18:00", reason="Sick")
    affected = response.text.split('id="affected-heading"')[1].split("</section>")[0]
    assert "Ana Morning" not in affected  # her visit is over: nothing to move
    assert "Carl Now" in affected and "Ben Later" in affected  # under way (he may be waiting), and to come


def test_time_already_blocked_is_not_blocked_twice(app, rossi):
    assert add_block(rossi.client, rossi.id, MONDAY, start_time="10:00", end_time="12:00").status_code == 200
    for start, end in (("10:00", "12:00"), ("10:30", "11:00")):  # the same, or inside it
        again = add_block(rossi.client, rossi.id, MONDAY, start_time=start, end_time=end)
        assert again.status_code == 422 and "This time is already blocked" in again.text
    assert len(blocks(app, rossi.id)) == 1
    # More than it covers is time off of its own (removing either leaves the other).
    assert add_block(rossi.client, rossi.id, MONDAY, start_time="11:00", end_time="13:00").status_code == 200
    assert len(blocks(app, rossi.id)) == 2


@pytest.mark.parametrize("reason", ["Holiday\x01", "Away \u202eyadiloH", "Bell\x07", "esc\x1b[31m", "Left\u200fmark"])
def test_a_reason_with_control_characters_or_direction_marks_is_refused(app, rossi, reason):
    response = add_block(rossi.client, rossi.id, MONDAY, reason=reason)
    assert response.status_code == 422 and "Write the reason without control characters" in response.text
    assert blocks(app, rossi.id) == []


@pytest.mark.parametrize("reason", ["Vacaciones \U0001f469\u200d\u2695\ufe0f", "Fort\u00adbildung", "Congreso 🇨🇱"])
def test_a_reason_with_emoji_sequences_or_soft_hyphens_is_kept(app, rossi, reason):
    assert add_block(rossi.client, rossi.id, MONDAY, reason=reason).status_code == 200
    assert [row.reason for row in blocks(app, rossi.id)] == [reason]


def test_removing_a_block_frees_the_slots_for_patients(app, rossi, make_block):
    make_block(doctor_id=rossi.id, start=instant(MONDAY, "00:00"), end=instant(TUESDAY, "00:00"))
    assert slot_times(rossi.client, rossi.id, MONDAY) == []
    [(block_id, *_)] = blocks(app, rossi.id)
    page = rossi.client.get(f"/desk/doctors/{rossi.id}/hours").text
    back = f"/desk/doctors/{rossi.id}/hours"
    link = f'href="/desk/blocks/{block_id}/delete?back=/desk/doctors/{rossi.id}/hours"'
    assert link in page  # asks first: a page with the question, which changes nothing
    question = rossi.client.get(f"/desk/blocks/{block_id}/delete?back={back}")
    assert "Remove the time off Mon" in question.text and f'name="back" value="{back}"' in question.text
    assert len(blocks(app, rossi.id)) == 1
    response = rossi.client.post(f"/desk/blocks/{block_id}/delete", data={"back": back})
    assert response.status_code == 303 and response.headers["Location"] == back
    assert blocks(app, rossi.id) == []
    assert slot_times(rossi.client, rossi.id, MONDAY)[:2] == ["09:00", "09:15"]
    assert "No time off planned." in rossi.client.get(back).text


# ---------------------------------------------------------------------------------------------
# Who may change whose hours


@pytest.fixture
def bianchi(app, make_doctor, make_block):
    """Another doctor with a login, a window and a block: SimpleNamespace(id, user, window, block)."""
    doctor_id = make_doctor(name="Dr. Marco Bianchi", with_user=True, weekdays=[0], windows=[("08:00", "12:00")])
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "08:00"), end=instant(MONDAY, "09:00"))
    with app.app_context():
        doctor = db.session.get(Doctor, doctor_id)
        window_id = db.session.scalars(select(WeeklyHours.id).where(WeeklyHours.doctor_id == doctor_id)).one()
        block_id = db.session.scalars(select(BlockedPeriod.id).where(BlockedPeriod.doctor_id == doctor_id)).one()
        return SimpleNamespace(id=doctor_id, user=doctor.user_id, window=window_id, block=block_id)


def hours_state(app):
    with app.app_context():
        return (db.session.execute(select(WeeklyHours.doctor_id, WeeklyHours.weekday, WeeklyHours.start_minute,
                                          WeeklyHours.end_minute).order_by(WeeklyHours.id)).all(),
                db.session.execute(select(BlockedPeriod.doctor_id, BlockedPeriod.starts_at, BlockedPeriod.ends_at)
                                   .order_by(BlockedPeriod.id)).all())


def change_requests(doctor):
    """Every request that would change `doctor`'s hours, with a valid form."""
    return [
        (f"/desk/doctors/{doctor.id}/hours/windows", {"weekday": "5", "start": "09:00", "end": "10:00"}),
        (f"/desk/hours/windows/{doctor.window}/delete", {"back": "/desk/"}),
        (f"/desk/doctors/{doctor.id}/blocks", {"start_date": str(TUESDAY)}),
        (f"/desk/blocks/{doctor.block}/delete", {"back": "/desk/"}),
    ]


def test_a_doctor_cannot_see_or_change_another_doctors_hours(app, rossi, bianchi):
    before = hours_state(app)
    assert rossi.client.get(f"/desk/doctors/{bianchi.id}/hours").status_code == 403
    for url, form in change_requests(bianchi):
        assert rossi.client.post(url, data=form).status_code == 403, url
    # Invalid forms are refused the same way, not answered with the other doctor's page.
    assert add_window(rossi.client, bianchi.id, 5, "bad", "10:00").status_code == 403
    assert add_block(rossi.client, bianchi.id, "bad").status_code == 403
    assert hours_state(app) == before
    assert f"/desk/doctors/{bianchi.id}/hours" not in rossi.client.get("/desk/hours").headers["Location"]


def test_reception_cannot_change_hours(app, make_user, login_as, bianchi):
    client = login_as(make_user(role="reception", email="desk@example.com"))
    before = hours_state(app)
    assert client.get(f"/desk/doctors/{bianchi.id}/hours").status_code == 403
    assert client.get("/desk/hours").status_code == 403
    for url, form in change_requests(bianchi):
        assert client.post(url, data=form).status_code == 403, url
    assert hours_state(app) == before


def test_an_admin_manages_any_doctors_hours(app, make_user, login_as, bianchi):
    client = login_as(make_user(role="admin", email="admin@example.com"))
    assert "Working hours: Dr. Marco Bianchi" in client.get(f"/desk/doctors/{bianchi.id}/hours").text
    for url, form in change_requests(bianchi):
        assert client.post(url, data=form).status_code in (200, 303), url
    state_windows, state_blocks = hours_state(app)
    assert [(w[1], w[2], w[3]) for w in state_windows if w[0] == bianchi.id] == [(5, 540, 600)]
    assert [(b[1], b[2]) for b in state_blocks if b[0] == bianchi.id] == [(instant(TUESDAY, "00:00"),
                                                                          instant(WEDNESDAY, "00:00"))]
    assert client.get("/desk/doctors/999999/hours").status_code == 404
    assert add_window(client, 999999, 5, "09:00", "10:00").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(WeeklyHours.id)).where(WeeklyHours.doctor_id == 999999)) == 0


def test_the_language_buttons_on_a_refused_form_come_back_to_the_form_s_page(rossi):
    """The page answering a refused form has an address that takes no GET (a 405 page, a dead end);
    its language buttons lead back to the page the form was on, in the other language."""
    page = rossi.client.get(f"/desk/doctors/{rossi.id}/hours")
    hours_page = page.request.url  # (with the test client's host)
    refused = rossi.client.post(f"/desk/doctors/{rossi.id}/hours/windows", headers={"Referer": hours_page},
                                data={"weekday": "0", "start": "25:00", "end": "26:00"})
    assert refused.status_code == 422
    back = re.search(r'<input type="hidden" name="next" value="([^"]*)">', refused.text)[1]
    assert back == f"/desk/doctors/{rossi.id}/hours"
    switched = rossi.client.post("/language", data={"language": "es", "next": back}, follow_redirects=True)
    assert switched.status_code == 200 and 'lang="es"' in switched.text
    # The path whatever host the referrer names (a proxy may not pass Host on) ...
    behind_a_proxy = rossi.client.post(f"/desk/doctors/{rossi.id}/hours/windows",
                                       headers={"Referer": f"http://proxy.internal/desk/doctors/{rossi.id}/hours"},
                                       data={"weekday": "0", "start": "25:00", "end": "26:00"})
    assert re.search(r'<input type="hidden" name="next" value="([^"]*)">', behind_a_proxy.text)[1] == back
    # ... and only ever a path of this site: a referrer "//evil.test/x" is sent home.
    odd = rossi.client.post(f"/desk/doctors/{rossi.id}/hours/windows", headers={"Referer": "http://h//evil.test/x"},
                            data={"weekday": "0", "start": "25:00", "end": "26:00"})
    back = re.search(r'<input type="hidden" name="next" value="([^"]*)">', odd.text)[1]
    assert rossi.client.post("/language", data={"language": "en", "next": back}).headers["Location"] == "/"
