"""Several app processes sharing one database: bookings across processes, the mail sender run
by several processes at once, and the indexes the busy queries rely on."""
import email
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, literal, select, text

from clinica_web.extensions import db
from clinica_web.models import ARRIVED, COMPLETED, SCHEDULED, Appointment, AppointmentChange, OutboxEmail, User
from clinica_web.models.outbox import SENT
from clinica_web.services import appointments, clinic, notifications
from tests.conftest import PASSWORD, instant, next_weekday, seed_busy_doctor

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


# One more app process: it tries `attempts` wrong logins and prints the answers' status codes.
LOGIN_WORKER = """
import json, sys
from clinica_web import create_app
config, attempts = json.loads(sys.argv[1])
client = create_app(config).test_client()
login = {"email": "nobody@example.com", "password": "wrong-password"}
print(json.dumps([client.post("/login", data=login).status_code for _ in range(attempts)]))
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # about Redis, not the database
def test_app_servers_count_rate_limits_together_in_redis(committing_app):
    """Login allows 10 attempts a minute per address: with the limits in Redis, two app processes
    (two servers, or two gunicorn workers) count them together, as the README's deployment says."""
    app = committing_app
    config = {key: app.config[key] for key in ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "CLINIC_TIMEZONE",
                                               "MAIL_FILE_DIR", "PASSWORD_HASH_METHOD", "WTF_CSRF_ENABLED")}
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
                  RATELIMIT_KEY_PREFIX=f"clinica-test-{secrets.token_hex(6)}")  # this run's counts only

    def attempts_in_a_new_process(count):
        done = subprocess.run([sys.executable, "-c", LOGIN_WORKER, json.dumps([config, count])], cwd=PROJECT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    assert attempts_in_a_new_process(6) == [422] * 6
    assert attempts_in_a_new_process(6) == [422] * 4 + [429] * 2


@pytest.mark.concurrency
def test_several_mail_senders_never_send_an_email_twice(committing_app, tmp_path):
    app = committing_app
    with app.app_context():
        now = clinic.now()
        queued = now - timedelta(minutes=notifications.CLAIM_MINUTES)  # by requests that did not send them
        for number in range(60):
            notifications.queue(recipient=f"r{number}@example.com", subject=f"Message {number}", text_body="Hi",
                                html_body="<p>Hi</p>", now=queued)
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


HISTORY_DAYS = 365
MOST_ROWS_A_REQUEST_MAY_READ = 100  # the day shown has 8 appointments; the history ~4 000 and 3 changes each


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # production's planner only
def test_busy_requests_read_only_the_rows_they_show(app, client, make_doctor, make_user, make_appointment):
    """EXPLAIN ANALYZE of every query the slot list, the day list and in_date_range really run,
    with a doctor who has a year of visits and their changes: no query reads more than a day's
    rows of appointments or changes (an index range on the day, each row's own changes, not every
    earlier visit), and none scans a whole table."""
    doctor_id = make_doctor()
    patient_id = make_user(full_name="Ana Torres")
    day = next_weekday(2, weeks=1)
    with app.app_context():
        past = [day - timedelta(days=n) for n in range(1, HISTORY_DAYS) if (day - timedelta(days=n)).weekday() < 5]
        db.session.execute(insert(Appointment), [
            {"patient_id": patient_id, "doctor_id": doctor_id, "starts_at": instant(when, f"{9 + hour:02d}:00"),
             "ends_at": instant(when, f"{9 + hour:02d}:30"), "duration_minutes": 30, "status": "completed",
             "appointment_type": "consultation", "notes": "", "sequence": 0, "created_at": clinic.now(),
             "updated_at": clinic.now()}
            for when in past for hour in range(0, 8) if hour != 4
        ])
        # Each visit's history, as the services write it: booked, arrived, completed.
        for kind, to_value in [("booked", SCHEDULED), ("status", ARRIVED), ("status", COMPLETED)]:
            db.session.execute(insert(AppointmentChange).from_select(
                ["appointment_id", "at", "kind", "to_value"],
                select(Appointment.id, Appointment.starts_at, literal(kind), literal(to_value))
                .order_by(Appointment.id)))
        db.session.commit()
    for hour in range(9, 17):
        make_appointment(doctor_id=doctor_id, patient_id=patient_id, day=day, hhmm=f"{hour:02d}:00")
    make_user(role="reception", email="desk@example.com")

    def read_by_slot_list():
        client.get(f"/doctors/{doctor_id}/slots?date={day}", headers={"HX-Request": "true"})

    def read_by_day_list():
        client.post("/login", data={"email": "desk@example.com", "password": PASSWORD})
        client.get(f"/desk/?date={day}")

    def read_by_in_date_range():
        with app.app_context():
            desk = db.session.scalars(select(User).where(User.email == "desk@example.com")).one()
            appointments.in_date_range(desk, start_date=(day - timedelta(days=1)).isoformat(),
                                       end_date=day.isoformat(), provider_id=str(doctor_id))

    for request in (read_by_slot_list, read_by_day_list, read_by_in_date_range):
        statements = _selects_run_by(app, request)
        assert any("appointments" in statement for statement, _ in statements), request.__name__
        with app.app_context():
            connection = db.session.connection()
            connection.execute(text("ANALYZE"))  # the statistics autovacuum keeps in production
            for statement, parameters in statements:
                [[plan]] = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
                for node in _appointment_scans(plan[0]["Plan"]):
                    read = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
                    assert node["Node Type"] != "Seq Scan", f"{request.__name__}: {statement}"
                    assert read <= MOST_ROWS_A_REQUEST_MAY_READ, f"{request.__name__} read {read} rows: {statement}"


def _selects_run_by(app, request):
    with app.app_context():
        connection = db.engines[None]
    statements = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        request()
    finally:
        event.remove(connection, "before_cursor_execute", record)
    return statements


def _appointment_scans(node):
    """The plan nodes that read the appointments table, their history, or one of their indexes."""
    tables = ("appointments", "appointment_changes")
    if node.get("Relation Name") in tables or any(table in node.get("Index Name", "") for table in tables):
        yield node
    for child in node.get("Plans", []):
        yield from _appointment_scans(child)


@pytest.mark.concurrency
def test_several_worker_processes_send_each_email_once_and_stop_on_sigterm(committing_app, tmp_path):
    """`flask --app wsgi worker` in three processes at once, as three servers would run it."""
    app = committing_app
    long_ago = instant(date(2024, 1, 8), "09:00")  # due for whatever the wall clock says
    with app.app_context():
        for number in range(60):
            notifications.queue(recipient=f"r{number}@example.com", subject=f"Message {number}", text_body="Hi",
                                html_body="<p>Hi</p>", now=long_ago)
        db.session.commit()
    mail_dir = tmp_path / "worker-mail"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "MAIL_FILE_DIR": str(mail_dir),
           "CLINICA_CONFIG": "development", "WORKER_INTERVAL_SECONDS": "0.2", "MAIL_SERVER": ""}
    workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=PROJECT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    deadline = time.monotonic() + 60
    while len(list(mail_dir.glob("*.eml"))) < 60 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # a double send would show up by now
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    assert all("Worker stopped." in output for output in outputs), outputs
    subjects = sorted(email.message_from_bytes(path.read_bytes())["Subject"] for path in mail_dir.glob("*.eml"))
    assert subjects == sorted(f"Message {number}" for number in range(60))
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.status == SENT)) == 60


@pytest.mark.concurrency
def test_the_worker_takes_a_backlog_pass_after_pass_without_pausing(committing_app, tmp_path):
    """250 emails due at once (a morning's reminders) with passes every 60 s: a full pass of 100 is
    followed at once by the next, so all are out within seconds, not minutes."""
    app = committing_app
    long_ago = instant(date(2024, 1, 8), "09:00")
    with app.app_context():
        for number in range(250):
            notifications.queue(recipient=f"r{number}@example.com", subject=f"Message {number}", text_body="Hi",
                                html_body="<p>Hi</p>", now=long_ago)
        db.session.commit()
    mail_dir = tmp_path / "backlog-mail"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "MAIL_FILE_DIR": str(mail_dir),
           "CLINICA_CONFIG": "development", "WORKER_INTERVAL_SECONDS": "60", "MAIL_SERVER": ""}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=PROJECT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 45  # one pause would take 60 s
    while len(list(mail_dir.glob("*.eml"))) < 250 and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=90)[0]
    assert len(list(mail_dir.glob("*.eml"))) == 250, output
