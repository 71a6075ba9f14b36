"""Each API answers every error in its own format, as its seed shows: the booking API
`{"error": message}`, the clinic API `{"errors": ...}`.

A blueprint's error handlers only see requests one of its routes took; so each API also has a
catch-all route for the paths under its prefix that no other route takes (unrouted below), which
answers 404 or 405 in its format.
"""
from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from clinica_web import errors
from clinica_web.blueprints.api import booking_api, clinic_api
from clinica_web.security import never_cache
from clinica_web.services.errors import DomainError

NOT_AUTHORIZED = "You are not authorized to perform this action."
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PUBLIC_ENDPOINTS = {"api.doctors", "api.openapi_json"}  # the rest answer to credentials: never cached


def error(status: int, message: str):
    return jsonify(error=message), status


def clinic_error(status: int, errors):
    return jsonify(errors=errors), status


def unrouted(path=""):
    """A path under the API's prefix that no other route takes: 405 if another method would be
    taken (with Allow), else 404, raised here so that the API's own handler answers it."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in METHODS:
        try:
            rule, _arguments = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != request.endpoint:
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise NotFound()


def _answer_http_errors(blueprint, respond):
    def http_error(exc: HTTPException):
        status, _title, message = errors.explain(exc)
        body, status = respond(status, message)
        headers = {name: value for name, value in exc.get_headers() if name in ("Allow", "Retry-After")}
        return body, status, headers

    # By status too: Flask looks for a handler of the status (the blueprint's, then the app's
    # error pages) before one of the exception class.
    for status in (*errors.EXPLANATIONS, HTTPException):
        blueprint.register_error_handler(status, http_error)
    blueprint.add_url_rule("/<path:path>", "unrouted", unrouted, methods=METHODS)


_answer_http_errors(booking_api, error)
_answer_http_errors(clinic_api, clinic_error)


@booking_api.errorhandler(DomainError)
def domain_error(exc: DomainError):
    """A rule the booking API's request broke: 400 with the rule's message (DESIGN.md section 6)."""
    return error(400, exc.message)


@booking_api.after_request
def private_booking_answers(response):
    return response if request.endpoint in PUBLIC_ENDPOINTS else never_cache(response)


@clinic_api.after_request
def private_clinic_answers(response):
    return never_cache(response)


@clinic_api.errorhandler(DomainError)
def clinic_domain_error(exc: DomainError):
    """A rule a clinic API request broke, where its view did not say more: 422 by field."""
    return clinic_error(422, {exc.field or "base": [exc.message]})
