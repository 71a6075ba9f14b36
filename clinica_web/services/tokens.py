"""API credentials: JWTs for patients (booking API) and staff API tokens (clinic API).

A JWT is HS256-signed with SECRET_KEY, names its user in `sub` and must carry `exp` (one day).
A staff API token is a random string shown once; only its SHA-256 digest is stored, and it is
found by digest and compared in constant time.
"""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

import jwt
from flask import current_app
from sqlalchemy import bindparam, select

from clinica_web.database import unit_of_work
from clinica_web.extensions import db
from clinica_web.hot_reads import HotRead
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
    """The active user a JWT names, or None if it is missing, forged, expired or lacks `exp`
    (_valid_claims), or its user is inactive or has changed their password since."""
    claims = _valid_claims(token, now=now)
    user = db.session.get(User, claims["user_id"]) if claims else None
    # A token from before session versions has none: it was issued under version 0.
    if user is None or not user.active or claims["ver"] != user.session_version:
        return None
    return user


def user_id_for_jwt(token, *, now: datetime) -> int | None:
    """The id of the user user_for_jwt() would find, without loading them (None: it would find
    none): one prebuilt read of two columns (hot_reads.py), for read-only endpoints that need to
    know only who the caller is."""
    claims = _valid_claims(token, now=now)
    if not claims:
        return None
    rows, _read = _user_state_read().rows(user_id=claims["user_id"])
    return claims["user_id"] if rows and rows[0][0] and rows[0][1] == claims["ver"] else None


@lru_cache(maxsize=None)
def _user_state_read() -> HotRead:
    return HotRead(select(User.active, User.session_version).where(User.id == bindparam("user_id")))


def _valid_claims(token, *, now: datetime) -> dict | None:
    """{"user_id", "ver"} of a well-formed, correctly signed JWT with `sub` and `exp`, not expired
    at `now` (the app's clock, like every other rule, not PyJWT's reading of the wall clock)."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        return None
    claims = _signed_claims(token, current_app.config["SECRET_KEY"])
    if claims is None:
        return None
    expires = claims["exp"]
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or not expires > now.timestamp():
        return None
    user_id = positive_number(claims.get("sub"), MAX_ID)  # PostgreSQL refuses to compare with a bigger one
    return {"user_id": user_id, "ver": claims.get("ver", 0)} if user_id is not None else None


@lru_cache(maxsize=1024)
def _signed_claims(token: str, secret: str) -> dict | None:
    """The claims of a JWT signed with `secret`, checked once per worker: the same token always
    decodes the same (expiry, the user and their state are checked on every use, above)."""
    try:
        return jwt.decode(
            token, secret,
            algorithms=[JWT_ALGORITHM],  # pinned: never trust the token's own "alg"
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError:
        return None


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
