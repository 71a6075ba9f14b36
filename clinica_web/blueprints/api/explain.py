"""The clinic API's explainer (DESIGN.md section 17): why a time can or cannot be booked."""
from dataclasses import asdict

from flask import g, request

from clinica_web.blueprints.api import clinic_api
from clinica_web.blueprints.api.auth import staff_token_required
from clinica_web.blueprints.api.errors import clinic_error
from clinica_web.models.appointment import MAX_DURATION
from clinica_web.services import appointments, availability, clinic
from clinica_web.services import explain as explainer
from clinica_web.services import values

BLANK, INVALID = appointments.BLANK, appointments.INVALID


@clinic_api.get("/availability/explain")
@staff_token_required
def explain_availability():
    """?provider_id=&scheduled_at=<ISO instant>[&duration_minutes=] -> {"bookable", "reasons"}."""
    errors, args = {}, request.args
    provider_id = values.positive_number(args.get("provider_id", ""), values.MAX_ID)
    if provider_id is None:
        errors["provider_id"] = [BLANK if not args.get("provider_id") else INVALID]
    start = None
    try:
        start = appointments.parse_instant(args.get("scheduled_at"))
    except (ValueError, OverflowError) as error:
        errors["scheduled_at"] = [BLANK if not args.get("scheduled_at") else appointments.instant_error(error)]
    duration = availability.DEFAULT_DURATION
    if args.get("duration_minutes"):
        duration = values.positive_number(args["duration_minutes"], MAX_DURATION)
        if duration is None:
            errors["duration_minutes"] = [f"must be an integer from 1 to {MAX_DURATION}"]
    if errors:
        return clinic_error(422, errors)
    explanation = explainer.explain_instant(actor=g.api_user, doctor_id=provider_id, start=start, duration=duration,
                                            now=clinic.now())
    return {"bookable": explanation.bookable, "reasons": [asdict(reason) for reason in explanation.reasons]}
