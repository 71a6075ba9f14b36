"""Admin pages: thin views over services/staff.py, services/tokens.py, services/availability.py
and services/audit.py. Every page is for admins only."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from clinica_web.blueprints.admin import bp
from clinica_web.blueprints.admin.forms import (
    AccountForm,
    AuditFilterForm,
    ClosureForm,
    DoctorForm,
    TokenForm,
    role_name,
)
from clinica_web.blueprints.roles import roles_required
from clinica_web.forms import EmptyForm, add_domain_error, confirmation
from clinica_web.i18n import N_, error_text
from clinica_web.models import ADMIN
from clinica_web.services import audit, availability, clinic, schedule, staff, tokens
from clinica_web.services.errors import DomainError, NotAllowed, NotFound

EXPIRED = N_("This form has expired. Please reload the page and try again.")  # the error page translates it

# The audit trail's actions as stored (services/audit.py's callers) -> as the reader says them;
# an action not listed is shown as stored.
AUDIT_ACTIONS = {
    "viewed appointment": _l("viewed appointment"),
    "viewed day list": _l("viewed day list"),
    "exported day list": _l("exported day list"),
    "opened documentation": _l("opened documentation"),
    "viewed waitlist": _l("viewed waitlist"),
    "offered waitlist time": _l("offered waitlist time"),
    "language": _l("language"),
    "reminders_on": _l("reminders_on"),
    "reminders_off": _l("reminders_off"),
}


@bp.before_request
@roles_required(ADMIN)
def require_admin():
    """Every admin page, including ones added later: log in first, then admins only (else 403)."""


@bp.app_template_filter("role_name")
def role_name_filter(role):
    """A stored role in the reader's language, lower case: "reception", "recepción"."""
    return role_name(role)


@bp.app_template_filter("audit_action")
def audit_action(action):
    """An audit event's action in the reader's language."""
    return str(AUDIT_ACTIONS.get(action, action))


def _found(get):
    """What a confirmation page is about, or the 404/403 page."""
    try:
        return get()
    except DomainError as error:
        abort(_status(error))


def _status(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, NotAllowed):
        return 403
    return 422


def _check_button():
    """A one-button POST must carry its CSRF token."""
    if not EmptyForm().validate_on_submit():
        abort(400, EXPIRED)


@bp.route("/")
@roles_required(ADMIN)
def index():
    return render_template("admin/index.html")


# ---------------------------------------------------------------------------------------------
# Doctors


def _doctors_page(form, status=200, error=None):
    return render_template(
        "admin/doctors.html", doctors=staff.all_doctors(), form=form, error=error,
    ), status


