"""The API's busy requests run a fixed number of SQL queries, however much history there is:
available slots, booking, in_date_range and pending documentation."""
from datetime import timedelta

from sqlalchemy import insert

from clinica_web.extensions import db
from clinica_web.models import Appointment
from clinica_web.services import clinic
from tests.conftest import instant, next_weekday

MONDAY = next_weekday(0, weeks=1)


def add_history(app, doctor_id, patient_id, *, weeks, before):
    """`weeks` more weeks of half-hourly weekday mornings for the doctor, ending before `before`
    (undocumented, so they also fill the pending-documentation backlog once in the past)."""
    with app.app_context():
        rows = []
        for day in (before - timedelta(days=n) for n in range(1, 7 * weeks + 1)):
            if day.weekday() < 5:
                rows += [{"patient_id": patient_id, "doctor_id": doctor_id, "starts_at": instant(day, f"{hour:02d}:00"),
                          "ends_at": instant(day, f"{hour:02d}:30"), "duration_minutes": 30,
                          "status": "completed", "appointment_type": "consultation", "notes": "", "sequence": 0,
                          "created_at": clinic.now(), "updated_at": clinic.now()} for hour in range(9, 13)]
        db.session.execute(insert(Appointment), rows)
        db.session.commit()
    return before - timedelta(days=7 * weeks)


def test_api_requests_run_as_many_queries_with_a_long_history(app, client, make_doctor, make_user, bearer,
                                                              staff_token, count_queries):
    doctor_id = make_doctor()
    patient_id = make_user(email="ana@example.com")
    headers, staff = bearer(patient_id), {"X-User-Token": staff_token()}
    with app.app_context():
        today = clinic.local_today(clinic.now())
    month = f"start_date={today - timedelta(days=30)}&end_date={today}&provider_id={doctor_id}"
    times = iter(f"{hour:02d}:{minute:02d}" for hour in range(9, 13) for minute in (0, 15, 30, 45))

    def measure():
        def ok(response, status=200):
            assert response.status_code == status, response.get_json()

        slots_url = f"/v1/bookings/available-slots?doctor_id={doctor_id}&date={MONDAY}"
        ok(client.get(slots_url, headers=headers))  # a worker's first: it loads what it keeps (below)
        return [
            count_queries(lambda: ok(client.get(slots_url, headers=headers))),
            count_queries(lambda: ok(client.post("/v1/bookings", headers=headers, json={
                "doctor_id": doctor_id, "date": MONDAY.isoformat(), "time": next(times), "duration": 15}), 201)),
            count_queries(lambda: ok(client.get(f"/v1/clinic/appointments/in_date_range?{month}", headers=staff))),
            count_queries(lambda: ok(client.get("/v1/clinic/appointments/pending_documentation", headers=staff))),
        ]

    earliest = add_history(app, doctor_id, patient_id, weeks=1, before=today)
    small = measure()
    add_history(app, doctor_id, patient_id, weeks=30, before=earliest)
    assert measure() == small
    # Slots: the user, then the calendar version with the busy time (the doctor, their hours and
    # the visit types are kept in memory under that version: services/calendars.py). Booking: the user (twice: its
    # write transaction reads afresh), the visit type, the doctor, what is in the way (the doctor's
    # time off and bookings, the patient's bookings), three inserts (the email is the worker's to
    # send) and one for its reminders. Staff lists: the token, the rows (and for pending, the count).
    assert small == [2, 9, 3, 4]


def test_the_explainer_runs_as_many_queries_however_much_is_in_the_way(app, client, make_doctor, make_user,
                                                                       make_appointment, make_block, staff_token,
                                                                       count_queries):
    """Monday 09:00-17:00 asked of the explainer, with one booking and one blocked period in the
    way, then with sixteen and four: each kind of thing in the way is read in one query."""
    doctor_id = make_doctor()
    staff = {"X-User-Token": staff_token()}
    url = (f"/v1/clinic/availability/explain?provider_id={doctor_id}"
           f"&scheduled_at={instant(MONDAY, '09:00').isoformat()}&duration_minutes=480")

    def ask():
        response = client.get(url, headers=staff)
        assert response.status_code == 200
        return response.get_json()

    make_appointment(doctor_id=doctor_id, patient_id=make_user(email="p0@example.com"), day=MONDAY, hhmm="09:00")
    make_block(doctor_id=doctor_id, start=instant(MONDAY, "16:00"), end=instant(MONDAY, "16:15"))
    queries = count_queries(ask)
    for n in range(1, 16):
        make_appointment(doctor_id=doctor_id, patient_id=make_user(email=f"p{n}@example.com"), day=MONDAY,
                         hhmm=f"{9 + n // 2:02d}:{30 * (n % 2):02d}")
    for hour in (10, 12, 14):
        make_block(doctor_id=doctor_id, start=instant(MONDAY, f"{hour}:00"), end=instant(MONDAY, f"{hour}:15"))
    assert count_queries(ask) == queries
    assert [reason["code"] for reason in ask()["reasons"]].count("booked") == 16
