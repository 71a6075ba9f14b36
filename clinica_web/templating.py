"""Template filters and globals: clinic-local times, labels, roles."""
from datetime import timedelta
from urllib.parse import urlsplit

from babel.dates import get_day_names
from flask import current_app, g, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from jinja2 import Undefined, pass_context

from clinica_web import htmx, i18n, mail
from clinica_web.i18n import N_
from clinica_web.services import booking, clinic, lifecycle
from clinica_web.services.slots import format_minute


def local_time(instant):
    return clinic.to_local(instant).strftime("%H:%M")


def long_date(day):
    return i18n.format_day(day, "long_date")


def capfirst(text):
    """A text as a heading starts it: its first letter a capital ("any doctor of …" alone)."""
    return text[:1].upper() + text[1:]


def short_date(day):
    return i18n.format_day(day, "short_date")


def short_day(day):
    """A day without its year: "Mon 07 Dec", "lun 7 dic"."""
    return i18n.format_day(day, "short_day")


def weekday_name(weekday):
    """A weekday by its number (0 is Monday) in the page's language: "Monday", "lunes"."""
    return get_day_names("wide", locale=i18n.language())[weekday]


def month_name(day):
    """The month of a day with its year, as a heading: "December 2026", "diciembre de 2026"."""
    return i18n.format_day(day, "month")


def local_date(instant):
    """The clinic-local date of an instant, as YYYY-MM-DD (for links)."""
    return clinic.to_local(instant).date().isoformat()


# The statuses as people read them, translated where shown ("no_show" -> "No show").
LABELS = {"scheduled": N_("Scheduled"), "arrived": N_("Arrived"), "completed": N_("Completed"),
          "no_show": N_("No show"), "cancelled": N_("Cancelled"), "held": N_("Held")}


@pass_context
def label(context, name):
    """A stored name as people read it: "no_show" -> "No show" (a status translated by the
    template's own gettext, i18n.template_gettext: a busy day shows 500; any other name as it is
    stored, spaced and capitalised)."""
    words = LABELS.get(name) if isinstance(name, str) else None
    if words is None:
        return str(name).replace("_", " ").capitalize()
    return str(context.call(context.resolve("gettext"), words))


@pass_context
def type_label(context, text):
    """A visit type's label in the page's language: the default types' (services/demo.py) are in
    the catalogue; a type the clinic named itself reads as it was named. Through the render's own
    catalogue (a busy day's timeline labels 500 visits); Flask-Babel's where a template has none."""
    translated = context.resolve("translated")
    if isinstance(translated, Undefined):
        return gettext(text) if text else text
    return translated(text)


@pass_context
def visit_label(context, name):
    """A visit type as the clinic names it ("Follow-up"), in the page's language: read once per request."""
    if "visit_labels" not in g:
        g.visit_labels = booking.visit_labels()
    return type_label(context, g.visit_labels.get(name)) or label(context, name)


# lifecycle.patient_status's words (English) as the patient reads them in the page's language.
PATIENT_STATUS_WORDS = {"Scheduled": _l("Scheduled"), "Completed": _l("Completed"), "Missed": _l("Missed"),
                        "Cancelled": _l("Cancelled"), "Held for you": _l("Held for you"), "Past": _l("Past")}


def patient_status(appointment):
    """A booking's status as its patient reads it ("Scheduled", "Missed", "Past"...), translated."""
    said = lifecycle.patient_status(appointment, now=clinic.now())
    return str(PATIENT_STATUS_WORDS.get(said, said))


def patient_status_key(appointment):
    """The same status for the page's style (class="status-missed"): English in every language."""
    return lifecycle.patient_status(appointment, now=clinic.now()).lower()


def days(count):
    return timedelta(days=count)


CHANGE_WORDS = {"booked": _l("Booked"), "cancelled": _l("Cancelled"), "rescheduled": _l("Moved"),
                "status": _l("Status"), "status_undo": _l("Undid status"), "documented": _l("Documentation written"),
                "documentation_edited": _l("Documentation changed"), "confirmed": _l("Confirmed by the patient"),
                "waitlist_offer": _l("Offered from the waitlist")}


def _change_value(value):
    """A value of a change: a status in words ("no show"), else as it was recorded (a place and time)."""
    words = LABELS.get(value)
    return gettext(words).lower() if words is not None else value.replace("_", " ")


def describe_change(change):
    """One line of an appointment's history, e.g. "Status: scheduled → arrived"."""
    words = CHANGE_WORDS.get(change.kind, change.kind)
    if change.from_value and change.to_value:
        return f"{words}: {_change_value(change.from_value)} → {_change_value(change.to_value)}"
    return f"{words}" + (f": {_change_value(change.to_value)}" if change.to_value else "")


def init_app(app):
    app.add_template_filter(local_time)
    app.add_template_filter(clinic.format_local, "local_datetime")
    app.add_template_filter(lambda period: clinic.format_period(period.starts_at, period.ends_at), "local_period")
    app.add_template_filter(long_date)
    app.add_template_filter(short_date)
    app.add_template_filter(capfirst)
    app.add_template_filter(month_name)
    app.add_template_filter(short_day)
    app.add_template_filter(weekday_name)
    app.add_template_filter(local_date)
    app.add_template_filter(days)
    app.add_template_filter(label)
    app.add_template_filter(describe_change)
    app.add_template_filter(visit_label, "visit")
    app.add_template_filter(type_label)
    app.add_template_filter(patient_status)
    app.add_template_filter(patient_status_key)
    app.add_template_filter(format_minute, "hhmm")
    # {% if visit.status is holding_time %}: the lifecycle says which statuses keep their time
    # (every one but cancelled), not the templates.
    app.add_template_test(lambda status: status in lifecycle.HOLDS_TIME, "holding_time")
    app.add_template_global(mail.link_to, "link_to")  # emails' links, on SITE_URL
    htmx.init_app(app)

    @app.template_global()
    def this_page():
        """Where the footer's language buttons come back to: this page; for a page answering a
        form sent (a POST, whose address may take no GET: a 405), the page the form was on."""
        if request.method == "GET":
            return request.full_path if request.query_string else request.path
        # Its path only, whatever host it names (a proxy may not pass the Host header on);
        # choose_language goes there only if it is a path of this site.
        came_from = urlsplit(request.referrer or "")
        if came_from.path:
            return came_from.path + (f"?{came_from.query}" if came_from.query else "")
        return url_for("pages.home")

    @app.context_processor
    def clinic_globals():
        return {"clinic_name": current_app.config["CLINIC_NAME"],
                "clinic_time": gettext("%(city)s time", city=clinic.zone_city())}
