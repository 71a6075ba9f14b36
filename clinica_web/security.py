"""Request and response hardening that applies to every view."""
from flask import abort, request


def reject_nul_bytes():
    """No form or query value of a page may contain NUL: no text column stores it (PostgreSQL
    refuses it). The API checks its own input field by field and answers in its own format."""
    if request.path.startswith("/v1/"):
        return
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, "Text must not contain NUL characters.")


def init_app(app):
    app.before_request(reject_nul_bytes)
