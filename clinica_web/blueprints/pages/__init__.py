"""The patient pages: doctors, the booking page with its slot list, my bookings."""
from clinica_web.blueprints import page_blueprint

bp = page_blueprint("pages", __name__)

from clinica_web.blueprints.pages import (  # noqa: E402,F401
    account,
    language,
    reminder_links,
    views,
    waitlist_views,
)
