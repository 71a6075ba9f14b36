from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from clinica_web import i18n
from clinica_web.blueprints.desk import bp, picker
from clinica_web.blueprints.desk.forms import (
    MAX_REASON,
    WEEKDAYS,
    BlockForm,
    CancelForm,
    DeskBookingForm,
    DocumentationForm,
    PatientForm,
    RescheduleForm,
    WindowForm,
    staff_cancel_reasons,
)
from clinica_web.blueprints.roles import DESK, STAFF, roles_required
from clinica_web.forms import EmptyForm, add_domain_error, confirmation
from clinica_web.htmx import is_htmx, redirect_whole_page, render_page_or_partial
from clinica_web.models import DOCTOR
from clinica_web.security import is_local_path
from clinica_web.services import (
    appointments,
    audit,
    availability,
    booking,
    clinic,
    day_list,
    documentation,
)
from clinica_web.services import explain as explainer
from clinica_web.services import (
    history,
    lifecycle,
    notifications,
    patients,
    reminders,
    schedule,
    slots,
    staff_actions,
    values,
    waitlist,
)
from clinica_web.services.errors import DomainError, InvalidInput, NotFound
from clinica_web.services.rules import refusal


def _int_arg(name):
    return values.positive_number(request.values.get(name, ""), values.MAX_ID)


def _day_arg(now):
    try:
        return booking.parse_date(request.args["date"]) if request.args.get("date") else clinic.local_today(now)
    except DomainError as error:
        abort(400, i18n.error_text(error))


def _appointment(appointment_id):
    """An appointment the current staff member may see; 404 otherwise (ids cannot be probed)."""
    try:
        return appointments.get_for_staff(current_user, appointment_id)
    except DomainError:
        abort(404)


# ---------------------------------------------------------------------------------------------
# The day list


@bp.route("/")
@roles_required(*STAFF)
def day():
    now = clinic.now()
    day = _day_arg(now)
    # Recorded before the list is loaded: the audit's commit would expire every loaded row.
    if not is_htmx():  # the 30-second refreshes are not new views of patient data
        audit.record(actor=current_user, action="viewed day list", detail=day.isoformat(), now=now)
    listing = day_list.day_list(current_user, day=day, doctor_id=_int_arg("doctor_id"), now=now)
    return render_page_or_partial("desk/day.html", "desk/_day_list.html", listing=listing,
                                  today=clinic.local_today(now))


