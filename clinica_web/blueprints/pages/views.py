from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from clinica_web import i18n, mail
from clinica_web.blueprints.pages import bp
from clinica_web.blueprints.pages.forms import BookingForm, CancelForm
from clinica_web.blueprints.roles import DESK, home_endpoint
from clinica_web.forms import EmptyForm
from clinica_web.htmx import current_page_args, is_htmx, redirect_whole_page, render_page_or_partial
from clinica_web.models import PATIENT
from clinica_web.services import (
    availability,
    booking,
    calendars,
    clinic,
    directory,
    finder,
    lifecycle,
    values,
    waitlist,
)
from clinica_web.services.errors import DomainError, PatientBusy, SlotTaken
from clinica_web.services.slots import local_instant


@bp.route("/")
def home():
    if current_user.is_authenticated and home_endpoint(current_user) != "pages.home":
        return redirect(url_for(home_endpoint(current_user)))  # staff start at the desk
    return render_template("pages/home.html", specialties=directory.specialties())


@bp.route("/doctors")
def doctors():
    specialty = request.args.get("specialty", "")
    return render_template(
        "pages/doctors.html",
        doctors=directory.doctors(specialty=specialty or None),
        specialties=directory.specialties(),
        specialty=specialty,
    )


def _choices(doctor_id):
    """The booking page's doctor (404 unless active), the visit type asked for (?type=, 400 for
    an unknown one) and the types to choose from."""
    doctor = availability.active_doctor(doctor_id) or abort(404)
    types = booking.appointment_types()
    try:
        return doctor, booking.find_type(request.args.get("type") or None, types), types
    except DomainError as error:
        abort(400, i18n.error_text(error))


def _asked_day() -> date | None:
    """?date=, if asked; 400 for anything but a date."""
    try:
        return booking.parse_date(request.args["date"]) if request.args.get("date") else None
    except DomainError as error:
        abort(400, i18n.error_text(error))


def _slot_context(doctor, kind, types, day=None):
    """What the booking page and its slot list show of `day` (default: the doctor's first day with
    a free time)."""
    now, patient_id = clinic.now(), _patient_id()
    day = (day or availability.first_day_with_free_slot(doctor, kind.default_duration, now=now,
                                                        patient_id=patient_id)
           or clinic.local_today(now))
    offer = availability.day_offer(doctor, day, kind.default_duration, now=now, patient_id=patient_id)
    return dict(
        doctor=doctor,
        kind=kind,
        types=types,
        offer=offer,
        free_minutes=offer.free_minutes,
        **_days_around(day, now=now),
        **_ways_on(doctor, day, offer, kind.default_duration, now=now),
    )


def _patient_id():
    """The logged-in patient's id: the free times shown to them (a day's, a month's counts, the
    next ones) leave out those that clash with their own visits, which they could not book; None
    for anyone else."""
    return current_user.id if current_user.is_authenticated and current_user.role == PATIENT else None


def _days_around(day, *, now):
    """The day shown, today (the date field's first day) and the days before and after it that
    can be chosen (none before today, none past the horizon)."""
    today = clinic.local_today(now)
    horizon = today + timedelta(days=clinic.policy().horizon_days)
    return dict(day=day, today=today, previous_day=day - timedelta(days=1) if day > today else None,
                next_day=day + timedelta(days=1) if day < horizon else None)


def _quick_slot_list(doctor_id):
    """The htmx slot list of a day with free times, and its page's address, from what this worker
    keeps in memory (services/calendars.py): one query (for a logged-in patient, with their own
    visits that day), and the list rendered once per calendar version, day, visit type,
    language and free times. None when it must take the full way
    (_slot_context): no date or a bad one, an unknown doctor or visit type, or no free time (which
    leads on to other days and doctors)."""
    try:
        day = booking.parse_date(request.args.get("date") or "")
    except DomainError:
        return None
    calendar = calendars.day(doctor_id, day, patient_id=_patient_id())
    try:
        kind = booking.find_type(request.args.get("type") or None, calendar.known.types)
    except DomainError:
        return None
    if calendar.doctor is None or _month_changed(day, kind.name):
        return None
    now = clinic.now()
    free = calendars.free_minutes(calendar, day, kind.default_duration, now=now)
    if not free:
        return None
    offer = availability.DayOffer(list(free))
    around = _days_around(day, now=now)
    key = (calendar.known.version, "slot list", calendar.doctor.id, day, kind.name, around["today"],
           around["next_day"], str(get_locale()), free)
    return calendars.remember(key, lambda: (
        render_template("pages/_slot_list.html", doctor=calendar.doctor, kind=kind, types=calendar.known.types,
                        offer=offer, free_minutes=offer.free_minutes, next_time=None, other_times=[], **around),
        _page_url(doctor_id, day, kind.name)))


