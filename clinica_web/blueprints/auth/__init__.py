"""Accounts: register, log in and out, password reset."""
from clinica_web.blueprints import page_blueprint

bp = page_blueprint("auth", __name__)

from clinica_web.blueprints.auth import views  # noqa: E402,F401
