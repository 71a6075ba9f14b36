"""Admin forms. They check presence and shape; the services in services/staff.py and
services/schedule.py have the last word (and say why, next to the field)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    def SelectChoice(value, label):  # noqa: N802
        return value, label

from clinica_web.forms import PeriodForm
from clinica_web.services.accounts import MAX_NAME, MAX_PASSWORD, MIN_PASSWORD
from clinica_web.services.staff import MAX_SPECIALTY, MAX_TOKEN_NAME

ROLES = ("reception", "admin")  # the accounts made on the staff page (doctors' with their doctor)
# A stored role as a word of the reader's language, lower case as in a sentence ("reception",
# "recepción"); capitalized where it stands alone.
ROLE_NAMES = {"patient": _l("patient"), "doctor": _l("doctor"), "reception": _l("reception"), "admin": _l("admin")}


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))


def _password_field(label):
    return PasswordField(
        label, validators=[DataRequired(_l("Enter a password.")), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)],
        description=_l("At least %(num)d characters. Give it to them privately; they can change it "
                       "with “Forgot your password?”.", num=MIN_PASSWORD),
    )


class DoctorForm(FlaskForm):
    display_name = StringField(
        _l("Name shown to patients"),
        validators=[DataRequired(_l("Enter the doctor's name.")), Length(max=MAX_NAME)],
        description=_l("For example “Dr. Laura Rossi”."),
    )
    specialty = StringField(_l("Specialty"),
                            validators=[DataRequired(_l("Enter the specialty.")), Length(max=MAX_SPECIALTY)])
    email = EmailField(_l("Login email"), validators=[DataRequired(_l("Enter an email address.")), Length(max=254)])
    password = _password_field(_l("Initial password"))


class AccountForm(FlaskForm):
    full_name = StringField(_l("Full name"),
                            validators=[DataRequired(_l("Enter the full name.")), Length(max=MAX_NAME)])
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Enter an email address.")), Length(max=254)])
    role = SelectField(
        _l("Role"), choices=[SelectChoice(role, role.capitalize()) for role in ROLES],
        description=_l("Doctors' accounts are created with the doctor, on the doctors page."),
    )
    password = _password_field(_l("Initial password"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The roles' names in the reader's language ("Reception", "Recepción"), as plain text.
        self.role.choices = [SelectChoice(role, role_name(role).capitalize()) for role in ROLES]


class TokenForm(FlaskForm):
    email = EmailField(
        _l("Staff account email"),
        validators=[DataRequired(_l("Enter the email of a staff account.")), Length(max=254)],
        description=_l("The token acts as this account (doctor, reception or admin)."),
    )
    name = StringField(
        _l("Token name"), validators=[DataRequired(_l("Name the token.")), Length(max=MAX_TOKEN_NAME)],
        description=_l("What it is for, e.g. “Billing export”, so you know which one to revoke."),
    )


class ClosureForm(PeriodForm):
    reason = StringField(
        _l("Reason"), validators=[Optional(), Length(max=200)], description=_l("For example “Public holiday”."),
    )


class AuditFilterForm(FlaskForm):
    """The query string of the audit page (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    patient = StringField(_l("Patient (name or email)"), validators=[Optional(), Length(max=100)])
    staff = StringField(_l("Staff member (name or email)"), validators=[Optional(), Length(max=100)])
