"""Error pages, and the words each HTTP error is explained with (the APIs answer with the same
words in their own formats: blueprints/api/errors.py).

The words are English here, as the APIs keep them (DESIGN.md sections 6 and 10); the error page
translates them into the reader's language (`error_page`), and so also the messages that views
give abort(): the common ones are marked below (N_) so that the catalogue has them.

Routing errors (404, 405) never reach a blueprint's handlers: for a path no route takes, the
app's handlers answer, unless an API's own catch-all route took the path first.
"""
from flask import render_template
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from clinica_web.extensions import db
from clinica_web.i18n import N_

# status: (title, what the person is told); None: the error's own description says it.
EXPLANATIONS = {
    400: (N_("Bad request"), None),
    403: (N_("Not allowed"), N_("Your account cannot open this page.")),
    404: (N_("Page not found"), N_("There is nothing at this address.")),
    405: (N_("Method not allowed"), N_("This address does not accept that kind of request.")),
    413: (N_("Request too large"), N_("That request is larger than this site accepts.")),
    415: (N_("Unsupported media type"), None),
    429: (N_("Too many attempts"), N_("Please wait a minute and try again.")),
    500: (N_("Something went wrong"), N_("We could not finish that. Nothing was changed; please try again.")),
}
CSRF_EXPLANATION = (N_("This form has expired"),
                    N_("Please go back, reload the page and try again. Nothing was changed."))

# What views and checks commonly give abort() (and Werkzeug's own descriptions of 400 and 415),
# for the catalogue: the error page translates whatever description it shows that the catalogue has.
COMMON_DESCRIPTIONS = (
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_("The server does not support the media type transmitted in the request."),
    N_("This form has expired. Please reload the page and try again."),
    N_("This form has expired. Please open the link in the email again."),
    N_("This form is incomplete. Please start again."),
    N_("Choose a language"),
    N_("Choose a time from the list."),
    N_("This site takes no files: send the form as text."),
    N_("Text must not contain NUL characters."),
)


def explain(error: HTTPException) -> tuple[int, str, str]:
    """(status, title, message) for an HTTP error, in English; a 500 also rolls back what the
    request began."""
    status = error.code or 500
    if status >= 500:
        db.session.rollback()
    if isinstance(error, CSRFError):
        return status, *CSRF_EXPLANATION
    title, message = EXPLANATIONS.get(status, (error.name, None))
    return status, title, message or error.description


def _translated(text) -> str:
    """English words in the reader's language where the catalogue has them, else as they are (a
    message already translated by its view, a service's message with values in it)."""
    text = str(text) if text else ""
    return gettext(text) if text else text  # gettext("") would be the catalogue's header


def error_page(error: HTTPException):
    status, title, message = explain(error)
    # The error's own headers stay: a 405's Allow (which methods the address takes), say.
    headers = dict(error.get_headers()) if hasattr(error, "get_headers") else {}
    headers.pop("Content-Type", None)
    return render_template("errors/error.html", status=status, title=_translated(title),
                           message=_translated(message)), status, headers


def init_app(app):
    for status in EXPLANATIONS:
        app.register_error_handler(status, error_page)
    app.register_error_handler(CSRFError, error_page)
