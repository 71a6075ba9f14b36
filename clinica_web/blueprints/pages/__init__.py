"""The patient pages: doctors, the booking page with its slot list, my bookings."""
from clinica_web.blueprints import page_blueprint

bp = page_blueprint("pages", __name__)

from clinica_web.blueprints.pages import language, reminder_links, views, waitlist_views  # noqa: E402,F401