def _ways_on(doctor, day, offer, duration, *, now):
    """No dead ends: on a day with no free time, the doctor's next free time after it and the
    earliest of the other doctors of the same specialty from it; for a past day, or one beyond the
    horizon, both from today."""
    if offer.free_minutes:
        return dict(next_time=None, other_times=[])
    if offer.why_none in ("past", "beyond_horizon"):
        mine_from = others_from = clinic.local_today(now)
    else:
        mine_from, others_from = day + timedelta(days=1), day
    patient_id = _patient_id()
    [mine] = finder.earliest([doctor], duration, now=now, start_day=mine_from, limit=1, patient_id=patient_id) or [None]
    others = [d for d in finder.active_doctors(specialty=doctor.specialty) if d.id != doctor.id]
    return dict(next_time=mine, other_times=finder.earliest(others, duration, now=now, start_day=others_from,
                                                            limit=3, per_doctor=1, patient_id=patient_id))


@bp.route("/doctors/<id:doctor_id>/calendar")
def calendar(doctor_id):
    """A month of the doctor's days (DESIGN.md section 17); the month alone for htmx."""
    doctor, kind, _types = _choices(doctor_id)
    now = clinic.now()
    first = _asked_month(now)
    return render_page_or_partial("pages/calendar.html", "pages/_calendar.html",
                                  **_month_context(doctor, kind, first or clinic.local_today(now).replace(day=1),
                                                   now=now))


def _asked_month(now) -> date | None:
    """The first day of ?month=YYYY-MM, if asked (400 if it is no month), within the months that
    can be booked (finder.within_bookable_months)."""
    try:
        return finder.bookable_month(request.args["month"], now=now) if request.args.get("month") else None
    except DomainError as error:
        abort(400, i18n.error_text(error))


def _month_context(doctor, kind, first, *, now):
    previous, following = finder.months_around(first, now=now)
    return dict(doctor=doctor, kind=kind, first=first,
                days=finder.month(doctor, first.year, first.month, kind.default_duration, now=now,
                                  patient_id=_patient_id()),
                previous_month=previous, next_month=following)


@bp.route("/find")
def find():
    """The earliest free times of every doctor (of a specialty), earliest first: one click to book."""
    now = clinic.now()
    specialty = request.args.get("specialty", "")
    types = booking.appointment_types()
    try:
        kind = booking.find_type(request.args.get("type") or None, types)
    except DomainError as error:
        abort(400, i18n.error_text(error))
    times = finder.earliest(doctors := finder.active_doctors(specialty=specialty or None), kind.default_duration,
                            now=now, limit=3 * len(doctors), per_doctor=3, patient_id=_patient_id())
    by_doctor = {}
    for time in times:  # earliest first, so each doctor comes in the order of their first time
        by_doctor.setdefault(time.doctor, []).append(time)
    return render_page_or_partial("pages/find.html", "pages/_found.html", found=list(by_doctor.items()),
                                  specialties=directory.specialties(), specialty=specialty, types=types, kind=kind)


@bp.route("/doctors/<id:doctor_id>")
def doctor(doctor_id):
    """The booking page: a day's free times beside its month. The month view's arrows ask for
    ?month= without a day: that month, beside its first day with free times (Back, Reload and a
    shared link show what was chosen); for htmx the two parts, the month and (out of band) the
    day's times."""
    now = clinic.now()
    (doctor, kind, types), asked_day, first = _choices(doctor_id), _asked_day(), _asked_month(now)
    if first is None:
        context = _slot_context(doctor, kind, types, asked_day)
        month = _month_context(doctor, kind, context["day"].replace(day=1), now=now)
    else:
        month = _month_context(doctor, kind, first, now=now)
        if asked_day is None or asked_day.replace(day=1) != first:  # (a day of another month is not shown)
            asked_day = finder.first_open_day(month["days"]) or max(first, clinic.local_today(now))
        context = _slot_context(doctor, kind, types, asked_day)
        if is_htmx():
            return (render_template("pages/_calendar.html", on_booking_page=True, day=context["day"], **month)
                    + render_template("pages/_slot_list.html", oob=True, **context))
    return render_template("pages/doctor.html", **context, month=month)


