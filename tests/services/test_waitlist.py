"""The waitlist service (DESIGN.md section 18), first part: joining, the list, leaving, and what an
entry covers. The API tests (tests/api/test_waitlist_api.py) go through each refusal's message;
these are the rules the API does not reach."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.extensions import db
from clinica_web.models import User, WaitlistEntry
from clinica_web.models.waitlist import ACTIVE, AFTERNOON, ANY_TIME, LEFT, MORNING
from clinica_web.services import waitlist
from clinica_web.services.errors import InvalidInput, NotAllowed, NotFound
from tests.conftest import instant

TODAY = date(2027, 3, 10)
NOW = instant(TODAY, "12:00")


@pytest.fixture
def people(app, clock, make_doctor, make_user):
    clock.set(NOW)
    return make_doctor(), make_user(email="ana@example.com"), make_user(email="ben@example.com")


def join(patient_id, **fields):
    fields = {"doctor_id": None, "specialty": "General Practice", "from_date": "2027-03-11",
              "to_date": "2027-03-20", **fields}
    return waitlist.join(patient=db.session.get(User, patient_id), now=NOW, **fields)


def test_join_stores_the_entry_with_its_defaults(app, people):
    doctor_id, ana, _ben = people
    with app.app_context():
        entry = join(ana, doctor_id=doctor_id, specialty=None)
        row = db.session.get(WaitlistEntry, entry.id)
        assert (row.patient_id, row.doctor_id, row.specialty, row.appointment_type, row.part_of_day, row.status,
                row.from_date, row.to_date, row.created_at, row.ended_at) == (
            ana, doctor_id, None, "consultation", ANY_TIME, ACTIVE, date(2027, 3, 11), date(2027, 3, 20), NOW, None)
        assert waitlist.describe(row) == "Dr. Laura Rossi"
        specialty = join(ana, from_date="2027-03-21", to_date="2027-03-30")  # (the doctor's wait is another)
        assert waitlist.describe(specialty) == "any doctor of General Practice"


def test_only_patients_join(app, people, make_user):
    desk = make_user(role="reception")
    with app.app_context(), pytest.raises(NotAllowed):
        join(desk)


@pytest.mark.parametrize("part_of_day", ["", None, "Morning", ["any"], {"any": 1}, 1])
def test_a_part_of_day_must_be_one_of_the_three(app, people, part_of_day):
    with app.app_context(), pytest.raises(InvalidInput, match="Choose a part of the day"):
        join(people[1], part_of_day=part_of_day)


def test_at_most_three_waiting_and_left_ones_do_not_count(app, people):
    _doctor, ana, ben = people
    with app.app_context():
        first = join(ana, part_of_day=MORNING)
        join(ana, part_of_day=AFTERNOON), join(ana, appointment_type="follow_up")
        with pytest.raises(InvalidInput, match="at most 3"):
            join(ana, appointment_type="therapy")
        join(ben)  # each patient has their own three
        waitlist.leave(patient=db.session.get(User, ana), entry_id=first.id, now=NOW)
        join(ana, part_of_day=MORNING)


def test_entries_whose_last_day_has_passed_do_not_count(app, people):
    """They are on no list (the patient's, the API's, the desk's), so they cannot be left: counted,
    they would shut the patient out of the waitlist for good."""
    _doctor, ana, _ben = people
    with app.app_context():
        join(ana, from_date="2027-03-13"), join(ana, appointment_type="follow_up"), join(ana, to_date="2027-03-11")
        with pytest.raises(InvalidInput, match="at most 3"):
            join(ana, appointment_type="therapy")
        two_days_on = instant(TODAY + timedelta(days=2), "09:00")
        patient = db.session.get(User, ana)
        # The 11th is over: the entry that ended then waits for nothing, counts for nothing, and
        # is no other wait's copy.
        fresh = waitlist.join(patient=patient, specialty="General Practice", from_date="2027-03-12",
                              to_date="2027-03-12", now=two_days_on)
        assert len(waitlist.entries_of(patient, now=two_days_on)) == 3
        assert fresh in waitlist.entries_of(patient, now=two_days_on)
        with pytest.raises(InvalidInput, match="at most 3"):
            waitlist.join(patient=patient, specialty="General Practice", appointment_type="therapy",
                          from_date="2027-03-13", to_date="2027-03-20", now=two_days_on)


@pytest.mark.parametrize("again", [
    {},  # the very same
    {"from_date": "2027-03-15", "to_date": "2027-03-16"},  # some of its days
    {"from_date": "2027-03-20", "to_date": "2027-04-02"},  # its last day, and more
    {"part_of_day": MORNING},  # inside "any time"
    {"doctor_id": "DOCTOR", "specialty": None},  # a doctor of the specialty waited for
], ids=["same", "days-inside", "last-day", "morning", "its-doctor"])
def test_waiting_again_for_some_of_what_an_entry_waits_for_is_refused(app, people, again):
    """Two entries for one wait could hold two times for the patient at once (each entry gets
    its own offer), and take two of the three places."""
    doctor_id, ana, ben = people
    again = {name: doctor_id if value == "DOCTOR" else value for name, value in again.items()}
    with app.app_context():
        first = join(ana)  # any doctor of General Practice, 11 to 20 March, any time
        with pytest.raises(InvalidInput, match="You are already waiting for this on some of these days"):
            join(ana, **again)
        join(ben, **again)  # another patient's wait is their own
        waitlist.leave(patient=db.session.get(User, ana), entry_id=first.id, now=NOW)
        join(ana, **again)  # the first one left, it is a wait of its own
        assert db.session.scalar(select(func.count(WaitlistEntry.id)).where(
            WaitlistEntry.patient_id == ana, WaitlistEntry.status == ACTIVE)) == 1


@pytest.mark.parametrize("other", [
    {"from_date": "2027-03-21", "to_date": "2027-03-30"},  # other days
    {"part_of_day": MORNING},  # against an afternoon
    {"appointment_type": "therapy"},  # another kind of visit
    {"specialty": "Dermatology"},  # another specialty
], ids=["days", "part", "type", "specialty"])
def test_a_wait_for_something_else_is_another_entry(app, people, make_doctor, other):
    make_doctor(name="Dr. Skin", specialty="Dermatology")
    _doctor_id, ana, _ben = people
    with app.app_context():
        join(ana, part_of_day=AFTERNOON)
        join(ana, **{"part_of_day": AFTERNOON, **other})
        assert len(waitlist.entries_of(db.session.get(User, ana), now=NOW)) == 2


def test_the_list_leaves_out_others_left_and_ended_entries(app, people):
    _doctor, ana, ben = people
    with app.app_context():
        patient = db.session.get(User, ana)
        later, ending = join(ana, from_date="2027-03-13"), join(ana, to_date="2027-03-12")
        gone = join(ana, appointment_type="therapy")
        join(ben)
        waitlist.leave(patient=patient, entry_id=gone.id, now=NOW)
        assert [e.id for e in waitlist.entries_of(patient, now=NOW)] == [later.id, ending.id]
        assert [e.id for e in waitlist.entries_of(patient, now=instant(TODAY + timedelta(days=3), "00:10"))] == [
            later.id]


@pytest.mark.parametrize("entry_id", [None, "1", 0, -1, 2**31, 10**30, True])
def test_leaving_an_id_that_is_no_entry_is_not_found(app, people, entry_id):
    with app.app_context(), pytest.raises(NotFound, match="Waitlist entry not found"):
        waitlist.leave(patient=db.session.get(User, people[1]), entry_id=entry_id, now=NOW)


def test_leaving_marks_the_entry_left_once_and_only_its_patient_may(app, people):
    _doctor, ana, ben = people
    with app.app_context():
        entry = join(ana)
        with pytest.raises(NotFound):
            waitlist.leave(patient=db.session.get(User, ben), entry_id=entry.id, now=NOW)
        left = waitlist.leave(patient=db.session.get(User, ana), entry_id=entry.id, now=NOW)
        assert (left.status, left.ended_at) == (LEFT, NOW)
        with pytest.raises(NotFound):
            waitlist.leave(patient=db.session.get(User, ana), entry_id=entry.id, now=NOW)


@pytest.mark.parametrize(
    "part_of_day, day, minute, covered",
    [
        (ANY_TIME, date(2027, 3, 11), 9 * 60, True),
        (ANY_TIME, date(2027, 3, 20), 17 * 60, True),  # the last day is in
        (ANY_TIME, date(2027, 3, 10), 9 * 60, False),  # before the first
        (ANY_TIME, date(2027, 3, 21), 9 * 60, False),  # after the last
        (MORNING, date(2027, 3, 12), 12 * 60 + 59, True),
        (MORNING, date(2027, 3, 12), 13 * 60, False),  # afternoon starts at 13:00
        (AFTERNOON, date(2027, 3, 12), 13 * 60, True),
        (AFTERNOON, date(2027, 3, 12), 12 * 60 + 45, False),
    ],
)
def test_covers_its_days_and_part_of_the_day(part_of_day, day, minute, covered):
    entry = WaitlistEntry(from_date=date(2027, 3, 11), to_date=date(2027, 3, 20), part_of_day=part_of_day)
    assert waitlist.covers(entry, day, minute) is covered
