"""The desk's patients (DESIGN.md section 20): search as you type, a patient's page, their contact
details, and registering a patient at the desk (with an email address or by phone only)."""
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from clinica_web import mail
from clinica_web.blueprints.desk import bp
from clinica_web.blueprints.desk.forms import EditContactForm, PatientForm
from clinica_web.blueprints.desk.views import _carried_slot
from clinica_web.blueprints.roles import DESK, STAFF, roles_required
from clinica_web.forms import add_domain_error
from clinica_web.htmx import is_htmx
from clinica_web.services import audit, clinic, documentation, patients
from clinica_web.services.errors import DomainError


def _patient(patient_id):
    """A patient's account; 404 for any other id (staff accounts are not patients)."""
    try:
        return patients.get_patient(patient_id)
    except DomainError:
        abort(404)


@bp.route("/patients", methods=["GET"], endpoint="patients")
@roles_required(*STAFF)
def patients_page():
    """?q=: the patients found, as a page, or its results alone for htmx (search as you type).

    ?for=book: the search of the booking page's first step (/desk/book, reception and admin),
    whose results lead on to booking with the time already chosen (the carried parameters); the
    address bar then shows that page's address (HX-Push-Url), and without htmx it is that page."""
    query = request.args.get("q", "")
    for_booking = request.args.get("for") == "book" and current_user.role in DESK
    carried = _carried_slot() if for_booking else {}
    if for_booking and not is_htmx():
        return redirect(url_for("desk.book", q=query, **carried))
    context = dict(query=patients.clean_query(query), found=patients.search(query), for_booking=for_booking,
                   carried=carried, limit=patients.SEARCH_LIMIT)
    if not is_htmx():
        return render_template("desk/patients.html", **context)
    response = make_response(render_template("desk/_patient_results.html", **context))
    if for_booking:
        response.headers["HX-Push-Url"] = url_for("desk.book", q=query, **carried)
    return response


@bp.route("/patients/<id:patient_id>")
@roles_required(*STAFF)
def patient(patient_id):
    found = _patient(patient_id)
    now = clinic.now()
    # Recorded before the visits are loaded: the audit's commit would expire every loaded row.
    audit.record(actor=current_user, action="viewed patient", patient_id=found.id, now=now)
    return render_template("desk/patient.html", record=patients.record_of(found, now=now),
                           can_edit=current_user.role in DESK,
                           can_read_documentation=documentation.may_read(current_user))


def _password_link(token):
    """The page where a patient the desk registered (or gave a new address) chooses a password."""
    return mail.link_to("auth.password_reset", token=token)


@bp.route("/patients/<id:patient_id>/edit", methods=["GET", "POST"])
@roles_required(*DESK)
def edit_patient(patient_id):
    found = _patient(patient_id)
    form = EditContactForm(obj=found) if request.method == "GET" else EditContactForm()
    if form.validate_on_submit():
        try:
            changed = patients.update_contact(actor=current_user, patient_id=found.id, full_name=form.full_name.data,
                                              email=form.email.data, phone=form.phone.data,
                                              language=form.language.data or None, make_link=_password_link,
                                              now=clinic.now())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            new_address = changed.get("email", (None, None))[1]
            flash(_("The contact details are saved. The new email address has been sent a link to choose a new "
                    "password; the old password and the links sent before no longer work.") if new_address else
                  _("The contact details are saved.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("desk.patient", patient_id=patient_id), code=303)
    return render_template("desk/patient_edit.html", patient=found, form=form), 422 if form.errors else 200


@bp.route("/patients", methods=["POST"])
@roles_required(*DESK)
def create_patient():
    """Register a patient from the booking page's first step, then go on to booking for them."""
    form = PatientForm()
    if form.validate_on_submit():
        try:
            patient = patients.register_at_desk(
                actor=current_user, full_name=form.full_name.data, email=form.email.data, phone=form.phone.data,
                make_link=_password_link, now=clinic.now())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            flash(_("%(patient)s is registered. They have been emailed a link to choose a password. Now choose the "
                    "appointment.", patient=patient.full_name) if patient.email else
                  _("%(patient)s is registered. Without an email address they cannot log in and get no email: tell "
                    "them the details. Now choose the appointment.", patient=patient.full_name), "success")
            return redirect(url_for("desk.book", patient_id=patient.id, **_carried_slot()), code=303)
    return render_template("desk/find_patient.html", query="", found=[], form=form, carried=_carried_slot()), 422
