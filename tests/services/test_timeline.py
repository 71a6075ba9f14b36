"""The desk's timeline (DESIGN.md section 20): which doctors get a column, the quarter-hour rows,
visits and periods placed on them, clashes, the free times of the slot engine, "now" and the
walk-in time."""
from datetime import timedelta

import pytest

from clinica_web.extensions import db
from clinica_web.models import ARRIVED, CANCELLED, COMPLETED, HELD, BlockedPeriod, Doctor, User
from clinica_web.services import availability, timeline
from clinica_web.services.errors import NotFound
from tests.conftest import instant, next_weekday

DAY = next_weekday(0, weeks=1)  # a Monday 8 to 14 days away
BEFORE = DAY - timedelta(days=3)  # the Friday before: the clock's day when DAY is not today


@pytest.fixture
def desk_user(make_user):
    return make_user(role="reception", email="desk@example.com", full_name="Rita Desk")


@pytest.fixture
def patient(make_user):
    return make_user(email="ana@example.com", full_name="Ana Torres")


def grid(app, actor_id, day=DAY, doctor_id=None, at=None):
    with app.app_context():
        return timeline.timeline(db.session.get(User, actor_id), day=day, doctor_id=doctor_id,
                                 now=at or instant(BEFORE, "12:00"))


def cells_of(found, name):
    """{row minute: cell} of the doctor called `name`."""
    [column] = [c for c in found.columns if c.doctor.display_name == name]
    return {cell.minute: cell for cell in column.cells}


def hhmm(text):
    hours, minutes = map(int, text.split(":"))
    return hours * 60 + minutes


def block(app, doctor_id, start, end, reason):
    with app.app_context():
        db.session.add(BlockedPeriod(doctor_id=doctor_id, starts_at=start, ends_at=end, reason=reason))
        db.session.commit()


# ---------------------------------------------------------------------------------------------
# Columns and rows


def test_a_column_for_each_doctor_who_works_that_day(app, make_doctor, make_appointment, patient, desk_user):
    make_doctor(name="Dr. Works Mondays", weekdays=[0])
    off_with_visit = make_doctor(name="Dr. Visit On A Day Off", weekdays=[2])
    off_with_block = make_doctor(name="Dr. Away On A Day Off", weekdays=[2])
    make_doctor(name="Dr. Tuesdays Only", weekdays=[1])
    make_appointment(doctor_id=off_with_visit, patient_id=patient, day=DAY, hhmm="10:00")
    block(app, off_with_block, instant(DAY, "09:00"), instant(DAY, "10:00"), "Congress")

    found = grid(app, desk_user)
    assert [c.doctor.display_name for c in found.columns] == [
        "Dr. Away On A Day Off", "Dr. Visit On A Day Off", "Dr. Works Mondays"]
    assert "Dr. Tuesdays Only" in [d.display_name for d in found.doctors]  # still one to pick


def test_a_doctor_sees_their_own_column_even_on_a_day_off(app, make_doctor):
    own = make_doctor(name="Dr. Own", weekdays=[2], with_user=True)
    make_doctor(name="Dr. Other")
    with app.app_context():
        user_id = db.session.get(Doctor, own).user_id
    found = grid(app, user_id)
    assert [c.doctor.display_name for c in found.columns] == ["Dr. Own"]
    assert found.rows == []  # no hours and no visits: nothing to draw
    with pytest.raises(NotFound):
        grid(app, user_id, doctor_id=own + 1)  # another doctor's: not theirs to see


def test_narrowed_to_one_doctor(app, make_doctor, desk_user):
    make_doctor(name="Dr. Laura Rossi")
    bianchi = make_doctor(name="Dr. Marco Bianchi", weekdays=[2])  # not on Mondays, asked for anyway
    found = grid(app, desk_user, doctor_id=bianchi)
    assert [c.doctor.display_name for c in found.columns] == ["Dr. Marco Bianchi"]
    with pytest.raises(NotFound):
        grid(app, desk_user, doctor_id=bianchi + 100)


def test_rows_run_from_the_earliest_opening_to_the_latest_close_and_any_visit_outside(
        app, make_doctor, make_appointment, patient, desk_user):
    make_doctor(name="Dr. Early", windows=(("08:00", "12:00"),))
    late = make_doctor(name="Dr. Late", windows=(("10:00", "19:00"),))
    found = grid(app, desk_user)
    assert [row.minute for row in found.rows] == list(range(hhmm("08:00"), hhmm("19:00"), 15))

    make_appointment(doctor_id=late, patient_id=patient, day=DAY, hhmm="19:30", duration=45)
    found = grid(app, desk_user)
    assert (found.rows[0].minute, found.rows[-1].minute) == (hhmm("08:00"), hhmm("20:00"))
    assert cells_of(found, "Dr. Late")[hhmm("19:30")].visits[0].patient_name == "Ana Torres"
    assert cells_of(found, "Dr. Early")[hhmm("12:00")].kind == timeline.OFF  # off from noon to 20:15
    assert cells_of(found, "Dr. Early")[hhmm("12:00")].span == (hhmm("20:15") - hhmm("12:00")) // 15


