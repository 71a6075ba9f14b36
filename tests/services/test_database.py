"""begin_write(): a service's write transaction decides on what is committed, never on what the
request read earlier or left pending (on PostgreSQL it goes on from the read transaction)."""
from sqlalchemy import select, update

from clinica_web.database import begin_write
from clinica_web.extensions import db
from clinica_web.models import User


def patient(email, name):
    return User(email=email, full_name=name, role="patient", password_hash="not-a-real-hash")


def test_rows_read_earlier_in_the_request_are_read_again(committing_app):
    app = committing_app
    with app.app_context():
        db.session.add(patient("ana@example.com", "Ana Torres"))
        db.session.commit()
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "ana@example.com")).one()  # the request's read
        with db.engine.begin() as elsewhere:  # another request renames her meanwhile
            elsewhere.execute(update(User).where(User.id == user.id).values(full_name="Ana Torres Vidal"))
        begin_write()
        assert user.full_name == "Ana Torres Vidal"


def test_what_a_request_left_pending_is_not_committed_by_the_service(committing_app):
    app = committing_app
    with app.app_context():
        db.session.add(patient("stray@example.com", "Stray"))  # views never write
        begin_write()
        db.session.add(patient("ana@example.com", "Ana Torres"))
        db.session.commit()
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["ana@example.com"]
