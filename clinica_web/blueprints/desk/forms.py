import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3
    def SelectChoice(value, label):  # noqa: N802
        return value, label

from clinica_web.blueprints.pages.forms import CANCEL_REASON_WORDS
from clinica_web.forms import PeriodForm
from clinica_web.i18n import LANGUAGES
from clinica_web.services.lifecycle import STAFF_CANCEL_REASONS

MAX_REASON = 500

WEEKDAYS = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"), _l("Sunday")]

# lifecycle.STAFF_CANCEL_REASONS's English labels in the page's language (the patients' ones, and the staff's own).
STAFF_CANCEL_REASON_WORDS = {**CANCEL_REASON_WORDS, "Doctor unavailable": _l("Doctor unavailable"),
                             "Patient called": _l("Patient called"), "Clinic closed": _l("Clinic closed")}
HISTORY_ONLY = _l("Kept in the appointment's history; never sent to the patient.")


def staff_cancel_reasons() -> dict:
    """{reason code: its label in the page's language}, e.g. {"patient_called": "Patient called"}."""
    return {code: str(STAFF_CANCEL_REASON_WORDS.get(label, label)) for code, label in STAFF_CANCEL_REASONS.items()}


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Give a reason.")), Length(
        max=MAX_REASON, message=_l("A reason has at most %(limit)s characters.", limit=MAX_REASON))],
                           description=HISTORY_ONLY)


class CancelForm(FlaskForm):
    """Staff cancel with a reason code (lifecycle.STAFF_CANCEL_REASONS) and an optional note."""

    reason = SelectField(_l("Reason"), choices=[SelectChoice("", _l("Choose a reason"))] + [
        SelectChoice(code, STAFF_CANCEL_REASON_WORDS.get(label, label))
        for code, label in STAFF_CANCEL_REASONS.items()],
        validators=[DataRequired(_l("Choose a reason."))])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=500)],
                         description=HISTORY_ONLY)


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
    notes = TextAreaField(_l("Note for the doctor (optional)"),
                          validators=[Length(max=2000, message=_l("A note has at most %(limit)s characters.",
                                                                  limit=2000))])

    def fill_new_key(self):
        self.booking_key.data = secrets.token_urlsafe(24)


class ContactForm(FlaskForm):
    """A patient's contact details as the desk types them; the rules are the service's
    (services/patients.py: the site's email and phone rules, a phone if there is no email)."""
    full_name = StringField(_l("Full name"), validators=[
        DataRequired(_l("Enter the patient's full name.")),
        Length(max=120, message=_l("A name has at most %(limit)s characters.", limit=120))])
    email = EmailField(_l("Email (optional)"), validators=[
        Optional(), Length(max=254, message=_l("Too long for an email."))],
        description=_l("Confirmations and calendar files are emailed here. Without one, the patient cannot log in "
                       "and gets no email."))
    phone = TelField(_l("Phone"), description=_l("Required when there is no email address."),
                     validators=[Optional(), Length(max=40, message=_l("A phone number has at most %(limit)s "
                                                                       "characters.", limit=40))])


class EditContactForm(ContactForm):
    """The contact details and the language the clinic writes to the patient in."""
    language = SelectField(_l("Language of the patient's pages and emails"), validators=[Optional()],
                           choices=[SelectChoice("", _l("The clinic's default"))]
                           + [SelectChoice(code, name) for code, name in LANGUAGES.items()])


class PatientForm(ContactForm):
    """Registering a patient at the desk: with an email, they are sent a link to choose a password."""


class DocumentationForm(FlaskForm):
    text = TextAreaField(_l("Visit documentation"), validators=[DataRequired(_l("Write the documentation first.")),
                                                                Length(max=20000)],
                         render_kw={"rows": 14})


class WindowForm(FlaskForm):
    weekday = SelectField(_l("Day"), choices=[SelectChoice(number, name) for number, name in enumerate(WEEKDAYS)],
                          coerce=int)
    start = StringField(_l("From (HH:MM)"), validators=[DataRequired()], render_kw={"inputmode": "numeric"})
    end = StringField(_l("Until (HH:MM)"), validators=[DataRequired()], render_kw={"inputmode": "numeric"})


class BlockForm(PeriodForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)],
                         description=_l("For example “Training”."))
