"""Finding a time in one look, in the booking API (DESIGN.md section 17): a doctor's month of days
(GET /v1/doctors/{id}/calendar) and the earliest free times across doctors
(GET /v1/bookings/next-available)."""
from datetime import date, timedelta

import pytest
from sqlalchemy import insert

from clinica_web.extensions import db
from clinica_web.models import Appointment
from tests.conftest import instant

# A fixed clock: Wednesday 10 March 2027, noon in Santiago (no daylight-saving change that month).
TODAY = date(2027, 3, 10)
HORIZON = TODAY + timedelta(days=90)  # BOOKING_HORIZON_DAYS in the tests: 8 June 2027


@pytest.fixture(autouse=True)
def fixed_clock(clock):
    clock.set(instant(TODAY, "12:00"))
    return clock


@pytest.fixture
def patient_id(make_user):
    return make_user(email="ana@example.com")


@pytest.fixture
def headers(fixed_clock, patient_id, bearer):
    """The patient's bearer header, made at the fixed instant (JWTs last a day)."""
    return bearer(patient_id)


def add_appointments(app, doctor_id, patient_id, days, hours):
    """Half-hour bookings of the doctor at each of `hours` on each weekday of `days`, in one insert."""
    rows = [{"patient_id": patient_id, "doctor_id": doctor_id, "starts_at": instant(day, hhmm),
             "ends_at": instant(day, hhmm) + timedelta(minutes=30), "duration_minutes": 30, "status": "scheduled",
             "appointment_type": "consultation", "notes": "", "sequence": 0, "created_at": instant(TODAY, "08:00"),
             "updated_at": instant(TODAY, "08:00")}
            for day in days if day.weekday() < 5 for hhmm in hours]
    with app.app_context():
        db.session.execute(insert(Appointment), rows)
        db.session.commit()


def days_between(first, last):
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# ---------------------------------------------------------------------------------------------
# A doctor's month


def calendar(client, headers, doctor_id, query="month=2027-03"):
    response = client.get(f"/v1/doctors/{doctor_id}/calendar?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_every_day_of_the_month_with_its_status_and_free_times(client, headers, make_doctor, make_user,
                                                               make_appointment, make_block):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))  # weekdays: 30-minute visits at 09:00, 09:15, 09:30
    patient = make_user(email="pat@example.com")
    for hhmm in ("09:00", "09:30"):  # Thursday 11th: fully booked
        make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 11), hhmm=hhmm)
    make_appointment(doctor_id=doctor_id, patient_id=patient, day=date(2027, 3, 12), hhmm="09:00")  # one taken
    make_block(doctor_id=None, start=instant(date(2027, 3, 15), "00:00"), end=instant(date(2027, 3, 16), "00:00"),
               reason="Clinic holiday")
    make_block(doctor_id=doctor_id, start=instant(date(2027, 3, 17), "00:00"),
               end=instant(date(2027, 3, 18), "00:00"), reason="Congress")
    days = calendar(client, headers, doctor_id)
    assert [day["date"] for day in days] == [f"2027-03-{n:02d}" for n in range(1, 32)]
    assert all(set(day) == {"date", "status", "free"} for day in days)  # a closure's reason is the pages' only
    by_day = {int(day["date"][-2:]): (day["status"], day["free"]) for day in days}
    assert {by_day[n] for n in range(1, 11)} == {("past", 0)}  # today too: its hours (9 to 10) are behind us
    assert by_day[11] == ("full", 0)
    assert by_day[12] == ("open", 1)  # 09:30 only
    assert by_day[13] == by_day[14] == ("day_off", 0)  # the weekend
    assert by_day[15] == ("closed", 0)
    assert by_day[16] == ("open", 3)
    assert by_day[17] == ("day_off", 0)  # the doctor's time off
    assert by_day[31] == ("open", 3)


def test_days_beyond_the_booking_horizon(client, headers, make_doctor):
    doctor_id = make_doctor()
    days = calendar(client, headers, doctor_id, "month=2027-06")
    assert {day["status"] for day in days if day["date"] > HORIZON.isoformat()} == {"beyond_horizon"}
    assert [day["status"] for day in days if day["date"] == HORIZON.isoformat()] == ["open"]
    assert {day["status"] for day in days if day["date"] < HORIZON.isoformat()} == {"open", "day_off"}


@pytest.mark.parametrize("month, length, statuses", [
    ("2028-02", 29, {"beyond_horizon"}),
    ("2027-02", 28, {"past"}),
    ("2027-04", 30, {"open", "day_off"}),
    ("2000-01", 31, {"past"}),
    ("2099-12", 31, {"beyond_horizon"}),
])
def test_exactly_the_days_of_the_month(client, headers, make_doctor, month, length, statuses):
    days = calendar(client, headers, make_doctor(), f"month={month}")
    year, number = map(int, month.split("-"))
    assert [day["date"] for day in days] == [date(year, number, n).isoformat() for n in range(1, length + 1)]
    assert {day["status"] for day in days} == statuses


