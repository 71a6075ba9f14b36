"""The reminders part of `make bench`: how fast the worker sends a backlog of due reminders.

BENCH_REMINDERS (default 10 000; 0 skips it) scheduled visits of the benchmark clinic get a
reminder row each, as reminders.plan writes them, due during the hour before the benchmark's
`now` (the worker was down for an hour), for visits after it. A local SMTP server (bench/smtp_sink.py,
a process of its own) receives them. Then, in rounds, alternately first and second:

- the worker's passes, `notifications.send_due(now=...)`, each in a fresh app context as the worker
  runs them, back to back (as the worker does after a full pass: it pauses once the backlog is sent);
- a bare smtplib client sending as many messages, the same bytes as a written-out reminder, over one
  connection to the same server: the server's pace, the most any sender could do.

Both are timed in the same run, round by round, so the ratio worker / bare does not depend on the
machine's speed of the day. Every SQL statement of each pass is counted (before_cursor_execute),
and every transaction (each ends in a commit, which waits for the disk).
"""
import math
import os
import smtplib
import statistics
import time
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import event, func, insert, select

from bench.smtp_sink import Sink
from clinica_web import create_app, mail
from clinica_web.extensions import db
from clinica_web.models import SCHEDULED, Appointment, OutboxEmail
from clinica_web.models.outbox import PENDING, REMINDER, SENT
from clinica_web.services import notifications, reminders

REMINDERS = int(os.environ.get("BENCH_REMINDERS", "10000"))
ROUNDS = 4
BATCH = notifications.send_due.__kwdefaults__["limit"]  # what the worker's passes claim at once
BACKLOG = timedelta(hours=1)


def measure(config, *, now, count=None):
    """Plan `count` due reminders in the (built) database of `config`, send them, and return the figures."""
    count = REMINDERS if count is None else count
    with Sink() as sink:
        app = create_app({**config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port})
        with app.app_context():
            first_id = db.session.scalar(select(func.max(OutboxEmail.id))) or 0  # the bookings' rows come before
            planned = plan_due(count, now=now)
            message, sender = sample_message(first_id, now=now)
            statements = []  # what the database is asked: queries, and "commit" for each transaction ended
            event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
            event.listen(db.engine, "commit", lambda *args: statements.append("commit"))
        worker, bare = [], []
        remaining = planned
        for number, passes in enumerate(_passes_per_round(planned)):
            emails = min(passes * BATCH, remaining)
            remaining -= emails
            runs = [lambda: worker.append(_worker_round(app, passes, now=now, statements=statements)),
                    lambda: bare.append(_bare_round(sink.port, emails, message, sender))]
            for run in runs if number % 2 == 0 else reversed(runs):
                run()
        with app.app_context():
            left = db.session.scalar(select(func.count(OutboxEmail.id)).where(
                OutboxEmail.id > first_id, OutboxEmail.status != SENT))
            db.engine.dispose()
        received = sink.received()
    if left or received != 2 * planned:
        raise SystemExit(f"reminders: {left} not sent, the server received {received} of {2 * planned}")
    return _report(planned, worker, bare)


def plan_due(count, *, now) -> int:
    """One reminder row for each of the first `count` scheduled visits starting an hour or more after
    `now`, with the fields reminders.plan writes; due one after the other over the hour before `now`."""
    visits = db.session.execute(
        select(Appointment.id, Appointment.sequence, Appointment.starts_at)
        .where(Appointment.status == SCHEDULED, Appointment.starts_at > now + timedelta(hours=1))
        .order_by(Appointment.starts_at, Appointment.id).limit(count)).all()
    if len(visits) < count:
        raise SystemExit(f"reminders: only {len(visits)} scheduled visits ahead, {count} wanted")
    step = BACKLOG / count
    rows = [dict(kind=REMINDER, appointment_id=visit_id, sequence=sequence, next_attempt_at=now - BACKLOG + n * step,
                 not_after=starts_at, status=PENDING, attempts=0, created_at=now - timedelta(days=7), recipient="",
                 subject="", text_body="", html_body="")
            for n, (visit_id, sequence, starts_at) in enumerate(visits)]
    for first in range(0, len(rows), 5000):
        db.session.execute(insert(OutboxEmail), rows[first:first + 5000])
    db.session.commit()
    with db.engine.connect() as connection:  # the planner statistics autovacuum would keep
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE outbox_emails")
    return len(rows)


