"""The rules behind the desk, at the service level (DESIGN.md section 7): status changes and undo,
cancelling and rescheduling by staff, documentation and pending documentation, finding and
registering patients, the day list's flags and its CSV, and the audit trail."""
import csv
import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import (
    ARRIVED,
    CANCELLED,
    COMPLETED,
    HELD,
    NO_SHOW,
    SCHEDULED,
    STATUSES,
    AccessEvent,
    Appointment,
    AppointmentChange,
    Doctor,
    OutboxEmail,
    User,
)
from clinica_web.models.appointment import MAX_DURATION
from clinica_web.models.outbox import REMINDER
from clinica_web.services import (
    appointments,
    audit,
    availability,
    booking,
    day_list,
    documentation,
    lifecycle,
    notifications,
    patients,
    schedule,
    staff_actions,
)
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound, SlotTaken
from tests.conftest import instant, next_weekday

MONDAY = next_weekday(0, weeks=1)
NOW = instant(MONDAY - timedelta(days=3), "12:00")  # the Friday before, at noon
AT_MONDAY_VISIT = instant(MONDAY, "09:00")  # when the desk marks a Monday 09:00 visit
AFTER = instant(MONDAY, "18:00")  # the Monday evening, when Monday's visits are over


@pytest.fixture
def ids(app, make_doctor, make_user):
    """Two doctors (Rossi with a login), a patient, a receptionist and an admin."""
    rossi = make_doctor(name="Dr. Laura Rossi", with_user=True)
    bianchi = make_doctor(name="Dr. Marco Bianchi", with_user=True)
    with app.app_context():
        rossi_user, bianchi_user = (db.session.get(Doctor, d).user_id for d in (rossi, bianchi))
    return SimpleNamespace(
        rossi=rossi, bianchi=bianchi, rossi_user=rossi_user, bianchi_user=bianchi_user,
        patient=make_user(full_name="Ana Torres", email="ana@example.com"),
        desk=make_user(role="reception", full_name="Rita Desk", email="desk@example.com"),
        admin=make_user(role="admin", full_name="Adam Admin", email="admin@example.com"),
    )


def user(user_id):
    return db.session.get(User, user_id)


def appointment(appointment_id):
    return db.session.get(Appointment, appointment_id)


def changes(appointment_id):
    return [(c.kind, c.from_value, c.to_value) for c in db.session.scalars(
        select(AppointmentChange).where(AppointmentChange.appointment_id == appointment_id)
        .order_by(AppointmentChange.id))]


def outbox_count():
    """The emails in the outbox (reminders are planned besides them: test_reminders.py)."""
    return db.session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.kind != REMINDER))


def sent_emails():
    """The emails (reminders aside) as the worker has written them out and sent them."""
    notifications.send_due(now=NOW)
    return db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind != REMINDER)).all()


# ---------------------------------------------------------------------------------------------
# Status changes and undo


ALLOWED = {(SCHEDULED, ARRIVED), (SCHEDULED, NO_SHOW), (ARRIVED, COMPLETED)}


def test_only_the_designed_status_steps_are_allowed(app, ids, make_appointment):
    """Every (from, to) pair, one appointment each (checked together: the setup is the slow part)."""
    # A slot held for a waitlist offer is not the desk's to step (it cannot even open it: below).
    pairs = [(start, to) for start in STATUSES if start != HELD for to in STATUSES + ("teleported", None)]
    days = {pair: MONDAY + timedelta(weeks=n) for n, pair in enumerate(pairs)}
    made = {pair: make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=day, hhmm="09:00", status=pair[0])
            for pair, day in days.items()}
    with app.app_context():
        for (start, to), appointment_id in made.items():
            at_the_visit = instant(days[start, to], "09:00")
            if (start, to) in ALLOWED:
                staff_actions.change_status(actor=user(ids.desk), appointment=appointment(appointment_id),
                                            to_status=to, now=at_the_visit)
                assert appointment(appointment_id).status == to
                assert changes(appointment_id) == [("status", start, to)]
            else:
                with pytest.raises(InvalidInput, match="cannot become"):
                    staff_actions.change_status(actor=user(ids.desk), appointment=appointment(appointment_id),
                                                to_status=to, now=at_the_visit)
                db.session.rollback()
                assert appointment(appointment_id).status == start, (start, to)
                assert changes(appointment_id) == [], (start, to)
        assert outbox_count() == 0  # status changes email nobody
    held = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY + timedelta(weeks=len(pairs)),
                            hhmm="09:00", status=HELD)
    with app.app_context(), pytest.raises(NotFound, match="Appointment not found"):
        staff_actions.change_status(actor=user(ids.desk), appointment=appointment(held), to_status=ARRIVED,
                                    now=instant(MONDAY + timedelta(weeks=len(pairs)), "09:00"))


