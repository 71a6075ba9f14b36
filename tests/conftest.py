"""Fixtures: one app per test on a real database, rolled back after each test.

Every test that uses `app` runs twice: on SQLite and on PostgreSQL. PostgreSQL needs
TEST_DATABASE_URL: each test session creates its own database next to that one (named after it
plus the process id, so parallel runs never meet) and drops it at the end. Without the variable
those runs skip, except in CI (CI=true), where they fail instead.
"""
import email
import email.policy
import functools
import os
import secrets
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, make_url, select, text
from werkzeug.routing import Rule

from clinica_web import create_app, worker
from clinica_web.extensions import db
from clinica_web.models import (
    PATIENT,
    SCHEDULED,
    Appointment,
    AppointmentType,
    BlockedPeriod,
    Doctor,
    User,
    WeeklyHours,
)
from clinica_web.services import clinic, slots

PASSWORD = "correct-horse-9"


class ServerLikeClient(FlaskClient):
    """Closes each response as soon as it is read, as a WSGI server does once it has sent it, so
    anything the app runs on close has run when the test looks."""

    def open(self, *args, buffered=True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


Flask.test_client_class = ServerLikeClient


# Every test builds its own app (its own clock, mail folder and rolled-back connection), which
# made building apps and compiling their templates a fifth of the suite's time. What is the same
# in every app is compiled once per test process instead: the templates' code (below) and the
# routes' URL builders (after it). Neither changes what any app does.
class _TemplateCodeOfThisSession(BytecodeCache):
    """Jinja's compiled templates, kept in memory for every app's environment (checked against
    the template's source, as Jinja's own file cache does)."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _TemplateCodeOfThisSession()}


def _url_builders_compiled_once(compile_builder):
    """Werkzeug compiles each route's URL builder from a syntax tree it generates, when the rule
    is added to an app (95% of create_app's time). The builder is a plain function of the rule's
    parts and defaults, bound to the rule afterwards, so one compiled for an equal rule serves."""
    compiled = {}

    @functools.wraps(compile_builder)
    def compile_or_reuse(rule, append_unknown=True):
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    return compile_or_reuse


Rule._compile_builder = _url_builders_compiled_once(Rule._compile_builder)

TZ_NAME = "America/Santiago"
BACKENDS = ["sqlite", "postgresql"]


def _test_now() -> datetime:
    """The instant the whole test session runs at: CLINICA_TEST_NOW (ISO 8601 with an offset), or
    the wall clock when the session starts. The app reads it through its CLOCK, the tests through
    TEST_NOW and TODAY, so both agree however long the session takes; CI runs the date-sensitive
    tests again at fixed instants (a Monday 00:30, a Friday 23:50, both daylight-saving days).

    The wall clock's reading is put in the environment, so that every import of this module
    (pytest's own, and `from tests.conftest import ...`) and every xdist worker gets the same one.
    """
    fixed = os.environ.setdefault("CLINICA_TEST_NOW", datetime.now(timezone.utc).replace(microsecond=0).isoformat())
    moment = datetime.fromisoformat(fixed)
    if moment.tzinfo is None:
        raise RuntimeError("CLINICA_TEST_NOW needs an offset, e.g. 2026-11-30T00:30:00-03:00")
    return moment.astimezone(timezone.utc)


TEST_NOW = _test_now()
TODAY = TEST_NOW.astimezone(slots.ZoneInfo(TZ_NAME)).date()


class Clock:
    """The app's clock in the tests (config CLOCK): stands still at TEST_NOW until a test moves it."""

    def __init__(self, at: datetime = TEST_NOW):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at

    def advance(self, **delta) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock():
    """The clock of this test's apps: `clock.set(instant)` or `clock.advance(minutes=20)` moves them."""
    return Clock()


def postgres_url():
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def skip_without_postgres():
    if not postgres_url():
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_DATABASE_URL must be set in CI: the PostgreSQL tests may not skip there")
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")


def base_config(database_url, tmp_path, clock=None):
    return {
        "TESTING": True,
        "CLOCK": clock or Clock(),
        "SECRET_KEY": "test-secret-key-of-at-least-32-bytes",
        "WTF_CSRF_ENABLED": False,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "CLINIC_TIMEZONE": TZ_NAME,
        "MIN_NOTICE_MINUTES": 0,
        "BOOKING_HORIZON_DAYS": 90,
        "MAIL_SERVER": None,
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "MAIL_SUPPRESS_SEND": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": "clinica.test",
        "SITE_URL": "http://clinica.test",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast; production keeps scrypt
    }


def build_schema(database_url, tmp_path):
    """A fresh schema made by the migrations, as `flask init-db` makes it."""
    app = create_app(base_config(database_url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated database of each backend, made once per test session."""
    if request.param == "postgresql":
        skip_without_postgres()
        server = make_url(postgres_url())
        name = f"{server.database}_{os.getpid()}"
        _run_autocommit(server, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: _run_autocommit(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        url = server.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    build_schema(url, tmp_path_factory.mktemp("schema"))
    return url


def seed_busy_doctor(app, *, patients):
    """For the concurrency tests: a doctor working Mondays 09:00-13:00, and patients
    p0@example.com ... (password PASSWORD). Returns the doctor's id."""
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctor = Doctor(display_name="Dr. Busy", specialty="General Practice",
                        weekly_hours=[WeeklyHours(weekday=0, start_minute=540, end_minute=780)])
        db.session.add(doctor)
        for number in range(patients):
            user = User(email=f"p{number}@example.com", full_name=f"Patient {number}", role="patient")
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
        return doctor.id


def _run_autocommit(server_url, *statements):
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


@pytest.fixture
def committing_app(database_url, tmp_path, clock):
    """An app on a brand-new database of the same backend, whose commits are real.

    For tests that need several connections to see each other's work (concurrency); slower than
    `app`, so use it only for that.
    """
    if database_url.startswith("postgresql"):
        server = make_url(database_url)
        name = f"{server.database}_{secrets.token_hex(3)}"
        _run_autocommit(server, f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'committing.sqlite'}"
    build_schema(url, tmp_path)
    app = create_app({**base_config(url, tmp_path, clock),
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 40, "max_overflow": 0}})
    yield app
    with app.app_context():
        db.engine.dispose()
    if database_url.startswith("postgresql"):
        _run_autocommit(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_app(database_url, tmp_path, clock):
    """Build an app with extra config (for tests that need other settings)."""
    made = []

    def make(**overrides):
        app = create_app({**base_config(database_url, tmp_path, clock), **overrides})
        made.append(app)
        return app

    yield make


@pytest.fixture
def app_config():
    """Extra config for `app`: override it in a test module or class (to send over SMTP, say)."""
    return {}


@pytest.fixture(scope="session")
def shared_engine(database_url, tmp_path_factory):
    """The engine every `app` on this database runs its outer transaction on, for the whole test
    process, made as an app makes its own. An engine per test opened a new connection for each
    (PostgreSQL's handshake) and compiled every SQL statement again (its compiled cache is its
    own): a fifth of the tests' time. Nothing else an app has lives in the engine."""
    app = create_app(base_config(database_url, tmp_path_factory.mktemp("engine")))
    with app.app_context():
        engine = db.engine
    yield engine
    engine.dispose()


@pytest.fixture
def app(make_app, app_config, monkeypatch, request, database_url):
    """The app, inside one outer transaction that is rolled back after the test.

    Services commit as usual; their commits release savepoints inside the outer transaction
    (the recipe in shared/STYLE.md 2.8). An app with engine settings of its own runs on its own
    engine; the others share one (shared_engine).
    """
    app = make_app(**app_config)
    with app.app_context():
        engines = db.engines
    own_engine = engines[None]
    shared = (app.config["SQLALCHEMY_DATABASE_URI"] == database_url
              and not app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    connection = (request.getfixturevalue("shared_engine") if shared else own_engine).connect()
    transaction = connection.begin()
    monkeypatch.setitem(engines, None, connection)
    monkeypatch.setitem(db.session.session_factory.kw, "join_transaction_mode", "create_savepoint")
    yield app
    transaction.rollback()
    connection.close()
    own_engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def backend(database_url):
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


# ---------------------------------------------------------------------------------------------
# Data: callable factories with sensible defaults (indico's style).


def next_weekday(weekday, *, after=None, weeks=0):
    """The next local date with this weekday (Monday = 0), strictly after `after` (default TODAY)."""
    after = after or TODAY
    days = (weekday - after.weekday()) % 7 or 7
    return after + timedelta(days=days + 7 * weeks)


def instant(day: date, hhmm: str):
    hours, minutes = map(int, hhmm.split(":"))
    return slots.local_instant(day, hours * 60 + minutes, slots.ZoneInfo(TZ_NAME))


@pytest.fixture
def make_user(app):
    def make(*, role=PATIENT, email=None, full_name="Pat Patient", password=PASSWORD, phone=None):
        with app.app_context():
            user = User(email=email or f"user-{secrets.token_hex(4)}@example.com", full_name=full_name, role=role,
                        phone=phone)
            user.set_password(password)
            db.session.add(user)
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def appointment_types(app):
    with app.app_context():
        for name, label, minutes in [("follow_up", "Follow-up", 15), ("consultation", "Consultation", 30),
                                     ("procedure", "Procedure", 45), ("therapy", "Therapy", 60)]:
            db.session.add(AppointmentType(name=name, label=label, default_duration=minutes))
        db.session.commit()


@pytest.fixture
def make_doctor(app, appointment_types, make_user):
    """A doctor with hours: default Monday to Friday 09:00-13:00 and 14:00-18:00."""

    def make(*, name="Dr. Laura Rossi", specialty="General Practice", weekdays=range(5),
             windows=(("09:00", "13:00"), ("14:00", "18:00")), active=True, with_user=False):
        user_id = make_user(role="doctor", full_name=name) if with_user else None
        with app.app_context():
            doctor = Doctor(display_name=name, specialty=specialty, active=active, user_id=user_id)
            for weekday in weekdays:
                for start, end in windows:
                    doctor.weekly_hours.append(WeeklyHours(weekday=weekday, start_minute=_minutes(start),
                                                           end_minute=_minutes(end)))
            db.session.add(doctor)
            db.session.commit()
            return doctor.id

    return make


def _minutes(hhmm):
    hours, minutes = map(int, hhmm.split(":"))
    return hours * 60 + minutes


@pytest.fixture
def make_appointment(app):
    def make(*, doctor_id, patient_id, day, hhmm, duration=30, status=SCHEDULED, appointment_type="consultation"):
        with app.app_context():
            start = instant(day, hhmm)
            appointment = Appointment(patient_id=patient_id, doctor_id=doctor_id, starts_at=start,
                                      ends_at=start + timedelta(minutes=duration), duration_minutes=duration,
                                      status=status, appointment_type=appointment_type, notes="")
            db.session.add(appointment)
            db.session.commit()
            return appointment.id

    return make


@pytest.fixture
def make_block(app):
    def make(*, doctor_id, start, end, reason="Away"):
        with app.app_context():
            db.session.add(BlockedPeriod(doctor_id=doctor_id, starts_at=start, ends_at=end, reason=reason))
            db.session.commit()

    return make


def table_snapshot(app):
    """Every row of every table, to show that a request changed nothing. Logins are left out: the
    tests log people in as they go, and a login is no change to the clinic's data."""
    with app.app_context():
        return {table.name: sorted(map(tuple, db.session.execute(select(table))), key=repr)
                for table in db.metadata.sorted_tables if table.name != "user_sessions"}


@pytest.fixture
def count_queries(app):
    """count_queries(callable) -> how many SQL statements it ran (transaction control not counted)."""
    from sqlalchemy import event

    def run(callable_):
        with app.app_context():
            connection = db.engines[None]
        statements = []

        def record(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
                statements.append(statement)

        event.listen(connection, "before_cursor_execute", record)
        try:
            callable_()
        finally:
            event.remove(connection, "before_cursor_execute", record)
        return len(statements)

    return run


# ---------------------------------------------------------------------------------------------
# Acting as a user, and reading the mail the app wrote.


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email, password=PASSWORD):
        return self.client.post("/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def login_as(app):
    """login_as(user_id) -> a new test client logged in as that user (several people, one test)."""

    def login(user_id):
        with app.app_context():
            email = db.session.get(User, user_id).email
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
        return client

    return login


@pytest.fixture
def patient(app, make_user, auth):
    """A logged-in patient: (id, email)."""
    user_id = make_user(email="ana@example.com", full_name="Ana Torres")
    response = auth.login("ana@example.com")
    assert response.status_code == 303
    return user_id


@pytest.fixture
def run_worker(app):
    """run_worker() -> one pass of the background worker (what it would do within seconds)."""

    def run():
        with app.app_context():
            return worker.run_once(now=clinic.now())

    return run


@pytest.fixture
def sent_mail(tmp_path, run_worker):
    """The messages the app delivered (development file backend), oldest first, once the worker
    has had its pass."""

    def read():
        run_worker()
        folder = Path(tmp_path / "mail")
        files = sorted(folder.glob("*.eml")) if folder.exists() else []
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]

    return read


def race(*calls):
    """Run the calls at the same instant, each in its own thread; their results, in order."""
    start_together = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        start_together.wait(timeout=30)
        results[index] = call()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
