"""Times as people read them (issue 13, item 6): plain local times, the clinic's zone named once
("Santiago time"), whole-day periods as dates, and the repeated hour of a fall-back night told apart."""
from datetime import date, timedelta

from clinica_web.services import clinic
from tests.conftest import instant


def test_local_times_are_plain_and_the_zone_has_a_name(app):
    with app.app_context():
        assert clinic.format_local(instant(date(2026, 12, 7), "09:00")) == "Mon 07 Dec 2026, 09:00"
        assert clinic.zone_name() == "Santiago time"


def test_the_repeated_hour_of_a_fall_back_night_shows_its_offset(app):
    """Saturday 4 April 2026, Santiago: 23:00-24:00 happens twice (-03, then -04)."""
    with app.app_context():
        first = instant(date(2026, 4, 4), "23:30")
        second = first + timedelta(hours=1)
        assert clinic.format_local(first) == "Sat 04 Apr 2026, 23:30 (UTC-03)"
        assert clinic.format_local(second) == "Sat 04 Apr 2026, 23:30 (UTC-04)"
        assert clinic.format_local(first - timedelta(hours=1)) == "Sat 04 Apr 2026, 22:30"


def test_whole_days_read_as_dates_and_parts_of_a_day_as_times(app):
    with app.app_context():
        monday, wednesday = date(2026, 12, 7), date(2026, 12, 9)
        one_day = clinic.local_day_span(monday)
        assert clinic.format_period(*one_day) == "Mon 07 Dec 2026"
        assert clinic.format_period(clinic.local_day_span(monday)[0], clinic.local_day_span(wednesday)[1]) == (
            "Mon 07 Dec 2026 – Wed 09 Dec 2026")
        afternoon = (instant(monday, "14:00"), instant(monday, "18:00"))
        assert clinic.format_period(*afternoon) == "Mon 07 Dec 2026, 14:00–18:00"
        # The day clocks spring forward at midnight (6 Sep 2026) starts at 01:00: still a whole day.
        assert clinic.format_period(*clinic.local_day_span(date(2026, 9, 6))) == "Sun 06 Sep 2026"


def test_pages_and_emails_name_the_zone_and_show_whole_day_closures_as_dates(app, login_as, make_user, make_doctor,
                                                                             sent_mail):
    admin = login_as(make_user(role="admin", email="admin@example.com"))
    response = admin.post("/admin/closures", data={"start_date": "2026-12-24", "end_date": "2026-12-25",
                                                   "reason": "Christmas"})
    assert response.status_code in (200, 303)
    page = admin.get("/admin/closures").text
    assert "Thu 24 Dec 2026 – Fri 25 Dec 2026" in page and "00:00" not in page
    assert "all times are Santiago time" in page
    doctor_id = make_doctor()
    patient = login_as(make_user(email="ana@example.com"))

    with app.app_context():
        today = clinic.local_today(clinic.now())
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    page = patient.get(f"/doctors/{doctor_id}/book?date={monday}&time=09:00&type=consultation")
    key = page.text.split('name="booking_key"')[1].split('value="')[1].split('"')[0]
    booked = patient.post(f"/doctors/{doctor_id}/book", data={"date": monday.isoformat(), "time": "09:00",
                                                              "type": "consultation", "booking_key": key})
    assert booked.status_code == 303
    [email] = sent_mail()
    body = email.get_body(preferencelist=("plain",)).get_content()
    assert "09:00, Santiago time" in body and " -03" not in body
