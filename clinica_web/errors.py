"""App-level error pages. Routing errors (404, 405) never reach blueprint handlers, so they live here."""
from flask import render_template, request
from flask_wtf.csrf import CSRFError

from clinica_web.extensions import db


def init_app(app):
    @app.errorhandler(400)
    def bad_request(error):
        return _page(400, "Bad request", getattr(error, "description", None))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _page(400, "This form has expired",
                     "Please go back, reload the page and try again. Nothing was changed.")

    @app.errorhandler(403)
    def forbidden(error):
        return _page(403, "Not allowed", "Your account cannot open this page.")

    @app.errorhandler(404)
    def not_found(error):
        return _page(404, "Page not found", "There is nothing at this address.")

    @app.errorhandler(415)
    def unsupported_media_type(error):
        return _page(415, "Unsupported media type", error.description)

    @app.errorhandler(405)
    def method_not_allowed(error):
        return _page(405, "Method not allowed", "This address does not accept that kind of request.")

    @app.errorhandler(413)
    def request_too_large(error):
        return _page(413, "Request too large", "That request is larger than this site accepts.")

    @app.errorhandler(429)
    def too_many_requests(error):
        return _page(429, "Too many attempts", "Please wait a minute and try again.")

    @app.errorhandler(500)
    def internal_error(error):
        db.session.rollback()
        return _page(500, "Something went wrong", "We could not finish that. Nothing was changed; please try again.")


def _page(status, title, message):
    if request.path.startswith("/v1/"):
        from clinica_web.blueprints.api.errors import http_error

        return http_error(status, message)
    return render_template("errors/error.html", status=status, title=title, message=message), status
