"""Who is calling: a patient's JWT (booking API) or a staff API token (clinic API).

Only these headers are read; the session cookie is never used by the API.
"""
import re
from functools import wraps

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from clinica_web.blueprints.api.errors import NOT_AUTHORIZED, clinic_error, error
from clinica_web.services import clinic, tokens


def jwt_required(view=None, *, load_user=True):
    """A patient's JWT in `Authorization: Bearer`, else 401; its user as g.api_user and their id as
    g.api_user_id. With load_user=False (a read-only endpoint that needs only the user's id) the
    token and the user's state are checked without loading the user (tokens.user_id_for_jwt), and
    g.api_user is not set."""
    if view is None:
        return lambda view: jwt_required(view, load_user=load_user)

    @wraps(view)
    def wrapped(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token, now = token.strip(), clinic.now()
        if scheme.lower() != "bearer":
            return error(401, "Authentication required")
        if not load_user:
            g.api_user_id = tokens.user_id_for_jwt(token, now=now)
        else:
            g.api_user = tokens.user_for_jwt(token, now=now)
            g.api_user_id = g.api_user.id if g.api_user is not None else None
        if g.api_user_id is None:
            return error(401, "Authentication required")
        return view(*args, **kwargs)

    return wrapped


def staff_token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        user = tokens.user_for_api_token(request.headers.get("X-User-Token"), now=clinic.now())
        if user is None:
            return clinic_error(401, NOT_AUTHORIZED)
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped


# NUL (PostgreSQL text refuses it) and unpaired surrogates (a lone "\ud800" escape is valid JSON
# but not UTF-8, so no database or hash takes it): text no field can store or use.
_UNUSABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def json_body() -> dict:
    """The request's JSON object; a clear 4xx for anything else."""
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit is not None and len(request.get_data()) >= limit:
        # A chunked body, which says no length before it comes (security.refuse_large_bodies
        # refuses the others unread): Werkzeug stops reading it at the limit, and the rest would
        # be parsed as broken JSON.
        raise RequestEntityTooLarge()
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        body = None
    if body is None and request.get_data().strip() != b"null":  # (null is valid JSON, if not an object)
        raise BadRequest("Request body must be valid JSON")
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    if not _usable_text(body):
        raise BadRequest("Text must not contain NUL characters or unpaired surrogates")
    return body


def missing_fields(body: dict, *fields):
    """The booking API's 400 when any of the fields is absent, null or empty; else None."""
    if any(body.get(field) in (None, "") for field in fields):
        return error(400, "Missing required fields")
    return None


def _usable_text(value) -> bool:
    """Whether every string (keys too) in a parsed JSON value is text that can be stored."""
    pending = [value]
    while pending:  # a loop, not recursion: the body may be nested as deep as the parser allows
        item = pending.pop()
        if isinstance(item, str):
            if _UNUSABLE_TEXT.search(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True
