"""Finding a time in one look (DESIGN.md section 17): the month view and the earliest free times."""
from datetime import date, timedelta

import pytest

from clinica_web.extensions import db
from clinica_web.models import Appointment, BlockedPeriod
from clinica_web.services import availability, finder
from tests.conftest import instant

# A fixed clock: Wednesday 10 March 2027, noon in Santiago (no daylight-saving change that month).
NOW_DAY = date(2027, 3, 10)


@pytest.fixture(autouse=True)
def fixed_clock(clock):
    clock.set(instant(NOW_DAY, "12:00"))
    return clock


def doctor_row(doctor_id):
    return availability.active_doctor(doctor_id)


def march(app, doctor_id, duration=30):
    with app.app_context():
        days = finder.month(doctor_row(doctor_id), 2027, 3, duration, now=instant(NOW_DAY, "12:00"))
        return {day.date.day: day for day in days}


def test_every_day_of_the_month_has_its_status_and_number_of_free_times(
        app, make_doctor, make_appointment, make_user):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))  # weekdays: 30-minute visits at 09:00, 09:15, 09:30
    patient = make_user(email="ana@example.com")
    for hhmm in ("09:00", "09:30"):  # Thursday 11th: fully booked
        make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 11), hhmm=hhmm)
    make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 12), hhmm="09:00")  # one taken
    with app.app_context():
        for owner, reason, day in ((None, "Clinic holiday", 15), (doctor_id, "Congress", 17)):
            db.session.add(BlockedPeriod(doctor_id=owner, reason=reason, starts_at=instant(date(2027, 3, day), "00:00"),
                                         ends_at=instant(date(2027, 3, day + 1), "00:00")))
        db.session.commit()
    days = march(app, doctor_id)
    assert len(days) == 31
    assert (days[9].status, days[9].free) == ("past", 0)
    assert days[10].status == "past"  # today, its hours (9 to 10) behind us at noon
    assert (days[11].status, days[11].free) == ("full", 0)
    assert (days[12].status, days[12].free) == ("open", 1)  # 09:30 only (a 30-minute visit)
    assert days[13].status == days[14].status == "day_off"  # the weekend
    assert (days[15].status, days[15].reason) == ("closed", "Clinic holiday")
    assert (days[16].status, days[16].free) == ("open", 3)
    assert days[17].status == "day_off"  # the doctor's time off: the reason is theirs, not shown
    assert [days[d].free for d in (16, 22, 31)] == [3, 3, 3]


def test_a_month_for_moving_a_visit_counts_its_own_time_free_for_the_others_but_not_offered(
        app, make_doctor, make_appointment, make_user):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))  # 30-minute visits at 09:00, 09:15, 09:30
    patient = make_user(email="ana@example.com")
    moving = make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 11), hhmm="09:00")
    make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 11), hhmm="09:30")
    make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 12), hhmm="09:30")
    with app.app_context():
        appointment = db.session.get(Appointment, moving)
        other_doctor = make_doctor(name="Dr. Other", windows=(("09:00", "10:00"),))
        days, others = ({day.date.day: day for day in finder.month(doctor_row(doctor), 2027, 3, 30,
                                                                   now=instant(NOW_DAY, "12:00"), moving=appointment)}
                        for doctor in (doctor_id, other_doctor))
    # Its day: 09:00 is its own (no move), 09:15 would overlap 09:30's visit: nothing to move to.
    assert (days[11].status, days[11].free) == ("full", 0)
    assert (days[12].status, days[12].free) == ("open", 1)  # 09:00: its hour on another day is a move
    # The same time with another doctor is a move; its 09:15 and 09:30 would overlap her own 09:30.
    assert (others[11].status, others[11].free) == ("open", 1)


def test_beyond_the_horizon(app, make_doctor):
    doctor_id = make_doctor()
    with app.app_context():
        days = finder.month(doctor_row(doctor_id), 2027, 6, 30, now=instant(NOW_DAY, "12:00"))
    horizon = NOW_DAY + timedelta(days=app.config["BOOKING_HORIZON_DAYS"])  # 8 June 2027
    assert {d.status for d in days if d.date > horizon} == {"beyond_horizon"}
    assert days[horizon.day - 1].status == "open"


