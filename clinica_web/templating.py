"""Template filters and globals: clinic-local times, labels, roles."""
from datetime import timedelta

from flask import current_app, g
from flask_babel import gettext

from clinica_web import htmx, i18n, mail
from clinica_web.services import booking, clinic, lifecycle
from clinica_web.services.slots import format_minute


def local_time(instant):
    return clinic.to_local(instant).strftime("%H:%M")


def long_date(day):
    return i18n.format_day(day, "long_date")


def short_date(day):
    return i18n.format_day(day, "short_date")


def month_name(day):
    """The month of a day with its year, as a heading: "December 2026", "diciembre de 2026"."""
    return i18n.format_day(day, "month")


def local_date(instant):
    """The clinic-local date of an instant, as YYYY-MM-DD (for links)."""
    return clinic.to_local(instant).date().isoformat()


def label(name):
    """A stored name as people read it: "no_show" -> "No show"."""
    return str(name).replace("_", " ").capitalize()


def visit_label(name):
    """A visit type as the clinic names it ("Follow-up"): read once per request."""
    if "visit_labels" not in g:
        g.visit_labels = booking.visit_labels()
    return g.visit_labels.get(name) or label(name)


def patient_status(appointment):
    return lifecycle.patient_status(appointment, now=clinic.now())


def days(count):
    return timedelta(days=count)


CHANGE_WORDS = {"booked": "Booked", "cancelled": "Cancelled", "rescheduled": "Moved", "status": "Status",
                "status_undo": "Undid status", "documented": "Documentation written",
                "documentation_edited": "Documentation changed", "confirmed": "Confirmed by the patient"}


def describe_change(change):
    """One line of an appointment's history, e.g. "Status: scheduled → arrived"."""
    words = CHANGE_WORDS.get(change.kind, change.kind)
    if change.from_value and change.to_value:
        return f"{words}: {change.from_value.replace('_', ' ')} → {change.to_value.replace('_', ' ')}"
    return f"{words}" + (f": {change.to_value.replace('_', ' ')}" if change.to_value else "")


def init_app(app):
    app.add_template_filter(local_time)
    app.add_template_filter(clinic.format_local, "local_datetime")
    app.add_template_filter(lambda period: clinic.format_period(period.starts_at, period.ends_at), "local_period")
    app.add_template_filter(long_date)
    app.add_template_filter(short_date)
    app.add_template_filter(month_name)
    app.add_template_filter(local_date)
    app.add_template_filter(days)
    app.add_template_filter(label)
    app.add_template_filter(describe_change)
    app.add_template_filter(visit_label, "visit")
    app.add_template_filter(patient_status)
    app.add_template_filter(format_minute, "hhmm")
    app.add_template_global(mail.link_to, "link_to")  # emails' links, on SITE_URL
    htmx.init_app(app)

    @app.context_processor
    def clinic_globals():
        return {"clinic_name": current_app.config["CLINIC_NAME"],
                "clinic_time": gettext("%(city)s time", city=clinic.zone_city())}
