import secrets

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from clinica_web.services.lifecycle import PATIENT_CANCEL_REASONS
from clinica_web.services.waitlist import PARTS_OF_DAY

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    def SelectChoice(value, label):  # noqa: N802
        return value, label

MAX_NOTES = 2000


class CancelForm(FlaskForm):
    """A patient cancels with a reason (lifecycle.PATIENT_CANCEL_REASONS) and an optional note."""

    reason = RadioField("Why are you cancelling?", default="other", validators=[DataRequired("Choose a reason.")],
                        choices=[SelectChoice(code, label) for code, label in PATIENT_CANCEL_REASONS.items()])
    note = TextAreaField("Anything else? (optional)", validators=[Optional(), Length(max=500)],
                         description="Only the clinic sees this; it is never put in emails.")


class BookingForm(FlaskForm):
    """Confirms one slot. The hidden fields are checked again by the booking service."""

    date = HiddenField()
    time = HiddenField()
    type = HiddenField()
    booking_key = HiddenField()
    notes = TextAreaField(
        "Anything the doctor should know? (optional)",
        validators=[Length(max=MAX_NOTES, message=f"A note has at most {MAX_NOTES} characters.")],
        description="Only the clinic sees this; it is never put in emails.",
    )

    def fill_new_key(self):
        """A fresh one-time key, so a resubmitted form finds its booking instead of booking twice."""
        self.booking_key.data = secrets.token_urlsafe(24)


class WaitlistForm(FlaskForm):
    """Join the waitlist: a doctor or any doctor of a specialty ("doctor:<id>", "specialty:<name>",
    choices filled by the view), a visit type, the days and the part of the day. The service checks
    every rule again."""

    target = SelectField("Who", validators=[DataRequired("Choose a doctor or a specialty.")])
    type = SelectField("Visit type", validators=[DataRequired("Choose a visit type.")])
    from_date = DateField("From", validators=[DataRequired("Choose the first day.")])
    to_date = DateField("To", validators=[DataRequired("Choose the last day.")],
                        description="At most 60 days.")
    part_of_day = RadioField("When in the day", default="any",
                             choices=[SelectChoice(code, label) for code, label in PARTS_OF_DAY.items()])
