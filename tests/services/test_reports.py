"""The manager's report (services/reports.py): exact numbers for a hand-built clinic, weeks in
local time (daylight-saving changes included), the default period, refused periods, and a
constant number of queries whatever the clinic's size."""
from datetime import date, timedelta

import pytest

from clinica_web.extensions import db
from clinica_web.models import ARRIVED, CANCELLED, COMPLETED, HELD, NO_SHOW, SCHEDULED, Appointment
from clinica_web.services import reports
from clinica_web.services.errors import InvalidInput
from tests.conftest import instant

MONDAY = date(2026, 6, 8)  # a winter week in Santiago: no clock change near it
TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SUNDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 3, 4, 6))


@pytest.fixture
def visit(app, make_user):
    """visit(doctor_id, day, "HH:MM", ...) -> a visit booked `lead_hours` before it starts."""
    patients = {}

    def make(doctor_id, day, hhmm, *, minutes=30, status=SCHEDULED, lead_hours=24, late=False):
        # One patient per doctor: a patient cannot hold two overlapping visits.
        patient_id = patients.get(doctor_id) or patients.setdefault(doctor_id, make_user())
        with app.app_context():
            start = instant(day, hhmm)
            db.session.add(Appointment(
                patient_id=patient_id, doctor_id=doctor_id, starts_at=start,
                ends_at=start + timedelta(minutes=minutes), duration_minutes=minutes, status=status,
                appointment_type="consultation", notes="", created_at=start - timedelta(hours=lead_hours),
                late_cancellation=late))
            db.session.commit()

    return make


def report(app, first, last, doctor_id=None):
    with app.app_context():
        return reports.weekly_report(first=first, last=last, doctor_id=doctor_id)


def week_of(found, monday):
    return next(week for week in found.weeks if week.monday == monday)


def doctor_week(found, doctor_id, monday):
    return found.measures(doctor_id, week_of(found, monday))


@pytest.fixture
def hand_built(make_doctor, make_block, visit):
    """Dr. Rossi works 09:00-12:00 Monday to Friday (900 minutes a week). In the week of MONDAY
    she is away Tuesday 10:00-12:00 and the clinic is closed on Thursday: 600 open minutes."""
    rossi = make_doctor(name="Dr. Laura Rossi", weekdays=range(5), windows=(("09:00", "12:00"),))
    make_block(doctor_id=rossi, start=instant(TUESDAY, "10:00"), end=instant(TUESDAY, "12:00"), reason="Training")
    make_block(doctor_id=None, start=instant(THURSDAY, "00:00"), end=instant(FRIDAY, "00:00"), reason="Holiday")
    visit(rossi, MONDAY, "09:00", status=COMPLETED, lead_hours=48)
    visit(rossi, MONDAY, "09:30", status=ARRIVED, lead_hours=24)
    visit(rossi, MONDAY, "10:00", minutes=60, status=NO_SHOW, lead_hours=2)
    visit(rossi, TUESDAY, "10:30", lead_hours=5)  # booked before her training: none of it is open time
    visit(rossi, WEDNESDAY, "09:00", lead_hours=240)
    visit(rossi, WEDNESDAY, "11:30", minutes=60, lead_hours=1)  # half of it after her hours
    visit(rossi, FRIDAY, "09:00", status=CANCELLED, late=True)
    visit(rossi, FRIDAY, "09:30", status=CANCELLED)  # cancelled in good time
    visit(rossi, FRIDAY, "10:00", status=HELD)  # held for a waitlist offer: not a visit yet
    return rossi


def test_a_hand_built_week_gives_exact_numbers(app, hand_built):
    found = report(app, MONDAY, SUNDAY)
    week = doctor_week(found, hand_built, MONDAY)
    assert (week.open_minutes, week.booked_minutes) == (600, 180)  # 30 + 30 + 60 + 30 + 30 (the half inside)
    assert reports.percent(week.utilisation) == "30.0%"
    assert (week.visits_due, week.no_shows, reports.percent(week.no_show_rate)) == (3, 1, "33.3%")
    assert week.late_cancellations == 1
    # Lead times 1, 2, 5, 24, 48 and 240 hours: the median is halfway between 5 and 24.
    assert week.median_lead_hours == 14.5
    assert reports.lead_time(week.median_lead_hours) == "14.5 hours"
    total = found.totals[MONDAY]
    assert (total.open_minutes, total.booked_minutes, total.visits_due, total.no_shows) == (600, 180, 3, 1)
    assert [week.label for week in found.weeks] == ["8–14 Jun"]


