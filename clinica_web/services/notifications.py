"""The outbox: emails are put in the transaction of the change they report, and sent by the
worker (`flask --app wsgi worker`, clinica_web/worker.py) within seconds. Each is written in its
recipient's language whoever made the change (mail.py, i18n.for_recipient). An account email is
written whole when it is queued; an appointment's email (booked, moved, cancelled) is planned
with what it must say, and written out with its calendar file by the worker as it sends it
(write_out_appointment_emails), so a booking renders no email; a reminder is written out when it
is due (reminders.write_out).

The web process never talks to the mail server, so a slow or dead one slows no page. What fails
to send (SMTP down, a timeout) stays in the outbox and is retried with backoff. A send never fails
the change that caused it.

Several senders may run at once (workers, `send-mail` from cron), and no email is sent twice: a
sender claims due rows with one UPDATE (on PostgreSQL skipping rows another sender has locked),
which leases them to it (next_attempt_at, CLAIM_MINUTES ahead) while it talks to the server.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import aliased

from clinica_web import mail
from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import Appointment, Doctor, OutboxEmail, User
from clinica_web.models.outbox import APPOINTMENT_EMAILS, FAILED, MESSAGE, PENDING, REMINDER, SENT, SKIPPED
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


def is_emailed(patient: User) -> bool:
    """Whether the changes to a patient's appointments are emailed to them: not to a patient
    registered at the desk without an address, whom the desk tells itself (and is told to)."""
    return bool(patient.email)


def queue_appointment_email(appointment, kind, *, now, previous_start=None) -> None:
    """Plan the patient's email about a change of `kind` (booked, rescheduled, cancelled), in the
    change's transaction: the row names the appointment and the SEQUENCE the change made, and
    keeps the doctor and times the email is to say (a later change does not rewrite it). Nothing
    for a patient without an email address (registered at the desk by phone: the desk tells them)."""
    db.session.flush()  # the appointment's id, and its doctor's id after a move (history.record's next steps too)
    if not is_emailed(appointment.patient):
        return
    facts = {"doctor_id": appointment.doctor_id, "starts_at": appointment.starts_at.isoformat(),
             "ends_at": appointment.ends_at.isoformat(),
             "previous_start": previous_start.isoformat() if previous_start else None,
             "cancelled_by_patient": appointment.cancelled_by_id == appointment.patient_id}
    db.session.execute(insert(OutboxEmail), [dict(
        kind=kind, appointment_id=appointment.id, sequence=appointment.sequence, facts=facts, status=PENDING,
        attempts=0, next_attempt_at=now, created_at=now, recipient="", subject="", text_body="", html_body="")])


@dataclass(frozen=True)
class VisitAsItWas:
    """The appointment as a planned email is to describe it: the version its change made (doctor,
    times, SEQUENCE), whatever has happened to the appointment since."""

    id: int
    sequence: int
    doctor: Doctor
    patient: User
    starts_at: datetime
    ends_at: datetime
    cancelled_by_patient: bool

    @property
    def patient_id(self) -> int:
        return self.patient.id

    @property
    def cancelled_by_id(self) -> int | None:
        return self.patient.id if self.cancelled_by_patient else None

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


def write_out_appointment_emails(rows: list[OutboxEmail]) -> dict[int, dict | str]:
    """For the appointment emails the worker has claimed: each row's message fields (with the
    calendar file), written now in the patient's language and to their address as they are; or
    why it is skipped. Two queries for all of them: the appointments with their patients, the
    doctors with their accounts (the doctor's copy, MAIL_COPY_DOCTOR)."""
    if not rows:
        return {}
    visits = {a.id: a for a in db.session.scalars(
        select(Appointment).where(Appointment.id.in_({row.appointment_id for row in rows}))
        .options(db.joinedload(Appointment.patient)))}
    doctors = {d.id: d for d in db.session.scalars(
        select(Doctor).where(Doctor.id.in_({row.facts["doctor_id"] for row in rows}))
        .options(db.joinedload(Doctor.user)))}
    copy_doctor = current_app.config["MAIL_COPY_DOCTOR"]
    written = {}
    for row in rows:
        visit, doctor, facts = visits.get(row.appointment_id), doctors.get(row.facts["doctor_id"]), row.facts
        if visit is None or doctor is None:
            written[row.id] = "The visit no longer exists"
        elif not visit.patient.email:
            written[row.id] = "The patient has no email address"
        else:
            as_it_was = VisitAsItWas(
                id=visit.id, sequence=row.sequence, doctor=doctor, patient=visit.patient,
                starts_at=datetime.fromisoformat(facts["starts_at"]), ends_at=datetime.fromisoformat(facts["ends_at"]),
                cancelled_by_patient=facts["cancelled_by_patient"])
            previous_start = facts["previous_start"] and datetime.fromisoformat(facts["previous_start"])
            written[row.id] = dict(recipient=visit.patient.email,
                                   cc=doctor.user.email if copy_doctor and doctor.user is not None else None,
                                   **mail.appointment_email(as_it_was, row.kind, previous_start=previous_start))
    return written


MESSAGE_FIELDS = ("recipient", "cc", "subject", "text_body", "html_body", "ics", "ics_method")


def _message_fields(email: OutboxEmail) -> dict:
    return {name: getattr(email, name) for name in MESSAGE_FIELDS}


BATCH = 100  # emails claimed a pass
# A sender writes what it sent (and renews its lease on the rest) every RECORD_EVERY emails, or
# sooner once RECORD_AFTER has passed since it last did (a slow mail server): a transaction per
# email would cost more than sending it. The price: a sender killed between sending and writing
# sends up to RECORD_EVERY emails twice once its lease has run out.
RECORD_EVERY = 20
RECORD_AFTER = timedelta(minutes=1)


@dataclass
class _Held:
    """What a sender holds during a pass: the rows claimed and not yet handed to the server (by id,
    their message fields, latest sending time and, for a visit's email, the visit), the lease they
    are held until, and the outcomes not yet written: (email_id, fields, error or None)."""
    rows: dict
    lease: datetime
    written_at: datetime  # on the app's clock
    outcomes: list = field(default_factory=list)
    let_go: list = field(default_factory=list)  # rows given back unsent: due again now (send_due)
    sent: int = 0
    failed: int = 0


def send_due(*, now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """Send every email that is due (the worker, CLI `send-mail`). Returns (sent, failed) counts.

    The due rows are claimed in one transaction first. On PostgreSQL the SELECT takes row locks
    with SKIP LOCKED, so several `send-mail` processes share the work without waiting for each
    other; the claim (a lease on next_attempt_at) is what keeps any other sender off them. On
    SQLite, the write transaction takes the database's write lock: one claim at a time.
    """
    with unit_of_work():
        held = _claim_due(now=now, limit=limit)
    # No transaction is held while talking to the mail server; one connection serves the pass.
    failed_visits = set()  # visits one of whose emails failed: their later ones wait for its retry
    with mail.one_connection():
        while held.rows:
            if len(held.outcomes) >= RECORD_EVERY or clinic.now() - held.written_at >= RECORD_AFTER:
                _write_down(held, now=now)
                continue  # the rows still held, if any, now with a fresh lease
            email_id, (fields, not_after, visit_id) = next(iter(held.rows.items()))
            del held.rows[email_id]
            if not_after is not None and clinic.now() >= not_after:
                continue  # the visit has started meanwhile: the next claim skips the reminder
            if visit_id in failed_visits:
                held.let_go.append(email_id)  # due again at once, held back until the earlier one goes
                continue
            held.outcomes.append((email_id, fields, error := _deliver(email_id, fields)))
            if error is not None and visit_id is not None:
                failed_visits.add(visit_id)
        if held.outcomes or held.let_go:
            _write_down(held, now=now)
    return held.sent, held.failed


def _claim_due(*, now, limit) -> _Held:
    # One visit's emails (booked, moved, cancelled) go out in the order of its changes, which is
    # the order of their rows (one visit's changes queue at its row lock). Taken by due time, an
    # email waits while an earlier one of its visit is due after it: that one's request started
    # later (its `now` read after this one's, though it had the lock first), or it is waiting to
    # be tried again (or being sent by this worker or one that committed its lease; two workers
    # claiming at the same moment may still take one each: README).
    earlier = aliased(OutboxEmail)
    earlier_after_it = select(earlier.id).where(
        earlier.appointment_id == OutboxEmail.appointment_id, earlier.status == PENDING,
        earlier.kind.in_(APPOINTMENT_EMAILS), earlier.id < OutboxEmail.id,
        earlier.next_attempt_at > OutboxEmail.next_attempt_at).exists()
    due = (
        select(OutboxEmail)
        .where(OutboxEmail.status == PENDING, OutboxEmail.next_attempt_at <= now,
               ~(OutboxEmail.kind.in_(APPOINTMENT_EMAILS) & earlier_after_it))
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(db.session.scalars(due))
    # Planned emails are written out now: reminders from their visits as they are (one query for
    # the batch), appointment emails from what they keep (two).
    written = reminders.write_out([row for row in rows if row.kind == REMINDER], now=now)
    written |= write_out_appointment_emails([row for row in rows if row.kind in APPOINTMENT_EMAILS])
    claimed = {}
    for row in rows:
        # (a kind this version does not know, written by a newer one: not sent, and said why)
        fields = _message_fields(row) if row.kind == MESSAGE else written.get(row.id, f"Unknown kind: {row.kind}")
        if isinstance(fields, str):  # a planned email that must not go out, and why
            row.status, row.last_error = SKIPPED, fields
        else:  # (and for a visit's email, which visit: see send_due)
            claimed[row.id] = (fields, row.not_after, row.appointment_id if row.kind in APPOINTMENT_EMAILS else None)
    lease = now + timedelta(minutes=CLAIM_MINUTES)
    if claimed:
        db.session.execute(update(OutboxEmail).where(OutboxEmail.id.in_(claimed)).values(next_attempt_at=lease))
    return _Held(rows=claimed, lease=lease, written_at=clinic.now())


def _write_down(held: _Held, *, now) -> None:
    """One transaction: the outcomes so far, and the lease on the rows still to send renewed,
    CLAIM_MINUTES from the clock's now, so that a pass slowed down by its mail server never sends
    an email another sender has taken over since: those it lets go."""
    with unit_of_work():
        _record(held.outcomes, now=now)
        if held.let_go:
            db.session.execute(update(OutboxEmail).where(OutboxEmail.id.in_(held.let_go), OutboxEmail.status == PENDING,
                                                         OutboxEmail.next_attempt_at == held.lease)
                               .values(next_attempt_at=now))
            held.let_go = []
        held.sent += sum(error is None for _id, _fields, error in held.outcomes)
        held.failed += sum(error is not None for _id, _fields, error in held.outcomes)
        held.outcomes = []
        held.written_at = clinic.now()
        if held.rows:
            fresh = max(held.lease, held.written_at + timedelta(minutes=CLAIM_MINUTES))
            still_mine = set(db.session.scalars(
                update(OutboxEmail).where(OutboxEmail.id.in_(held.rows), OutboxEmail.status == PENDING,
                                          OutboxEmail.next_attempt_at == held.lease)
                .values(next_attempt_at=fresh).returning(OutboxEmail.id)))
            held.rows = {email_id: row for email_id, row in held.rows.items() if email_id in still_mine}
            held.lease = fresh


def _deliver(email_id, fields) -> str | None:
    """Send an email this process holds the lease on: None, or the error to record."""
    try:
        mail.deliver(mail.build_message(**fields))
    except Exception as error:  # any SMTP, socket or file error: record it and retry later
        current_app.logger.warning("Sending email %s failed: %s", email_id, error)
        return f"{type(error).__name__}: {error}"[:500]
    return None


WRITTEN_OUT = MESSAGE_FIELDS  # what a planned email said, kept once it is sent


def _record(outcomes, *, now):
    """In the caller's transaction: the outcomes [(email_id, fields, error)], in two statements
    whatever their number (one for the sent, one read of the failed, whose rows flush together)."""
    sent = [{"email_id": email_id, **{f"written_{name}": fields[name] for name in WRITTEN_OUT}}
            for email_id, fields, error in outcomes if error is None]
    if sent:  # a planned email keeps what it said; a reminder dropped meanwhile (its visit moved) matches nothing
        table = OutboxEmail.__table__
        db.session.execute(update(table).where(table.c.id == bindparam("email_id")).values(
            status=SENT, sent_at=now, attempts=table.c.attempts + 1, last_error=None,
            **{name: bindparam(f"written_{name}") for name in WRITTEN_OUT}), sent)
    errors = {email_id: error for email_id, _fields, error in outcomes if error is not None}
    if not errors:
        return
    for email in db.session.scalars(select(OutboxEmail).where(OutboxEmail.id.in_(errors))):
        email.attempts += 1
        email.last_error = errors[email.id]
        if email.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            email.status = FAILED
        else:
            email.next_attempt_at = now + min(timedelta(minutes=2**email.attempts), MAX_BACKOFF)