@pytest.mark.parametrize("at, to, refusal", [
    (NOW, ARRIVED, "This visit is on a later day: its status changes on the day"),
    (NOW, NO_SHOW, "This visit is on a later day: its status changes on the day"),
    (instant(MONDAY, "08:44"), ARRIVED, "Arrival and no-show can be marked from 15 minutes before the visit"),
    (instant(MONDAY, "08:45"), ARRIVED, None),
    (instant(MONDAY, "23:59"), NO_SHOW, None),
    (instant(MONDAY + timedelta(days=1), "00:00"), ARRIVED, "Arrival and no-show can be marked only on the day"),
    (instant(MONDAY + timedelta(days=1), "00:00"), NO_SHOW, "Arrival and no-show can be marked only on the day"),
])
def test_status_steps_obey_the_visits_time(app, ids, make_appointment, at, to, refusal):
    """Arrived and no-show from 15 minutes before a Monday 09:00 visit until Monday ends, never
    on another day; what the desk is offered (allowed_steps) is what the service accepts."""
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        offered = lifecycle.allowed_steps(SCHEDULED, appointment(appointment_id).starts_at, now=at)
        assert (to in offered) is (refusal is None)
        if refusal is None:
            staff_actions.change_status(actor=user(ids.desk), appointment=appointment(appointment_id), to_status=to,
                                        now=at)
            assert changes(appointment_id) == [("status", SCHEDULED, to)]
        else:
            with pytest.raises(InvalidInput, match=refusal):
                staff_actions.change_status(actor=user(ids.desk), appointment=appointment(appointment_id),
                                            to_status=to, now=at)
            db.session.rollback()
            assert appointment(appointment_id).status == SCHEDULED and changes(appointment_id) == []


def test_completed_follows_arrival_even_the_next_day(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00",
                                      status=ARRIVED)
    with app.app_context():
        next_morning = instant(MONDAY + timedelta(days=1), "08:00")
        assert lifecycle.allowed_steps(ARRIVED, appointment(appointment_id).starts_at, now=next_morning) == (COMPLETED,)
        staff_actions.change_status(actor=user(ids.desk), appointment=appointment(appointment_id),
                                    to_status=COMPLETED, now=next_morning)
        assert appointment(appointment_id).status == COMPLETED


def test_a_documented_visit_is_neither_cancelled_nor_moved(app, ids, make_appointment):
    """Documentation says the visit happened: it stays where and what it is (whatever its status)."""
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        documentation.write(actor=user(ids.rossi_user), appointment=appointment(appointment_id), text="Seen.",
                            now=AT_MONDAY_VISIT)
        with pytest.raises(InvalidInput, match="A documented visit cannot be cancelled"):
            staff_actions.cancel_by_staff(actor=user(ids.desk), appointment=appointment(appointment_id),
                                          reason="other", note="Mistake", now=AFTER)
        db.session.rollback()
        with pytest.raises(InvalidInput, match="A documented visit cannot be rescheduled"):
            staff_actions.reschedule(actor=user(ids.desk), appointment=appointment(appointment_id),
                                     starts_at=instant(MONDAY + timedelta(weeks=1), "10:00"), now=AFTER)
        db.session.rollback()
        found = appointment(appointment_id)
        assert (found.status, found.starts_at) == (SCHEDULED, AT_MONDAY_VISIT)
        assert [kind for kind, *_ in changes(appointment_id)] == ["documented"]
        assert outbox_count() == 0


