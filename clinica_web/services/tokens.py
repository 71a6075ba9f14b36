"""API credentials: JWTs for patients (booking API) and staff API tokens (clinic API).

A JWT is HS256-signed with SECRET_KEY, names its user in `sub` and must carry `exp` (one day).
A staff API token is a random string shown once; only its SHA-256 digest is stored, and it is
found by digest and compared in constant time.
"""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import jwt
from flask import current_app
from sqlalchemy import select

from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.models import STAFF_ROLES, ApiToken, User
from clinica_web.services.errors import InvalidInput, NotFound
from clinica_web.services.values import MAX_ID, positive_number

JWT_ALGORITHM = "HS256"
JWT_LIFETIME = timedelta(days=1)
TOKEN_PREFIX = "clinica_"
MAX_TOKEN_LENGTH = 200


def create_jwt(user: User, *, now: datetime) -> str:
    # "ver": the user's session_version; a password change or reset raises it, ending this token.
    claims = {"sub": str(user.id), "iat": now, "exp": now + JWT_LIFETIME, "ver": user.session_version}
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm=JWT_ALGORITHM)


def user_for_jwt(token, *, now: datetime) -> User | None:
    """The active user a JWT names, or None if it is missing, forged, expired or lacks `exp`.

    Expiry is measured against `now` (the app's clock, like every other rule), not PyJWT's own
    reading of the wall clock.
    """
    if not isinstance(token, str) or not token or len(token) > 2000:
        return None
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=[JWT_ALGORITHM],  # pinned: never trust the token's own "alg"
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError:
        return None
    expires = claims["exp"]
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or not expires > now.timestamp():
        return None
    user_id = positive_number(claims.get("sub"), MAX_ID)  # PostgreSQL refuses to compare with a bigger one
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    # A token from before session versions has none: it was issued under version 0.
    if user is None or not user.active or claims.get("ver", 0) != user.session_version:
        return None
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(user: User, *, name="API token", now: datetime) -> str:
    """Create a token for a staff user; returns the token itself (store only what you print)."""
    if user.role not in STAFF_ROLES:
        raise InvalidInput("API tokens are for staff accounts (doctor, reception, admin)")
    token, user_id = TOKEN_PREFIX + secrets.token_urlsafe(32), user.id
    with unit_of_work():
        db.session.add(ApiToken(user_id=user_id, name=name[:80], digest=_digest(token), created_at=now))
    return token


def user_for_api_token(token, *, now: datetime) -> User | None:
    """The active staff user an API token belongs to, or None (missing, unknown, revoked, patient)."""
    if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = _digest(token.strip())
    found = db.session.scalars(
        select(ApiToken).where(ApiToken.digest == digest, ApiToken.revoked_at.is_(None))
    ).first()
    # The lookup is by digest; comparing again in constant time keeps timing from saying how
    # much of a guessed digest matched an index entry.
    if found is None or not hmac.compare_digest(found.digest, digest):
        return None
    user = found.user
    if not user.active or user.role not in STAFF_ROLES:
        return None
    return user


def revoke_api_token(token_id, *, now: datetime) -> ApiToken:
    with unit_of_work():
        found = db.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
        if found is None:
            raise NotFound("API token not found")
        found.revoked_at = found.revoked_at or now
    return found


def all_tokens() -> list[ApiToken]:
    query = select(ApiToken).options(db.joinedload(ApiToken.user)).order_by(ApiToken.id)
    return list(db.session.scalars(query))
