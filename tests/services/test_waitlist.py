"""The waitlist service (DESIGN.md section 18), first part: joining, the list, leaving, and what an
entry covers. The API tests (tests/api/test_waitlist_api.py) go through each refusal's message;
these are the rules the API does not reach."""
from datetime import date, timedelta

import pytest

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
        specialty = join(ana)
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
        first = join(ana)
        join(ana, part_of_day=MORNING), join(ana, part_of_day=AFTERNOON)
        with pytest.raises(InvalidInput, match="at most 3"):
            join(ana, to_date="2027-03-19")
        join(ben)  # each patient has their own three
        waitlist.leave(patient=db.session.get(User, ana), entry_id=first.id, now=NOW)
        join(ana)


def test_entries_whose_last_day_has_passed_do_not_count(app, people):
    """They are on no list (the patient's, the API's, the desk's), so they cannot be left: counted,
    they would shut the patient out of the waitlist for good."""
    _doctor, ana, _ben = people
    with app.app_context():
        join(ana), join(ana, part_of_day=MORNING), join(ana, to_date="2027-03-11")
        with pytest.raises(InvalidInput, match="at most 3"):
            join(ana, part_of_day=AFTERNOON)
        two_days_on = instant(TODAY + timedelta(days=2), "09:00")
        patient = db.session.get(User, ana)
        fresh = waitlist.join(patient=patient, specialty="General Practice", from_date="2027-03-13",
                              to_date="2027-03-20", now=two_days_on)
        assert len(waitlist.entries_of(patient, now=two_days_on)) == 3
        assert fresh in waitlist.entries_of(patient, now=two_days_on)
        with pytest.raises(InvalidInput, match="at most 3"):
            waitlist.join(patient=patient, specialty="General Practice", from_date="2027-03-13",
                          to_date="2027-03-20", part_of_day=MORNING, now=two_days_on)


def test_the_same_wait_twice_is_refused_while_the_first_is_waiting(app, people):
    """A second identical entry would be offered nothing the first is not, and take a place."""
    doctor_id, ana, ben = people
    with app.app_context():
        first = join(ana, doctor_id=doctor_id, specialty=None)
        with pytest.raises(InvalidInput, match="already on the waitlist for this"):
            join(ana, doctor_id=doctor_id, specialty=None)
        # Any difference is another wait: the part of the day, a day, the doctor or specialty.
        join(ana, doctor_id=doctor_id, specialty=None, part_of_day=MORNING)
        join(ana, doctor_id=doctor_id, specialty=None, to_date="2027-03-19")
        join(ben, doctor_id=doctor_id, specialty=None)
        waitlist.leave(patient=db.session.get(User, ana), entry_id=first.id, now=NOW)
        join(ana, doctor_id=doctor_id, specialty=None)  # left, it can be joined again
        entries = db.session.scalars(db.select(WaitlistEntry).where(WaitlistEntry.patient_id == ana)).all()
        assert sorted((e.part_of_day, e.to_date.day, e.status) for e in entries) == [
            (ANY_TIME, 19, ACTIVE), (ANY_TIME, 20, ACTIVE), (ANY_TIME, 20, LEFT), (MORNING, 20, ACTIVE)]


def test_the_list_leaves_out_others_left_and_ended_entries(app, people):
    _doctor, ana, ben = people
    with app.app_context():
        patient = db.session.get(User, ana)
        later, ending, gone = join(ana), join(ana, to_date="2027-03-12"), join(ana, part_of_day=MORNING)
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