def test_documentation_written_and_changed_is_in_the_history(app, ids, make_appointment):
    """Who documented a visit, and who changed it, when (not the text: the desk reads the history)."""
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        for text in ("Seen.", "Seen.", "Seen; advised rest."):
            documentation.write(actor=user(ids.rossi_user), appointment=appointment(appointment_id), text=text,
                                now=AFTER)
        recorded = db.session.scalars(select(AppointmentChange).where(
            AppointmentChange.appointment_id == appointment_id).order_by(AppointmentChange.id)).all()
        assert [(c.kind, c.actor_id, c.at) for c in recorded] == [
            ("documented", ids.rossi_user, AFTER), ("documentation_edited", ids.rossi_user, AFTER)]  # same text: none
        assert all("Seen" not in f"{c.from_value}{c.to_value}{c.reason}" for c in recorded)
        assert appointment(appointment_id).documentation == "Seen; advised rest."


def test_undo_steps_back_once_and_is_recorded(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        desk = user(ids.desk)
        staff_actions.change_status(actor=desk, appointment=appointment(appointment_id), to_status=ARRIVED,
                                    now=AT_MONDAY_VISIT)
        staff_actions.change_status(actor=desk, appointment=appointment(appointment_id), to_status=COMPLETED,
                                    now=AT_MONDAY_VISIT)
        assert staff_actions.can_undo(appointment(appointment_id))
        staff_actions.undo_last_change(actor=user(ids.admin), appointment=appointment(appointment_id), now=NOW)
        assert appointment(appointment_id).status == ARRIVED
        assert not staff_actions.can_undo(appointment(appointment_id))
        with pytest.raises(InvalidInput, match="There is no status change to undo"):
            staff_actions.undo_last_change(actor=desk, appointment=appointment(appointment_id), now=NOW)
        db.session.rollback()
        assert appointment(appointment_id).status == ARRIVED
        assert changes(appointment_id) == [("status", SCHEDULED, ARRIVED), ("status", ARRIVED, COMPLETED),
                                           ("status_undo", COMPLETED, ARRIVED)]
        last = db.session.scalars(select(AppointmentChange).order_by(AppointmentChange.id.desc())).first()
        assert last.actor_id == ids.admin
        # A new status change can be undone again.
        staff_actions.change_status(actor=desk, appointment=appointment(appointment_id), to_status=COMPLETED,
                                    now=AT_MONDAY_VISIT)
        assert staff_actions.can_undo(appointment(appointment_id))


def test_nothing_to_undo_after_booking_cancel_or_reschedule(app, ids):
    with app.app_context():
        desk, patient = user(ids.desk), user(ids.patient)
        booked = booking.book(actor=desk, patient=patient, doctor_id=ids.rossi, date=MONDAY.isoformat(), time="09:00",
                              now=NOW)
        assert not staff_actions.can_undo(booked)  # last change: "booked"
        staff_actions.reschedule(actor=desk, appointment=booked, starts_at=instant(MONDAY, "10:00"), reason="r",
                                 now=NOW)
        assert not staff_actions.can_undo(appointment(booked.id))
        staff_actions.change_status(actor=desk, appointment=appointment(booked.id), to_status=ARRIVED,
                                    now=instant(MONDAY, "10:00"))
        staff_actions.cancel_by_staff(actor=desk, appointment=appointment(booked.id), reason="patient_called",
                                      note="Left", now=NOW)
        assert not staff_actions.can_undo(appointment(booked.id))
        with pytest.raises(InvalidInput):
            staff_actions.undo_last_change(actor=desk, appointment=appointment(booked.id), now=NOW)
        db.session.rollback()
        assert appointment(booked.id).status == CANCELLED


# ---------------------------------------------------------------------------------------------
# Cancel and reschedule by staff


@pytest.mark.parametrize("reason, note, message", [
    (None, None, "Choose a reason for cancelling"), ("", "Ill", "Choose a reason for cancelling"),
    ("  \n ", None, "Choose a reason: "), ("Doctor is ill", None, "Choose a reason: "),
    ("doctor_unavailable", "x" * 501, "A note has at most 500 characters"),
])
def test_staff_cancel_needs_a_reason_code_and_a_short_note(app, ids, make_appointment, reason, note, message):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        with pytest.raises(InvalidInput, match=message):
            staff_actions.cancel_by_staff(actor=user(ids.desk), appointment=appointment(appointment_id), reason=reason,
                                          note=note, now=NOW)
        db.session.rollback()
        assert appointment(appointment_id).status == SCHEDULED and outbox_count() == 0


@pytest.mark.parametrize("status", [COMPLETED, NO_SHOW, CANCELLED])
def test_only_scheduled_or_arrived_can_be_cancelled(app, ids, make_appointment, status):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00",
                                      status=status)
    with app.app_context():
        with pytest.raises(InvalidInput, match="Only scheduled or arrived appointments can be cancelled"):
            staff_actions.cancel_by_staff(actor=user(ids.desk), appointment=appointment(appointment_id),
                                          reason="other", now=NOW)
        db.session.rollback()
        assert appointment(appointment_id).status == status and outbox_count() == 0


