"""Fixtures shared by the JSON API tests: a patient's JWT (from the real login endpoint) and
staff API tokens (made by the tokens service, as `flask create-api-token` makes them)."""
import hashlib
import secrets
from functools import partial

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from clinica_web.extensions import db
from clinica_web.models import ApiToken, Appointment, Doctor, OutboxEmail, User
from clinica_web.services import clinic, tokens
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """These tests make many accounts and log in a lot; a cheap hash method keeps them quick.
    (Checking a password reads the method from the stored hash, so nothing else changes.)"""
    monkeypatch.setattr("clinica_web.models.user.generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1000"))


@pytest.fixture
def jwt_for(app, client):
    """jwt_for(user_id) -> the token the login endpoint gives that user."""

    def get(user_id, password=PASSWORD):
        with app.app_context():
            email = db.session.get(User, user_id).email
        response = client.post("/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["token"]

    return get


@pytest.fixture
def bearer(jwt_for):
    """bearer(user_id) -> the Authorization header of that user's JWT."""
    return lambda user_id: {"Authorization": f"Bearer {jwt_for(user_id)}"}


@pytest.fixture
def staff_token(app, make_user):
    """staff_token(role=..., user_id=None, doctor_id=None) -> a fresh API token (the plain string).

    With doctor_id, the token belongs to that doctor's linked login (make_doctor(with_user=True)).
    """

    def make(role="reception", *, user_id=None, doctor_id=None):
        with app.app_context():
            if doctor_id is not None:
                user_id = db.session.get(Doctor, doctor_id).user_id
                assert user_id is not None, "make the doctor with with_user=True"
            if user_id is None:
                user_id = make_user(role=role, full_name=f"Staff {role}")
            return tokens.create_api_token(db.session.get(User, user_id), name="tests", now=clinic.now())

    return make


@pytest.fixture
def patient_api_token(app):
    """patient_api_token(user_id) -> a token whose ApiToken row belongs to a patient.

    The tokens service refuses to make one, so the row is written directly, with the SHA-256
    digest of a known token, as a stale or hand-made row would be."""

    def make(user_id):
        token = "clinica_" + secrets.token_urlsafe(32)
        with app.app_context():
            db.session.add(ApiToken(user_id=user_id, name="sneaky", digest=hashlib.sha256(token.encode()).hexdigest(),
                                    created_at=clinic.now()))
            db.session.commit()
        return token

    return make


@pytest.fixture
def count(app):
    """count(Model) -> number of rows."""

    def do(model):
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(model))

    return do


@pytest.fixture
def appointment_row(app):
    """appointment_row(id) -> a detached snapshot of the appointment's columns (a dict)."""

    def get(appointment_id):
        with app.app_context():
            row = db.session.get(Appointment, appointment_id)
            return {c.key: getattr(row, c.key) for c in Appointment.__table__.columns}

    return get


@pytest.fixture
def outbox_count(count):
    return lambda: count(OutboxEmail)