@bp.route("/doctors/<id:doctor_id>/slots")
def slots(doctor_id):
    """The slot list alone for htmx; the whole booking page for everyone else (same URL). When the
    visit type or the month changes, the month view beside it comes along (an out-of-band swap)."""
    if not is_htmx():
        return doctor(doctor_id)
    quick = _quick_slot_list(doctor_id)
    if quick is not None:
        html, page_url = quick
    else:
        context = _slot_context(*_choices(doctor_id), _asked_day())
        day, kind = context["day"], context["kind"]
        html, page_url = render_template("pages/_slot_list.html", **context), _page_url(doctor_id, day, kind.name)
        if _month_changed(day, kind.name):
            html += render_template("pages/_calendar.html", oob=True, on_booking_page=True, day=day,
                                    **_month_context(context["doctor"], kind, day.replace(day=1), now=clinic.now()))
    # Keep the address bar on the bookmarkable page, not on this partial's URL.
    return html, {"HX-Push-Url": page_url}


def _page_url(doctor_id, day, type_name):
    return url_for("pages.doctor", doctor_id=doctor_id, date=day.isoformat(), type=type_name)


def _month_changed(day, type_name):
    """Whether the page asking (htmx sends its address; other clients do not) shows another month
    or visit type than the slot list it asks for: then the month view comes along."""
    shown = current_page_args()
    return shown is not None and _month_shown(shown) != (day.replace(day=1), type_name)


def _month_shown(args):
    """(first of the month, visit type) the booking page with these query arguments shows, if they
    say: the month its arrows moved to (?month=, within the bookable months, as doctor() shows
    it), else its day's."""
    try:
        if "month" in args:
            return finder.bookable_month(args["month"], now=clinic.now()), args.get("type")
        return booking.parse_date(args.get("date", "")).replace(day=1), args.get("type")
    except DomainError:
        return None


def _staff_to_the_desk(doctor_id):
    """Staff who choose a time on the patient pages book it for a patient at the desk (that time
    carried along); a doctor, who does not book, goes back to their day."""
    if current_user.role == PATIENT:
        return None
    if current_user.role in DESK:
        carried = {name: request.values.get(name) for name in ("date", "time", "type") if request.values.get(name)}
        return redirect(url_for("desk.book", doctor_id=doctor_id, **carried), code=303)
    flash(_("Reception books appointments for patients."), "info")
    return redirect(url_for("desk.day"), code=303)


@bp.route("/doctors/<id:doctor_id>/book", methods=["GET", "POST"])
@login_required
def book(doctor_id):
    """Confirm a slot: GET shows it (also on the way back from logging in), POST books it."""
    if (to_the_desk := _staff_to_the_desk(doctor_id)) is not None:
        return to_the_desk
    form = BookingForm(request.form if request.method == "POST" else request.args)
    status, start = 200, None
    if request.method == "POST":  # the service finds the doctor (or says "Doctor not found", a 404 below)
        if form.validate_on_submit():
            try:
                appointment = booking.book(
                    actor=current_user, patient=current_user, doctor_id=doctor_id, date=form.date.data,
                    time=form.time.data, appointment_type=form.type.data or None, notes=form.notes.data,
                    booking_key=form.booking_key.data or None, now=clinic.now(),
                )
            except DomainError as error:
                status = _show_booking_error(form, error)
            else:
                flash(_("Your appointment is booked. We have emailed you the details."), "success")
                return redirect(url_for("pages.booking_detail", appointment_id=appointment.id), code=303)
        else:
            status = 422
    doctor = availability.active_doctor(doctor_id) or abort(404)
    if not form.form_errors:
        start, own, refused = _preview(doctor_id, form)
        if own is not None:
            return render_template("pages/book.html", doctor=doctor, form=form, own=own)
        status = refused or status
    refreshed = _refreshed_slots(doctor, form) if form.form_errors else None
    form.fill_new_key()
    changes_closed = start is not None and lifecycle.online_changes_closed(start, now=clinic.now())
    return render_template("pages/book.html", doctor=doctor, form=form, start=start, refreshed=refreshed,
                           changes_closed=changes_closed), status


