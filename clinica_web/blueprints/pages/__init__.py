"""The patient pages: doctors, the booking page with its slot list, my bookings."""
from flask import Blueprint

bp = Blueprint("pages", __name__)

from clinica_web.blueprints.pages import views  # noqa: E402,F401
