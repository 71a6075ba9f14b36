import secrets

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    def SelectChoice(value, label):  # noqa: N802
        return value, label

from clinica_web.services.lifecycle import STAFF_CANCEL_REASONS

MAX_REASON = 500

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(
        max=MAX_REASON, message=f"A reason has at most {MAX_REASON} characters.")],
                           description="Kept in the appointment's history; never sent to the patient.")


class CancelForm(FlaskForm):
    """Staff cancel with a reason code (lifecycle.STAFF_CANCEL_REASONS) and an optional note."""

    reason = SelectField("Reason", choices=[SelectChoice("", "Choose a reason")] + [
        SelectChoice(code, label) for code, label in STAFF_CANCEL_REASONS.items()],
        validators=[DataRequired("Choose a reason.")])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=500)],
                         description="Kept in the appointment's history; never sent to the patient.")


class RescheduleForm(ReasonForm):
    """The move's confirmation step posts the time chosen on the desk's picker, and the reason."""

    doctor_id = HiddenField()
    date = HiddenField()
    time = HiddenField()


class DeskBookingForm(FlaskForm):
    patient_id = HiddenField()
    doctor_id = HiddenField()
    date = HiddenField()
    time = HiddenField()
    type = HiddenField()
    booking_key = HiddenField()
    notes = TextAreaField("Note for the doctor (optional)",
                          validators=[Length(max=2000, message="A note has at most 2000 characters.")])

    def fill_new_key(self):
        self.booking_key.data = secrets.token_urlsafe(24)


class ContactForm(FlaskForm):
    """A patient's contact details as the desk types them; the rules are the service's
    (services/patients.py: the site's email and phone rules, a phone if there is no email)."""
    full_name = StringField("Full name", validators=[DataRequired("Enter the patient's full name."),
                                                     Length(max=120, message="A name has at most 120 characters.")])
    email = EmailField("Email (optional)", validators=[Optional(), Length(max=254, message="Too long for an email.")],
                       description="Confirmations and calendar files are emailed here. Without one, the patient "
                                   "cannot log in and gets no email.")
    phone = TelField("Phone", description="Required when there is no email address.",
                     validators=[Optional(), Length(max=40, message="A phone number has at most 40 characters.")])


class PatientForm(ContactForm):
    """Registering a patient at the desk: with an email, they are sent a link to choose a password."""


class DocumentationForm(FlaskForm):
    text = TextAreaField("Visit documentation", validators=[DataRequired("Write the documentation first."),
                                                            Length(max=20000)],
                         render_kw={"rows": 14})


class WindowForm(FlaskForm):
    weekday = SelectField("Day", choices=[SelectChoice(number, name) for number, name in enumerate(WEEKDAYS)],
                          coerce=int)
    start = StringField("From (HH:MM)", validators=[DataRequired()], render_kw={"inputmode": "numeric"})
    end = StringField("Until (HH:MM)", validators=[DataRequired()], render_kw={"inputmode": "numeric"})


class BlockForm(FlaskForm):
    start_date = StringField("First day", validators=[DataRequired()], render_kw={"type": "date"})
    start_time = StringField("From (HH:MM, empty for the whole day)", validators=[Optional()])
    end_date = StringField("Last day (empty: the same day)", validators=[Optional()], render_kw={"type": "date"})
    end_time = StringField("Until (HH:MM, empty for the whole day)", validators=[Optional()])
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])