@pytest.mark.parametrize("query, free", [
    ("", 3),  # 30 minutes, as available-slots
    ("&duration=15", 4),
    ("&duration=60", 1),
    ("&appointment_type=therapy", 1),  # its 60 minutes
    ("&appointment_type=follow_up", 4),  # its 15 minutes
    ("&appointment_type=therapy&duration=15", 4),  # a duration given wins
    ("&duration=&appointment_type=", 3),
])
def test_the_visit_length_counts_the_free_times(client, headers, make_doctor, query, free):
    doctor_id = make_doctor(windows=(("09:00", "10:00"),))
    days = calendar(client, headers, doctor_id, "month=2027-03" + query)
    assert [day["free"] for day in days if day["date"] == "2027-03-16"] == [free]


@pytest.mark.parametrize("month", ["2027-13", "2027-00", "27-01", "2027-3", "2027-03-01", "202703", "", "March",
                                   "２０２７-03", "2027-03\n", " 2027-03", None])
def test_a_month_not_yyyy_mm_is_refused(client, headers, make_doctor, month):
    doctor_id = make_doctor()
    query = {} if month is None else {"month": month}
    response = client.get(f"/v1/doctors/{doctor_id}/calendar", query_string=query, headers=headers)
    assert (response.status_code, response.get_json()) == (400, {"error": "Invalid month format (YYYY-MM)"})


@pytest.mark.parametrize("month", ["0001-01", "1999-12", "2100-01", "9999-12"])
def test_a_month_outside_the_clinics_years_says_which_it_takes(client, headers, make_doctor, month):
    doctor_id = make_doctor()
    response = client.get(f"/v1/doctors/{doctor_id}/calendar", query_string={"month": month}, headers=headers)
    assert (response.status_code, response.get_json()) == (400, {"error": "Choose a month from 2000-01 to 2099-12"})


@pytest.mark.parametrize("query, message", [
    ("duration=0", "Invalid duration"),
    ("duration=481", "Invalid duration"),
    ("duration=abc", "Invalid duration"),
    ("duration=-5", "Invalid duration"),
    ("appointment_type=nope", "Invalid appointment type"),
    ("appointment_type=consult%00ation", "Invalid appointment type"),
])
def test_a_bad_visit_length_is_refused_as_available_slots_refuses_it(client, headers, make_doctor, query, message):
    doctor_id = make_doctor()
    response = client.get(f"/v1/doctors/{doctor_id}/calendar?month=2027-03&{query}", headers=headers)
    assert (response.status_code, response.get_json()) == (400, {"error": message})
    if query.startswith("duration"):  # the same answer as available-slots gives
        slots = client.get(f"/v1/bookings/available-slots?doctor_id={doctor_id}&date=2027-03-16&{query}",
                           headers=headers)
        assert (slots.status_code, slots.get_json()) == (400, {"error": message})


@pytest.mark.parametrize("which", ["unknown", "inactive", "zero", "huge"])
def test_an_unknown_or_inactive_doctor_is_refused_as_available_slots_refuses_it(client, headers, make_doctor, which):
    doctor_id = {"unknown": 999999, "inactive": make_doctor(active=False), "zero": 0, "huge": 9 * 10**30}[which]
    response = client.get(f"/v1/doctors/{doctor_id}/calendar?month=2027-03", headers=headers)
    assert (response.status_code, response.get_json()) == (400, {"error": "Doctor not found"})
    slots = client.get(f"/v1/bookings/available-slots?doctor_id={doctor_id}&date=2027-03-16", headers=headers)
    assert slots.get_json() == response.get_json()


def test_a_doctor_id_not_a_whole_number_is_not_found(client, headers):
    response = client.get("/v1/doctors/abc/calendar?month=2027-03", headers=headers)
    assert response.status_code == 404
    assert "error" in response.get_json()


# ---------------------------------------------------------------------------------------------
# The earliest free times


@pytest.fixture
def doctors(make_doctor):
    """Two cardiologists (mornings 09-10, afternoons 14-15), a dermatologist (16-17) and an
    inactive cardiologist (all day)."""
    return {
        "early": make_doctor(name="Dr. Early", specialty="Cardiology", windows=(("09:00", "10:00"),)),
        "late": make_doctor(name="Dr. Late", specialty="Cardiology", windows=(("14:00", "15:00"),)),
        "skin": make_doctor(name="Dr. Skin", specialty="Dermatology", windows=(("16:00", "17:00"),)),
        "gone": make_doctor(name="Dr. Gone", specialty="Cardiology", windows=(("08:00", "18:00"),), active=False),
    }


