"""The clinic appointments API (seed 000): staff only, `X-User-Token` authentication."""
from flask import g, request, url_for

from clinica_web.blueprints.api import clinic_api
from clinica_web.blueprints.api import serializers as out
from clinica_web.blueprints.api.auth import json_body, staff_token_required
from clinica_web.blueprints.api.errors import clinic_error
from clinica_web.services import appointments, clinic, documentation, staff_actions, values
from clinica_web.services.errors import DomainError, FieldErrors, NotFound

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


def _positive_int(name, default, maximum):
    """A query parameter as an int in 1..maximum, or a field error."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    number = values.positive_number(raw, maximum)
    if number is None:
        raise FieldErrors({name: [f"must be an integer from 1 to {maximum}"]})
    return number


@clinic_api.get("/appointments/pending_documentation")
@staff_token_required
def pending_documentation():
    try:
        page = _positive_int("page", 1, 10**6)
        page_size = _positive_int("page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    except FieldErrors as exc:
        return clinic_error(422, exc.errors)
    rows, total = documentation.pending(g.api_user, now=clinic.now(), page=page, page_size=page_size)
    headers = {"X-Total-Count": str(total), **_link_header(page, page_size, total)}
    return [out.appointment(a) for a in rows], 200, headers


def _link_header(page, page_size, total):
    """RFC 8288 links to the first, previous, next and last pages."""
    last = max(1, -(-total // page_size))
    pages = {"first": 1, "last": last}
    if page > 1:
        pages["prev"] = min(page - 1, last)
    if page < last:
        pages["next"] = page + 1
    links = [f'<{url_for(".pending_documentation", page=number, page_size=page_size, _external=True)}>; rel="{rel}"'
             for rel, number in pages.items()]
    return {"Link": ", ".join(links)}


@clinic_api.get("/appointments/in_date_range")
@staff_token_required
def in_date_range():
    args = request.args
    try:
        rows = appointments.in_date_range(
            g.api_user, start_date=args.get("start_date"), end_date=args.get("end_date"),
            provider_id=args.get("provider_id"), patient_id=args.get("patient_id"),
        )
    except FieldErrors as exc:
        return clinic_error(422, exc.errors)
    return [out.appointment(a) for a in rows]


@clinic_api.put("/appointments/reschedule_appointments/<int:appointment_id>")
@staff_token_required
def reschedule_appointment(appointment_id):
    try:
        appointment = appointments.get_for_staff(g.api_user, appointment_id)
    except NotFound:
        return clinic_error(404, "Appointment not found")
    body = json_body()
    fields = body.get("appointment")
    if not isinstance(fields, dict) or (fields.get("scheduled_at") in (None, "") and fields.get("provider_id") is None):
        return clinic_error(422, {"scheduled_at": ["can't be blank"]})
    try:
        starts_at, provider_id, reason = appointments.parse_move(fields)
    except FieldErrors as exc:
        return clinic_error(422, exc.errors)
    try:
        moved = staff_actions.reschedule(actor=g.api_user, appointment=appointment, starts_at=starts_at,
                                         doctor_id=provider_id, reason=reason, now=clinic.now())
    except DomainError as exc:
        return clinic_error(422, {exc.field or "scheduled_at": [exc.message]})
    return out.appointment(moved)
