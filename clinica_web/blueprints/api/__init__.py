"""The JSON API v1 (DESIGN.md section 10): the booking API (JWT) and the clinic appointments API
(staff `X-User-Token`). It reads credentials from headers only, never the session cookie, so it
needs no CSRF token."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/v1")

from clinica_web.blueprints.api import bookings, clinic, errors, openapi  # noqa: E402,F401