def _preview(doctor_id, form):
    """(start, the patient's own booking of this very time, error status): the slot checked for
    the confirmation page."""
    try:
        _slot, start = booking.preview(patient=current_user, doctor_id=doctor_id, date=form.date.data,
                                       time=form.time.data, appointment_type=form.type.data or None, now=clinic.now())
        return start, None, None
    except (SlotTaken, PatientBusy) as error:
        # Back on the page of a time just booked: it is theirs, not "taken by someone else".
        own = booking.own_booking_at(current_user, doctor_id=doctor_id, date=form.date.data, time=form.time.data)
        return None, own, None if own is not None else _show_booking_error(form, error)
    except DomainError as error:
        return None, None, _show_booking_error(form, error)


def _show_booking_error(form, error):
    """Put a booking error above the form (an alert: screen readers announce it); the status."""
    form.form_errors.append(i18n.error_text(error))
    if isinstance(error, SlotTaken):
        form.form_errors.append(_("That time was just taken by someone else. Please choose another time below."))
        return 409
    return 422


def _refreshed_slots(doctor, form):
    """The free times of the same day and visit type the patient can book, after a refusal (a
    slot taken under them, or one that clashed with their own visit)."""
    try:
        kind = booking.find_type(form.type.data or None)
        day = booking.parse_date(form.date.data)
    except DomainError:
        return None
    minutes = availability.day_offer(doctor, day, kind.default_duration, now=clinic.now(),
                                     patient_id=_patient_id()).free_minutes
    return dict(doctor=doctor, kind=kind, day=day, free_minutes=minutes)


@bp.route("/bookings")
@login_required
def bookings():
    """The patient's own bookings; staff, who have none, are sent to their start page (the desk)."""
    if current_user.role != PATIENT:
        return redirect(url_for(home_endpoint(current_user)), code=303)
    now = clinic.now()
    upcoming, past = booking.list_for_patient(current_user, now=now)
    refusals = {a.id: lifecycle.patient_change_refusal(a, now=now) for a in upcoming}
    return render_template("pages/bookings.html", upcoming=upcoming, past=past, refusals=refusals,
                           clashes=availability.clashes_of(upcoming),
                           held=waitlist.open_offers_of(current_user, now=now))


@bp.route("/bookings/<id:appointment_id>")
@login_required
def booking_detail(appointment_id):
    appointment = _own_booking(appointment_id)
    now = clinic.now()
    refused = lifecycle.patient_change_refusal(appointment, now=now)
    upcoming = lifecycle.is_upcoming_for_patient(appointment, now=now)
    return render_template("pages/booking.html", appointment=appointment, can_change=refused is None,
                           too_late=refused == "too_late_to_change", upcoming=upcoming,
                           clash=availability.clash_of(appointment) if upcoming else None,
                           google_calendar=mail.google_calendar_link(appointment))


@bp.route("/bookings/<id:appointment_id>/reschedule")
@login_required
def reschedule_booking(appointment_id):
    """Pick a new time: the same doctor by default, or another of the same specialty; a day; its
    free times (the booking's own time counts as free). The list alone for htmx."""
    appointment, now = _own_booking(appointment_id), clinic.now()
    if (refused := _change_refused(appointment, now)) is not None:
        return refused
    doctors = directory.doctors(specialty=appointment.doctor.specialty)
    doctor = next((d for d in doctors if d.id == _int_arg("doctor_id")), None) or appointment.doctor
    try:
        day = booking.parse_date(request.args["date"]) if request.args.get("date") else clinic.to_local(
            appointment.starts_at).date()
    except DomainError as error:
        abort(400, i18n.error_text(error))
    offer = availability.day_offer(availability.active_doctor(doctor.id) or abort(404), day,
                                   appointment.duration_minutes, now=now, moving=appointment)
    today = clinic.local_today(now)
    next_day = day + timedelta(days=1) if day < today + timedelta(days=clinic.policy().horizon_days) else None
    return render_page_or_partial("pages/reschedule.html", "pages/_move_slots.html", appointment=appointment,
                                  doctors=doctors, doctor=doctor, day=day, offer=offer, free_minutes=offer.free_minutes,
                                  today=today,
                                  previous_day=day - timedelta(days=1) if day > today else None, next_day=next_day)