def test_a_month_runs_two_queries_whatever_the_number_of_appointments(app, make_doctor, make_appointment, make_user,
                                                                      count_queries):
    doctor_id = make_doctor()
    patient = make_user(email="ana@example.com")

    def measure():
        def run():
            with app.app_context():
                doctor = doctor_row(doctor_id)
                counted.append(count_queries(lambda: finder.month(doctor, 2027, 3, 30, now=instant(NOW_DAY, "12:00"))))
        counted = []
        run()
        return counted[0]

    few = measure()
    for day in range(11, 31):
        if date(2027, 3, day).weekday() < 5:
            for hhmm in ("09:00", "10:00", "11:00", "14:00", "15:00"):
                make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, day), hhmm=hhmm)
    assert measure() == few == 1  # the busy time (closure reasons only when a day is closed)


# ---------------------------------------------------------------------------------------------
# The earliest free times


def test_the_earliest_free_times_across_doctors_earliest_first(app, make_doctor, make_user, make_appointment):
    early = make_doctor(name="Dr. Early", windows=(("09:00", "10:00"),))
    make_doctor(name="Dr. Late", windows=(("14:00", "15:00"),))
    make_doctor(name="Dr. Nohours", windows=())
    patient = make_user(email="ana@example.com")
    for hhmm in ("09:00", "09:15", "09:30", "09:45"):  # tomorrow morning is full
        make_appointment(doctor_id=early, patient_id=patient, day=date(2027, 3, 11), hhmm=hhmm, duration=15,
                         appointment_type="follow_up")
    with app.app_context():
        doctors = finder.active_doctors()
        found = finder.earliest(doctors, 30, now=instant(NOW_DAY, "12:00"), limit=4)
        seen = [(t.doctor.display_name, t.day.day, t.minute) for t in found]
    assert seen == [("Dr. Late", 10, 14 * 60), ("Dr. Late", 10, 14 * 60 + 15), ("Dr. Late", 10, 14 * 60 + 30),
                    ("Dr. Late", 11, 14 * 60)]
    with app.app_context():
        each = finder.earliest(finder.active_doctors(), 30, now=instant(NOW_DAY, "12:00"), limit=50, per_doctor=2)
        assert [(t.doctor.display_name, t.day.day, t.minute) for t in each] == [
            ("Dr. Late", 10, 840), ("Dr. Late", 10, 855), ("Dr. Early", 12, 540), ("Dr. Early", 12, 555)]
        later = finder.earliest(finder.active_doctors(), 30, now=instant(NOW_DAY, "12:00"),
                                start_day=date(2027, 3, 15), limit=1)
        assert [(t.doctor.display_name, t.day) for t in later] == [("Dr. Early", date(2027, 3, 15))]


def test_nothing_free_within_the_horizon_is_an_empty_list(app, make_doctor):
    make_doctor(windows=())
    with app.app_context():
        assert finder.earliest(finder.active_doctors(), 30, now=instant(NOW_DAY, "12:00")) == []
        assert finder.earliest([], 30, now=instant(NOW_DAY, "12:00")) == []


def test_the_earliest_times_cost_at_most_three_queries_whatever_the_appointments(app, make_doctor, make_user,
                                                                                 make_appointment, count_queries):
    """The busy time is read for the first week, then the three after it, then the rest of the
    horizon: however far away the first free time is, three queries at most."""
    doctors = [make_doctor(name=f"Dr. {n}", windows=(("09:00", "10:00"),)) for n in range(3)]
    patients = {doctor_id: make_user(email=f"p{doctor_id}@example.com") for doctor_id in doctors}

    def measure():
        with app.app_context():
            found = finder.active_doctors()
            return count_queries(lambda: finder.earliest(found, 30, now=instant(NOW_DAY, "12:00"), limit=3))

    def book_mornings(first, last):
        day = first
        while day <= last:
            if day.weekday() < 5:
                for doctor_id in doctors:
                    for hhmm in ("09:00", "09:30"):
                        make_appointment(doctor_id=doctor_id, patient_id=patients[doctor_id], day=day, hhmm=hhmm)
            day += timedelta(days=1)

    assert measure() == 1  # free on Thursday 11 March: the first week
    book_mornings(date(2027, 3, 11), date(2027, 3, 24))
    assert measure() == 2  # free on 25 March: in the three weeks after it
    book_mornings(date(2027, 3, 25), date(2027, 4, 6))
    assert measure() == 3  # free on 7 April: the rest of the horizon
    book_mornings(date(2027, 4, 7), date(2027, 6, 8))
    assert measure() == 3  # nothing free within the horizon: still three
