"""Request and response hardening that applies to every view."""
from flask import abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

# No inline scripts or styles anywhere: htmx is a static file, configured by a meta tag, with its
# inline indicator styles and eval turned off (templates/base.html).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def reject_unusable_form_input():
    """No form or query value of a page may contain NUL: no text column stores it (PostgreSQL
    refuses it). No form takes a file either: Flask-WTF would hand the file to a text field's
    validators, which fail on it. Run before every page blueprint's views (blueprints.page_blueprint);
    the APIs check their own input field by field, in their own format."""
    # Werkzeug reads a form (and files) only from these two kinds of body: no need to look otherwise.
    has_form = request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded")
    if has_form and request.files:
        abort(400, "This site takes no files: send the form as text.")
    for values in (request.args, request.form) if has_form else (request.args,):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, "Text must not contain NUL characters.")


def is_local_path(target) -> bool:
    """Whether `target` is a path on this site, safe to redirect to (never another host).

    Browsers read a backslash as a slash and drop tabs and newlines, so a path with either can
    lead to another host ("//evil.example"); control characters would also break the Location
    header (a 500). So only printable paths without a backslash are local.
    """
    return (isinstance(target, str) and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and target.isprintable())


def refuse_large_bodies():
    """413 before anything reads a body larger than MAX_CONTENT_LENGTH (Werkzeug would refuse it
    too, but only once a view, or the rate limiter's key, asks for the data)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def login_email_key():
    """Rate-limit key for one account, whichever address the attempts come from."""
    body = request.get_json(silent=True) if request.is_json else None
    email = (body or {}).get("email") if isinstance(body, dict) else request.form.get("email")
    return "login-account:" + (email.strip().lower()[:254] if isinstance(email, str) else "")


def add_security_headers(response):
    present = {name.lower() for name in response.headers.keys()}  # a view may have set its own
    response.headers.extend([(name, value) for name, value in HEADERS.items() if name.lower() not in present])
    if request.endpoint != "static" and current_user and current_user.is_authenticated:
        never_cache(response)
        response.vary.add("Cookie")
    return response


def never_cache(response):
    """Patient data never stays in a browser's or a proxy's cache (nor the back button's)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer made once per app (and key) rather than on
    every request (issue 20: a slot list takes a fraction of a millisecond, this was 3% of it)."""

    _kept = (None, None)  # (secret key, its serializer)

    def get_signing_serializer(self, app):
        if self._kept[0] != app.secret_key:
            self._kept = (app.secret_key, super().get_signing_serializer(app))
        return self._kept[1]


def init_app(app):
    app.session_interface = CookieSessions()
    app.before_request(refuse_large_bodies)
    app.after_request(add_security_headers)
