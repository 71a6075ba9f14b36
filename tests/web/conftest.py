"""Fixtures of the desk's tests: staff of each role, and a logged-in receptionist."""
import secrets
from types import SimpleNamespace

import pytest


@pytest.fixture
def staff(make_user):
    """staff(role) -> the id of a new staff user of that role."""

    def make(role="reception", full_name=None):
        return make_user(role=role, email=f"{role}-{secrets.token_hex(3)}@example.com",
                         full_name=full_name or f"{role.title()} Person")

    return make


@pytest.fixture
def desk(staff, login_as):
    """A logged-in receptionist, Rita Desk: SimpleNamespace(id, client)."""
    user_id = staff("reception", full_name="Rita Desk")
    return SimpleNamespace(id=user_id, client=login_as(user_id))
