"""The desk's slot picker (DESIGN.md section 20): booking for a patient and moving an appointment
use the patients' picker (day buttons, the doctor's month, free times loaded with htmx) with the
desk's links, which lead to a confirmation step.

One URL, three renderings: the page; for htmx, the day's free times alone (with the month, out of
band, when the page shows another one); and asked for a month (?month=YYYY-MM), that month alone.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from flask import abort, render_template, request, url_for

from clinica_web import i18n
from clinica_web.htmx import current_page_args, is_htmx
from clinica_web.models import Appointment, AppointmentType, Doctor
from clinica_web.services import availability, booking, clinic, finder, values
from clinica_web.services.errors import DomainError
from clinica_web.services.rules import refusal
from clinica_web.services.slots import format_minute

FORM_ID = "desk-picker"  # the page's GET form: the picker's controls and buttons belong to it


@dataclass(frozen=True)
class Picker:
    """What one desk picker shows (doctor, visit type, day) and where its links go: `endpoint`
    with `path` (its URL's arguments) and `carried`, the choices made before the picker (the
    patient and visit type; or the reason typed for a move), which every link carries along."""

    endpoint: str
    path: dict
    carried: dict
    doctor: Doctor
    kind: AppointmentType
    day: date
    duration: int
    moving: Appointment | None = None  # an appointment being moved: its own time counts as free
    # Carried fields typed on the page: htmx sends what is typed now (hx-include), not the link's copy.
    typed: tuple[str, ...] = ()

    def url(self, **changes) -> str:
        """This picker's page with some choices changed (a None leaves one out)."""
        return url_for(self.endpoint, **self.path, **{**self.carried, "doctor_id": self.doctor.id,
                                                      "date": self.day.isoformat(), **changes})

    def hx_url(self, **changes) -> str:
        """url() for htmx, which adds the typed fields itself (`include`): a copy in the address
        would come first and win."""
        return self.url(**{name: None for name in self.typed}, **changes)

    @property
    def patient_id(self):
        """The patient the picker chooses for (the visit's, or the one being booked for): the free
        times it shows are clear of their other visits."""
        return self.moving.patient_id if self.moving is not None else self.carried.get("patient_id")

    @property
    def include(self) -> str | None:
        return ", ".join(f"#{name}" for name in self.typed) or None

    @property
    def action(self) -> str:
        """The form's address (a GET form replaces the query with its fields)."""
        return url_for(self.endpoint, **self.path)

    # The month view's links (pages/_calendar.html's month_links) and the "no free time" ones.
    def month_url(self, first: date) -> str:
        return self.url(month=first.strftime("%Y-%m"))

    def day_url(self, day: date) -> str:
        return self.url(date=day.isoformat())

    def day_hx_url(self, day: date) -> str:
        return self.hx_url(date=day.isoformat())

    def time_url(self, day: date, minute: int) -> str:
        """The confirmation step of a time."""
        return self.url(date=day.isoformat(), time=format_minute(minute))


def chosen_doctor(doctor_id_text, default_id) -> Doctor:
    """The active doctor asked for (?doctor_id=), else `default_id`'s; 400 for any other id."""
    if doctor_id_text in (None, ""):
        doctor = availability.active_doctor(default_id)
    else:
        doctor = availability.active_doctor(values.positive_number(doctor_id_text, values.MAX_ID))
    if doctor is None:
        abort(400, i18n.error_text(refusal("doctor_not_found")))
    return doctor


def chosen_day(default: date) -> date:
    try:
        return booking.parse_date(request.args["date"]) if request.args.get("date") else default
    except DomainError as error:
        abort(400, i18n.error_text(error))


def chosen_minute() -> int:
    """?time=HH:MM (a time chosen on the picker); 400 for anything else."""
    try:
        return values.parse_time(request.args.get("time"))
    except DomainError as error:
        abort(400, i18n.error_text(error))


def render(picker: Picker, page: str, *, now, notice=None, status=200, **context):
    """The picker's page, or its htmx parts (see the module's docstring); `notice` says why a
    chosen time was not taken, above the free times."""
    asked_month = request.args.get("month")
    try:
        first = finder.bookable_month(asked_month, now=now) if asked_month else picker.day.replace(day=1)
    except DomainError as error:
        abort(400, i18n.error_text(error))
    if is_htmx() and asked_month:
        return render_template("desk/_desk_month.html", picker=picker, **_month(picker, first, now=now))
    context = dict(context, picker=picker, doctor=picker.doctor, kind=picker.kind, day=picker.day, notice=notice,
                   form_id=FORM_ID, **_day(picker, now=now))
    if not is_htmx():
        return render_template(page, month=_month(picker, first, now=now), **context), status
    html = render_template("desk/_desk_picker.html", **context)
    if _month_shown(current_page_args() or {}) != (picker.doctor.id, picker.carried.get("type"), first):
        html += render_template("desk/_desk_month.html", picker=picker, oob=True, **_month(picker, first, now=now))
    # The address bar shows the bookmarkable page (with the typed reason htmx sent).
    return html, status, {"HX-Push-Url": picker.url()}


def _day(picker: Picker, *, now) -> dict:
    """The day's free times; on a day without any, why, and the doctor's next free time."""
    offer = availability.day_offer(picker.doctor, picker.day, picker.duration, now=now, moving=picker.moving,
                                   patient_id=picker.patient_id)
    today = clinic.local_today(now)
    horizon = today + timedelta(days=clinic.policy().horizon_days)
    next_time = None
    if not offer.free_minutes and offer.why_none not in ("past", "beyond_horizon"):
        [next_time] = finder.earliest([picker.doctor], picker.duration, now=now, moving=picker.moving,
                                      patient_id=picker.patient_id,
                                      start_day=picker.day + timedelta(days=1), limit=1) or [None]
    return dict(offer=offer, free_minutes=offer.free_minutes, next_time=next_time, today=today,
                previous_day=picker.day - timedelta(days=1) if picker.day > today else None,
                next_day=picker.day + timedelta(days=1) if picker.day < horizon else None)


def _month(picker: Picker, first: date, *, now) -> dict:
    """The doctor's month (finder.month) and the months before and after it, within the horizon."""
    previous, following = finder.months_around(first, now=now)
    return dict(doctor=picker.doctor, kind=picker.kind, first=first,
                days=finder.month(picker.doctor, first.year, first.month, picker.duration, now=now,
                                  moving=picker.moving, patient_id=picker.patient_id),
                previous_month=previous, next_month=following)


def _month_shown(args):
    """(doctor id, visit type, first of the month) the picker page with these query arguments
    shows, as far as they say (its month as render() shows it): when the free times of another
    doctor, type or month come, the month comes too."""
    try:
        first = (finder.bookable_month(args["month"], now=clinic.now()) if args.get("month")
                 else booking.parse_date(args.get("date", "")).replace(day=1))
    except DomainError:
        return None
    return values.positive_number(args.get("doctor_id", ""), values.MAX_ID), args.get("type"), first
