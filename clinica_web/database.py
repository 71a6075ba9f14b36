"""Database behaviour the rules depend on: SQLite's locking, and the write transaction services use.

A service that writes does it inside `unit_of_work()`: one transaction, rows it changes locked
with `locked()`, one commit, and the database's overlap guards reported as the booking rules'
errors wherever they fire (a flush, or the commit).

On SQLite, pysqlite's own transaction handling is switched off and SQLAlchemy's `begin` emits
BEGIN itself (the recipe in SQLAlchemy's SQLite dialect docs). A service that writes calls
`begin_write()` first: on SQLite that is BEGIN IMMEDIATE, which takes the database's write lock
before the service reads anything, so concurrent bookings queue one behind the other instead of
both reading "free" and one failing with "database is locked". On PostgreSQL it is an ordinary
transaction and the exclusion constraint settles races.
"""
import functools
from contextlib import contextmanager

from sqlalchemy import Integer, any_, event, literal, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from clinica_web.extensions import db
from clinica_web.services.errors import PatientBusy, SlotTaken

_IMMEDIATE = "clinica_sqlite_immediate"


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
    # SQLite's lower() changes only ASCII letters ("Ángela" would never match "ángela"); make it
    # lower the way Python and PostgreSQL do.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # Write-ahead logging: readers never block the writer, nor the writer the readers.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection):
    if connection.dialect.name != "sqlite":
        return
    immediate = connection.get_execution_options().get(_IMMEDIATE)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write():
    """Start the calling service's write transaction (see the module docstring).

    Services own their transaction and views never write, so whatever the request read before
    (loading the user, say) is read again: every loaded row is expired. On SQLite the read
    transaction is ended first, as BEGIN IMMEDIATE must start a new one. PostgreSQL runs at READ
    COMMITTED (create_app sets it), where each statement sees what is committed when it runs: a
    read transaction with nothing pending simply goes on as the write transaction, two round
    trips (ROLLBACK, BEGIN) fewer per change. Anything pending is rolled back, as before.
    """
    session = db.session()
    pending = session.new or session.dirty or session.deleted or not session.is_active
    if session.get_bind().dialect.name != "sqlite" and not pending:
        session.expire_all()
        return
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={_IMMEDIATE: True})


# The database's overlap guards (migrations 0001 and 0004) and the rule each one enforces.
OVERLAP_GUARDS = {"appointments_no_overlap": SlotTaken, "appointments_patient_no_overlap": PatientBusy}
DEADLOCK_ATTEMPTS = 3  # runs of a write retried_after_a_deadlock, the first included


class DeadlockInOverlapGuard(SlotTaken):
    """unit_of_work's SlotTaken when PostgreSQL broke a deadlock in an overlap guard by failing
    this write: the other write may not have committed yet, or may still fail."""


@contextmanager
def unit_of_work():
    """A service's write transaction: begin_write(), the caller's changes, one commit.

    Anything raised inside rolls everything back. A write the overlap guards refuse, at a flush
    or at the commit, becomes SlotTaken or PatientBusy, the errors the checks before it would have
    raised had the other booking been committed a moment sooner. A deadlock in a guard's check
    (PostgreSQL: two bookings of one time inserted at the same moment, each waiting for the other
    there) becomes DeadlockInOverlapGuard, a SlotTaken, which the writes of appointments take as
    a reason to run again (retried_after_a_deadlock). One patient's changes queue at the
    patient's row, so the bookings that meet there are different patients' for one doctor's time.
    """
    begin_write()
    try:
        yield db.session
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        refused = _overlap_guard(error)
        if refused is None:
            raise
        raise OVERLAP_GUARDS[refused]() from None
    except OperationalError as error:
        db.session.rollback()
        if _deadlocked_in_overlap_guard(error):
            raise DeadlockInOverlapGuard() from None
        raise
    except BaseException:
        db.session.rollback()
        raise


def retried_after_a_deadlock(write):
    """For a service function that writes an appointment in one unit_of_work: run it again when it
    was the victim of a deadlock in an overlap guard, as PostgreSQL advises (its other side went
    on). Run again, it waits for that write in the guard, no longer a cycle: it is refused
    (SlotTaken) once that one has committed, so the time it is told is taken is, and whatever is
    read next shows it; or, should that one fail after all, it takes the time. After
    DEADLOCK_ATTEMPTS runs, SlotTaken. The function's arguments are ids and rows, which its
    unit_of_work reads again: nothing it did before is left."""
    @functools.wraps(write)
    def run(*args, **kwargs):
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return write(*args, **kwargs)
            except DeadlockInOverlapGuard:
                if attempt == DEADLOCK_ATTEMPTS:
                    raise
    return run


def _deadlocked_in_overlap_guard(error: OperationalError) -> bool:
    """Whether PostgreSQL broke a deadlock by failing a write of an appointment: what such a write
    can wait for is another's row in an overlap guard (its foreign keys' checks wait for no lock
    the code takes). Told by the statement, not by the error's words, which the server translates."""
    statement = (error.statement or "").lstrip().upper()
    return (getattr(error.orig, "sqlstate", None) == "40P01"
            and statement.startswith(("INSERT INTO APPOINTMENTS ", "UPDATE APPOINTMENTS ")))


def _overlap_guard(error: IntegrityError) -> str | None:
    """The name of the overlap guard that refused a write, or None for any other integrity error."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)  # PostgreSQL
    if constraint in OVERLAP_GUARDS:
        return constraint
    message = str(error.orig)  # SQLite: the trigger's RAISE(ABORT, name)
    return message if message in OVERLAP_GUARDS else None


def locked(model, row_id):
    """The row, read again and locked until the transaction ends, so that writers of one row run
    one after another, each seeing what the one before committed. SQLite has no row locks and
    needs none: BEGIN IMMEDIATE already lets one writer in at a time.

    FOR NO KEY UPDATE, not FOR UPDATE: no writer changes a row's id, and the lighter lock does not
    stop rows that point at this one from being inserted meanwhile (their foreign key's check
    takes FOR KEY SHARE): a doctor's hours being changed do not hold up the worker's waitlist
    holds for that doctor. It still excludes share locks (a booking's doctor: availability.active_doctor)."""
    return db.session.get(model, row_id, with_for_update={"key_share": True}, populate_existing=True)


def locked_again(row):
    """A row already loaded, read again and locked as locked() locks it: one query, where asking
    its id first would load an expired row once more (begin_write expires what the request read)."""
    db.session.refresh(row, with_for_update={"key_share": True})
    return row


def give_up_lock_waits_after(duration: str) -> None:
    """For the rest of this transaction, a statement that waits longer than `duration` (e.g.
    "100ms") for another transaction's lock fails (gave_up_waiting), instead of waiting on.
    PostgreSQL only: SQLite lets one writer in at a time, so no writer ever waits for a lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = '{duration}'"))


def gave_up_waiting(error: OperationalError) -> bool:
    """Whether a statement failed because it waited too long for a lock (give_up_lock_waits_after)."""
    return getattr(error.orig, "sqlstate", None) == "55P03"  # lock_not_available


def among(column, ids):
    """`column IN ids` for a long list of ids: on PostgreSQL one array parameter (`= ANY`), where
    `in_` sends one parameter an id, and a busy day's 500 cost milliseconds to compile, send and
    parse on every request; SQLite takes the plain IN."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(ids)
