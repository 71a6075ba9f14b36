"""Error pages, and the words each HTTP error is explained with (the APIs answer with the same
words in their own formats: blueprints/api/errors.py).

Routing errors (404, 405) never reach a blueprint's handlers: for a path no route takes, the
app's handlers answer, unless an API's own catch-all route took the path first.
"""
from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from clinica_web.extensions import db

# status: (title, what the person is told); None: the error's own description says it.
EXPLANATIONS = {
    400: ("Bad request", None),
    403: ("Not allowed", "Your account cannot open this page."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Request too large", "That request is larger than this site accepts."),
    415: ("Unsupported media type", None),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: ("Something went wrong", "We could not finish that. Nothing was changed; please try again."),
}
CSRF_EXPLANATION = ("This form has expired", "Please go back, reload the page and try again. Nothing was changed.")


def explain(error: HTTPException) -> tuple[int, str, str]:
    """(status, title, message) for an HTTP error; a 500 also rolls back what the request began."""
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    if isinstance(error, CSRFError):
        return status, *CSRF_EXPLANATION
    title, message = EXPLANATIONS.get(status, (error.name, None))
    return status, title, message or error.description


def error_page(error: HTTPException):
    status, title, message = explain(error)
    return render_template("errors/error.html", status=status, title=title, message=message), status


def init_app(app):
    for status in EXPLANATIONS:
        app.register_error_handler(status, error_page)
    app.register_error_handler(CSRFError, error_page)
