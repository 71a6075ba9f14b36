"""Domain errors: a stable `code` for programs and a human `message` shown as is.

Each blueprint maps them to its own format (form errors, `{"error": ...}`, `{"errors": ...}`).
"""


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message, *, field=None):
        super().__init__(message)
        self.message = message
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
    """Another booking of the doctor overlaps (also what the database constraint reports)."""

    code = "slot_taken"

    def __init__(self, message="Time slot overlaps with another booking", *, field="time"):
        super().__init__(message, field=field)


class PatientBusy(SlotUnavailable):
    """The patient already has a booking at that time (also what the database constraint reports)."""

    code = "patient_busy"

    def __init__(self, message="You already have a booking at this time", *, field="time"):
        super().__init__(message, field=field)


class FieldErrors(DomainError):
    """Several problems, by field: {"start_date": ["can't be blank"], ...} (the clinic API's 422)."""

    code = "invalid_fields"

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field} {', '.join(messages)}" for field, messages in errors.items()))
        self.errors = errors
