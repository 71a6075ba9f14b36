"""Your account: the language of the site and of the clinic's emails to you, and, for a patient,
their name and phone (the desk changes an email address: services/patients.update_contact)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from clinica_web.blueprints.pages import bp
from clinica_web.blueprints.pages.forms import DetailsForm
from clinica_web.forms import EmptyForm, add_domain_error
from clinica_web.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES
from clinica_web.models import PATIENT
from clinica_web.services import accounts, clinic, patients
from clinica_web.services.errors import DomainError


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """The account page; its POST saves the language."""
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        chosen = request.form.get("language") or None
        if chosen is not None and chosen not in LANGUAGES:
            abort(400, "Choose a language")
        accounts.set_language(actor=current_user, user=current_user, language=chosen, now=clinic.now())
        flash(_("Your language is saved."), "success")
        response = redirect(url_for("pages.account"), code=303)
        if chosen:
            response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                                secure=request.is_secure)
        return response
    details = DetailsForm(data={"full_name": current_user.full_name, "phone": current_user.phone})
    return _page(form, details)


@bp.route("/account/details", methods=["POST"])
@login_required
def account_details():
    """A patient saves their own name and phone, by the desk's rules (patients.update_contact;
    not in the staff audit trail, as their language is not)."""
    if current_user.role != PATIENT:
        abort(404)
    details = DetailsForm()
    if details.validate_on_submit():
        try:
            patients.update_contact(actor=current_user, patient_id=current_user.id, full_name=details.full_name.data,
                                    email=current_user.email, phone=details.phone.data or "", now=clinic.now())
        except DomainError as error:
            add_domain_error(details, error)
        else:
            flash(_("Your details are saved."), "success")
            return redirect(url_for("pages.account"), code=303)
    return _page(EmptyForm(), details, status=422)


def _page(form, details, status=200):
    return render_template("pages/account.html", form=form, details=details, saved=current_user.language,
                           patient=current_user.role == PATIENT), status
