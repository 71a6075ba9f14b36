"""Form helpers shared by the blueprints."""
from flask import render_template, request
from flask_wtf import FlaskForm

from clinica_web import i18n
from clinica_web.security import is_local_path


class EmptyForm(FlaskForm):
    """A one-button POST (log out, cancel): just the CSRF token."""


def confirmation(question: str, *, verb: str, cancel_to: str, detail: str = ""):
    """The page a destructive button leads to (it works without JavaScript): the question, and a
    POST of the same address to go ahead. `back` (where to land afterwards) is carried along."""
    back = request.args.get("back")
    return render_template("confirm.html", question=question, verb=verb, detail=detail, form=EmptyForm(),
                           back=back if is_local_path(back) else None, cancel_to=cancel_to)


def add_domain_error(form, error):
    """Show a service's DomainError next to its field, or above the form, in the reader's language."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [i18n.error_text(error)]
    else:
        form.form_errors.append(i18n.error_text(error))