def sample_message(first_id, *, now):
    """The bytes of the first reminder planned, written out as the worker will, and the envelope sender."""
    row = db.session.scalars(select(OutboxEmail).where(OutboxEmail.id > first_id).order_by(OutboxEmail.id)
                             .limit(1)).one()
    fields = reminders.write_out([row], now=now)[row.id]
    db.session.rollback()
    message = mail.build_message(**fields)
    return message.as_bytes(), parseaddr(message.sender)[1]


def _passes_per_round(planned):
    passes = math.ceil(planned / BATCH)
    rounds = min(ROUNDS, passes)
    return [passes // rounds + (number < passes % rounds) for number in range(rounds)]


def _worker_round(app, passes, *, now, statements):
    """`passes` passes of the worker, back to back: (seconds, [(sent, statements) per pass])."""
    done = []
    started = time.perf_counter()
    for _ in range(passes):
        before = len(statements)
        with app.app_context():
            try:
                sent, failed = notifications.send_due(now=now)
            finally:
                db.session.remove()
        if failed:
            raise SystemExit(f"reminders: {failed} failed to send")
        done.append((sent, _counts(statements[before:])))
    return time.perf_counter() - started, done


def _counts(statements):
    """(queries, transactions): BEGIN (SQLite's, which SQLAlchemy sends; psycopg's goes unseen) and
    savepoints are left out of the queries, so the two databases count alike."""
    commits = statements.count("commit")
    queries = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    return len(queries) - commits, commits


def _bare_round(port, emails, message, sender):
    """`emails` messages over one connection, as fast as smtplib and the server go: seconds."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for number in range(emails):
            client.sendmail(sender, [f"patient{number}@bench.test"], message)
    return time.perf_counter() - started


def _report(planned, worker, bare):
    passes = [done for _seconds, round_passes in worker for done in round_passes]
    full = [counts for sent, counts in passes if sent == BATCH]
    worker_seconds, bare_seconds = sum(seconds for seconds, _ in worker), sum(bare)
    pass_seconds = worker_seconds / len(passes)
    return {
        "emails": planned, "batch": BATCH, "passes": len(passes), "rounds": len(bare),
        "worker_emails_per_second": round(planned / worker_seconds, 1),
        "bare_smtplib_emails_per_second": round(planned / bare_seconds, 1),
        "worker_over_bare": round(bare_seconds / worker_seconds, 3),
        "worker_over_bare_per_round": [round(b / w, 3) for (w, _), b in zip(worker, bare)],
        "pass_ms_mean": round(pass_seconds * 1000, 1),
        # Every full pass alike: its queries, and its transactions (each a commit).
        "queries_per_batch": sorted({queries for queries, _ in full}),
        "queries_per_email": round(statistics.mean(queries for queries, _ in full) / BATCH, 2) if full else None,
        "transactions_per_batch": sorted({commits for _, commits in full}),
    }


def describe(result) -> str:
    return "\n".join([
        f"Reminders: {result['emails']} due, sent by {result['passes']} worker passes of {result['batch']} "
        f"({result['rounds']} rounds, interleaved with a bare smtplib client, to a local aiosmtpd server)",
        f"  worker (passes back to back) {result['worker_emails_per_second']:>8} emails/s, "
        f"{result['pass_ms_mean']} ms a pass",
        f"  bare smtplib, one connection {result['bare_smtplib_emails_per_second']:>8} emails/s",
        f"  worker / bare                {result['worker_over_bare']:>8} "
        f"(by round: {', '.join(map(str, result['worker_over_bare_per_round']))})",
        f"  SQL queries per batch of {result['batch']}: {'/'.join(map(str, result['queries_per_batch'])) or '-'} "
        f"({result['queries_per_email']} an email), in "
        f"{'/'.join(map(str, result['transactions_per_batch'])) or '-'} transactions",
        "  (the worker runs a full pass's next one at once, as here: its pause comes once the backlog is sent)",
    ])
