"""The site's blueprints: four of pages (pages, auth, desk, admin) and two JSON APIs (api)."""
from flask import Blueprint

from clinica_web.security import reject_unusable_form_input


def page_blueprint(name: str, import_name: str, **options) -> Blueprint:
    """A blueprint of HTML pages: their forms and query strings are checked for what no page can
    take (security.reject_unusable_form_input); the APIs check their JSON in their own way."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.before_request(reject_unusable_form_input)
    return blueprint
