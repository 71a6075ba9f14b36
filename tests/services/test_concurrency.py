"""No double booking, ever: many simultaneous requests for overlapping times of one doctor.

Each request runs in its own thread with its own database connection (a real pool, real commits),
through the whole web stack, so a lost race must come back as the overlap message and never as a 500.
"""
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment
from tests.conftest import PASSWORD, next_weekday, seed_busy_doctor

ATTEMPTS = 24


@pytest.mark.concurrency
def test_simultaneous_bookings_of_overlapping_slots_one_wins(committing_app):
    app = committing_app
    monday = next_weekday(0, weeks=1)
    doctor_id = seed_busy_doctor(app, patients=ATTEMPTS)

    clients = []
    for number in range(ATTEMPTS):
        client = app.test_client()
        assert client.post("/login", data={"email": f"p{number}@example.com", "password": PASSWORD}).status_code == 303
        clients.append(client)

    start_together = threading.Barrier(ATTEMPTS)
    responses = [None] * ATTEMPTS

    def attempt(number):
        # 09:00 and 09:15 for 30 minutes: every pair of attempts overlaps.
        form = {"date": monday.isoformat(), "time": "09:00" if number % 2 else "09:15", "type": "consultation",
                "booking_key": f"key-{number}"}
        start_together.wait(timeout=30)
        responses[number] = clients[number].post(f"/doctors/{doctor_id}/book", data=form)

    threads = [threading.Thread(target=attempt, args=(number,)) for number in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [303] + [409] * (ATTEMPTS - 1), statuses
    for response in responses:
        if response.status_code == 409:
            assert "Time slot overlaps with another booking" in response.text
            # The page offers the refreshed slots, without the taken times.
            assert re.search(r">09:(00|15)</a>", response.text) is None
    with app.app_context():
        booked = db.session.scalars(select(Appointment).where(Appointment.status == SCHEDULED)).all()
        assert len(booked) == 1
        assert booked[0].ends_at - booked[0].starts_at == timedelta(minutes=30)
        assert db.session.scalar(select(func.count(Appointment.id))) == 1