@bp.route("/doctors", methods=["GET", "POST"])
@roles_required(ADMIN)
def doctors():
    form = DoctorForm()
    if form.validate_on_submit():
        try:
            doctor = staff.create_doctor(
                actor=current_user, display_name=form.display_name.data, specialty=form.specialty.data,
                email=form.email.data, password=form.password.data, now=clinic.now(),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            flash(_("%(name)s is added and can log in as %(email)s. Set their weekly hours so patients can book.",
                    name=doctor.display_name, email=doctor.user.email), "success")
            return redirect(url_for("admin.doctors"), code=303)
    return _doctors_page(form, 422 if form.errors else 200)


@bp.route("/doctors/<id:doctor_id>/<any(activate, deactivate):action>", methods=["GET", "POST"])
@roles_required(ADMIN)
def doctor_active(doctor_id, action):
    if request.method == "GET":
        doctor = _found(lambda: staff.doctor(doctor_id))
        if action == "activate":
            return confirmation(_("Show %(name)s to patients again?", name=doctor.display_name), verb=_("Show"),
                                cancel_to=url_for("admin.doctors"))
        return confirmation(_("Hide %(name)s from patients?", name=doctor.display_name), verb=_("Hide"),
                            cancel_to=url_for("admin.doctors"),
                            detail=_("Patients can no longer find or book them. Their bookings stay: the desk should "
                                     "move or cancel them. They can still log in."))
    _check_button()
    try:
        doctor, upcoming = staff.set_doctor_active(
            actor=current_user, doctor_id=doctor_id, active=action == "activate", now=clinic.now(),
        )
    except DomainError as error:
        return _doctors_page(DoctorForm(formdata=None), _status(error), error_text(error))
    if doctor.active:
        flash(_("%(name)s is shown to patients again.", name=doctor.display_name), "success")
    elif upcoming:
        flash(_("%(name)s is hidden from patients and cannot be booked. Upcoming bookings with them: %(num)d; "
                "the desk should move or cancel them.", name=doctor.display_name, num=len(upcoming)), "success")
    else:
        flash(_("%(name)s is hidden from patients and cannot be booked.", name=doctor.display_name), "success")
    return redirect(url_for("admin.doctors"), code=303)


# ---------------------------------------------------------------------------------------------
# Staff accounts


def _staff_page(form, status=200, error=None):
    return render_template(
        "admin/staff.html", accounts=staff.staff_accounts(), form=form, error=error,
    ), status


@bp.route("/staff", methods=["GET", "POST"])
@roles_required(ADMIN)
def staff_accounts():
    form = AccountForm()
    if form.validate_on_submit():
        try:
            user = staff.create_account(
                actor=current_user, full_name=form.full_name.data, email=form.email.data,
                password=form.password.data, role=form.role.data, now=clinic.now(),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            created = (_("The admin account of %(name)s (%(email)s) is created.", name=user.full_name, email=user.email)
                       if user.role == ADMIN else
                       _("The reception account of %(name)s (%(email)s) is created.", name=user.full_name,
                         email=user.email))
            flash(created, "success")
            return redirect(url_for("admin.staff_accounts"), code=303)
    return _staff_page(form, 422 if form.errors else 200)


@bp.route("/staff/<id:user_id>/<any(deactivate, reactivate):action>", methods=["GET", "POST"])
@roles_required(ADMIN)
def account_active(user_id, action):
    if request.method == "GET":
        user = _found(lambda: staff.staff_account(user_id))
        if action == "reactivate":
            return confirmation(_("Let %(name)s (%(email)s) log in again?", name=user.full_name, email=user.email),
                                verb=_("Reactivate"), cancel_to=url_for("admin.staff_accounts"))
        return confirmation(_("Deactivate %(name)s (%(email)s)?", name=user.full_name, email=user.email),
                            verb=_("Deactivate"), cancel_to=url_for("admin.staff_accounts"),
                            detail=_("They are logged out everywhere and can no longer log in; their API tokens stop "
                                     "working."))
    _check_button()
    try:
        user = staff.set_active(actor=current_user, user_id=user_id, active=action == "reactivate", now=clinic.now())
    except DomainError as error:
        return _staff_page(AccountForm(formdata=None), _status(error), error_text(error))
    if user.active:
        flash(_("%(name)s (%(email)s) can log in again.", name=user.full_name, email=user.email), "success")
    else:
        flash(_("%(name)s (%(email)s) can no longer log in or use API tokens.", name=user.full_name,
                email=user.email), "success")
    return redirect(url_for("admin.staff_accounts"), code=303)


# ---------------------------------------------------------------------------------------------
# API tokens


def _tokens_page(form, status=200, error=None, new_token=None, owner=None):
    page = render_template(
        "admin/tokens.html", tokens=tokens.all_tokens(), form=form, error=error,
        new_token=new_token, owner=owner,
    )
    # The new token is in this page only: keep it out of caches and the back/forward cache.
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/tokens", methods=["GET", "POST"])
@roles_required(ADMIN)
def api_tokens():
    form = TokenForm()
    if form.validate_on_submit():
        try:
            owner, token = staff.create_token_for(
                actor=current_user, email=form.email.data, name=form.name.data, now=clinic.now(),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            # Shown once, on this response: a redirect would have to carry it in the URL or session.
            return _tokens_page(TokenForm(formdata=None), new_token=token, owner=owner)
    return _tokens_page(form, 422 if form.errors else 200)


@bp.route("/tokens/<id:token_id>/revoke", methods=["GET", "POST"])
@roles_required(ADMIN)
def revoke_token(token_id):
    if request.method == "GET":
        token = _found(lambda: staff.api_token(token_id))
        return confirmation(_("Revoke the token “%(name)s” of %(email)s?", name=token.name, email=token.user.email),
                            verb=_("Revoke"), cancel_to=url_for("admin.api_tokens"),
                            detail=_("Programs that use it stop working at once. This cannot be undone."))
    _check_button()
    try:
        token = staff.revoke_token(actor=current_user, token_id=token_id, now=clinic.now())
    except DomainError as error:
        return _tokens_page(TokenForm(formdata=None), _status(error), error_text(error))
    flash(_("The token “%(name)s” of %(email)s is revoked: it no longer works.", name=token.name,
            email=token.user.email), "success")
    return redirect(url_for("admin.api_tokens"), code=303)


# ---------------------------------------------------------------------------------------------
# Clinic closures


def _closures_page(form, status=200, error=None):
    closures = availability.upcoming_blocked_periods(None, now=clinic.now())
    return render_template("admin/closures.html", closures=closures, form=form, error=error), status


@bp.route("/closures", methods=["GET", "POST"])
@roles_required(ADMIN)
def closures():
    form = ClosureForm()
    if form.validate_on_submit():
        try:
            period, affected = schedule.add_blocked_period(
                actor=current_user, doctor_id=None, start_date=form.start_date.data,
                end_date=form.end_date.data or None, start_time=form.start_time.data or None,
                end_time=form.end_time.data or None, reason=form.reason.data, now=clinic.now(),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            if affected:
                flash(_("The clinic is closed for that time; no new bookings can be made in it. Bookings already "
                        "made in that time: %(num)d; move or cancel them.", num=len(affected)), "success")
            else:
                flash(_("The clinic is closed for that time; no new bookings can be made in it."), "success")
            return redirect(url_for("admin.closure", period_id=period.id), code=303)
    return _closures_page(form, 422 if form.errors else 200)


@bp.route("/closures/<id:period_id>")
@roles_required(ADMIN)
def closure(period_id):
    """One closure and the bookings inside it, for the desk to move."""
    try:
        period = staff.clinic_closure(period_id)
    except DomainError:
        abort(404)
    return render_template(
        "admin/closure.html", period=period, affected=availability.appointments_during(period, now=clinic.now()),
    )


@bp.route("/closures/<id:period_id>/remove", methods=["GET", "POST"])
@roles_required(ADMIN)
def remove_closure(period_id):
    if request.method == "GET":
        period = _found(lambda: staff.clinic_closure(period_id))
        when = clinic.format_period(period.starts_at, period.ends_at)
        return confirmation(_("Reopen the clinic: %(when)s?", when=when),
                            verb=_("Remove the closure"), cancel_to=url_for("admin.closures"),
                            detail=_("Patients can book those times again."))
    _check_button()
    try:
        staff.remove_closure(actor=current_user, period_id=period_id)
    except DomainError as error:
        return _closures_page(ClosureForm(formdata=None), _status(error), error_text(error))
    flash(_("The closure is removed; those times can be booked again."), "success")
    return redirect(url_for("admin.closures"), code=303)


# ---------------------------------------------------------------------------------------------
# Audit trail


@bp.route("/audit")
@roles_required(ADMIN)
def audit_trail():
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("admin/audit.html", form=form, events=[]), 400
    events = audit.recent(patient=form.patient.data, staff=form.staff.data)
    return render_template("admin/audit.html", form=form, events=events)
