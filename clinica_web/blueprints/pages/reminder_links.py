"""The links in a reminder email (services/reminders.py): Confirm without logging in, Reschedule
and Cancel into the patient's own pages (which ask them to log in, and hold the cutoff). Once the
cutoff has passed (the 24-hour reminder comes just after it by default), Reschedule and Cancel
say so at once, with the clinic's phone, instead of asking for a login that leads to "too late".

A GET never changes anything: mail scanners fetch every link in a message, and must not confirm
a visit for the patient. Confirm's GET shows one button; its POST confirms.
"""
from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _

from clinica_web import i18n
from clinica_web.blueprints.pages import bp
from clinica_web.forms import EmptyForm
from clinica_web.services import clinic, lifecycle, reminders
from clinica_web.services.errors import DomainError


@bp.route("/reminders/<token>/confirm", methods=["GET", "POST"])
def reminder_confirm(token):
    form, now = EmptyForm(), clinic.now()
    try:
        if form.is_submitted():
            if not form.validate():
                abort(400, _("This form has expired. Please open the link in the email again."))
            visit = reminders.confirm_by_link(token, now=now)
            i18n.for_addressee(visit.patient)
            return render_template("pages/visit_confirmed.html", visit=visit)
        visit = reminders.visit_of_link(token, reminders.CONFIRM, now=now)
    except DomainError as error:
        if (confirmed := reminders.confirmed_by_this_link(token, now=now)) is not None:
            i18n.for_addressee(confirmed.patient)
            return render_template("pages/visit_confirmed.html", visit=confirmed)  # a second click
        return _dead_link(i18n.error_text(error))
    i18n.for_addressee(visit.patient)
    return render_template("pages/confirm_visit.html", visit=visit, form=form, cutoff=lifecycle.change_cutoff(visit),
                           changes_open=lifecycle.patient_change_refusal(visit, now=now) is None)


@bp.route("/reminders/<token>/reschedule")
def reminder_reschedule(token):
    return _to_the_patients_page(token, reminders.RESCHEDULE, "pages.reschedule_booking")


@bp.route("/reminders/<token>/cancel")
def reminder_cancel(token):
    return _to_the_patients_page(token, reminders.CANCEL, "pages.cancel_booking")


def _to_the_patients_page(token, action, endpoint):
    try:
        visit = reminders.visit_of_link(token, action, now=clinic.now())
    except DomainError as error:
        return _dead_link(i18n.error_text(error))
    if lifecycle.patient_change_refusal(visit, now=clinic.now()) == "too_late_to_change":
        i18n.for_addressee(visit.patient)
        return render_template("pages/call_to_change.html", visit=visit, cutoff=lifecycle.change_cutoff(visit))
    return redirect(url_for(endpoint, appointment_id=visit.id), code=303)


def _dead_link(message):
    return render_template("pages/dead_link.html", message=message), 410
