"""The slot list's one read runs on a connection each worker thread keeps (clinica_web/hot_reads.py):
it must hold no transaction between requests, survive losing that connection, close with the app's
engine, see what other connections commit, and what is worked out from it must follow the clock."""
import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from clinica_web import create_app
from clinica_web.extensions import db
from clinica_web.models import User
from clinica_web.services import booking, clinic, slots, tokens
from config import Config
from tests.conftest import TODAY, base_config, instant, next_weekday, seed_busy_doctor

pytestmark = pytest.mark.concurrency  # a database of its own, whose commits are real

MONDAY = next_weekday(0, weeks=1)
HTMX = {"HX-Request": "true"}


def shown(app, doctor_id, day=MONDAY):
    response = app.test_client().get(f"/doctors/{doctor_id}/slots?date={day}", headers=HTMX)
    assert response.status_code == 200
    return re.findall(r'class="slot"[^>]*>(\d\d:\d\d)</a>', response.get_data(as_text=True))


def api_times(app, doctor_id, day=MONDAY, *, jwt=None):
    response = app.test_client().get(f"/v1/bookings/available-slots?doctor_id={doctor_id}&date={day}&duration=30",
                                     headers={"Authorization": f"Bearer {jwt or patient_jwt(app)}"})
    return response.status_code, response.get_json()


def patient_jwt(app):
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "p0@example.com")).one()
        return tokens.create_jwt(user, now=clinic.now())


@pytest.fixture
def doctor_id(committing_app):
    return seed_busy_doctor(committing_app, patients=1)


@pytest.fixture
def other_connection(committing_app):
    """A connection of its own to the app's database, outside the app."""
    engine = create_engine(committing_app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def server_sessions(server):
    """The app's sessions on the PostgreSQL server (every one but `server`'s own)."""
    return server.execute(text("SELECT state FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalars().all()


POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def test_the_read_holds_no_transaction_between_requests(committing_app, doctor_id, other_connection, backend):
    """An open transaction would hold its tables' locks on PostgreSQL (a migration, a TRUNCATE
    would wait behind a worker that merely showed a slot list), and on SQLite keep the
    write-ahead log from being written back and emptied."""
    assert len(shown(committing_app, doctor_id)) == 15
    assert api_times(committing_app, doctor_id)[0] == 200
    if backend == "postgresql":
        assert "idle in transaction" not in server_sessions(other_connection)
        other_connection.exec_driver_sql("SET lock_timeout = '2s'")
        other_connection.exec_driver_sql("BEGIN")
        other_connection.exec_driver_sql(
            "LOCK TABLE appointments, blocked_periods, calendar_version, users IN ACCESS EXCLUSIVE MODE")
        other_connection.exec_driver_sql("ROLLBACK")
    else:
        busy, _log, _written = other_connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        assert busy == 0, "a reader kept its transaction open"


@POSTGRESQL_ONLY
def test_a_lost_connection_is_replaced(committing_app, doctor_id, other_connection, tmp_path, clock):
    """The database restarted, or a network cut: the next request opens a new connection and
    shows the same times. The new one comes from the pool, which checks it first (pre-ping, as
    config.py sets it): what pre-ping did on every request is done here only when needed."""
    worker = create_app({**base_config(committing_app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, clock),
                         "SQLALCHEMY_ENGINE_OPTIONS": Config.SQLALCHEMY_ENGINE_OPTIONS})
    jwt = patient_jwt(worker)
    before, api_before = shown(worker, doctor_id), api_times(worker, doctor_id, jwt=jwt)
    other_connection.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                     " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert until(lambda: server_sessions(other_connection) == [])
    assert shown(worker, doctor_id) == before and len(before) == 15
    assert api_times(worker, doctor_id, jwt=jwt) == api_before and api_before[0] == 200
    with worker.app_context():
        db.engine.dispose()


@POSTGRESQL_ONLY
def test_the_connections_close_with_the_engine_or_their_thread(committing_app, doctor_id, other_connection):
    """Every connection closes with the engine; and the connections of threads that have ended
    close when another is opened (the development server runs each request in a thread of its
    own: they must not pile up)."""
    assert len(shown(committing_app, doctor_id)) == 15  # the doctors and hours now kept in memory
    with committing_app.app_context():
        db.engine.dispose()
    assert until(lambda: server_sessions(other_connection) == [])
    leave = threading.Event()

    def show_then_wait():
        assert len(shown(committing_app, doctor_id)) == 15
        leave.wait(timeout=30)

    threads = [threading.Thread(target=show_then_wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert until(lambda: len(server_sessions(other_connection)) == 3)  # one each, nothing else
    leave.set()
    for thread in threads:
        thread.join(timeout=30)
    shown(committing_app, doctor_id)  # this thread opens its own
    assert until(lambda: len(server_sessions(other_connection)) == 1)


def until(condition):
    """Whether `condition()` comes true within five seconds (a server process notices a moment
    later that its client left)."""
    for _ in range(100):
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_booking_committed_elsewhere_shows_at_once(committing_app, doctor_id):
    """The read sees the latest commit of any connection, as the session would."""
    assert shown(committing_app, doctor_id)[:2] == ["09:00", "09:15"]
    with committing_app.app_context():
        patient = db.session.scalars(db.select(User).where(User.email == "p0@example.com")).one()
        booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=MONDAY.isoformat(), time="09:00",
                     appointment_type="consultation", now=clinic.now())
    assert shown(committing_app, doctor_id)[:1] == ["09:30"]
    assert api_times(committing_app, doctor_id)[1][:1] == ["09:30"]


def test_a_kept_slot_list_moves_on_with_the_clock(committing_app, doctor_id, clock):
    """What is worked out from the same busy time is kept, but today's list still loses each
    time as it passes: the clock is part of what it is kept by."""
    clock.set(instant(MONDAY, "10:05"))
    assert shown(committing_app, doctor_id)[:2] == ["10:15", "10:30"]
    clock.set(instant(MONDAY, "11:20"))
    assert shown(committing_app, doctor_id)[:2] == ["11:30", "11:45"]
    assert api_times(committing_app, doctor_id)[1][:1] == ["11:30"]


def test_the_earliest_start_counts_only_once_it_reaches_the_day(committing_app, doctor_id, clock):
    """Two days ahead, the list is the same whatever the hour today (kept once): the clock reaches
    into it only through the minimum notice."""
    saturday = MONDAY - timedelta(days=2)
    clock.set(instant(saturday, "09:00"))
    morning = shown(committing_app, doctor_id)
    clock.set(instant(saturday, "17:40"))
    assert shown(committing_app, doctor_id) == morning == [slots.format_minute(m) for m in range(540, 765, 15)]
    # A notice that reaches Monday 09:20 from Saturday 17:40.
    notice = (instant(MONDAY, "09:20") - instant(saturday, "17:40")) // timedelta(minutes=1)
    committing_app.config["MIN_NOTICE_MINUTES"] = notice
    assert shown(committing_app, doctor_id)[:1] == ["09:30"]
    assert api_times(committing_app, doctor_id)[1][:1] == ["09:30"]


def test_a_longer_horizon_shows_at_once(committing_app, doctor_id):
    """The horizon is part of what the kept free times depend on."""
    beyond = next_weekday(0, after=TODAY + timedelta(days=90))  # a Monday 91 to 97 days ahead
    assert api_times(committing_app, doctor_id, day=beyond) == (200, [])
    committing_app.config["BOOKING_HORIZON_DAYS"] = 120
    assert api_times(committing_app, doctor_id, day=beyond)[1][:2] == ["09:00", "09:15"]