# ---------------------------------------------------------------------------------------------
# Visits, periods, clashes


def test_visits_span_their_quarter_hours_and_cancelled_ones_are_not_shown(
        app, make_doctor, make_appointment, make_user, patient, desk_user):
    doctor = make_doctor(name="Dr. Laura Rossi")
    ben = make_user(full_name="Ben Carter")
    make_appointment(doctor_id=doctor, patient_id=patient, day=DAY, hhmm="09:30", duration=45,
                     appointment_type="procedure")
    make_appointment(doctor_id=doctor, patient_id=ben, day=DAY, hhmm="11:00", status=CANCELLED)
    make_appointment(doctor_id=doctor, patient_id=ben, day=DAY, hhmm="12:00", duration=20, status=HELD)
    found = grid(app, desk_user)
    cells = cells_of(found, "Dr. Laura Rossi")

    visit_cell = cells[hhmm("09:30")]
    assert (visit_cell.kind, visit_cell.span) == (timeline.VISITS, 3)
    [visit] = visit_cell.visits
    assert (visit.patient_name, visit.visit_label, visit.status) == ("Ana Torres", "Procedure", "scheduled")
    # The rows it covers have no cell of their own in its column.
    column = [c.doctor.display_name for c in found.columns].index("Dr. Laura Rossi")
    by_minute = {row.minute: row.cells[column] for row in found.rows}
    assert by_minute[hhmm("09:45")] is None and by_minute[hhmm("10:00")] is None
    assert by_minute[hhmm("10:15")] is not None

    assert cells[hhmm("11:00")].kind != timeline.VISITS  # cancelled: its time is free again
    held = cells[hhmm("12:00")]
    assert (held.kind, held.span, held.visits[0].is_held) == (timeline.VISITS, 2, True)  # 20 minutes: two rows


def test_a_visit_inside_time_off_is_a_clash_and_the_period_keeps_its_reason(
        app, make_doctor, make_appointment, make_user, patient, desk_user):
    doctor = make_doctor(name="Dr. Laura Rossi")
    make_appointment(doctor_id=doctor, patient_id=patient, day=DAY, hhmm="11:00")
    make_appointment(doctor_id=doctor, patient_id=make_user(full_name="Done Already"), day=DAY, hhmm="12:00",
                     status=COMPLETED)
    block(app, doctor, instant(DAY, "10:30"), instant(DAY, "13:00"), "Training")
    cells = cells_of(grid(app, desk_user), "Dr. Laura Rossi")

    [visit] = cells[hhmm("11:00")].visits
    assert visit.clash.reason == "Training" and not visit.clash.is_closure
    [done] = cells[hhmm("12:00")].visits
    assert done.clash is None  # the day list's rule: only a visit that can still move is flagged
    # The period is shaded around the visits, with its reason each time.
    for start, span in (("10:30", 2), ("11:30", 2), ("12:30", 2)):
        period = cells[hhmm(start)]
        assert (period.kind, period.span, period.period.reason) == (timeline.PERIOD, span, "Training")
    assert cells[hhmm("10:15")].kind == timeline.OPEN  # 10:15-10:45 overlaps the block: not free
    assert cells[hhmm("10:00")].kind == timeline.FREE


def test_a_clinic_closure_is_shaded_in_every_column_with_its_reason(
        app, make_doctor, make_appointment, patient, desk_user):
    rossi = make_doctor(name="Dr. Laura Rossi")
    make_doctor(name="Dr. Marco Bianchi", windows=(("08:00", "12:00"),))
    make_appointment(doctor_id=rossi, patient_id=patient, day=DAY, hhmm="09:00", status=ARRIVED)
    block(app, None, instant(DAY, "00:00"), instant(DAY + timedelta(days=1), "00:00"), "Clinic holiday")
    found = grid(app, desk_user)

    bianchi = cells_of(found, "Dr. Marco Bianchi")
    assert set(bianchi) == {hhmm("08:00")}  # one cell, the whole day
    assert (bianchi[hhmm("08:00")].period.reason, bianchi[hhmm("08:00")].period.is_closure) == (
        "Clinic holiday", True)
    rossi_cells = cells_of(found, "Dr. Laura Rossi")
    assert rossi_cells[hhmm("09:00")].visits[0].clash.reason == "Clinic holiday"
    assert not [c for col in found.columns for c in col.cells if c.kind == timeline.FREE]


