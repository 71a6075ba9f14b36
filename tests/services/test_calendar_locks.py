"""A doctor's row is the lock of their calendar: a booking being made share-locks it
(booking.check_bookable), and a change to the doctor or their hours locks it (staff.set_doctor_active,
schedule.managed_doctor). Each test forces the interleaving that went wrong without the lock, on
both databases (SQLite lets one writer in at a time, so there it held already)."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from clinica_web.extensions import db
from clinica_web.models import ADMIN, SCHEDULED, Appointment, OutboxEmail, User, WaitlistOffer, WeeklyHours
from clinica_web.models.outbox import PENDING, REMINDER
from clinica_web.services import booking, clinic, reminders, schedule, slots, staff, staff_actions, waitlist
from clinica_web.services.errors import DomainError
from tests.conftest import PASSWORD, next_weekday

pytestmark = pytest.mark.concurrency
MONDAY = next_weekday(0, weeks=1)


@pytest.fixture
def world(committing_app):
    """A doctor (Mondays 09:00-12:00), an admin and a patient, committed."""
    from clinica_web.models import AppointmentType, Doctor
    app = committing_app
    with app.app_context():
        db.session.add(AppointmentType(name="consultation", label="Consultation", default_duration=30))
        doctor = Doctor(display_name="Dr. Lock", specialty="General Practice",
                        weekly_hours=[WeeklyHours(weekday=0, start_minute=540, end_minute=720)])
        admin = User(email="admin@example.com", full_name="Ada Admin", role=ADMIN)
        patient = User(email="pat@example.com", full_name="Pat Patient", role="patient")
        for person in (admin, patient):
            person.set_password(PASSWORD)
        db.session.add_all([doctor, admin, patient])
        db.session.commit()
        return app, doctor.id, admin.id, patient.id


def in_thread(app, call, results, name):
    def run():
        with app.app_context():
            try:
                results[name] = call()
            except DomainError as error:
                results[name] = error.message
    return threading.Thread(target=run)


def run_together(app, calls: dict) -> dict:
    """Run each call at once, each in a thread and an app context of its own: {name: its result,
    or the message of the DomainError it raised}."""
    results = {}
    threads = [in_thread(app, call, results, name) for name, call in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def pausing_after(module, name, monkeypatch, seconds=0.5):
    """Make module.name signal an Event once it has run (the first time), then pause, holding
    whatever its transaction has locked; returns the Event."""
    done, real = threading.Event(), getattr(module, name)

    def paused(*args, **kwargs):
        result = real(*args, **kwargs)
        if not done.is_set():
            done.set()
            time.sleep(seconds)
        return result

    monkeypatch.setattr(module, name, paused)
    return done


def waiting_for_a_lock(transactions, seconds=20):
    """Return once `transactions` others of this PostgreSQL database wait for a lock (at most
    `seconds`): a forced interleaving that does not depend on how busy the machine is."""
    deadline = time.monotonic() + seconds
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar()
            if waiting >= transactions:
                return
            connection.rollback()
            time.sleep(0.02)
    raise AssertionError(f"{transactions} transactions never waited for a lock")


def another_doctor(app, name):
    """A second doctor of the same specialty and hours (Mondays 09:00-12:00), committed: its id."""
    from clinica_web.models import Doctor
    with app.app_context():
        doctor = Doctor(display_name=name, specialty="General Practice",
                        weekly_hours=[WeeklyHours(weekday=0, start_minute=540, end_minute=720)])
        db.session.add(doctor)
        db.session.commit()
        return doctor.id


def booking_at(app, patient_id, doctor_id, hhmm):
    def book():
        patient = db.session.get(User, patient_id)
        return booking.book(actor=patient, patient=patient, doctor_id=doctor_id, date=MONDAY.isoformat(), time=hhmm,
                            now=clinic.now()).id
    return book


def test_a_doctor_hidden_while_a_booking_is_made_lists_that_booking_to_move(world, monkeypatch):
    app, doctor_id, admin_id, patient_id = world
    checked = pausing_after(booking, "check_bookable", monkeypatch)

    def hide():
        checked.wait(timeout=20)
        _doctor, upcoming = staff.set_doctor_active(actor=db.session.get(User, admin_id), doctor_id=doctor_id,
                                                    active=False, now=clinic.now())
        return [visit.id for visit in upcoming]

    results = run_together(app, {"booked": booking_at(app, patient_id, doctor_id, "10:00"), "to move": hide})
    assert isinstance(results["booked"], int)
    assert results["to move"] == [results["booked"]]  # the admin is told to move it


def test_a_window_added_twice_at_once_is_added_once(world, monkeypatch):
    app, doctor_id, admin_id, _patient_id = world
    both_checked, read = threading.Barrier(2, timeout=1), schedule.weekly_windows

    def read_together(doctor):
        windows = read(doctor)
        try:  # both read before either adds, unless the doctor's lock makes the second wait
            both_checked.wait()
        except threading.BrokenBarrierError:
            pass
        return windows

    monkeypatch.setattr(schedule, "weekly_windows", read_together)

    def add():
        return schedule.add_window(actor=db.session.get(User, admin_id), doctor_id=doctor_id, weekday=2,
                                   start="14:00", end="17:00").id

    results = run_together(app, {"first": add, "second": add})
    assert sorted(map(str, results.values()))[1] == "Overlaps the window 14:00–17:00", results
    with app.app_context():
        assert db.session.execute(select(WeeklyHours.start_minute, WeeklyHours.end_minute).where(
            WeeklyHours.doctor_id == doctor_id, WeeklyHours.weekday == 2)).all() == [(840, 1020)]


def test_reminders_turned_on_while_the_patient_books_are_planned_for_that_booking(world, monkeypatch):
    app, doctor_id, admin_id, patient_id = world
    with app.app_context():
        db.session.get(User, patient_id).wants_reminders = False
        db.session.commit()
    checked = pausing_after(booking, "check_bookable", monkeypatch)

    def turn_on():
        checked.wait(timeout=20)
        reminders.set_wanted(actor=db.session.get(User, admin_id), patient=db.session.get(User, patient_id),
                             wanted=True, now=clinic.now())

    results = run_together(app, {"booked": booking_at(app, patient_id, doctor_id, "10:00"), "turned on": turn_on})
    with app.app_context():
        due = db.session.scalars(select(OutboxEmail.next_attempt_at).where(
            OutboxEmail.kind == REMINDER, OutboxEmail.status == PENDING,
            OutboxEmail.appointment_id == results["booked"]).order_by(OutboxEmail.next_attempt_at)).all()
        start = clinic.to_local(max(due) + timedelta(hours=2)) if due else None
    assert len(due) == len(app.config["REMINDER_HOURS"]) and start.strftime("%H:%M") == "10:00"


def test_reminders_turned_on_while_the_patient_moves_a_visit_are_planned_for_its_new_time(world, monkeypatch):
    app, doctor_id, admin_id, patient_id = world
    with app.app_context():
        visit = booking_at(app, patient_id, doctor_id, "10:00")()
        db.session.get(User, patient_id).wants_reminders = False
        db.session.commit()
    checked = pausing_after(booking, "check_bookable", monkeypatch)

    def move():
        patient = db.session.get(User, patient_id)
        return booking.reschedule_by_patient(patient=patient, appointment_id=visit, date=MONDAY.isoformat(),
                                             time="11:00", now=clinic.now()).sequence

    def turn_on():
        checked.wait(timeout=20)
        reminders.set_wanted(actor=db.session.get(User, admin_id), patient=db.session.get(User, patient_id),
                             wanted=True, now=clinic.now())

    results = run_together(app, {"moved": move, "turned on": turn_on})
    with app.app_context():
        planned = db.session.execute(select(OutboxEmail.sequence, OutboxEmail.next_attempt_at).where(
            OutboxEmail.kind == REMINDER, OutboxEmail.status == PENDING, OutboxEmail.appointment_id == visit)).all()
        last_due = clinic.to_local(max(due for _sequence, due in planned) + timedelta(hours=2)) if planned else None
    assert results["moved"] == 1 and len(planned) == len(app.config["REMINDER_HOURS"])
    assert {sequence for sequence, _due in planned} == {1} and last_due.strftime("%H:%M") == "11:00"  # the new time


def test_a_closure_added_while_a_booking_is_made_lists_that_booking(world, monkeypatch):
    app, doctor_id, admin_id, patient_id = world
    checked = pausing_after(booking, "check_bookable", monkeypatch)

    def close():
        checked.wait(timeout=20)
        _period, during = schedule.add_blocked_period(
            actor=db.session.get(User, admin_id), doctor_id=None, start_date=MONDAY.isoformat(), end_date=None,
            reason="Strike", now=clinic.now())
        return [visit.id for visit in during]

    results = run_together(app, {"booked": booking_at(app, patient_id, doctor_id, "10:00"), "to move": close})
    assert isinstance(results["booked"], int) and results["to move"] == [results["booked"]]


def test_the_worker_offers_freed_time_while_an_admin_changes_that_doctors_hours(world, monkeypatch):
    """Changing hours locks the doctor's row; the worker's hold (a row pointing at the doctor)
    is not held up by it, so it neither gives the slot up nor fails its pass."""
    app, doctor_id, admin_id, patient_id = world
    with app.app_context():
        entry = waitlist.join(patient=db.session.get(User, patient_id), doctor_id=doctor_id,
                              appointment_type="consultation", from_date=MONDAY.isoformat(),
                              to_date=MONDAY.isoformat(), now=clinic.now()).id
        start = slots.local_instant(MONDAY, 600, clinic.tz())
        waitlist.time_freed(doctor_id, start, start + timedelta(minutes=30), now=clinic.now())
        db.session.commit()
    locking = pausing_after(schedule, "managed_doctor", monkeypatch, seconds=1.5)

    def add_hours():
        return schedule.add_window(actor=db.session.get(User, admin_id), doctor_id=doctor_id, weekday=2,
                                   start="14:00", end="17:00").id

    def worker_pass():
        locking.wait(timeout=20)
        return waitlist.offer_freed_time(now=clinic.now())

    results = run_together(app, {"hours": add_hours, "offers": worker_pass})
    assert results["offers"] == 1 and isinstance(results["hours"], int)
    with app.app_context():
        assert db.session.execute(select(WaitlistOffer.entry_id, WaitlistOffer.starts_at)).all() == [(entry, start)]


@pytest.mark.parametrize("first", ["the booking", "the time off"])
def test_time_off_added_while_a_held_time_is_booked(world, monkeypatch, first):
    """'Book it' checks the held time is still on the doctor's calendar, under the doctor's share
    lock: time off added at that moment either waits and then lists the new booking to move, or
    comes first and the booking is refused. Never a booking inside time off that nobody is told of."""
    app, doctor_id, admin_id, patient_id = world
    with app.app_context():
        waitlist.join(patient=db.session.get(User, patient_id), doctor_id=doctor_id, appointment_type="consultation",
                      from_date=MONDAY.isoformat(), to_date=MONDAY.isoformat(), now=clinic.now())
        start = slots.local_instant(MONDAY, 600, clinic.tz())
        waitlist.time_freed(doctor_id, start, start + timedelta(minutes=30), now=clinic.now())
        db.session.commit()
        assert waitlist.offer_freed_time(now=clinic.now()) == 1
        offer = db.session.scalars(select(WaitlistOffer)).one()
        token = waitlist.answer_tokens(offer)["accept"]
    if first == "the booking":
        paused = pausing_after(waitlist, "_calendar_stops", monkeypatch)
    else:
        paused = pausing_after(schedule, "managed_doctor", monkeypatch)

    def book():
        if first != "the booking":
            paused.wait(timeout=20)
        return waitlist.accept(token, now=clinic.now()).id

    def time_off():
        if first == "the booking":
            paused.wait(timeout=20)
        _period, inside = schedule.add_blocked_period(
            actor=db.session.get(User, admin_id), doctor_id=doctor_id, start_date=MONDAY.isoformat(),
            end_date=None, start_time="10:00", end_time="11:00", reason="Away", now=clinic.now())
        return [visit.id for visit in inside]

    results = run_together(app, {"booked": book, "to move": time_off})
    if first == "the booking":
        assert isinstance(results["booked"], int) and results["to move"] == [results["booked"]]
    else:
        assert results["booked"] == "Offer expired" and results["to move"] == []
        with app.app_context():
            assert db.session.scalar(select(func.count(Appointment.id)).where(Appointment.status == SCHEDULED)) == 0


def test_one_patients_two_bookings_at_once_queue_at_the_patient(world, monkeypatch):
    """Two bookings of one patient for the same time with two doctors: the second waits for the
    first at the patient's row, then the rules' check refuses it. (Both went on to insert at once,
    and the patient's overlap guard, checking each against the other, could deadlock: a 500.)"""
    app, doctor_id, _admin_id, patient_id = world
    other_id = another_doctor(app, "Dr. Other")
    order, real = [], booking.check_bookable

    def checking(*args, **kwargs):
        order.append(f"check {args[0].doctor_id}")
        result = real(*args, **kwargs)
        time.sleep(0.5)  # the first holds its locks a while: the second must not get past the patient
        return result

    monkeypatch.setattr(booking, "check_bookable", checking)
    real_record = booking.history.record

    def recording(appointment, kind, **kwargs):
        order.append(f"booked {appointment.doctor.id}")
        return real_record(appointment, kind, **kwargs)

    monkeypatch.setattr(booking.history, "record", recording)
    results = run_together(app, {"first": booking_at(app, patient_id, doctor_id, "10:00"),
                                 "second": booking_at(app, patient_id, other_id, "10:00")})
    assert sorted(map(str, results.values()))[-1] == "You already have a booking at this time", results
    first = order[0].split()[1]
    assert order == [f"check {first}", f"booked {first}", f"check {other_id if first == str(doctor_id) else doctor_id}"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer, no deadlock
@pytest.mark.parametrize("other_ends", ["commit", "rollback"])
def test_a_deadlock_in_the_overlap_guard_is_waited_out_not_a_500(world, other_ends):
    """Another transaction holds 10:00 uncommitted; the booking of 10:15 waits for it in the
    doctor's overlap guard; that transaction then inserts 10:30, which waits for the booking's
    row: PostgreSQL fails the booking as the deadlock's victim. The booking runs again and waits
    for the other transaction: once it commits, the booking is told the time is taken (true by
    then); should it roll back, the booking takes the time. (Told "taken" at once, before,
    the patient could read 10:15 as free a moment later, or be refused a time nobody took.)

    PostgreSQL looks for a deadlock once per wait, deadlock_timeout after it began, and fails the
    one that looked. The booking must be the one: its look comes 4 s into its wait, by when the
    other transaction waits too unless the machine stalls that long (at 1 s, a slow CI run had the
    booking look too early, find no cycle, and the other transaction fail); the other looks only
    after a minute. (ALTER DATABASE ... SET deadlock_timeout needs a superuser, as CI's is.)"""
    from clinica_web.models import Appointment
    app, doctor_id, _admin_id, patient_id = world
    with app.app_context():
        db.session.execute(text(f'ALTER DATABASE "{db.engine.url.database}" SET deadlock_timeout = \'4s\''))
        db.session.commit()
        db.engine.dispose()  # the booking's connection is a new one, with that setting
        other = User(email="other@example.com", full_name="Other Patient", role="patient")
        other.set_password(PASSWORD)
        db.session.add(other)
        db.session.commit()
        other_id = other.id

        def visit(hhmm):
            start = slots.local_instant(MONDAY, int(hhmm[:2]) * 60 + int(hhmm[3:]), clinic.tz())
            return {"patient_id": other_id, "doctor_id": doctor_id, "starts_at": start,
                    "ends_at": start + timedelta(minutes=30), "duration_minutes": 30, "status": SCHEDULED,
                    "appointment_type": "consultation", "notes": "", "sequence": 0, "created_at": start,
                    "updated_at": start}

        with db.engine.connect() as elsewhere:
            elsewhere.execute(text("SET deadlock_timeout = '1min'"))
            elsewhere.execute(Appointment.__table__.insert(), visit("10:00"))
            booking_thread = in_thread(app, booking_at(app, patient_id, doctor_id, "10:15"), results := {}, "booked")
            booking_thread.start()
            waiting_for_a_lock(1)  # the booking waits for 10:00 in the guard
            elsewhere.execute(Appointment.__table__.insert(), visit("10:30"))  # this for the booking: a deadlock
            waiting_for_a_lock(1)  # the booking, run again, waits for this transaction's end
            assert booking_thread.is_alive() and results == {}
            getattr(elsewhere, other_ends)()
            booking_thread.join(timeout=20)
    with app.app_context():
        booked = db.session.scalars(select(Appointment).where(Appointment.patient_id == patient_id)).all()
    if other_ends == "commit":
        assert results == {"booked": "Time slot overlaps with another booking"} and booked == []
    else:
        assert [appointment.id for appointment in booked] == [results["booked"]]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer, no deadlock
def test_a_move_a_booking_of_the_same_patient_and_a_closure_at_once_all_go_through(world, monkeypatch):
    """The order every write takes its locks, patient before doctors: a move that took the
    patient's lock after its new doctor's share lock closed a cycle with a booking of the same
    patient (patient held, waiting for its doctor) and a clinic closure (which locks every doctor
    in id order: the booking's doctor taken, the move's awaited). PostgreSQL failed one of them
    as a deadlock, a 500."""
    from clinica_web.models import BlockedPeriod
    app, first_doctor, admin_id, patient_id = world
    second_doctor = another_doctor(app, "Dr. Second")
    moving = run_together(app, {"id": booking_at(app, patient_id, first_doctor, "09:00")})["id"]
    # The booking holds the patient's lock for a while before share-locking its doctor.
    patient_locked = pausing_after(booking, "locked_again", monkeypatch, seconds=1.5)
    move_started = threading.Event()

    def move():  # to the second doctor: its check share-locks that doctor
        patient_locked.wait(timeout=20)
        move_started.set()
        admin = db.session.get(User, admin_id)
        moved = staff_actions.reschedule(actor=admin, appointment=db.session.get(Appointment, moving),
                                         starts_at=slots.local_instant(MONDAY, 10 * 60, clinic.tz()),
                                         doctor_id=second_doctor, now=clinic.now())
        return moved.doctor_id

    def close():  # another day: it locks every doctor all the same, the first then the second
        move_started.wait(timeout=20)
        waiting_for_a_lock(1)  # the move has got as far as it can: it waits for the booking's patient
        tuesday = (MONDAY + timedelta(days=1)).isoformat()
        period, _inside = schedule.add_blocked_period(actor=db.session.get(User, admin_id), doctor_id=None,
                                                      start_date=tuesday, end_date=tuesday, reason="Inventory",
                                                      now=clinic.now())
        return period.id

    results = run_together(app, {"booked": booking_at(app, patient_id, first_doctor, "11:00"), "moved": move,
                                 "closed": close})
    assert results.keys() == {"booked", "moved", "closed"}, results  # a thread that raised has no result
    assert results["moved"] == second_doctor and isinstance(results["booked"], int)
    with app.app_context():
        visits = db.session.execute(select(Appointment.doctor_id, Appointment.starts_at)
                                    .where(Appointment.patient_id == patient_id).order_by(Appointment.starts_at)).all()
        assert [(doctor, clinic.to_local(start).strftime("%H:%M")) for doctor, start in visits] == [
            (second_doctor, "10:00"), (first_doctor, "11:00")]
        assert db.session.scalar(select(func.count(BlockedPeriod.id))) == 1


@pytest.mark.parametrize("doctor", [True, False], ids=["time-off", "closure"])
def test_the_same_time_blocked_twice_at_once_is_blocked_once(world, doctor):
    from clinica_web.models import BlockedPeriod
    app, doctor_id, admin_id, _patient_id = world

    def block():
        period, _inside = schedule.add_blocked_period(
            actor=db.session.get(User, admin_id), doctor_id=doctor_id if doctor else None,
            start_date=MONDAY.isoformat(), end_date=MONDAY.isoformat(), reason="Course", now=clinic.now())
        return period.id

    results = run_together(app, {"first": block, "second": block})
    assert sorted(map(type, results.values()), key=str) == [int, str], results
    assert "This time is already blocked" in results.values()
    with app.app_context():
        assert db.session.scalar(select(func.count(BlockedPeriod.id))) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer at a time
@pytest.mark.parametrize("doctor", [True, False], ids=["time off", "closure"])
def test_the_same_time_off_removed_twice_at_once_is_removed_once(world, doctor, monkeypatch):
    """Two removals at once: the first holds the period while it frees its time; the second then
    finds it gone ("not found"), and the waitlist is told of the freed time once, not twice."""
    from clinica_web.models import BlockedPeriod, FreedTime
    app, doctor_id, admin_id, _patient_id = world
    with app.app_context():
        period, _inside = schedule.add_blocked_period(
            actor=db.session.get(User, admin_id), doctor_id=doctor_id if doctor else None,
            start_date=MONDAY.isoformat(), end_date=MONDAY.isoformat(), reason="Course", now=clinic.now())
        period_id = period.id
    pausing_after(schedule, "managed_period", monkeypatch)

    def remove():
        schedule.remove_blocked_period(actor=db.session.get(User, admin_id), period_id=period_id, now=clinic.now())
        return "removed"

    results = run_together(app, {"first": remove, "second": remove})
    assert sorted(results.values()) == ["Blocked period not found", "removed"], results
    with app.app_context():
        assert db.session.scalar(select(func.count(BlockedPeriod.id))) == 0
        assert db.session.scalar(select(func.count(FreedTime.id))) == 1  # the one doctor's time, once
