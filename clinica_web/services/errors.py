"""Domain errors: a stable `code` for programs and a human `message` in English.

Each blueprint maps them to its own format (form errors, `{"error": ...}`, `{"errors": ...}`).
The JSON APIs answer with `message`, English whatever the request's language (a contract); pages
show `i18n.error_text(error)`, the same message in the reader's language. So a message with values
in it is a template with named placeholders, and the values apart:
`InvalidInput("A note has at most %(limit)s characters", limit=2000)`: `message` is the English
text filled in, `template` and `values` the parts. `pybabel extract` finds the messages written in
these calls (-k InvalidInput ...; the Makefile's `translations`), and N_ marks the others.
"""
from clinica_web.i18n import N_


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message, *, field=None, **values):
        self.template = message
        self.values = values
        self.message = message % values if values else message
        super().__init__(self.message)
        self.field = field  # the form or API field the error belongs to, where there is one


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class NotAllowed(DomainError):
    code = "not_allowed"


class SlotUnavailable(DomainError):
    """The time is not bookable: outside hours, blocked, or taken."""

    code = "slot_unavailable"


class SlotTaken(SlotUnavailable):
    """Another booking of the doctor overlaps (also what the database constraint reports): the
    rule "booked" of rules.py, whichever of the two finds it."""

    code = "booked"

    def __init__(self, message=N_("Time slot overlaps with another booking"), *, field="time", **values):
        super().__init__(message, field=field, **values)


class PatientBusy(SlotUnavailable):
    """The patient already has a booking at that time (also what the database constraint reports)."""

    code = "patient_busy"

    def __init__(self, message=N_("You already have a booking at this time"), *, field="time", **values):
        super().__init__(message, field=field, **values)


class FieldErrors(DomainError):
    """Several problems, by field: {"start_date": ["can't be blank"], ...} (the clinic API's 422)."""

    code = "invalid_fields"

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field} {', '.join(messages)}" for field, messages in errors.items()))
        self.errors = errors
