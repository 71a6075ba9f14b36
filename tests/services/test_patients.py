"""services/patients.py: the desk's patients, and what a patient without an email address means
for the rest of the clinic (no email queued, the API's null, the audit trail's before and after)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinica_web.blueprints.api import serializers
from clinica_web.extensions import db
from clinica_web.models import HELD, NO_SHOW, AccessEvent, Appointment, OutboxEmail, User
from clinica_web.services import accounts, clinic, notifications, patients
from clinica_web.services.errors import InvalidInput, NotFound
from tests.conftest import next_weekday

MONDAY = next_weekday(0, weeks=1)


def no_link(token):
    return f"http://clinica.test/password-reset/{token}"


def outbox_count():
    return db.session.scalar(select(func.count()).select_from(OutboxEmail))


def test_search_matches_phone_digits_however_typed_and_stored(app, make_user):
    make_user(full_name="Dotted", email="dotted@example.com", phone="+56.2.2345.6789")  # no digits to match
    with app.app_context():
        for typed in ("2345-6789", "(2) 2345 6789", "56223456789"):
            assert [u.full_name for u in patients.search(typed)] == ["Dotted"]
        assert patients.search("67") == []  # two digits are no phone search (and match no name)


def test_search_drops_control_characters_and_caps_the_length(app, make_user):
    make_user(full_name="Ana Torres")
    with app.app_context():
        assert [u.full_name for u in patients.search("an\x1ba\u200b")] == ["Ana Torres"]
        assert patients.clean_query("x" * 500) == "x" * patients.MAX_QUERY
        assert patients.search(None) == [] and patients.search(["ana"]) == []


def test_registering_by_phone_only_queues_no_email_and_is_audited(app, make_user):
    desk = make_user(role="reception")
    with app.app_context():
        actor = db.session.get(User, desk)
        user = patients.register_at_desk(actor=actor, full_name="  Walk   In ", phone="555 1234", make_link=no_link,
                                         now=clinic.now())
        assert (user.full_name, user.email, user.phone) == ("Walk In", None, "555 1234")
        assert outbox_count() == 0
        assert db.session.scalars(select(AccessEvent.action).where(AccessEvent.patient_id == user.id)).all() == [
            "registered patient"]
        # A second patient without an address: NULLs never clash in the unique index.
        patients.register_at_desk(actor=actor, full_name="Also Phone", phone="555 9999", make_link=no_link,
                                  now=clinic.now())
        with pytest.raises(InvalidInput, match=patients.PHONE_NEEDED):
            patients.register_at_desk(actor=actor, full_name="Nobody", email="  ", phone=" ", make_link=no_link,
                                      now=clinic.now())


def test_registering_with_an_email_queues_the_set_password_link_in_the_same_transaction(app, make_user):
    desk = make_user(role="reception")
    with app.app_context():
        user = patients.register_at_desk(actor=db.session.get(User, desk), full_name="With Mail",
                                         email="With.Mail@Example.com", make_link=no_link, now=clinic.now())
        [email] = db.session.scalars(select(OutboxEmail)).all()
        assert (email.recipient, email.subject) == ("with.mail@example.com", "Choose your Clinica password")
        token = email.text_body.split("/password-reset/")[1].split()[0]
        assert accounts.user_for_reset_token(token).id == user.id


def test_no_email_is_queued_for_a_recipient_without_an_address(app):
    with app.app_context():
        for nobody in (None, ""):
            assert notifications.queue(recipient=nobody, subject="s", text_body="t", html_body="h",
                                       now=clinic.now()) is None
        assert outbox_count() == 0


def test_the_api_says_null_for_a_missing_email():
    assert serializers.user(User(id=1, email=None, full_name="Walk In"))["email"] is None


def test_a_change_of_contact_details_records_before_and_after_each_field(app, make_user):
    desk, ana = make_user(role="reception"), make_user(email="ana@example.com", full_name="Ana", phone="1")
    with app.app_context():
        actor = db.session.get(User, desk)
        changes = patients.update_contact(actor=actor, patient_id=ana, full_name="Ana", email="", phone="2",
                                          now=clinic.now())
        assert changes == {"email": ("ana@example.com", None), "phone": ("1", "2")}
        assert db.session.execute(select(AccessEvent.action, AccessEvent.detail).where(AccessEvent.patient_id == ana)
                                  .order_by(AccessEvent.id)).all() == [
            ("changed patient email", "ana@example.com → (none)"), ("changed patient phone", "1 → 2")]
        with pytest.raises(NotFound):
            patients.update_contact(actor=actor, patient_id=desk, full_name="X", email="", phone="1", now=clinic.now())


def test_a_long_before_and_after_fits_the_audit_trail():
    long_one, long_two = "a" * 150 + "@example.com", "b" * 200 + "@example.com"
    detail = patients._before_after(long_one, long_two)
    assert len(detail) <= patients.AUDIT_DETAIL and detail.startswith("aaa") and "→ bbb" in detail
    assert patients._before_after("x", "y") == "x → y"


def test_the_record_counts_no_shows_and_late_cancellations_not_holds(app, make_user, make_doctor, make_appointment):
    doctor, ana = make_doctor(), make_user(full_name="Ana")
    past = MONDAY - timedelta(weeks=3)
    make_appointment(doctor_id=doctor, patient_id=ana, day=past, hhmm="09:00", status=NO_SHOW)
    make_appointment(doctor_id=doctor, patient_id=ana, day=MONDAY, hhmm="09:00", status=HELD)  # a waitlist hold
    late = make_appointment(doctor_id=doctor, patient_id=ana, day=past, hhmm="10:00", status="cancelled")
    with app.app_context():
        db.session.get(Appointment, late).late_cancellation = True
        db.session.commit()
        record = patients.record_of(db.session.get(User, ana), now=clinic.now())
        assert (record.no_shows, record.late_cancellations, record.past_total) == (1, 1, 2)
        assert record.upcoming == []
