"""The waitlist in the booking API (DESIGN.md section 18): join, my entries, leave, accept an offer.
JWT, patients only (the service refuses staff); its errors are the service's messages, as 400s."""
from flask import g, url_for

from clinica_web.blueprints.api import booking_api
from clinica_web.blueprints.api import serializers as out
from clinica_web.blueprints.api.auth import json_body, jwt_required, missing_fields
from clinica_web.models.waitlist import ANY_TIME
from clinica_web.services import clinic, waitlist


@booking_api.post("/waitlist")
@jwt_required
def join_waitlist():
    """{doctor_id | specialty, appointment_type?, from_date, to_date, part_of_day?} -> the new entry."""
    body = json_body()
    if (missing := missing_fields(body, "from_date", "to_date")) is not None:
        return missing
    part_of_day = body.get("part_of_day")
    entry = waitlist.join(
        patient=g.api_user, doctor_id=body.get("doctor_id"), specialty=body.get("specialty"),
        appointment_type=body.get("appointment_type"), from_date=body["from_date"], to_date=body["to_date"],
        part_of_day=ANY_TIME if part_of_day in (None, "") else part_of_day, now=clinic.now(),
    )
    return out.waitlist_entry(entry), 201, {"Location": url_for("api.my_waitlist")}


@booking_api.get("/waitlist/me")
@jwt_required
def my_waitlist():
    """The caller's entries, each with the time held for it now, if any, and the token that books it."""
    now = clinic.now()
    held = {offer.entry_id: offer for offer in waitlist.open_offers_of(g.api_user, now=now)}
    return [out.waitlist_entry(entry, held.get(entry.id)) for entry in waitlist.entries_of(g.api_user, now=now)]


@booking_api.delete("/waitlist/<int:entry_id>")
@jwt_required
def leave_waitlist(entry_id):
    """Another patient's entry, an unknown one or one no longer waiting: 400 `Waitlist entry not found`."""
    return out.waitlist_entry(waitlist.leave(patient=g.api_user, entry_id=entry_id, now=clinic.now()))


@booking_api.post("/waitlist/offers/<token>/accept")
@jwt_required
def accept_waitlist_offer(token):
    """Book the held time of an offer (the token of the email's "Book it" link) -> the booking.
    Used, expired, unknown, forged or another patient's: 400 `Offer expired`."""
    appointment = waitlist.accept(token, now=clinic.now(), patient=g.api_user)
    return out.booking(appointment), 201, {"Location": url_for("api.my_bookings")}
