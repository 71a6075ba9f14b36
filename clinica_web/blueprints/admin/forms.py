"""Admin forms. They check presence and shape; the services in services/staff.py and
services/schedule.py have the last word (and say why, next to the field)."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import DateInput, TimeInput

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    def SelectChoice(value, label):  # noqa: N802
        return value, label

from clinica_web.services.accounts import MAX_NAME, MAX_PASSWORD, MIN_PASSWORD
from clinica_web.services.staff import MAX_SPECIALTY, MAX_TOKEN_NAME

DATE = r"^\d{4}-\d{2}-\d{2}$"
TIME = r"^\d{2}:\d{2}$"


def _password_field(label):
    return PasswordField(
        label, validators=[DataRequired("Enter a password."), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)],
        description=f"At least {MIN_PASSWORD} characters. Give it to them privately; they can change it "
                    "with “Forgot your password?”.",
    )


class DoctorForm(FlaskForm):
    display_name = StringField(
        "Name shown to patients", validators=[DataRequired("Enter the doctor's name."), Length(max=MAX_NAME)],
        description="For example “Dr. Laura Rossi”.",
    )
    specialty = StringField("Specialty", validators=[DataRequired("Enter the specialty."), Length(max=MAX_SPECIALTY)])
    email = EmailField("Login email", validators=[DataRequired("Enter an email address."), Length(max=254)])
    password = _password_field("Initial password")


class AccountForm(FlaskForm):
    full_name = StringField("Full name", validators=[DataRequired("Enter the full name."), Length(max=MAX_NAME)])
    email = EmailField("Email", validators=[DataRequired("Enter an email address."), Length(max=254)])
    role = SelectField(
        "Role", choices=[SelectChoice("reception", "Reception"), SelectChoice("admin", "Admin")],
        description="Doctors' accounts are created with the doctor, on the doctors page.",
    )
    password = _password_field("Initial password")


class TokenForm(FlaskForm):
    email = EmailField(
        "Staff account email", validators=[DataRequired("Enter the email of a staff account."), Length(max=254)],
        description="The token acts as this account (doctor, reception or admin).",
    )
    name = StringField(
        "Token name", validators=[DataRequired("Name the token."), Length(max=MAX_TOKEN_NAME)],
        description="What it is for, e.g. “Billing export”, so you know which one to revoke.",
    )


class ClosureForm(FlaskForm):
    start_date = StringField(
        "First day", widget=DateInput(),
        validators=[DataRequired("Enter the first day."), Regexp(DATE, message="Use a date as YYYY-MM-DD.")],
    )
    end_date = StringField(
        "Last day (optional)", widget=DateInput(),
        validators=[Optional(), Regexp(DATE, message="Use a date as YYYY-MM-DD.")],
        description="Leave it empty to close a single day.",
    )
    start_time = StringField(
        "Closed from (optional)", widget=TimeInput(),
        validators=[Optional(), Regexp(TIME, message="Use a time as HH:MM (24-hour).")],
        description="On the first day; empty means from opening. Quarter hours only.",
    )
    end_time = StringField(
        "Closed until (optional)", widget=TimeInput(),
        validators=[Optional(), Regexp(TIME, message="Use a time as HH:MM (24-hour).")],
        description="On the last day; empty means until the end of the day. Quarter hours only.",
    )
    reason = StringField(
        "Reason", validators=[Optional(), Length(max=200)], description="For example “Public holiday”.",
    )


class AuditFilterForm(FlaskForm):
    """The query string of the audit page (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    patient = StringField("Patient (name or email)", validators=[Optional(), Length(max=100)])
    staff = StringField("Staff member (name or email)", validators=[Optional(), Length(max=100)])
