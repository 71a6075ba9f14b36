"""The booking rules, once (DESIGN.md sections 5, 6 and 14): each with a stable code, the booking
API's English message (byte for byte, the API's contract) and the field it belongs to.

The slot engine (slots.Day), the booking check (booking.check_bookable) and the explainer
(explain.py) all evaluate these rules; pages may translate a refusal by its code. The table is in
the order section 6 checks the rules: the first that fails answers a booking.
"""
from dataclasses import dataclass

from clinica_web.i18n import N_
from clinica_web.services.errors import DomainError, InvalidInput, NotFound, PatientBusy, SlotTaken, SlotUnavailable


@dataclass(frozen=True)
class Rule:
    code: str
    message: str
    field: str | None
    error: type[DomainError]


RULES = {rule.code: rule for rule in (
    Rule("missing_fields", N_("Missing required fields"), None, InvalidInput),
    Rule("invalid_date", N_("Invalid date format (YYYY-MM-DD)"), "date", InvalidInput),
    Rule("invalid_time", N_("Invalid time format (HH:MM)"), "time", InvalidInput),
    Rule("invalid_duration", N_("Invalid duration"), "duration", InvalidInput),
    Rule("doctor_not_found", N_("Doctor not found"), "doctor_id", NotFound),
    # The time rules: the slot engine offers only times none of these stop.
    Rule("too_soon", N_("Date must be in the future"), "date", SlotUnavailable),
    Rule("beyond_horizon", N_("Date is beyond the booking horizon"), "date", SlotUnavailable),
    Rule("not_working_day", N_("Doctor not available on this day"), "date", SlotUnavailable),
    Rule("outside_hours", N_("Outside doctor availability"), "time", SlotUnavailable),
    Rule("off_grid", N_("Outside doctor availability"), "time", SlotUnavailable),
    Rule("blocked", N_("Time blocked by doctor"), "time", SlotUnavailable),
    Rule("closed", N_("Time blocked by doctor"), "time", SlotUnavailable),
    Rule("booked", N_("Time slot overlaps with another booking"), "time", SlotTaken),
    Rule("patient_busy", N_("You already have a booking at this time"), "time", PatientBusy),
    # Patients' own changes close before the visit (DESIGN.md section 15).
    Rule("too_late_to_change", N_("Too late to change this booking online; please call the clinic"), None,
         InvalidInput),
)}
TIME_RULES = ("too_soon", "beyond_horizon", "not_working_day", "outside_hours", "off_grid", "blocked", "closed",
              "booked", "patient_busy")


def refusal(code: str, *, field=None) -> DomainError:
    """The error a service raises when rule `code` stops a request (its message, field and code)."""
    rule = RULES[code]
    error = rule.error(rule.message, field=field or rule.field)
    error.code = code
    return error