def test_staff_cancel_records_who_why_and_queues_a_cancel_email(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        staff_actions.cancel_by_staff(actor=user(ids.rossi_user), appointment=appointment(appointment_id),
                                      reason="doctor_unavailable", note="  Doctor is ill ", now=NOW)
        cancelled = appointment(appointment_id)
        assert (cancelled.status, cancelled.cancel_reason_code, cancelled.cancel_reason, cancelled.cancelled_by_id,
                cancelled.cancelled_at) == (CANCELLED, "doctor_unavailable", "Doctor is ill", ids.rossi_user, NOW)
        assert cancelled.late_cancellation is False  # a week ahead: outside the patients' cutoff
        assert cancelled.sequence == 1
        [email] = sent_emails()
        assert email.recipient == "ana@example.com" and b"METHOD:CANCEL" in email.ics
        assert "Doctor is ill" not in f"{email.subject}{email.text_body}{email.html_body}{email.ics.decode()}"
        assert not availability.busy_intervals(ids.rossi, instant(MONDAY, "09:00"), instant(MONDAY, "09:30"))


@pytest.mark.parametrize("from_hhmm, busy", [("16:59", True), ("17:00", False)])
def test_the_longest_visit_is_busy_until_its_last_minute(app, ids, make_appointment, from_hhmm, busy):
    """Busy-time queries bound starts_at below by the longest visit (so an index reads one day,
    not the doctor's history): a visit that long must still count until it ends."""
    make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00", duration=MAX_DURATION)
    with app.app_context():
        start = instant(MONDAY, from_hhmm)
        end = start + timedelta(minutes=30)
        assert ([b.rule for b in availability.busy_intervals(ids.rossi, start, end)] == ["booked"]) is busy


def test_reschedule_excludes_itself_and_records_the_move(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="10:00")
    with app.app_context():
        moved = staff_actions.reschedule_local(actor=user(ids.desk), appointment=appointment(appointment_id),
                                               doctor_id=str(ids.rossi), date=MONDAY.isoformat(), time="10:15",
                                               reason=" Running late ", now=NOW)
        assert (moved.starts_at, moved.ends_at, moved.sequence) == (instant(MONDAY, "10:15"),
                                                                    instant(MONDAY, "10:45"), 1)
        [(kind, before, after)] = changes(appointment_id)
        assert kind == "rescheduled"
        assert before.startswith("Dr. Laura Rossi, ") and "10:00" in before and "10:15" in after
        change = db.session.scalars(select(AppointmentChange)).one()
        assert (change.reason, change.actor_id) == ("Running late", ids.desk)
        [email] = sent_emails()
        assert b"METHOD:REQUEST" in email.ics and b"SEQUENCE:1" in email.ics


def test_moving_to_the_same_place_changes_nothing(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="10:00")
    with app.app_context():
        staff_actions.reschedule(actor=user(ids.desk), appointment=appointment(appointment_id),
                                 starts_at=instant(MONDAY, "10:00"), doctor_id=ids.rossi, reason="no-op", now=NOW)
        assert appointment(appointment_id).sequence == 0
        assert changes(appointment_id) == [] and outbox_count() == 0


def test_reschedule_onto_another_booking_or_a_non_scheduled_one_is_refused(app, ids, make_user, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="10:00")
    make_appointment(doctor_id=ids.bianchi, patient_id=make_user(), day=MONDAY, hhmm="11:00")
    arrived = make_appointment(doctor_id=ids.rossi, patient_id=make_user(), day=MONDAY, hhmm="15:00", status=ARRIVED)
    with app.app_context():
        with pytest.raises(SlotTaken, match="Time slot overlaps with another booking"):
            staff_actions.reschedule(actor=user(ids.desk), appointment=appointment(appointment_id),
                                     starts_at=instant(MONDAY, "10:45"), doctor_id=ids.bianchi, now=NOW)
        db.session.rollback()
        with pytest.raises(InvalidInput, match="Only scheduled appointments can be rescheduled"):
            staff_actions.reschedule(actor=user(ids.desk), appointment=appointment(arrived),
                                     starts_at=instant(MONDAY, "16:00"), now=NOW)
        db.session.rollback()
        with pytest.raises(NotFound, match="must exist"):
            staff_actions.reschedule(actor=user(ids.desk), appointment=appointment(appointment_id),
                                     starts_at=instant(MONDAY, "16:00"), doctor_id=999999, now=NOW)
        db.session.rollback()
        assert (appointment(appointment_id).doctor_id, appointment(appointment_id).starts_at) == (
            ids.rossi, instant(MONDAY, "10:00"))
        assert changes(appointment_id) == [] and outbox_count() == 0


# ---------------------------------------------------------------------------------------------
# What each role may see


def test_each_role_sees_its_own_scope(app, ids, make_user, make_appointment):
    own = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    other = make_appointment(doctor_id=ids.bianchi, patient_id=ids.patient, day=MONDAY, hhmm="11:00")
    with app.app_context():
        assert appointments.get_for_staff(user(ids.rossi_user), own).id == own
        for actor, appointment_id in ((ids.rossi_user, other), (ids.patient, own)):
            with pytest.raises(NotFound, match="Appointment not found"):
                appointments.get_for_staff(user(actor), appointment_id)
        for actor in (ids.desk, ids.admin):
            assert appointments.get_for_staff(user(actor), other).id == other
        for bad in (0, -1, 2**31, "1", None):
            with pytest.raises(NotFound):
                appointments.get_for_staff(user(ids.desk), bad)


# ---------------------------------------------------------------------------------------------
# Documentation


def test_only_the_appointments_doctor_documents_it(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        for actor in (ids.bianchi_user, ids.desk, ids.admin):
            with pytest.raises(NotAllowed, match="Only the appointment's doctor"):
                documentation.write(actor=user(actor), appointment=appointment(appointment_id), text="x", now=AFTER)
            db.session.rollback()
        written = documentation.write(actor=user(ids.rossi_user), appointment=appointment(appointment_id),
                                      text="  Seen; all well.\n", now=AFTER)
        assert (written.documentation, written.documented_by_id, written.documented_at) == (
            "Seen; all well.", ids.rossi_user, AFTER)


@pytest.mark.parametrize("status, now, text, message", [
    (SCHEDULED, instant(MONDAY, "08:59"), "Seen", "A visit can be documented once it has started"),
    (CANCELLED, AFTER, "Seen", "A cancelled or missed appointment has no visit to document"),
    (NO_SHOW, AFTER, "Seen", "A cancelled or missed appointment has no visit to document"),
    (ARRIVED, AFTER, "   ", "Write the documentation first"),
    (ARRIVED, AFTER, None, "Write the documentation first"),
    (ARRIVED, AFTER, "x" * 20001, "Documentation has at most 20000 characters"),
], ids=["not started", "cancelled", "no-show", "blank", "missing", "too long"])
def test_documentation_rules(app, ids, make_appointment, status, now, text, message):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00",
                                      status=status)
    with app.app_context():
        with pytest.raises(InvalidInput, match=message):
            documentation.write(actor=user(ids.rossi_user), appointment=appointment(appointment_id), text=text,
                                now=now)
        db.session.rollback()
        assert appointment(appointment_id).documentation is None


def test_documentation_may_start_at_the_start_time(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        documentation.write(actor=user(ids.rossi_user), appointment=appointment(appointment_id), text="Started",
                            now=instant(MONDAY, "09:00"))
        assert appointment(appointment_id).documentation == "Started"


def test_pending_documentation_definition_order_and_paging(app, ids, make_appointment):
    make = make_appointment
    second = make(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="10:00", status=ARRIVED)
    first = make(doctor_id=ids.bianchi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    third = make(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="11:00", status=COMPLETED)
    make(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="12:00", status=CANCELLED)
    make(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="14:00", status=NO_SHOW)
    make(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="17:45")  # not started at 17:30
    with app.app_context():
        now = instant(MONDAY, "17:30")
        ids_of = lambda rows: [a.id for a in rows]  # noqa: E731
        rows, total = documentation.pending(user(ids.desk), now=now)
        assert (ids_of(rows), total) == ([first, second, third], 3)
        rows, total = documentation.pending(user(ids.desk), now=now, page=2, page_size=2)
        assert (ids_of(rows), total) == ([third], 3)
        assert ids_of(documentation.pending(user(ids.desk), now=now, doctor_id=ids.bianchi)[0]) == [first]
        assert ids_of(documentation.pending(user(ids.rossi_user), now=now)[0]) == [second, third]
        assert documentation.pending(user(ids.rossi_user), now=now, doctor_id=ids.bianchi) == ([], 0)
        assert documentation.pending(user(ids.patient), now=now) == ([], 0)
        documentation.write(actor=user(ids.rossi_user), appointment=appointment(second), text="Done", now=now)
        assert ids_of(documentation.pending(user(ids.desk), now=now)[0]) == [first, third]


# ---------------------------------------------------------------------------------------------
# Finding and registering patients


@pytest.fixture
def people(app, make_user):
    return dict(
        ana=make_user(full_name="Ana Torres", email="ana@example.com", phone="+56 9 1234 5678"),
        ben=make_user(full_name="Ben O'Neil", email="ben_o@example.com", phone="(2) 2765-4321"),
        pct=make_user(full_name="Ann 100% Real", email="ann@example.com"),
        back=make_user(full_name="Back\\Slash", email="back@example.com"),
        accented=make_user(full_name="Ángela Ñuñez", email="angela@example.com"),
        staff=make_user(role="reception", full_name="Ana Desk", email="ana.desk@example.com", phone="+56 9 1234 5678"),
    )


SEARCHES = [
    ("ana", {"ana"}), ("  TORRES  ", {"ana"}), ("Ana   Torres", {"ana"}), ("ben_o@", {"ben"}),
    ("a_t", set()), ("%", set()), ("%%", set()), ("0%", {"pct"}), ("100%", {"pct"}), ("n%r", set()),
    ("k\\s", {"back"}), ("\\", set()), ("12345678", {"ana"}), ("9 1234-5678", {"ana"}), ("276", {"ben"}),
    ("a", set()), ("", set()), (None, set()), ("o'n", {"ben"}),
    # Clinic names are not all ASCII: case-insensitive on every database.
    ("Ángela", {"accented"}), ("ángela", {"accented"}), ("ÁNGELA ÑUÑEZ", {"accented"}), ("ñuñez", {"accented"}),
]


def test_patient_search(app, people):
    """Name, email or phone digits; LIKE wildcards are literal; staff are never found."""
    with app.app_context():
        for query, expected in SEARCHES:
            found = {user.id for user in patients.search(query)}
            assert found == {people[name] for name in expected}, query


def test_patient_search_is_limited(app, make_user):
    for n in range(patients.SEARCH_LIMIT + 5):
        make_user(full_name=f"Same Name {n:02d}")
    with app.app_context():
        found = patients.search("same name")
    assert len(found) == patients.SEARCH_LIMIT
    assert [u.full_name for u in found] == sorted(u.full_name for u in found)


def test_register_at_desk(app, make_user):
    desk = make_user(role="reception")
    with app.app_context():
        actor, link = db.session.get(User, desk), "http://clinica.test/password-reset/{}".format
        made = patients.register_at_desk(actor=actor, full_name="Nina Nueva", email=" Nina@Example.COM ",
                                         phone=" +56  9 8765 4321 ", make_link=link, now=NOW)
        assert (made.email, made.phone, made.role) == ("nina@example.com", "+56 9 8765 4321", "patient")
        assert not made.check_password("") and not made.check_password("Nina Nueva")
        with pytest.raises(InvalidInput, match="Another account already uses this email address") as caught:
            patients.register_at_desk(actor=actor, full_name="Other", email="NINA@example.com", make_link=link,
                                      now=NOW)
        assert caught.value.field == "email"
        db.session.rollback()
        for phone in ("call me", "+56 9 1234 5678 ext 2", "1" * 41):
            with pytest.raises(InvalidInput, match="A phone number has digits") as caught:
                patients.register_at_desk(actor=actor, full_name="Other", email="other@example.com", phone=phone,
                                          make_link=link, now=NOW)
            assert caught.value.field == "phone"
        db.session.rollback()
        assert db.session.scalar(select(func.count(User.id)).where(User.role == "patient")) == 1


def test_get_patient_refuses_staff_and_missing_ids(app, ids):
    with app.app_context():
        assert patients.get_patient(ids.patient).id == ids.patient
        for bad in (ids.desk, ids.rossi_user, 999999, None, "1", 2**40):
            with pytest.raises(InvalidInput, match="Choose a patient"):
                patients.get_patient(bad)


# ---------------------------------------------------------------------------------------------
# The day list and its CSV


def test_day_list_flags_late_rows_and_undo(app, ids, make_user, make_appointment):
    on_time = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="10:00")
    late = make_appointment(doctor_id=ids.rossi, patient_id=make_user(), day=MONDAY, hhmm="09:00")
    arrived = make_appointment(doctor_id=ids.bianchi, patient_id=make_user(), day=MONDAY, hhmm="09:00")
    make_appointment(doctor_id=ids.bianchi, patient_id=make_user(), day=MONDAY + timedelta(days=1), hhmm="09:00")
    with app.app_context():
        staff_actions.change_status(actor=user(ids.desk), appointment=appointment(arrived), to_status=ARRIVED,
                                    now=AT_MONDAY_VISIT)
        listing = day_list.day_list(user(ids.desk), day=MONDAY, now=instant(MONDAY, "10:00"))
        rows = {row.id: row for row in listing.rows}
        # Doctors by name, then time.
        assert [row.id for row in listing.rows] == [late, on_time, arrived]
        assert (rows[late].late, rows[on_time].late, rows[arrived].late) == (True, False, False)
        assert (rows[late].can_undo, rows[arrived].can_undo) == (False, True)
        assert rows[late].next_statuses == (ARRIVED, NO_SHOW) and rows[arrived].next_statuses == (COMPLETED,)
        names = [doctor.display_name for doctor, _rows in listing.by_doctor()]
        assert names == ["Dr. Laura Rossi", "Dr. Marco Bianchi"]
        own = day_list.day_list(user(ids.rossi_user), day=MONDAY, now=NOW)
        assert [row.id for row in own.rows] == [late, on_time]
        assert [d.id for d in own.doctors] == [ids.rossi]
        assert day_list.day_list(user(ids.rossi_user), day=MONDAY, doctor_id=ids.bianchi, now=NOW).rows == []
        assert day_list.day_list(user(ids.patient), day=MONDAY, now=NOW).rows == []


CELLS = [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("Ana = Ana", "Ana = Ana"), ("O'Neil", "O'Neil"),
]


def test_csv_cells_that_would_run_as_formulas_are_quoted(app, ids, make_user, make_appointment):
    for n, (value, _cell) in enumerate(CELLS):
        make_appointment(doctor_id=ids.rossi, patient_id=make_user(full_name=value, phone=value), day=MONDAY,
                         hhmm=f"{9 + n:02d}:00")
    with app.app_context():
        text = day_list.as_csv(day_list.day_list(user(ids.desk), day=MONDAY, now=NOW))
    [header, *rows] = list(csv.reader(io.StringIO(text)))
    assert header == day_list.CSV_COLUMNS
    assert [(row[3], row[4]) for row in rows] == [(cell, cell) for _value, cell in CELLS]


# ---------------------------------------------------------------------------------------------
# Hours and closures


def test_only_admins_close_the_clinic_and_a_closure_lists_every_doctors_bookings(app, ids, make_appointment):
    first = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    second = make_appointment(doctor_id=ids.bianchi, patient_id=ids.patient, day=MONDAY, hhmm="15:00")
    with app.app_context():
        for actor in (ids.rossi_user, ids.desk):
            with pytest.raises(NotAllowed):
                schedule.add_blocked_period(actor=user(actor), doctor_id=None, start_date=MONDAY.isoformat(),
                                            end_date=None, now=NOW)
            db.session.rollback()
        period, affected = schedule.add_blocked_period(actor=user(ids.admin), doctor_id=None,
                                                       start_date=MONDAY.isoformat(), end_date=None, now=NOW)
        assert period.doctor_id is None and [a.id for a in affected] == [first, second]
        assert availability.free_slots(db.session.get(Doctor, ids.rossi), MONDAY, 30, now=NOW) == []


def test_a_doctor_manages_only_their_own_windows(app, ids):
    with app.app_context():
        with pytest.raises(NotAllowed, match="You can only change your own hours"):
            schedule.add_window(actor=user(ids.rossi_user), doctor_id=ids.bianchi, weekday=5, start="09:00",
                                end="10:00")
        db.session.rollback()
        for actor in (ids.desk, ids.patient):
            with pytest.raises(NotAllowed):
                schedule.add_window(actor=user(actor), doctor_id=ids.rossi, weekday=5, start="09:00", end="10:00")
            db.session.rollback()
        schedule.add_window(actor=user(ids.rossi_user), doctor_id=ids.rossi, weekday="6", start="09:00",
                            end="24:00")
        assert availability.weekly_windows(availability.active_doctor(ids.rossi))[6] == [(540, 1440)]
        with pytest.raises(NotFound):
            schedule.add_window(actor=user(ids.admin), doctor_id=999999, weekday=5, start="09:00", end="10:00")


# ---------------------------------------------------------------------------------------------
# The audit trail


def test_audit_record_keeps_one_row_per_access(app, ids, make_appointment):
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        audit.record(actor=user(ids.desk), action="viewed appointment", patient_id=ids.patient,
                     appointment_id=appointment_id, now=NOW)
        audit.record(actor=user(ids.admin), action="x" * 60, detail="d" * 300, now=NOW + timedelta(minutes=1))
        [second, first] = audit.recent()
        assert (first.actor_id, first.action, first.patient_id, first.appointment_id, first.at) == (
            ids.desk, "viewed appointment", ids.patient, appointment_id, NOW)
        assert (len(second.action), len(second.detail)) == (40, 200)
        assert [e.id for e in audit.recent(patient="ana torres")] == [first.id]
        assert [e.id for e in audit.recent(staff="Admin@Example")] == [second.id]
        assert db.session.scalar(select(func.count(AccessEvent.id))) == 2


@pytest.mark.parametrize("reason, late", [("patient_called", True), ("cannot_attend", True),
                                          ("doctor_unavailable", False), ("clinic_closed", False)])
def test_a_cancellation_inside_the_cutoff_is_late_unless_the_clinic_caused_it(app, ids, make_appointment, reason,
                                                                              late):
    """Counted against the patient (their page, the reports): not when the doctor is away or the
    clinic closes."""
    appointment_id = make_appointment(doctor_id=ids.rossi, patient_id=ids.patient, day=MONDAY, hhmm="09:00")
    with app.app_context():
        staff_actions.cancel_by_staff(actor=user(ids.desk), appointment=appointment(appointment_id), reason=reason,
                                      now=instant(MONDAY, "08:00"))
        assert appointment(appointment_id).late_cancellation is late
