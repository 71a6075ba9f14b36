"""The JSON API v1 (DESIGN.md section 10), as two blueprints with their own error formats: the
booking API (patients, JWT; `{"error": ...}`) and the clinic API (staff `X-User-Token`;
`{"errors": ...}`). They read credentials from headers only, never the session cookie, so they
need no CSRF token."""
from flask import Blueprint

booking_api = Blueprint("api", __name__, url_prefix="/v1")
clinic_api = Blueprint("clinic_api", __name__, url_prefix="/v1/clinic")

from clinica_web.blueprints.api import (  # noqa: E402,F401
    bookings,
    clinic,
    errors,
    explain,
    finding,
    openapi,
    waitlist,
)

BLUEPRINTS = (booking_api, clinic_api)