@bp.route("/day.csv")
@roles_required(*STAFF)
def day_csv():
    now = clinic.now()
    day = _day_arg(now)
    audit.record(actor=current_user, action="exported day list", detail=day.isoformat(), now=now)  # first, as above
    listing = day_list.day_list(current_user, day=day, doctor_id=_int_arg("doctor_id"), now=now)
    filename = f"clinica-{listing.day.isoformat()}.csv"
    return Response(day_list.as_csv(listing, translate=_), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _back_to_day(appointment):
    """After an action: the partial list for htmx, else the day page the action came from. With
    htmx the keyboard carries on from the visit's row: its time link takes the focus (the button
    pressed may be gone). The page without htmx opens at its top, where its message is."""
    day = clinic.to_local(appointment.starts_at).date()
    doctor_id = _int_arg("doctor_id")
    if is_htmx():
        now = clinic.now()
        listing = day_list.day_list(current_user, day=day, doctor_id=doctor_id, now=now)
        return render_template("desk/_day_list.html", listing=listing, today=clinic.local_today(now),
                               flash_oob=True, focus_visit=appointment.id)
    if request.values.get("next") == "detail":
        return redirect(url_for("desk.appointment", appointment_id=appointment.id), code=303)
    return redirect(url_for("desk.day", date=day.isoformat(), doctor_id=doctor_id), code=303)


def _say_status(appointment):
    """What the desk is told once a visit's status has changed (also read out by screen readers)."""
    status = _(lifecycle.STATUS_WORDS[appointment.status])
    flash(_("%(patient)s, %(time)s: %(status)s", patient=appointment.patient.full_name,
            time=f"{clinic.to_local(appointment.starts_at):%H:%M}", status=status), "success")


@bp.route("/appointments/<id:appointment_id>/status", methods=["POST"])
@roles_required(*STAFF)
def set_status(appointment_id):
    appointment = _appointment(appointment_id)
    if EmptyForm().validate_on_submit():
        try:
            _say_status(staff_actions.change_status(actor=current_user, appointment=appointment,
                                                    to_status=request.form.get("to"), now=clinic.now()))
        except DomainError as error:
            flash(i18n.error_text(error), "error")
    return _back_to_day(appointment)


@bp.route("/appointments/<id:appointment_id>/undo", methods=["POST"])
@roles_required(*STAFF)
def undo(appointment_id):
    appointment = _appointment(appointment_id)
    if EmptyForm().validate_on_submit():
        try:
            _say_status(staff_actions.undo_last_change(actor=current_user, appointment=appointment, now=clinic.now()))
        except DomainError as error:
            flash(i18n.error_text(error), "error")
    return _back_to_day(appointment)


# ---------------------------------------------------------------------------------------------
# One appointment: detail with history, cancel, reschedule, documentation


@bp.route("/appointments/<id:appointment_id>")
@roles_required(*STAFF)
def appointment(appointment_id):
    found = _appointment(appointment_id)
    now = clinic.now()
    audit.record(actor=current_user, action="viewed appointment", patient_id=found.patient_id,
                 appointment_id=found.id, now=now)
    return render_template("desk/appointment.html", appointment=found, history=history.changes_of(found),
                           can_undo=staff_actions.can_undo(found),
                           next_statuses=lifecycle.allowed_steps(found.status, found.starts_at, now=now),
                           can_cancel=lifecycle.staff_cancel_refusal(found) is None,
                           can_reschedule=lifecycle.reschedule_refusal(found) is None,
                           clash=availability.clash_of(found), cancel_reasons=staff_cancel_reasons(),
                           can_document=documentation.can_write(current_user, found, now=now),
                           can_read_documentation=documentation.may_read(current_user), form=EmptyForm(),
                           reminder=day_list.reminder_of(found), can_set_reminders=current_user.role in DESK)


REMINDER_SWITCH = {"on": True, "off": False}


@bp.route("/appointments/<id:appointment_id>/reminders", methods=["POST"])
@roles_required(*DESK)
def set_reminders(appointment_id):
    """Reception turns the patient's reminder emails on or off (no email, or they asked)."""
    found = _appointment(appointment_id)
    wanted = REMINDER_SWITCH.get(request.form.get("reminders", ""))
    if wanted is None or not EmptyForm().validate_on_submit():
        abort(400)
    patient, name = found.patient, found.patient.full_name  # (read before the change's commit expires them)
    reminders.set_wanted(actor=current_user, patient=patient, wanted=wanted, now=clinic.now())
    flash(_("Reminder emails are on for %(name)s: their upcoming visits will be reminded.", name=name) if wanted else
          _("Reminder emails are off for %(name)s: none will be sent until they are turned on again.", name=name),
          "success")
    return redirect(url_for("desk.appointment", appointment_id=found.id), code=303)


@bp.route("/appointments/<id:appointment_id>/cancel", methods=["GET", "POST"])
@roles_required(*STAFF)
def cancel(appointment_id):
    found = _appointment(appointment_id)
    if request.method == "GET" and (refused := lifecycle.staff_cancel_refusal(found)) is not None:
        return _back_to_the_appointment(found, refused)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            staff_actions.cancel_by_staff(actor=current_user, appointment=found, reason=form.reason.data,
                                          note=form.note.data, now=clinic.now())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            flash(_("The appointment is cancelled and the patient has been emailed.")
                  if notifications.is_emailed(found.patient) else
                  _("The appointment is cancelled. The patient has no email address: tell them."), "success")
            return redirect(url_for("desk.appointment", appointment_id=found.id), code=303)
    return render_template("desk/cancel.html", appointment=found, form=form), 422 if form.errors else 200


@bp.route("/appointments/<id:appointment_id>/reschedule", methods=["GET", "POST"])
@roles_required(*STAFF)
def reschedule(appointment_id):
    """GET: the slot picker (see picker.py; any active doctor; the appointment's own time free for
    the times around it, not offered itself),
    and with a time chosen (?time=), "Move … from … to …?" with the reason; POST: move it.

    The reason may be typed on the picker: it belongs to the picker's form and rides along in its
    links (htmx sends it as typed), so it survives changing the doctor, the day or the month."""
    found = _appointment(appointment_id)
    now = clinic.now()
    if request.method == "POST":
        return _move(found, now=now)
    if (refused := lifecycle.reschedule_refusal(found)) is not None:
        return _back_to_the_appointment(found, refused)
    form = RescheduleForm(formdata=request.args)
    if len(form.reason.data or "") > MAX_REASON:  # said before it is carried any further
        abort(400, _("A reason has at most %(limit)s characters.", limit=MAX_REASON))
    doctor = picker.chosen_doctor(request.args.get("doctor_id"), found.doctor_id)
    try:
        kind = booking.find_type(found.appointment_type)
    except DomainError as error:
        abort(400, i18n.error_text(error))
    chosen = picker.Picker("desk.reschedule", {"appointment_id": found.id}, {"reason": form.reason.data or None},
                           doctor, kind, picker.chosen_day(clinic.to_local(found.starts_at).date()),
                           found.duration_minutes, moving=found, typed=("reason",))
    # The desk moves a visit to any doctor; a doctor within their own calendar (staff_actions).
    context = dict(appointment=found, form=form, doctors=day_list.doctors_for(current_user), verb="Move to")
    if not request.args.get("time"):
        return picker.render(chosen, "desk/reschedule.html", now=now, **context)
    minute = picker.chosen_minute()
    try:
        _doctor, start, _end = booking.check_bookable(
            booking.Slot(doctor.id, chosen.day, minute, found.duration_minutes, kind), patient_id=found.patient_id,
            now=now, exclude_id=found.id)
    except DomainError as error:
        return picker.render(chosen, "desk/reschedule.html", now=now, status=409, **context,
                             notice=_("%(time)s cannot be booked: %(reason)s. Choose another time.",
                                      time=slots.format_minute(minute), reason=i18n.error_text(error)))
    form.doctor_id.data, form.date.data, form.time.data = doctor.id, chosen.day.isoformat(), slots.format_minute(minute)
    return render_template("desk/confirm_reschedule.html", appointment=found, form=form, target=(doctor, start),
                           back=chosen.url())


def _back_to_the_appointment(found, refused):
    """A page whose action the visit no longer allows (an old link, a tab left open after it was
    cancelled or completed): its own page, saying why, rather than a form that can only fail
    (the whole tab, also from the picker's htmx requests)."""
    flash(_(refused), "error")
    return redirect_whole_page(url_for("desk.appointment", appointment_id=found.id))


def _move(found, *, now):
    """POST: move the appointment (every rule checked again), or say why not on the confirmation page."""
    form = RescheduleForm()
    if form.validate_on_submit():
        sequence = found.sequence  # raised by a move; the time it already has changes nothing
        try:
            staff_actions.reschedule_local(actor=current_user, appointment=found, doctor_id=form.doctor_id.data,
                                           date=form.date.data, time=form.time.data, reason=form.reason.data,
                                           now=now)
        except DomainError as error:
            # (The service words an unknown doctor for the clinic API, by its field: "must exist".)
            unknown_doctor = error.field == "provider_id" and isinstance(error, NotFound)
            form.form_errors.append(i18n.error_text(refusal("doctor_not_found") if unknown_doctor else error))
        else:
            if found.sequence == sequence:
                flash(_("That is already the appointment's time and doctor: nothing has changed."), "info")
            else:
                flash(_("The appointment is moved and the patient has been emailed the new time.")
                      if notifications.is_emailed(found.patient) else
                      _("The appointment is moved. The patient has no email address: tell them the new time."),
                      "success")
            return redirect(url_for("desk.appointment", appointment_id=found.id), code=303)
    doctor = availability.active_doctor(values.positive_number(form.doctor_id.data or "", values.MAX_ID))
    try:
        day = booking.parse_date(form.date.data)
        start = slots.local_instant(day, values.parse_time(form.time.data), clinic.tz())
    except DomainError:
        day = start = None
    # Back to the picker with the reason as typed here, and the doctor and day where they are real.
    back = url_for("desk.reschedule", appointment_id=found.id, reason=form.reason.data or None,
                   doctor_id=doctor.id if doctor else None, date=day.isoformat() if day else None)
    target = (doctor, start) if doctor and start else None
    return render_template("desk/confirm_reschedule.html", appointment=found, form=form, target=target,
                           back=back), 422


@bp.route("/appointments/<id:appointment_id>/documentation", methods=["GET", "POST"])
@roles_required(DOCTOR)
def document(appointment_id):
    found = _appointment(appointment_id)
    now = clinic.now()
    form = DocumentationForm(data={"text": found.documentation or ""} if request.method == "GET" else None)
    if request.method == "GET":
        audit.record(actor=current_user, action="opened documentation", patient_id=found.patient_id,
                     appointment_id=found.id, now=now)
    if form.validate_on_submit():
        try:
            documentation.write(actor=current_user, appointment=found, text=form.text.data, now=now)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            flash(_("Documentation saved."), "success")
            return redirect(url_for("desk.pending_documentation"), code=303)
    return render_template("desk/documentation.html", appointment=found, form=form,
                           earlier=documentation.earlier_visits(found)), 422 if form.errors else 200


@bp.route("/pending-documentation")
@roles_required(*STAFF)
def pending_documentation():
    doctor_id = _int_arg("doctor_id")
    rows, total = documentation.pending(current_user, now=clinic.now(), page=1, page_size=200, doctor_id=doctor_id)
    return render_template("desk/pending_documentation.html", rows=rows, total=total, doctor_id=doctor_id,
                           doctors=day_list.doctors_for(current_user))


# ---------------------------------------------------------------------------------------------
# Booking on behalf of a patient


@bp.route("/book", methods=["GET"])
@roles_required(*DESK)
def book():
    """Step 1: find or register the patient. Step 2: the slot picker (doctor, visit type, day; see
    picker.py). Step 3, a time chosen (?time=): "Book … ?", with the note, posted to book_submit."""
    patient_id = _int_arg("patient_id")
    if patient_id is None:
        query = request.args.get("q", "")
        carried = _carried_slot()
        return render_template("desk/find_patient.html", query=query, found=patients.search(query),
                               form=PatientForm(), carried=carried, chosen=_chosen_in_words(carried))
    types = booking.appointment_types()
    try:
        patient = patients.get_patient(patient_id)
        kind = booking.find_type(request.args.get("type") or None, types)
    except DomainError as error:
        abort(400, i18n.error_text(error))
    now = clinic.now()
    doctors = day_list.doctors_for_booking()
    doctor = picker.chosen_doctor(request.args.get("doctor_id"), doctors[0].id if doctors else None)
    chosen = picker.Picker("desk.book", {}, {"patient_id": patient.id, "type": kind.name}, doctor, kind,
                           picker.chosen_day(clinic.local_today(now)), kind.default_duration)
    if request.args.get("time"):
        return _confirm_booking(patient, chosen, now=now, types=types, doctors=doctors)
    return picker.render(chosen, "desk/book.html", now=now, patient=patient, doctors=doctors, types=types, verb="Book")


def _confirm_booking(patient, chosen, *, now, **picker_context):
    """The confirmation step; a time no longer free sends back to the day's free times, saying why."""
    time = slots.format_minute(picker.chosen_minute())
    try:
        _slot, start = booking.preview(patient=patient, doctor_id=chosen.doctor.id, date=chosen.day.isoformat(),
                                       time=time, appointment_type=chosen.kind.name, now=now)
    except DomainError as error:
        if isinstance(error, InvalidInput):
            abort(400, i18n.error_text(error))
        return picker.render(chosen, "desk/book.html", now=now, patient=patient, status=409, verb="Book",
                             notice=_("%(time)s cannot be booked: %(reason)s. Choose another time.", time=time,
                                      reason=i18n.error_text(error)),
                             **picker_context)
    form = DeskBookingForm(data={"patient_id": patient.id, "doctor_id": chosen.doctor.id,
                                 "date": chosen.day.isoformat(), "type": chosen.kind.name, "time": time})
    form.fill_new_key()
    return render_template("desk/confirm_book.html", patient=patient, picker=chosen, start=start, time=time,
                           form=form)


# What a desk booking carries from page to page while the patient is found or registered: the
# doctor, day, visit type and time chosen (on the patient pages, by staff who clicked a time).
CARRIED = ("doctor_id", "date", "type", "time")


def _carried_slot() -> dict:
    return {name: request.values[name] for name in CARRIED if request.values.get(name)}


def _chosen_in_words(carried) -> dict | None:
    """The time a link chose before the patient (the timeline's free times, a walk-in): its time,
    day and doctor, to say above the search; None if it says no day and time."""
    try:
        day = booking.parse_date(carried.get("date", "")) if carried.get("time") else None
        minute = values.parse_time(carried["time"]) if day else None
    except DomainError:
        return None
    doctor = availability.active_doctor(values.positive_number(carried.get("doctor_id", ""), values.MAX_ID))
    return dict(time=slots.format_minute(minute), day=day, doctor=doctor) if day else None


@bp.route("/book", methods=["POST"])
@roles_required(*DESK)
def book_submit():
    form = DeskBookingForm()
    if not form.validate_on_submit():
        # The note is the one field typed on this step (the rest are hidden): say what is wrong with it.
        abort(400, form.notes.errors[0] if form.notes.errors else _("This form is incomplete. Please start again."))
    try:
        patient = patients.get_patient(_int_arg("patient_id"))
        booked = booking.book(actor=current_user, patient=patient, doctor_id=form.doctor_id.data, date=form.date.data,
                              time=form.time.data, appointment_type=form.type.data or None,
                              notes=form.notes.data, booking_key=form.booking_key.data or None, now=clinic.now())
    except DomainError as error:
        flash(i18n.error_text(error), "error")
        return redirect(url_for("desk.book", patient_id=_int_arg("patient_id"), doctor_id=form.doctor_id.data,
                                date=form.date.data, type=form.type.data), code=303)
    flash(_("Booked for %(patient)s; they have been emailed the details.", patient=patient.full_name)
          if notifications.is_emailed(patient) else
          _("Booked for %(patient)s. They have no email address: tell them the details.", patient=patient.full_name),
          "success")
    return redirect(url_for("desk.appointment", appointment_id=booked.id), code=303)


# ---------------------------------------------------------------------------------------------
# Working hours and blocked periods (a doctor's own; admins every doctor's)


@bp.route("/hours")
@roles_required(DOCTOR)
def my_hours():
    own = day_list.doctors_for(current_user)
    if not own:
        abort(404)
    return redirect(url_for("desk.hours", doctor_id=own[0].id))


def _hours_page(doctor_id, *, window_form=None, block_form=None, affected=None, status=200):
    doctor = schedule.managed_doctor(current_user, doctor_id)
    return render_template(
        "desk/hours.html", doctor=doctor, windows=schedule.weekly_windows_rows(doctor.id), weekdays=WEEKDAYS,
        blocks=availability.upcoming_blocked_periods(doctor.id, now=clinic.now()),
        window_form=window_form or WindowForm(), block_form=block_form or BlockForm(), form=EmptyForm(),
        affected=affected,
    ), status


@bp.route("/doctors/<id:doctor_id>/hours")
@roles_required(*STAFF)
def hours(doctor_id):
    """?block=<id>: also list the bookings inside that blocked period (after adding it)."""
    block_id = _int_arg("block")
    return _guarded(lambda: _hours_page(
        doctor_id, affected=availability.bookings_inside(doctor_id, block_id, now=clinic.now()) if block_id else None))


@bp.route("/doctors/<id:doctor_id>/hours/windows", methods=["POST"])
@roles_required(*STAFF)
def add_window(doctor_id):
    form = WindowForm()
    if form.validate_on_submit():
        try:
            schedule.add_window(actor=current_user, doctor_id=doctor_id, weekday=form.weekday.data,
                                start=form.start.data, end=form.end.data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            flash(_("Working hours added."), "success")
            return redirect(url_for("desk.hours", doctor_id=doctor_id), code=303)
    return _guarded(lambda: _hours_page(doctor_id, window_form=form, status=422))


@bp.route("/hours/windows/<id:window_id>/delete", methods=["GET", "POST"])
@roles_required(*STAFF)
def remove_window(window_id):
    if request.method == "GET":
        return _guarded(lambda: _confirm_window_removal(schedule.managed_window(current_user, window_id)))
    return _guarded(lambda: _remove(schedule.remove_window, window_id=window_id))


@bp.route("/doctors/<id:doctor_id>/blocks", methods=["POST"])
@roles_required(*STAFF)
def add_block(doctor_id):
    form = BlockForm()
    if form.validate_on_submit():
        try:
            period, affected = schedule.add_blocked_period(
                actor=current_user, doctor_id=doctor_id, start_date=form.start_date.data, end_date=form.end_date.data,
                start_time=form.start_time.data, end_time=form.end_time.data, reason=form.reason.data,
                now=clinic.now(),
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            flash(_("Time blocked. These bookings are inside it: move or cancel them.") if affected
                  else _("Time blocked."), "success")
            # Redirect (a reload must not block the time twice); the page lists the bookings inside.
            return redirect(url_for("desk.hours", doctor_id=doctor_id, block=period.id), code=303)
    return _guarded(lambda: _hours_page(doctor_id, block_form=form, status=422))


@bp.route("/blocks/<id:period_id>/delete", methods=["GET", "POST"])
@roles_required(*STAFF)
def remove_block(period_id):
    if request.method == "GET":
        return _guarded(lambda: _confirm_period_removal(schedule.managed_period(current_user, period_id)))
    return _guarded(lambda: _remove(schedule.remove_blocked_period, period_id=period_id))


def _confirm_window_removal(window):
    inside = schedule.count_bookings_in_window(window, now=clinic.now())
    detail = _("Patients can no longer book these times; bookings already made stay.")
    if inside:
        detail += " " + ngettext("%(num)d upcoming booking is in these hours: move it if the doctor will not be there.",
                                 "%(num)d upcoming bookings are in these hours: move them if the doctor will not be "
                                 "there.", inside)
    return confirmation(_("Remove %(weekday)s %(start)s–%(end)s from %(doctor)s's hours?",
                          weekday=WEEKDAYS[window.weekday], start=window.start_hhmm, end=window.end_hhmm,
                          doctor=window.doctor.display_name), verb=_("Remove these hours"),
                        cancel_to=url_for("desk.hours", doctor_id=window.doctor_id), detail=detail)


def _confirm_period_removal(period):
    said = clinic.format_period(period.starts_at, period.ends_at)
    return confirmation(_("Remove the time off %(period)s?", period=said),
                        verb=_("Remove the time off"), detail=_("Patients can book those times again."),
                        cancel_to=url_for("desk.hours", doctor_id=period.doctor_id) if period.doctor_id
                        else url_for("desk.day"))


def _remove(remove, **ids):
    if not EmptyForm().validate_on_submit():
        abort(400)
    remove(actor=current_user, **ids)
    flash(_("Removed."), "success")
    back = request.form.get("back")
    return redirect(back if is_local_path(back) else url_for("desk.day"), code=303)


def _guarded(render):
    """Permission and not-found errors of the hours services as 403 and 404 pages."""
    try:
        return render()
    except DomainError as error:
        abort(404 if error.code == "not_found" else 403)


# ---------------------------------------------------------------------------------------------
# Why not? Every rule that stops a time (the explainer, DESIGN.md section 17)


@bp.route("/explain")
@roles_required(*STAFF)
def explain():
    """?doctor_id=&date=&time=&type=: a plain GET form, and with a time, why it can or cannot be
    booked. With &appointment_id= (the move picker's), for moving that visit: its length, and its
    own time free for it; &reason=, the reason typed on the picker, goes back to it. With
    &patient_id= (the booking picker's), for booking that patient: their other visits count."""
    now = clinic.now()
    types = booking.appointment_types()
    asked, explanation, problem = request.args.get("time"), None, None
    day, kind = clinic.local_today(now), next(iter(types), None)
    moving = _appointment(_int_arg("appointment_id")) if request.args.get("appointment_id") else None
    reason = request.args.get("reason", "") if moving else ""
    patient_id = None if moving else _int_arg("patient_id")  # (the booking picker's; explain says whose)
    if len(reason) > MAX_REASON:
        abort(400, _("A reason has at most %(limit)s characters.", limit=MAX_REASON))
    try:
        kind = booking.find_type(moving.appointment_type if moving else request.args.get("type") or None, types)
        day = _day_arg(now)
        if asked:
            explanation = explainer.explain(
                actor=current_user, doctor_id=_int_arg("doctor_id"), day=day, minute=values.parse_time(asked),
                duration=kind.default_duration, now=now, moving=moving,  # (a move's own length, if moving)
                patient_id=patient_id)
    except DomainError as error:
        problem = i18n.error_text(error)
    status = 400 if problem else 200
    return render_template("desk/explain.html", doctors=day_list.doctors_for(current_user),
                           doctor_id=_int_arg("doctor_id"), types=types, kind=kind, day=day, time=asked or "",
                           explanation=explanation, moving=moving, reason=reason,
                           patient_id=patient_id,
                           reasons=[_reason_shown(reason) for reason in explanation.reasons] if explanation else [],
                           problem=problem), status


def _reason_shown(reason):
    """One of the explainer's reasons in the page's language (the clinic API keeps its English)."""
    return explainer.Reason(reason.code, _(explainer.STAFF_HEADINGS.get(reason.code, reason.message)),
                            i18n.error_text(reason.detail))


# ---------------------------------------------------------------------------------------------
# The waitlist (DESIGN.md section 18): each doctor's queue and open offers; a time offered by hand


@bp.route("/waitlist", endpoint="waitlist")
@roles_required(*STAFF)
def waitlist_page():
    """?doctor_id=: one doctor's. A doctor sees only their own, as on the day list."""
    return _waitlist_page(_int_arg("doctor_id"))


def _waitlist_page(doctor_id, *, asked=None, status=200):
    """The page; `asked`: an offer by hand that was refused, shown in its form with what was typed
    (a refusal changes nothing: the view it shows again was recorded when the page was opened)."""
    now = clinic.now()
    doctors = day_list.doctors_for(current_user)
    shown = [doctor for doctor in doctors if doctor_id in (None, doctor.id)]
    if not shown and doctor_id is not None:
        abort(404)  # nothing shown, nothing recorded
    queues, offered = waitlist.desk_waitlist(shown, now=now)
    page = render_template("desk/waitlist.html", doctors=doctors, doctor_id=doctor_id, queues=queues,
                           offered=offered, parts=waitlist.PARTS_OF_DAY, today=clinic.local_today(now),
                           asked=asked or {})
    # Recorded once the page is made: the audit's commit would expire every row it reads.
    if asked is None:
        audit.record(actor=current_user, action="viewed waitlist", now=now)
    return page, status


@bp.route("/waitlist/offer", methods=["POST"])
@roles_required(*STAFF)
def offer_by_hand():
    """Offer one waiting patient a time (held for them, emailed); a refusal says why. Back to the
    waitlist page as it was shown (`showing`: the doctor it was narrowed to)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    form = request.form
    try:
        offer = waitlist.offer_by_hand(actor=current_user, entry_id=form.get("entry_id"),
                                       doctor_id=form.get("doctor_id"), date=form.get("date"),
                                       time=form.get("time", "").strip(), now=clinic.now())
    except DomainError as error:  # the page again: the refusal above it and beside the form, what was typed in it
        flash(i18n.error_text(error), "error")
        asked = {name: form.get(name, "") for name in ("entry_id", "doctor_id", "date", "time")}
        return _waitlist_page(_int_arg("showing"), asked={**asked, "error": i18n.error_text(error)}, status=422)
    else:
        said = dict(patient=offer.entry.patient.full_name, when=clinic.format_local(offer.starts_at),
                    doctor=offer.doctor.display_name, until=f"{clinic.to_local(offer.expires_at):%H:%M}")
        flash(_("%(patient)s is offered %(when)s with %(doctor)s and has been emailed; the time is held for them "
                "until %(until)s.", **said) if offer.entry.patient.email else
              _("%(patient)s is offered %(when)s with %(doctor)s and has no email address: tell them. The time is "
                "held for them until %(until)s.", **said), "success")
    return redirect(url_for("desk.waitlist", doctor_id=_int_arg("showing")), code=303)
