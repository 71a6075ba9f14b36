"""Database behaviour the rules depend on: SQLite's locking, and the write transaction services use.

On SQLite, pysqlite's own transaction handling is switched off and SQLAlchemy's `begin` emits
BEGIN itself (the recipe in SQLAlchemy's SQLite dialect docs). A service that writes calls
`begin_write()` first: on SQLite that is BEGIN IMMEDIATE, which takes the database's write lock
before the service reads anything, so concurrent bookings queue one behind the other instead of
both reading "free" and one failing with "database is locked". On PostgreSQL it is an ordinary
transaction and the exclusion constraint settles races.
"""
from sqlalchemy import event
from sqlalchemy.engine import Engine

from clinica_web.extensions import db

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