def next_available(client, headers, query=""):
    response = client.get(f"/v1/bookings/next-available?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def seen(times):
    return [(time["doctor_name"], time["date"][-2:], time["time"]) for time in times]


def test_the_earliest_free_times_of_a_specialty_earliest_first(client, headers, doctors):
    times = next_available(client, headers, "specialty=Cardiology&limit=5")
    assert times[0] == {"doctor_id": doctors["late"], "doctor_name": "Dr. Late", "specialty": "Cardiology",
                        "date": "2027-03-10", "time": "14:00"}
    # Today's morning is behind us; tomorrow Dr. Early's morning comes before Dr. Late's afternoon.
    assert seen(times) == [("Dr. Late", "10", "14:00"), ("Dr. Late", "10", "14:15"), ("Dr. Late", "10", "14:30"),
                           ("Dr. Early", "11", "09:00"), ("Dr. Early", "11", "09:15")]


def test_every_active_doctor_without_a_specialty(client, headers, doctors):
    times = next_available(client, headers, "limit=5")
    assert seen(times) == [("Dr. Late", "10", "14:00"), ("Dr. Late", "10", "14:15"), ("Dr. Late", "10", "14:30"),
                           ("Dr. Skin", "10", "16:00"), ("Dr. Skin", "10", "16:15")]
    assert {time["specialty"] for time in next_available(client, headers, "specialty=Dermatology")} == {"Dermatology"}


def test_the_limit(client, headers, doctors):
    assert len(next_available(client, headers)) == 10
    assert len(next_available(client, headers, "limit=")) == 10
    assert len(next_available(client, headers, "limit=1")) == 1
    assert len(next_available(client, headers, "limit=50")) == 50


def test_from_a_later_day(client, headers, doctors):
    times = next_available(client, headers, "specialty=Cardiology&from=2027-03-15&limit=2")
    assert seen(times) == [("Dr. Early", "15", "09:00"), ("Dr. Early", "15", "09:15")]
    assert next_available(client, headers, "limit=3&from=2026-01-01") == next_available(client, headers, "limit=3")
    assert next_available(client, headers, f"from={HORIZON + timedelta(days=1)}") == []


def test_one_doctor(client, headers, doctors):
    times = next_available(client, headers, f"doctor_id={doctors['early']}&limit=2")
    assert seen(times) == [("Dr. Early", "11", "09:00"), ("Dr. Early", "11", "09:15")]
    assert next_available(client, headers, f"doctor_id={doctors['early']}&specialty=Dermatology") == []
    assert len(next_available(client, headers, f"doctor_id={doctors['early']}&specialty=Cardiology")) == 10


def test_the_visit_length(client, headers, doctors):
    times = next_available(client, headers, "specialty=Cardiology&appointment_type=therapy&limit=2")  # 60 minutes
    assert seen(times) == [("Dr. Late", "10", "14:00"), ("Dr. Early", "11", "09:00")]
    times = next_available(client, headers, "specialty=Cardiology&duration=60&limit=2")
    assert seen(times) == [("Dr. Late", "10", "14:00"), ("Dr. Early", "11", "09:00")]


def test_booked_time_is_not_offered(app, client, headers, doctors, patient_id):
    add_appointments(app, doctors["late"], patient_id, [TODAY], ["14:00", "14:30"])
    times = next_available(client, headers, "specialty=Cardiology&limit=1")
    assert seen(times) == [("Dr. Early", "11", "09:00")]


@pytest.mark.parametrize("specialty", ["Podiatry", "cardiology", "Cardio%", "Cardio\x00logy"])
def test_an_unknown_specialty_has_no_times(client, headers, doctors, specialty):
    response = client.get("/v1/bookings/next-available", query_string={"specialty": specialty}, headers=headers)
    assert (response.status_code, response.get_json()) == (200, [])


@pytest.mark.parametrize("query, message", [
    ("limit=0", "limit must be between 1 and 50"),
    ("limit=51", "limit must be between 1 and 50"),
    ("limit=x", "limit must be between 1 and 50"),
    ("limit=-1", "limit must be between 1 and 50"),
    ("limit=2.5", "limit must be between 1 and 50"),
    ("from=2027-3-15", "Invalid date format (YYYY-MM-DD)"),
    ("from=2027-02-30", "Invalid date format (YYYY-MM-DD)"),
    ("from=tomorrow", "Invalid date format (YYYY-MM-DD)"),
    ("duration=0", "Invalid duration"),
    ("duration=abc", "Invalid duration"),
    ("appointment_type=nope", "Invalid appointment type"),
    ("doctor_id=999999", "Doctor not found"),
    ("doctor_id=abc", "Doctor not found"),
    ("doctor_id=-1", "Doctor not found"),
    ("doctor_id=" + "9" * 40, "Doctor not found"),
    ("doctor_id=INACTIVE", "Doctor not found"),
    ("doctor_id=INACTIVE&specialty=Cardiology", "Doctor not found"),
])
def test_next_available_errors(client, headers, doctors, query, message):
    query = query.replace("INACTIVE", str(doctors["gone"]))
    response = client.get(f"/v1/bookings/next-available?{query}", headers=headers)
    assert (response.status_code, response.get_json()) == (400, {"error": message})


# ---------------------------------------------------------------------------------------------
# Both: a token, and a constant number of queries


@pytest.mark.parametrize("url", ["/v1/doctors/1/calendar?month=2027-03", "/v1/bookings/next-available"])
@pytest.mark.parametrize("authorization", [None, "Bearer nonsense", "Basic abc"])
def test_a_token_is_needed(client, url, authorization):
    response = client.get(url, headers={"Authorization": authorization} if authorization else {})
    assert (response.status_code, response.get_json()) == (401, {"error": "Authentication required"})


def test_both_run_as_many_queries_with_many_appointments(app, client, headers, make_doctor, make_user, make_block,
                                                         count_queries):
    """The calendar: the user, the doctor with their hours, the month's busy time, and the closures'
    reasons; next-available: the user, the doctors, their hours, and a week's busy time (the limit
    is reached in the first week)."""
    doctor_ids = [make_doctor(name=f"Dr. {n}", specialty="Cardiology") for n in range(3)]
    make_block(doctor_id=None, start=instant(date(2027, 3, 26), "00:00"), end=instant(date(2027, 3, 27), "00:00"))

    def measure():
        def ok(url):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, response.get_json()
            assert response.get_json()

        return [count_queries(lambda: ok(f"/v1/doctors/{doctor_ids[0]}/calendar?month=2027-03")),
                count_queries(lambda: ok(f"/v1/doctors/{doctor_ids[0]}/calendar?month=2027-03"
                                         "&appointment_type=therapy")),
                count_queries(lambda: ok("/v1/bookings/next-available?specialty=Cardiology&limit=50"))]

    few = measure()
    days = days_between(date(2027, 1, 4), date(2027, 4, 30))  # weeks of history, and every morning to come
    for doctor_id in doctor_ids:
        add_appointments(app, doctor_id, make_user(email=f"p{doctor_id}@example.com"), days,
                         ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30"])
    assert measure() == few == [4, 5, 4]


def test_the_times_counted_for_a_patient_are_those_they_could_book(app, client, headers, bearer, patient_id,
                                                                   make_doctor, make_user):
    """Ana sees Dr. Other on Thursday 09:00-10:00: none of Dr. Early's Thursday times is one she
    could book (each clashes with her visit), though all are free for anyone else. Her month, her
    earliest times and her available-slots leave them out; another patient's count them."""
    early = make_doctor(name="Dr. Early", specialty="Cardiology", windows=(("09:00", "10:00"),))
    other = make_doctor(name="Dr. Other", specialty="Dermatology", windows=(("09:00", "10:00"),))
    thursday = date(2027, 3, 11)
    add_appointments(app, other, patient_id, [thursday], ["09:00", "09:30"])
    someone_else = bearer(make_user(email="ben@example.com"))

    def day(who, number):
        return next(day for day in calendar(client, who, early) if day["date"] == f"2027-03-{number:02d}")

    assert (day(someone_else, 11)["status"], day(someone_else, 11)["free"]) == ("open", 3)
    assert (day(headers, 11)["status"], day(headers, 11)["free"]) == ("full", 0)
    assert day(headers, 12) == day(someone_else, 12)

    query = f"doctor_id={early}&limit=2"
    assert seen(next_available(client, someone_else, query)) == [("Dr. Early", "11", "09:00"),
                                                                 ("Dr. Early", "11", "09:15")]
    assert seen(next_available(client, headers, query)) == [("Dr. Early", "12", "09:00"), ("Dr. Early", "12", "09:15")]

    def available(who):
        response = client.get(f"/v1/bookings/available-slots?doctor_id={early}&date={thursday}", headers=who)
        assert response.status_code == 200
        return response.get_json()

    for _ in range(2):  # worked out, then kept in memory: each patient's own
        assert available(someone_else) == ["09:00", "09:15", "09:30"]
        assert available(headers) == []
