"""Error bodies of the two APIs: the booking API answers {"error": message}, the clinic API
{"errors": ...} exactly as its seed shows."""
from flask import jsonify, request

from clinica_web.blueprints.api import bp
from clinica_web.services.errors import DomainError

CLINIC_PREFIX = "/v1/clinic/"
NOT_AUTHORIZED = "You are not authorized to perform this action."


def error(status: int, message: str):
    return jsonify(error=message), status


def clinic_error(status: int, errors):
    return jsonify(errors=errors), status


def http_error(status: int, message: str):
    """An HTTP error (404, 405, 415, 429...) on an API path, in that API's format."""
    if request.path.startswith(CLINIC_PREFIX):
        return clinic_error(status, message)
    return error(status, message)


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    """A rule the booking API's request broke: 400 with the rule's message (DESIGN.md section 6)."""
    return error(400, exc.message)
