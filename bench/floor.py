"""The floor (issue 20): the least a Flask app can do for a slot request, measured beside Clinica in
the same run so that each endpoint is reported as a ratio to it rather than in milliseconds alone.

One route, one indexed query (a doctor's appointments on one day: the (doctor_id, starts_at)
index) on the same database through the bare driver (sqlite3, psycopg), a connection per worker
process, the rows as JSON. Served by gunicorn with the app's settings (bench/run.py):

    DATABASE_URL=sqlite:///instance/bench.sqlite gunicorn --workers 2 bench.floor:app
    GET /floor?doctor_id=3&start=2026-12-16T03:00:00&end=2026-12-17T03:00:00   (naive UTC)
"""
import os
import sqlite3
from datetime import datetime

from flask import Flask, jsonify, request

QUERY = ("SELECT starts_at, ends_at FROM appointments WHERE doctor_id = {0} AND starts_at >= {0} "
         "AND starts_at < {0} ORDER BY starts_at")

app = Flask(__name__)
_connection = None  # one per gunicorn worker, opened by its first request (after the fork)


def _connect():
    url = app.config.get("DATABASE_URL") or os.environ["DATABASE_URL"]  # in-process, or served
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///")), "?", _sqlite_text
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True), "%s", _as_is


def _sqlite_text(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores a DateTime in SQLite


def _as_is(instant: datetime) -> datetime:
    return instant


@app.get("/floor")
def floor():
    global _connection
    if _connection is None:
        _connection = _connect()
    connection, marker, bind = _connection
    start, end = (datetime.fromisoformat(request.args[name]) for name in ("start", "end"))
    rows = connection.execute(QUERY.format(marker),
                              (int(request.args["doctor_id"]), bind(start), bind(end))).fetchall()
    return jsonify([[str(starts_at), str(ends_at)] for starts_at, ends_at in rows])
