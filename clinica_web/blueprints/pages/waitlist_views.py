"""The patient's waitlist (DESIGN.md section 18): the entries, joining (prefilled from a full
day's link) and leaving."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from clinica_web import i18n
from clinica_web.blueprints.pages import bp
from clinica_web.blueprints.pages.forms import SelectChoice, WaitlistForm, parts_of_day
from clinica_web.forms import EmptyForm, add_domain_error
from clinica_web.models import PATIENT
from clinica_web.services import availability, booking, clinic, directory, values
from clinica_web.services import waitlist as waitlist_service
from clinica_web.services.errors import DomainError


@bp.route("/waitlist", methods=["GET", "POST"])
@login_required
def waitlist():
    """The patient's waitlist entries and a form to join another (prefilled from a full day).
    Staff are sent to the desk's waitlist, every patient's."""
    if current_user.role != PATIENT:
        return redirect(url_for("desk.waitlist"), code=303)
    now = clinic.now()
    form = WaitlistForm(request.form if request.method == "POST" else None)
    doctors, types = directory.doctors(), booking.appointment_types()
    form.target.choices = [SelectChoice(f"specialty:{name}", _("Any doctor of %(specialty)s", specialty=name))
                           for name in directory.specialties()] + [
        SelectChoice(f"doctor:{doctor.id}", f"{doctor.display_name} ({doctor.specialty})") for doctor in doctors]
    # The default types' labels are in the catalogue (type_label in templates); a clinic's own read as named.
    form.type.choices = [SelectChoice(t.name, f"{_(t.label) if t.label else t.label} ({t.default_duration} min)")
                         for t in types]
    status = 200
    if request.method == "GET":
        _prefill_waitlist_form(form, now)
    elif form.validate_on_submit():
        kind, _colon, target = form.target.data.partition(":")
        try:
            waitlist_service.join(patient=current_user, doctor_id=target if kind == "doctor" else None,
                                  specialty=target if kind == "specialty" else None, appointment_type=form.type.data,
                                  from_date=form.from_date.data.isoformat(), to_date=form.to_date.data.isoformat(),
                                  part_of_day=form.part_of_day.data, now=now)
        except DomainError as error:
            add_domain_error(form, error)
            status = 422
        else:
            flash(_("You are on the waitlist. We will email you when a time frees up."), "success")
            return redirect(url_for("pages.waitlist"), code=303)
    else:
        status = 422
    held = waitlist_service.open_offers_of(current_user, now=now)
    return render_template("pages/waitlist.html", form=form, entries=waitlist_service.entries_of(current_user, now=now),
                           held=held, answers={offer.id: waitlist_service.answer_tokens(offer) for offer in held},
                           describe=_describe, parts=parts_of_day(),
                           labels=booking.visit_labels(), leave_form=EmptyForm()), status


def _describe(entry):
    """What an entry waits for, as waitlist.describe says it, in the page's language."""
    return entry.doctor.display_name if entry.doctor_id else _("any doctor of %(specialty)s", specialty=entry.specialty)


def _prefill_waitlist_form(form, now):
    """From a full day's link: ?doctor_id=&date=&type= (ignored where they make no sense)."""
    doctor = availability.active_doctor(values.positive_number(request.args.get("doctor_id", ""), values.MAX_ID))
    if doctor is not None:
        form.target.data = f"doctor:{doctor.id}"
    try:
        first = booking.parse_date(request.args["date"]) if request.args.get("date") else clinic.local_today(now)
    except DomainError:
        first = clinic.local_today(now)
    form.from_date.data, form.to_date.data = waitlist_service.days_to_suggest(first, now=now)
    if request.args.get("type") in booking.visit_labels():
        form.type.data = request.args["type"]


@bp.route("/waitlist/<id:entry_id>/leave", methods=["POST"])
@login_required
def leave_waitlist(entry_id):
    if not EmptyForm().validate_on_submit():
        abort(400, _("This form has expired. Please reload the page and try again."))
    try:
        waitlist_service.leave(patient=current_user, entry_id=entry_id, now=clinic.now())
    except DomainError:
        abort(404)
    flash(_("You have left that waitlist."), "success")
    return redirect(url_for("pages.waitlist"), code=303)


@bp.route("/waitlist/offers/<token>", methods=["GET", "POST"])
def waitlist_offer(token):
    """The offer email's "Book it": the GET shows the held time and one button (mail scanners
    fetch links; only the POST books). The link is the key: no login needed."""
    return _answer_offer(token, waitlist_service.ACCEPT, lambda: waitlist_service.accept(token, now=clinic.now()),
                         done="pages/waitlist_booked.html")


@bp.route("/waitlist/offers/<token>/decline", methods=["GET", "POST"])
def waitlist_decline(token):
    """"No thanks": the GET asks, the POST lets the time go to the next patient waiting."""
    return _answer_offer(token, waitlist_service.DECLINE, lambda: waitlist_service.decline(token, now=clinic.now()),
                         done="pages/waitlist_declined.html")


def _answer_offer(token, action, act, *, done):
    form = EmptyForm()
    try:
        if form.is_submitted():
            if not form.validate():
                abort(400, _("This form has expired. Please open the link in the email again."))
            result = act()
            i18n.for_addressee(result.patient if action == waitlist_service.ACCEPT else result.entry.patient)
            return render_template(done, result=result)
        offer = waitlist_service.offer_to_answer(token, action, now=clinic.now())
    except DomainError as error:
        if action == waitlist_service.ACCEPT and (visit := waitlist_service.booked_by_link(
                token, now=clinic.now())) is not None:
            i18n.for_addressee(visit.patient)
            return render_template(done, result=visit)  # opened again after booking it
        return render_template("pages/dead_link.html", message=_offer_gone(error)), 410
    i18n.for_addressee(offer.entry.patient)
    accepting = action == waitlist_service.ACCEPT
    other_answer = waitlist_service.answer_links(offer).get("decline" if accepting else "accept")
    return render_template("pages/waitlist_offer.html", offer=offer, form=form, accepting=accepting,
                           other_answer=other_answer)


def _offer_gone(error):
    return _("This offer has expired or has been answered: the time may have gone to the next patient waiting.") \
        if error.message == waitlist_service.OFFER_EXPIRED else i18n.error_text(error)
