import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

MAX_NOTES = 2000


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