def test_lead_time_is_in_days_from_one_day(app, make_doctor, visit):
    doctor = make_doctor(windows=(("09:00", "12:00"),))
    visit(doctor, MONDAY, "09:00", lead_hours=30)
    visit(doctor, MONDAY, "10:00", lead_hours=80)
    week = doctor_week(report(app, MONDAY, SUNDAY), doctor, MONDAY)
    assert reports.lead_time(week.median_lead_hours) == "2.3 days"  # 55 hours
    assert reports.lead_time(None) == "—"


def test_a_doctor_without_hours_has_no_utilisation(app, make_doctor, visit):
    doctor = make_doctor(name="Dr. No Hours", weekdays=())
    visit(doctor, MONDAY, "09:00", status=COMPLETED)
    week = doctor_week(report(app, MONDAY, SUNDAY), doctor, MONDAY)
    assert (week.open_minutes, week.booked_minutes, week.utilisation) == (0, 0, None)
    assert reports.percent(week.utilisation) == "—"
    assert reports.percent(week.no_show_rate) == "0.0%"


def test_a_week_with_no_visit_due_has_no_no_show_rate(app, make_doctor, visit):
    doctor = make_doctor()
    visit(doctor, MONDAY, "09:00")  # still scheduled: not due yet
    week = doctor_week(report(app, MONDAY, SUNDAY), doctor, MONDAY)
    assert (week.visits_due, week.no_show_rate) == (0, None)


def test_hidden_doctors_are_reported_only_with_visits(app, make_doctor, visit):
    shown = make_doctor(name="Dr. Active")
    make_doctor(name="Dr. Gone", active=False)
    left = make_doctor(name="Dr. Left", active=False)
    visit(left, MONDAY, "09:00", status=COMPLETED)
    assert [d.display_name for d in report(app, MONDAY, SUNDAY).doctors] == ["Dr. Active", "Dr. Left"]
    assert [d.id for d in report(app, MONDAY, SUNDAY, doctor_id=shown).doctors] == [shown]


def test_weeks_are_local_monday_to_sunday(app, make_doctor, visit):
    """Sunday 23:30 in Santiago is already Monday in UTC: it still belongs to its Sunday's week."""
    doctor = make_doctor(weekdays=range(7), windows=(("00:00", "24:00"),))
    visit(doctor, SUNDAY, "23:30", status=NO_SHOW, minutes=15)
    visit(doctor, SUNDAY + timedelta(days=1), "00:15", status=COMPLETED, minutes=15)
    found = report(app, MONDAY, SUNDAY + timedelta(days=7))
    first, second = (doctor_week(found, doctor, week.monday) for week in found.weeks)
    assert (first.visits_due, first.no_shows, first.booked_minutes) == (1, 1, 15)
    assert (second.visits_due, second.no_shows, second.booked_minutes) == (1, 0, 15)
    assert first.open_minutes == second.open_minutes == 7 * 24 * 60


def test_a_cut_week_counts_only_its_days_inside_the_range(app, make_doctor, visit):
    doctor = make_doctor(windows=(("09:00", "12:00"),))
    visit(doctor, MONDAY, "09:00", status=COMPLETED)
    found = report(app, WEDNESDAY, SUNDAY + timedelta(days=2))
    assert [(w.first, w.last, w.label) for w in found.weeks] == [
        (WEDNESDAY, SUNDAY, "10–14 Jun"), (SUNDAY + timedelta(days=1), SUNDAY + timedelta(days=2), "15–16 Jun")]
    first = doctor_week(found, doctor, MONDAY)
    assert (first.open_minutes, first.visits_due) == (3 * 180, 0)  # Wednesday to Friday; Monday's visit is before


# Santiago's clocks in 2026: back from 24:00 to 23:00 on Saturday 4 April (that day lasts 25
# hours), forward from 24:00 to 01:00 on Saturday 5 September (Sunday 6 September lasts 23).
FALL_BACK_WEEK, SPRING_FORWARD_WEEK = date(2026, 3, 30), date(2026, 8, 31)