# ---------------------------------------------------------------------------------------------
# Free times, now, walk-ins


def test_the_free_times_are_the_slot_engines_for_the_default_visit_type(
        app, make_doctor, make_appointment, patient, desk_user):
    doctor = make_doctor(name="Dr. Laura Rossi")
    make_appointment(doctor_id=doctor, patient_id=patient, day=DAY, hhmm="10:00", duration=15)
    make_appointment(doctor_id=doctor, patient_id=patient, day=DAY, hhmm="10:45", duration=30)
    block(app, doctor, instant(DAY, "15:00"), instant(DAY, "16:00"), "Errand")
    at = instant(DAY, "09:20")  # today: the times before now are not free either
    found = grid(app, desk_user, at=at)
    assert found.visit_type.name == "consultation"
    free = [minute for minute, cell in cells_of(found, "Dr. Laura Rossi").items() if cell.kind == timeline.FREE]
    with app.app_context():
        engine = availability.free_slots(availability.active_doctor(doctor), DAY, 30, now=at)
    assert free == engine
    assert hhmm("09:30") in free and hhmm("10:15") in free and hhmm("09:45") not in free
    assert cells_of(found, "Dr. Laura Rossi")[hhmm("09:00")].kind == timeline.OPEN  # past: not offered


def test_a_visit_from_the_day_before_holds_its_time_without_a_block_of_its_own(
        app, make_doctor, make_appointment, patient, desk_user):
    """The timeline reads the visits once, and their time is the slot engine's busy time: one that
    started yesterday at 23:30 still holds 00:00-00:30 of a doctor working from midnight."""
    doctor = make_doctor(name="Dr. Night Shift", weekdays=range(7), windows=(("00:00", "02:00"),))
    make_appointment(doctor_id=doctor, patient_id=patient, day=DAY - timedelta(days=1), hhmm="23:30", duration=60)
    found = grid(app, desk_user)
    cells = cells_of(found, "Dr. Night Shift")
    free = [minute for minute, cell in cells.items() if cell.kind == timeline.FREE]
    with app.app_context():
        engine = availability.free_slots(availability.active_doctor(doctor), DAY, 30, now=instant(BEFORE, "12:00"))
    assert free == engine == [hhmm("00:30"), hhmm("00:45"), hhmm("01:00"), hhmm("01:15"), hhmm("01:30")]
    assert cells[0].kind == timeline.OPEN and not [cell for cell in cells.values() if cell.kind == timeline.VISITS]


def test_now_is_marked_only_on_today(app, make_doctor, desk_user):
    make_doctor(name="Dr. Laura Rossi")
    today = grid(app, desk_user, at=instant(DAY, "10:07"))
    assert today.now == hhmm("10:07")
    assert [row.minute for row in today.rows if row.now] == [hhmm("10:00")]
    another_day = grid(app, desk_user, at=instant(BEFORE, "10:07"))
    assert another_day.now is None and not [row for row in another_day.rows if row.now]


@pytest.mark.parametrize("now, walk_in", [
    ("10:07", "10:15"),
    ("09:59", "10:00"),
    # Exactly on the quarter hour: a booking must start later than now (DESIGN.md section 5, rule 5),
    # so 10:00 could not be booked any more: the walk-in is at 10:15.
    ("10:00", "10:15"),
    ("12:50", None),  # 13:00: the doctor's lunch break, not free
])
def test_the_walk_in_time_is_the_next_free_quarter_hour(app, make_doctor, desk_user, now, walk_in):
    make_doctor(name="Dr. Laura Rossi")
    [column] = grid(app, desk_user, at=instant(DAY, now)).columns
    assert column.walk_in == (hhmm(walk_in) if walk_in else None)


def test_no_walk_in_when_that_time_is_taken_or_on_another_day(app, make_doctor, make_appointment, patient,
                                                              desk_user):
    doctor = make_doctor(name="Dr. Laura Rossi")
    make_appointment(doctor_id=doctor, patient_id=patient, day=DAY, hhmm="10:30")
    [column] = grid(app, desk_user, at=instant(DAY, "10:07")).columns
    assert column.walk_in is None  # 10:15-10:45 overlaps the 10:30 visit
    [column] = grid(app, desk_user, at=instant(BEFORE, "10:07")).columns
    assert column.walk_in is None
