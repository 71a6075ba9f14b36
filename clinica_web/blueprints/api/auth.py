"""Who is calling: a patient's JWT (booking API) or a staff API token (clinic API).

Only these headers are read; the session cookie is never used by the API.
"""
from functools import wraps

from flask import g, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from clinica_web.blueprints.api.errors import NOT_AUTHORIZED, clinic_error, error
from clinica_web.services import clinic, tokens


def jwt_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = tokens.user_for_jwt(token.strip(), now=clinic.now()) if scheme.lower() == "bearer" else None
        if user is None:
            return error(401, "Authentication required")
        g.api_user = user
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


def json_body() -> dict:
    """The request's JSON object; a clear 4xx for anything else."""
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("Request body must be valid JSON")
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body