@pytest.mark.parametrize("monday, window, open_minutes", [
    (FALL_BACK_WEEK, ("09:00", "12:00"), 7 * 180),  # local wall-clock hours, whatever the offset
    (SPRING_FORWARD_WEEK, ("09:00", "12:00"), 7 * 180),
    (FALL_BACK_WEEK, ("22:00", "24:00"), 7 * 120 + 60),  # Saturday's 23:00-24:00 happens twice
    (SPRING_FORWARD_WEEK, ("00:00", "03:00"), 7 * 180 - 60),  # Sunday's 00:00-01:00 never happens
])
def test_weeks_with_a_clock_change_count_real_minutes_of_local_hours(
        app, make_doctor, visit, monday, window, open_minutes):
    doctor = make_doctor(weekdays=range(7), windows=(window,))
    saturday = monday + timedelta(days=5)
    visit(doctor, saturday, window[0], minutes=60, status=COMPLETED)
    found = report(app, monday, monday + timedelta(days=6))
    week = doctor_week(found, doctor, monday)
    assert [w.monday for w in found.weeks] == [monday]
    assert (week.open_minutes, week.booked_minutes, week.visits_due) == (open_minutes, 60, 1)


# ---------------------------------------------------------------------------------------------
# The period asked for


def test_the_default_period_is_four_complete_weeks_and_the_current_one(app, clock):
    clock.set(instant(date(2026, 11, 26), "10:00"))  # a Thursday
    with app.app_context():
        first, last = reports.period(None, "", now=clock())
    assert (first, last) == (date(2026, 10, 26), date(2026, 11, 29))
    with app.app_context():
        assert len(reports.weekly_report(first=first, last=last).weeks) == 5


@pytest.mark.parametrize("first, last, field, message", [
    ("garbage", "2026-06-14", "from", "Invalid date format (YYYY-MM-DD)"),
    ("2026-02-30", "2026-06-14", "from", "Invalid date format (YYYY-MM-DD)"),
    ("0001-01-01", "2026-06-14", "from", "Choose a date from 2000-01-01 to 2099-12-31"),
    ("2026-06-08", "9999-12-31", "to", "Choose a date from 2000-01-01 to 2099-12-31"),
    ("2026-06-08", "2026-06-08\x01", "to", "Invalid date format (YYYY-MM-DD)"),
    ("2026-06-08", "2026-06-07", "from", "The first day must not be after the last day"),
    ("2026-01-01", "2027-01-02", "to", "Choose at most 366 days"),  # 367 days
])
def test_refused_periods(app, first, last, field, message):
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        reports.period(first, last, now=instant(MONDAY, "10:00"))
    assert (refused.value.field, refused.value.message) == (field, message)


def test_a_whole_leap_year_is_allowed(app):
    with app.app_context():
        assert reports.period("2028-01-01", "2028-12-31", now=instant(MONDAY, "10:00")) == (
            date(2028, 1, 1), date(2028, 12, 31))


@pytest.mark.parametrize("doctor_id", ["abc", "0", "-1", "99999999999", "1.5"])
def test_a_doctor_filter_that_is_no_id_is_refused(app, doctor_id):
    with pytest.raises(InvalidInput, match="Choose a doctor from the list"):
        reports.doctor_filter(doctor_id)


def test_an_unknown_doctor_is_refused(app, make_doctor):
    make_doctor()
    with pytest.raises(InvalidInput, match="Choose a doctor from the list"):
        report(app, MONDAY, SUNDAY, doctor_id=424242)


# ---------------------------------------------------------------------------------------------
# Size


def clinic_of(make_doctor, make_block, visit, *, doctors, weeks):
    for number in range(doctors):
        doctor = make_doctor(name=f"Dr. {number:03}")
        make_block(doctor_id=doctor, start=instant(TUESDAY, "14:00"), end=instant(TUESDAY, "18:00"))
        for week in range(weeks):
            for day, status in ((MONDAY, COMPLETED), (WEDNESDAY, NO_SHOW), (FRIDAY, CANCELLED)):
                visit(doctor, day + timedelta(weeks=week), "09:00", status=status, late=True)
    make_block(doctor_id=None, start=instant(THURSDAY, "00:00"), end=instant(FRIDAY, "00:00"))


def test_the_report_takes_the_same_few_queries_whatever_the_clinic_size(
        app, count_queries, make_doctor, make_block, visit):
    def queries():
        found = []
        count = count_queries(lambda: found.append(report(app, MONDAY, MONDAY + timedelta(weeks=8, days=-1))))
        return count, found[0]

    clinic_of(make_doctor, make_block, visit, doctors=1, weeks=1)
    small, found = queries()
    assert found.totals[MONDAY].visits_due == 2
    clinic_of(make_doctor, make_block, visit, doctors=12, weeks=8)
    big, found = queries()
    assert found.totals[MONDAY].visits_due == 2 + 12 * 2
    assert found.totals[MONDAY + timedelta(weeks=7)].late_cancellations == 12
    assert small == big <= 4
