"""Form helpers shared by the blueprints."""
from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import DateInput, TimeInput

from clinica_web import i18n
from clinica_web.security import is_local_path

DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIME = r"^[0-9]{2}:[0-9]{2}$"


class EmptyForm(FlaskForm):
    """A one-button POST (log out, cancel): just the CSRF token."""


class PeriodForm(FlaskForm):
    """Time taken off the calendar: a doctor's time off (the desk's hours page) and a clinic
    closure (admin) ask for it the same way, days first, then the times if not whole days. They
    check the shape; schedule.add_blocked_period has the last word (and says why, by the field)."""

    start_date = StringField(
        _l("First day"), widget=DateInput(),
        validators=[DataRequired(_l("Enter the first day.")), Regexp(DATE, message=_l("Use a date as YYYY-MM-DD."))],
    )
    end_date = StringField(
        _l("Last day (optional)"), widget=DateInput(),
        validators=[Optional(), Regexp(DATE, message=_l("Use a date as YYYY-MM-DD."))],
        description=_l("Empty: the first day only."),
    )
    start_time = StringField(
        _l("From (optional)"), widget=TimeInput(), render_kw={"step": 900},
        validators=[Optional(), Regexp(TIME, message=_l("Use a time as HH:MM (24-hour)."))],
        description=_l("On the first day; empty: from the start of the day. Quarter hours only."),
    )
    end_time = StringField(
        _l("Until (optional)"), widget=TimeInput(), render_kw={"step": 900},
        validators=[Optional(), Regexp(TIME, message=_l("Use a time as HH:MM (24-hour)."))],
        description=_l("On the last day; empty: until the end of the day. Quarter hours only."),
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


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
