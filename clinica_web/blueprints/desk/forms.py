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

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=500)],
                           description="Kept in the appointment's history; never sent to the patient.")


class CancelForm(FlaskForm):
    """Staff cancel with a reason code (lifecycle.STAFF_CANCEL_REASONS) and an optional note."""

    reason = SelectField("Reason", choices=[SelectChoice("", "Choose a reason")] + [
        SelectChoice(code, label) for code, label in STAFF_CANCEL_REASONS.items()],
        validators=[DataRequired("Choose a reason.")])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=500)],
                         description="Kept in the appointment's history; never sent to the patient.")


class RescheduleForm(ReasonForm):
    doctor_id = HiddenField()
    date = HiddenField()


class DeskBookingForm(FlaskForm):
    patient_id = HiddenField()
    doctor_id = HiddenField()
    date = HiddenField()
    type = HiddenField()
    booking_key = HiddenField()
    notes = TextAreaField("Note for the doctor (optional)",
                          validators=[Length(max=2000, message="A note has at most 2000 characters.")])

    def fill_new_key(self):
        self.booking_key.data = secrets.token_urlsafe(24)


class PatientForm(FlaskForm):
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)],
                       description="Confirmations and calendar files are emailed here.")
    phone = TelField("Phone (optional)", validators=[Optional(), Length(max=40)])


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
