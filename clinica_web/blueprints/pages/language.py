"""The language switcher in every page's footer (the account page saves a language too: account.py)."""
from flask import abort, redirect, request, url_for
from flask_login import current_user

from clinica_web.blueprints.pages import bp
from clinica_web.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES
from clinica_web.security import is_local_path
from clinica_web.services import accounts, clinic


@bp.route("/language", methods=["POST"])
def choose_language():
    """Read the site in another language from now on: a cookie for everyone, and the saved choice of
    a logged-in user (which emails follow too). Back to the page the switcher was on."""
    chosen = request.form.get("language")
    if chosen not in LANGUAGES:
        abort(400, "Choose a language")
    if current_user.is_authenticated:
        accounts.set_language(actor=current_user, user=current_user, language=chosen, now=clinic.now())
    back = request.form.get("next")
    response = redirect(back if is_local_path(back) else url_for("pages.home"), code=303)
    response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response
