"""Form helpers shared by the blueprints."""
from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A one-button POST (log out, cancel): just the CSRF token."""


def add_domain_error(form, error):
    """Show a service's DomainError next to its field, or above the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [error.message]
    else:
        form.form_errors.append(error.message)
