"""Reads on the hot path (issue 20): one prebuilt select, run on the driver itself, on a connection
each worker thread keeps for it, in autocommit.

A slot list asks the database one question (services/calendars.py). Through the session, asking
it cost several times the asking: a pool checkout, a pre-ping, BEGIN and ROLLBACK, the ORM's
result machinery. Measured in process on the benchmark's data, the same statement took 0.45 ms
through the session and 0.06 ms here on SQLite; 1.5 ms and 0.18 ms on PostgreSQL, where the
round trips cost most (and psycopg prepares a statement it sees again on its connection).

Each run sees what is committed when it runs (READ COMMITTED on PostgreSQL; SQLite outside a
transaction reads the latest commit), as any single statement would. Only reads go this way:
a service that writes keeps its unit of work in the session.

A connection that is lost (the server restarted, a network cut: the driver says it is broken)
is closed and a new one opened, and the read tried once more: what pre-ping did on every
checkout, here only when needed. Any other error (a timeout, a lock) is raised as it is. The
connections are closed when the app's engine is disposed.

Inside the tests' outer transaction (tests/conftest.py binds the session to one connection that
is rolled back after each test) the read runs on that connection, which alone sees the test's rows.
"""
import threading

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine

from clinica_web.extensions import db


class HotRead:
    """A Core select, compiled once for each dialect and run as its driver's own SQL."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled = {}  # (dialect, driver) -> _Compiled: each its own SQL and parameter style

    def rows(self, **parameters) -> tuple[list[tuple], "_Compiled"]:
        """The driver's rows (hashable, cheap: what a caller keys what it keeps by) and the
        compiled statement, whose `typed(row)` gives a row's values as the columns' types do
        (an instant as an aware datetime)."""
        bind = db.engines[None]  # the app's engine; in the tests' outer transaction, its connection
        compiled = self._compiled.get((bind.dialect.name, bind.dialect.driver)) or self._compile(bind.dialect)
        values = compiled.bind(parameters)
        if not isinstance(bind, Engine):
            return db.session.connection().exec_driver_sql(compiled.sql, values).fetchall(), compiled
        return _run(bind, compiled.sql, values), compiled

    def _compile(self, dialect):
        compiled = self._compiled[dialect.name, dialect.driver] = _Compiled(self.statement, dialect)
        return compiled


class _Compiled:
    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._defaults = {name: bind.effective_value for name, bind in compiled.binds.items()}  # its literals
        self._order = compiled.positiontup if compiled.positional else None
        self._binders = {name: processor for name, bind in compiled.binds.items()
                         if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        self._readers = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                         for column in statement.selected_columns]

    def bind(self, parameters: dict):
        values = {**self._defaults, **parameters}
        for name, processor in self._binders.items():
            if name in values:
                values[name] = processor(values[name])
        return tuple(values[name] for name in self._order) if self._order is not None else values

    def typed(self, row: tuple) -> tuple:
        return tuple(value if reader is None else reader(value) for reader, value in zip(self._readers, row))


def _run(engine, sql, values):
    kept = _connections()
    kept.reads += 1
    for attempt in (1, 2):
        connection = getattr(kept.local, "connection", None) or kept.open(engine)
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, values)
                return cursor.fetchall()
            finally:
                cursor.close()
        except (engine.dialect.dbapi.OperationalError, engine.dialect.dbapi.InterfaceError):
            lost = _lost(connection.dbapi_connection)
            if lost:
                kept.drop(connection)
            if not lost or attempt == 2:
                raise


def _lost(connection) -> bool:
    """Whether the driver says the connection is gone (psycopg); SQLite's, a file, never is."""
    return bool(getattr(connection, "broken", False) or getattr(connection, "closed", False))


class _Connections:
    """Each thread's connection for hot reads, taken out of the engine's pool for good (with what
    the pool's connect events set up: SQLite's pragmas) and switched to autocommit.

    A thread that has ended has its connection closed when the next one is opened (the
    development server runs each request in a new thread: they must not pile up)."""

    def __init__(self):
        self.local = threading.local()
        self._owners, self._lock, self._engine = {}, threading.Lock(), None  # connection -> its thread
        self.reads = 0  # run so far: they pass by SQLAlchemy's events, so a query count adds them (`reads_run`)

    def open(self, engine):
        pooled = engine.raw_connection()
        pooled.detach()  # closing it now closes the connection, instead of handing it back
        if engine.dialect.name == "postgresql":
            try:
                pooled.dbapi_connection.rollback()  # out of pre-ping's transaction: autocommit is set outside one
                pooled.dbapi_connection.autocommit = True
            except Exception:
                _close([pooled])
                raise
        # (SQLite: database.py already leaves transactions to BEGIN statements, none sent here.)
        with self._lock:
            if self._engine is not engine:
                event.listen(engine, "engine_disposed", self.close_all)
                self._engine = engine
            orphans = [other for other, thread in self._owners.items() if not thread.is_alive()]
            for other in orphans:
                del self._owners[other]
            self._owners[pooled] = threading.current_thread()
        _close(orphans)
        self.local.connection = pooled
        return pooled

    def drop(self, pooled):
        with self._lock:
            self._owners.pop(pooled, None)
        self.local.connection = None
        _close([pooled])

    def close_all(self, _engine=None):
        with self._lock:
            closing, self._owners = list(self._owners), {}
        self.local = threading.local()
        _close(closing)


def _close(connections):
    for pooled in connections:
        try:
            pooled.close()
        except Exception:  # already broken: nothing more to close
            pass


def reads_run(app) -> int:
    """How many hot reads `app` has run on its own connections (the benchmark's query counts)."""
    return app.extensions["clinica_hot_reads"].reads if "clinica_hot_reads" in app.extensions else 0


def _connections() -> _Connections:
    return current_app.extensions.setdefault("clinica_hot_reads", _Connections())
