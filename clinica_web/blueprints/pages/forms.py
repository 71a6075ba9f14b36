import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from clinica_web.services.lifecycle import PATIENT_CANCEL_REASONS
from clinica_web.services.waitlist import PARTS_OF_DAY

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    def SelectChoice(value, label):  # noqa: N802
        return value, label

MAX_NOTES = 2000
NOTE_HINT = _l("Only the clinic sees this; it is never put in emails.")

# The services' English labels (lifecycle.PATIENT_CANCEL_REASONS, waitlist.PARTS_OF_DAY) in the
# page's language; a label missing here is shown as the service writes it.
CANCEL_REASON_WORDS = {"Feeling better": _l("Feeling better"), "Cannot attend": _l("Cannot attend"),
                       "Booked by mistake": _l("Booked by mistake"), "Found another time": _l("Found another time"),
                       "Other": _l("Other")}
PART_OF_DAY_WORDS = {"Morning (before 13:00)": _l("Morning (before 13:00)"),
                     "Afternoon (from 13:00)": _l("Afternoon (from 13:00)"), "Any time": _l("Any time")}


def parts_of_day() -> dict:
    """{part of the day: its name in the page's language}, e.g. {"morning": "Morning (before 13:00)"}."""
    return {code: str(PART_OF_DAY_WORDS.get(label, label)) for code, label in PARTS_OF_DAY.items()}


class CancelForm(FlaskForm):
    """A patient cancels with a reason (lifecycle.PATIENT_CANCEL_REASONS) and an optional note."""

    reason = RadioField(_l("Why are you cancelling?"), default="other",
                        validators=[DataRequired(_l("Choose a reason."))],
                        choices=[SelectChoice(code, CANCEL_REASON_WORDS.get(label, label))
                                 for code, label in PATIENT_CANCEL_REASONS.items()])
    note = TextAreaField(_l("Anything else? (optional)"), validators=[Optional(), Length(max=500)],
                         description=NOTE_HINT)


class BookingForm(FlaskForm):
    """Confirms one slot. The hidden fields are checked again by the booking service."""

    date = HiddenField()
    time = HiddenField()
    type = HiddenField()
    booking_key = HiddenField()
    notes = TextAreaField(
        _l("Anything the doctor should know? (optional)"),
        validators=[Length(max=MAX_NOTES, message=_l("A note has at most %(limit)s characters.", limit=MAX_NOTES))],
        description=NOTE_HINT,
    )

    def fill_new_key(self):
        """A fresh one-time key, so a resubmitted form finds its booking instead of booking twice."""
        self.booking_key.data = secrets.token_urlsafe(24)


class WaitlistForm(FlaskForm):
    """Join the waitlist: a doctor or any doctor of a specialty ("doctor:<id>", "specialty:<name>",
    choices filled by the view), a visit type, the days and the part of the day. The service checks
    every rule again."""

    target = SelectField(_l("Who"), validators=[DataRequired(_l("Choose a doctor or a specialty."))])
    type = SelectField(_l("Visit type"), validators=[DataRequired(_l("Choose a visit type."))])
    from_date = DateField(_l("From"), validators=[DataRequired(_l("Choose the first day."))])
    to_date = DateField(_l("To"), validators=[DataRequired(_l("Choose the last day."))],
                        description=_l("At most 60 days."))
    part_of_day = RadioField(_l("When in the day"), default="any",
                             choices=[SelectChoice(code, PART_OF_DAY_WORDS.get(label, label))
                                      for code, label in PARTS_OF_DAY.items()])


class DetailsForm(FlaskForm):
    """A patient's own name and phone (the email address is the desk's to change: it is their login,
    and the links sent to it are bound to it)."""
    full_name = StringField(_l("Full name"), validators=[
        DataRequired(_l("Enter your full name.")),
        Length(max=120, message=_l("A name has at most %(limit)s characters.", limit=120))],
        render_kw={"autocomplete": "name"})
    phone = TelField(_l("Phone (optional)"), validators=[
        Optional(), Length(max=40, message=_l("A phone number has at most %(limit)s characters.", limit=40))],
        description=_l("The clinic calls this number if a visit has to move."), render_kw={"autocomplete": "tel"})
