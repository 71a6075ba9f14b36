"""The outbox: emails are written in the transaction of the change they report and sent after it.

A request that commits a change calls `send_soon()` with the rows it wrote; they are sent once the
response has gone out, so nobody waits for the mail server. Whatever fails there (SMTP down, a
timeout, the worker stopping) stays in the outbox and `flask send-mail` retries it with backoff.
A send never fails the change that caused it.

Several senders may run at once (app workers and `send-mail` processes), and no email is sent
twice: a sender holds a lease on a row (its next_attempt_at, CLAIM_MINUTES ahead) while it sends.
A new row is born leased to the request that writes it, which sends it after its response without
another round trip to claim it; `send-mail` claims due rows with one UPDATE, skipping rows that
another `send-mail` has locked.
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import inspect, select, update

from clinica_web import mail
from clinica_web.after_response import run_after_response
from clinica_web.database import begin_write
from clinica_web.extensions import db
from clinica_web.models import OutboxEmail
from clinica_web.models.outbox import FAILED, PENDING, SENT

CLAIM_MINUTES = 10  # a claimed row whose sender died becomes due again after this long
MAX_BACKOFF = timedelta(hours=6)


def queue(*, recipient, subject, text_body, html_body, cc=None, ics=None, ics_method=None, now) -> OutboxEmail:
    """Add an email to the session; the caller commits it with its change, then calls send_soon().

    The row is leased to this request until CLAIM_MINUTES from now: should the worker stop before
    sending it, `send-mail` sends it once the lease has run out.
    """
    email = OutboxEmail(
        recipient=recipient, cc=cc, subject=subject, text_body=text_body, html_body=html_body,
        ics=ics, ics_method=ics_method, status=PENDING, next_attempt_at=now + timedelta(minutes=CLAIM_MINUTES),
        created_at=now,
    )
    db.session.add(email)
    return email


def queue_appointment_email(appointment, kind, *, now) -> OutboxEmail:
    db.session.flush()  # the ICS UID needs the appointment's id
    cc = None
    if current_app.config["MAIL_COPY_DOCTOR"] and appointment.doctor.user is not None:
        cc = appointment.doctor.user.email
    return queue(recipient=appointment.patient.email, cc=cc, now=now, **mail.appointment_email(appointment, kind))


def send_soon(emails: list[OutboxEmail], *, now: datetime) -> None:
    """Send freshly committed emails once the response has gone out (at once outside a request).

    They are leased to this request (see queue()) and still loaded: nothing to claim or read
    again. If sending fails (the database went away, say), `send-mail` has them later.
    """
    outgoing = [(inspect(email).identity[0], _message_fields(email)) for email in emails]
    run_after_response(lambda: _send_each(outgoing, now),
                       what=f"Sending emails {[email_id for email_id, _fields in outgoing]}")


MESSAGE_FIELDS = ("recipient", "cc", "subject", "text_body", "html_body", "ics", "ics_method")


def _message_fields(email: OutboxEmail) -> dict:
    return {name: getattr(email, name) for name in MESSAGE_FIELDS}


def _send_each(outgoing, now):
    for email_id, fields in outgoing:
        _deliver(email_id, fields, now=now)


def send_due(*, now: datetime, limit: int = 100) -> tuple[int, int]:
    """Send every email that is due (CLI `send-mail`). Returns (sent, failed) counts.

    The due rows are claimed in one transaction first. On PostgreSQL the SELECT takes row locks
    with SKIP LOCKED, so several `send-mail` processes share the work without waiting for each
    other; the claim (a lease on next_attempt_at) is what keeps any other sender off them.
    """
    begin_write()
    due = (
        select(OutboxEmail)
        .where(OutboxEmail.status == PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = [(row.id, _message_fields(row)) for row in db.session.scalars(due)]
    if claimed:
        db.session.execute(
            update(OutboxEmail).where(OutboxEmail.id.in_([email_id for email_id, _fields in claimed]))
            .values(next_attempt_at=now + timedelta(minutes=CLAIM_MINUTES))
        )
    db.session.commit()  # hold no transaction while talking to the mail server
    sent = failed = 0
    for email_id, fields in claimed:
        if _deliver(email_id, fields, now=now):
            sent += 1
        else:
            failed += 1
    return sent, failed


def _deliver(email_id, fields, *, now) -> bool:
    """Send an email this process holds the lease on, and record the outcome."""
    try:
        mail.deliver(mail.build_message(**fields))
    except Exception as error:  # any SMTP, socket or file error: record it and retry later
        current_app.logger.warning("Sending email %s failed: %s", email_id, error)
        _record(email_id, now=now, error=f"{type(error).__name__}: {error}"[:500])
        return False
    _record(email_id, now=now, error=None)
    return True


def _record(email_id, *, now, error):
    begin_write()
    email = db.session.get(OutboxEmail, email_id)
    email.attempts += 1
    email.last_error = error
    if error is None:
        email.status = SENT
        email.sent_at = now
    elif email.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        email.status = FAILED
    else:
        email.next_attempt_at = now + min(timedelta(minutes=2**email.attempts), MAX_BACKOFF)
    db.session.commit()
