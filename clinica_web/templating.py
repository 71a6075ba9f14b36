"""Template filters and globals: clinic-local times, roles."""
from flask import current_app

from clinica_web import htmx
from clinica_web.services import clinic
from clinica_web.services.slots import format_minute


def local_time(instant):
    return clinic.to_local(instant).strftime("%H:%M")


def local_datetime(instant):
    """'Mon 23 Nov 2026, 09:30 -03' (pages and emails show the zone abbreviation)."""
    local = clinic.to_local(instant)
    return local.strftime("%a %d %b %Y, %H:%M ") + local.tzname()


def long_date(day):
    return day.strftime("%A %d %B %Y")


def init_app(app):
    app.add_template_filter(local_time)
    app.add_template_filter(local_datetime)
    app.add_template_filter(long_date)
    app.add_template_filter(format_minute, "hhmm")
    htmx.init_app(app)

    @app.context_processor
    def clinic_globals():
        return {"clinic_name": current_app.config["CLINIC_NAME"]}