@bp.route("/bookings/<id:appointment_id>/reschedule/confirm", methods=["GET", "POST"])
@login_required
def confirm_reschedule(appointment_id):
    """GET: "move from … to …?"; POST: move it (every rule checked again)."""
    appointment, now = _own_booking(appointment_id), clinic.now()
    if (refused := _change_refused(appointment, now)) is not None:
        return refused
    chosen = {name: request.values.get(name, "") for name in ("doctor_id", "date", "time")}
    error = None
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400, _("This form has expired. Please reload the page and try again."))
        sequence = appointment.sequence  # raised by a move; the time it already has changes nothing
        try:
            booking.reschedule_by_patient(patient=current_user, appointment_id=appointment.id, now=now, **chosen)
        except DomainError as refusal:
            error = i18n.error_text(refusal)
        else:
            if appointment.sequence == sequence:
                flash(_("That is already the time of your appointment: nothing has changed."), "info")
            else:
                flash(_("Your appointment is moved. We have emailed you the new time."), "success")
            return redirect(url_for("pages.booking_detail", appointment_id=appointment.id), code=303)
    target = _target(appointment, chosen) if error is None else None
    changes_closed = target is not None and lifecycle.online_changes_closed(target[1], now=now)
    return render_template("pages/confirm_reschedule.html", appointment=appointment, chosen=chosen, target=target,
                           changes_closed=changes_closed, error=error, form=EmptyForm()), 409 if error else 200


def _target(appointment, chosen):
    """(doctor, start) of the chosen time, if it is a real doctor of the same specialty and time."""
    doctor = availability.active_doctor(values.whole_number(chosen["doctor_id"]))
    try:
        start = local_instant(booking.parse_date(chosen["date"]), values.parse_time(chosen["time"]), clinic.tz())
    except DomainError:
        start = None
    if doctor is None or start is None or doctor.specialty != appointment.doctor.specialty:
        abort(400, _("Choose a time from the list."))
    return doctor, start


def _change_refused(appointment, now, doing="changed"):
    """The booking page again, with the reason, when the patient may no longer change this booking
    (the whole tab, also from the picker's htmx requests)."""
    try:
        booking.check_patient_may_change(appointment, now=now, doing=doing)
    except DomainError as error:
        flash(i18n.error_text(error), "error")
        return redirect_whole_page(url_for("pages.booking_detail", appointment_id=appointment.id))
    return None


def _int_arg(name):
    return values.positive_number(request.args.get(name, ""), values.MAX_ID)


@bp.route("/bookings/<id:appointment_id>/calendar.ics")
@login_required
def booking_calendar(appointment_id):
    """The booking as a calendar file to import (METHOD PUBLISH: a copy, not an invitation)."""
    appointment = _own_booking(appointment_id)
    return mail.appointment_ics(appointment, "PUBLISH"), {
        "Content-Type": "text/calendar; charset=utf-8",
        "Content-Disposition": f'attachment; filename="appointment-{appointment.id}.ics"'}


@bp.route("/bookings/<id:appointment_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel_booking(appointment_id):
    """GET asks "are you sure?"; POST cancels."""
    appointment = _own_booking(appointment_id)
    form = CancelForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            if "csrf_token" in form.errors:
                abort(400, _("This form has expired. Please reload the page and try again."))
            return render_template("pages/cancel.html", appointment=appointment, form=form), 422
        try:
            booking.cancel_by_patient(patient=current_user, appointment_id=appointment.id, reason=form.reason.data,
                                      note=form.note.data, now=clinic.now())
        except DomainError as error:
            flash(i18n.error_text(error), "error")
        else:
            flash(_("Your appointment is cancelled. We have emailed you a confirmation."), "success")
        return redirect(url_for("pages.booking_detail", appointment_id=appointment.id), code=303)
    if (refused := _change_refused(appointment, clinic.now(), doing="cancelled")) is not None:
        return refused
    return render_template("pages/cancel.html", appointment=appointment, form=form)


def _own_booking(appointment_id):
    try:
        return booking.get_for_patient(appointment_id, current_user)
    except DomainError:
        abort(404)
