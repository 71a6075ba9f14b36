"""The outbox: emails are written in the transaction of the change they report, and sent by the
worker (`flask --app wsgi worker`, clinica_web/worker.py) within seconds. Each is written in its
recipient's language whoever made the change (mail.py, i18n.for_recipient): when it is queued, or
for a reminder when it is due (reminders.write_out).

The web process never talks to the mail server, so a slow or dead one slows no page. What fails
to send (SMTP down, a timeout) stays in the outbox and is retried with backoff. A send never fails
the change that caused it.

Several senders may run at once (workers, `send-mail` from cron), and no email is sent twice: a
sender claims due rows with one UPDATE (on PostgreSQL skipping rows another sender has locked),
which leases them to it (next_attempt_at, CLAIM_MINUTES ahead) while it talks to the server.
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from clinica_web import mail
from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import OutboxEmail
from clinica_web.models.outbox import FAILED, PENDING, REMINDER, SENT, SKIPPED
from clinica_web.services import clinic, reminders

CLAIM_MINUTES = 10  # a claimed row whose sender died becomes due again after this long
MAX_BACKOFF = timedelta(hours=6)


def queue(*, recipient, subject, text_body, html_body, cc=None, ics=None, ics_method=None, now) -> OutboxEmail | None:
    """Add an email to the session, due at once; the caller commits it with its change. None for
    a patient without an email address (registered at the desk by phone): nothing to send."""
    if not recipient:
        return None
    email = OutboxEmail(
        recipient=recipient, cc=cc, subject=subject, text_body=text_body, html_body=html_body,
        ics=ics, ics_method=ics_method, status=PENDING, next_attempt_at=now, created_at=now,
    )
    db.session.add(email)
    return email


def queue_appointment_email(appointment, kind, *, now, previous_start=None) -> OutboxEmail | None:
    db.session.flush()  # the ICS UID needs the appointment's id (and history.record's next steps)
    if not appointment.patient.email:  # registered at the desk by phone only: the desk tells them
        return None
    cc = None
    if current_app.config["MAIL_COPY_DOCTOR"] and appointment.doctor.user is not None:
        cc = appointment.doctor.user.email
    return queue(recipient=appointment.patient.email, cc=cc, now=now,
                 **mail.appointment_email(appointment, kind, previous_start=previous_start))


MESSAGE_FIELDS = ("recipient", "cc", "subject", "text_body", "html_body", "ics", "ics_method")


def _message_fields(email: OutboxEmail) -> dict:
    return {name: getattr(email, name) for name in MESSAGE_FIELDS}


BATCH = 100  # emails claimed a pass


def send_due(*, now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """Send every email that is due (the worker, CLI `send-mail`). Returns (sent, failed) counts.

    The due rows are claimed in one transaction first. On PostgreSQL the SELECT takes row locks
    with SKIP LOCKED, so several `send-mail` processes share the work without waiting for each
    other; the claim (a lease on next_attempt_at) is what keeps any other sender off them. On
    SQLite, the write transaction takes the database's write lock: one claim at a time.
    """
    with unit_of_work():
        claimed, lease = _claim_due(now=now, limit=limit)
    # No transaction is held while talking to the mail server; one connection serves the pass.
    # Each email's outcome is written right after it is sent, in one transaction with the next
    # one's lease renewal (just before that is sent): a commit an email, not two.
    sent = failed = 0
    outcome = None
    with mail.one_connection():
        for email_id, fields in claimed:
            with unit_of_work():
                _record(outcome, now=now)
                outcome = None
                renewed = _renew_lease(email_id, lease)
            if not renewed:
                continue  # a mail server so slow that this lease ran out: another sender has it now
            outcome = (email_id, fields, _deliver(email_id, fields))
            if outcome[2] is None:
                sent += 1
            else:
                failed += 1
        if outcome:
            with unit_of_work():
                _record(outcome, now=now)
    return sent, failed


def _claim_due(*, now, limit):
    due = (
        select(OutboxEmail)
        .where(OutboxEmail.status == PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(db.session.scalars(due))
    # Reminders are written out now, from their visits as they are (one query for the batch).
    written = reminders.write_out([row for row in rows if row.kind == REMINDER], now=now)
    claimed = []
    for row in rows:
        fields = written[row.id] if row.kind == REMINDER else _message_fields(row)
        if isinstance(fields, str):  # a reminder that must not go out, and why
            row.status, row.last_error = SKIPPED, fields
        else:
            claimed.append((row.id, fields))
    lease = now + timedelta(minutes=CLAIM_MINUTES)
    if claimed:
        db.session.execute(
            update(OutboxEmail).where(OutboxEmail.id.in_([email_id for email_id, _fields in claimed]))
            .values(next_attempt_at=lease)
        )
    return claimed, lease


def _renew_lease(email_id, lease) -> bool:
    """Just before sending: if this sender's lease on the email still holds (nobody claimed it
    since), extend it by CLAIM_MINUTES from the clock's now, so that a pass slowed down by its
    mail server never sends an email another sender has taken over. False if it was taken.
    In the caller's transaction, which commits before the email is sent."""
    right_now = clinic.now()
    fresh = max(lease, right_now + timedelta(minutes=CLAIM_MINUTES))
    renewed = db.session.execute(
        update(OutboxEmail).where(OutboxEmail.id == email_id, OutboxEmail.status == PENDING,
                                  OutboxEmail.next_attempt_at == lease,
                                  # a reminder whose visit started meanwhile waits for the next claim to skip it
                                  or_(OutboxEmail.not_after.is_(None), OutboxEmail.not_after > right_now))
        .values(next_attempt_at=fresh)
    ).rowcount
    return renewed == 1


def _deliver(email_id, fields) -> str | None:
    """Send an email this process holds the lease on: None, or the error to record."""
    try:
        mail.deliver(mail.build_message(**fields))
    except Exception as error:  # any SMTP, socket or file error: record it and retry later
        current_app.logger.warning("Sending email %s failed: %s", email_id, error)
        return f"{type(error).__name__}: {error}"[:500]
    return None


WRITTEN_OUT = ("recipient", "subject", "text_body", "html_body")


def _record(outcome, *, now):
    """In the caller's transaction: an email's outcome (email_id, fields, error), if there is one."""
    if outcome is None:
        return
    email_id, fields, error = outcome
    if error is None:  # one statement; a reminder keeps what it said
        db.session.execute(update(OutboxEmail).where(OutboxEmail.id == email_id).values(
            status=SENT, sent_at=now, attempts=OutboxEmail.attempts + 1, last_error=None,
            **{name: fields[name] for name in WRITTEN_OUT}))
        return
    email = db.session.get(OutboxEmail, email_id)
    if email is None:  # a reminder dropped meanwhile (its visit cancelled or moved): nothing to retry
        return
    email.attempts += 1
    email.last_error = error
    if email.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        email.status = FAILED
    else:
        email.next_attempt_at = now + min(timedelta(minutes=2**email.attempts), MAX_BACKOFF)
