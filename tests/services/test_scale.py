"""Several app processes sharing one database: bookings across processes, the mail sender run
by several processes at once, and the indexes the busy queries rely on."""
import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment, OutboxEmail
from clinica_web.models.outbox import SENT
from clinica_web.services import clinic, notifications
from tests.conftest import next_weekday, seed_busy_doctor

PROCESSES = 20
PROJECT = Path(__file__).resolve().parents[2]


# One app process, like one gunicorn worker: its own interpreter, app, engine and connections.
# It waits for the shared start time, books, and prints what happened.
WORKER = """
import json, sys, time
from sqlalchemy import select
from clinica_web import create_app
from clinica_web.extensions import db
from clinica_web.models import User
from clinica_web.services import booking, clinic
config, email, doctor_id, day, hhmm, start_at = json.loads(sys.argv[1])
app = create_app(config)
with app.app_context():
    patient = db.session.scalars(select(User).where(User.email == email)).one()
    db.session.rollback()
    time.sleep(max(0, start_at - time.time()))
    try:
        booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=day, time=hhmm, now=clinic.now())
        print("booked")
    except Exception as error:
        print(getattr(error, "message", repr(error)))
    db.engine.dispose()
"""


@pytest.mark.concurrency
def test_bookings_from_many_processes_one_wins(committing_app):
    app = committing_app
    monday = next_weekday(0, weeks=1)
    doctor_id = seed_busy_doctor(app, patients=PROCESSES)

    config = {key: app.config[key] for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "CLINIC_TIMEZONE",
                                               "MAIL_FILE_DIR", "MAIL_SERVER", "PASSWORD_HASH_METHOD")}
    start_at = time.time() + 10  # time enough for every process to start and load the app
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps([config, f"p{number}@example.com", doctor_id, monday.isoformat(),
                                                       "09:00" if number % 2 else "09:15", start_at])],
            cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for number in range(PROCESSES)
    ]
    finished = [worker.communicate(timeout=120) for worker in workers]
    outcomes = sorted(out.strip() for out, _err in finished)
    assert all(worker.returncode == 0 for worker in workers), [err for _out, err in finished][:1]
    assert outcomes == ["Time slot overlaps with another booking"] * (PROCESSES - 1) + ["booked"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == SCHEDULED)) == 1


@pytest.mark.concurrency
def test_several_mail_senders_never_send_an_email_twice(committing_app, tmp_path):
    app = committing_app
    with app.app_context():
        now = clinic.now()
        for number in range(60):
            notifications.queue(recipient=f"r{number}@example.com", subject=f"Message {number}", text_body="Hi",
                                html_body="<p>Hi</p>", now=now - timedelta(minutes=1))
        db.session.commit()

    def sender():
        with app.app_context():
            notifications.send_due(now=now, limit=25)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent_files = list((tmp_path / "mail").glob("*.eml"))
    assert len(sent_files) == 60  # every email once: 4 senders x 25 could have sent 100
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.status == SENT)) == 60


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # production's planner only
def test_busy_queries_can_use_indexes(app):
    """EXPLAIN on PostgreSQL: with sequential scans discouraged, each query finds an index."""
    queries = {
        "day list / slots": "SELECT id FROM appointments WHERE doctor_id = 1 AND starts_at >= now() "
                            "AND starts_at < now() + interval '1 day'",
        "a patient's bookings": "SELECT id FROM appointments WHERE patient_id = 1 ORDER BY starts_at",
        "blocked periods": "SELECT id FROM blocked_periods WHERE doctor_id = 1 AND starts_at < now()",
        "due emails": "SELECT id FROM outbox_emails WHERE status = 'pending' AND next_attempt_at <= now()",
        "login": "SELECT id FROM users WHERE email = 'a@example.com'",
        "api token": "SELECT id FROM api_tokens WHERE digest = 'x'",
    }
    with app.app_context():
        connection = db.session.connection()
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        for name, query in queries.items():
            plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {query}")))
            assert "Index" in plan, f"{name}: {plan}"
