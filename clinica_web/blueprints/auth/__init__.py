"""Accounts: register, log in and out, password reset."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from clinica_web.blueprints.auth import views  # noqa: E402,F401
