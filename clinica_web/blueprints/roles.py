"""Role checks for views: who may open a page is decided here, once per blueprint or view."""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from clinica_web.models import ADMIN, DOCTOR, RECEPTION

STAFF = (DOCTOR, RECEPTION, ADMIN)
DESK = (RECEPTION, ADMIN)


def home_endpoint(user) -> str:
    """Where a user starts: staff on the day list (a doctor's shows their own visits), patients on
    the home page."""
    return "desk.day" if user.role in STAFF else "pages.home"


def roles_required(*roles):
    """Log in first (redirect), then 403 unless the user has one of `roles`."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate
