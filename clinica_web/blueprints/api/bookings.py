"""The booking API (seed 002): accounts, doctors, free slots, my bookings. JWT authentication."""
from flask import g, request, url_for

from clinica_web.blueprints.api import booking_api
from clinica_web.blueprints.api import serializers as out
from clinica_web.blueprints.api.auth import json_body, jwt_required, missing_fields
from clinica_web.blueprints.api.errors import error
from clinica_web.extensions import limiter
from clinica_web.security import login_email_key
from clinica_web.services import accounts, booking, clinic, directory, reminders, tokens
from clinica_web.services.errors import DomainError
from clinica_web.services.slots import format_minute


@booking_api.post("/auth/register")
@limiter.limit("10 per minute")
def register():
    body = json_body()
    if (missing := missing_fields(body, "email", "password", "full_name")) is not None:
        return missing
    user = accounts.create_user(email=body["email"], password=body["password"], full_name=body["full_name"],
                                now=clinic.now())
    return out.user(user), 201


@booking_api.post("/auth/login")
@limiter.limit("10 per minute")  # per address
@limiter.limit("20 per hour", key_func=login_email_key)  # per account, from anywhere
def login():
    body = json_body()
    now = clinic.now()
    try:
        user = accounts.authenticate(email=body.get("email"), password=body.get("password"), now=now)
    except DomainError:
        return error(400, "Invalid credentials")
    return {"token": tokens.create_jwt(user, now=now), "user": {**out.user(user), "role": user.role}}


@booking_api.get("/doctors")
def doctors():
    return [out.doctor(d) for d in directory.doctors()]


@booking_api.get("/bookings/available-slots")
@jwt_required(load_user=False)
def available_slots():
    """?doctor_id=&date=[&duration=][&booking_id=] -> the free times the caller could book (or move
    their booking `booking_id` to, at its length)."""
    minutes = booking.free_times(doctor_id=request.args.get("doctor_id"), date=request.args.get("date"),
                                 duration=request.args.get("duration"), now=clinic.now(), patient_id=g.api_user_id,
                                 moving=booking.booking_to_move(request.args.get("booking_id"), g.api_user_id))
    return [format_minute(minute) for minute in minutes]


@booking_api.post("/bookings")
@jwt_required
def create_booking():
    body = json_body()
    notes = "" if body.get("notes") is None else body["notes"]
    if not isinstance(notes, str):
        return error(400, "Invalid notes")
    try:
        appointment = booking.book(
            actor=g.api_user, patient=g.api_user, doctor_id=body.get("doctor_id"), date=body.get("date"),
            time=body.get("time"), duration=body.get("duration"), appointment_type=body.get("appointment_type"),
            notes=notes, booking_key=booking.api_booking_key(g.api_user, request.headers.get("Idempotency-Key")),
            now=clinic.now(),
        )
    except booking.BookingKeyUsed:
        return error(422, "This Idempotency-Key was already used for another booking: send a new key")
    # (A retry with the key of a booking that went through answers as the first time did.)
    return out.booking(appointment), 201, {"Location": url_for("api.my_bookings")}


@booking_api.get("/bookings/me")
@jwt_required
def my_bookings():
    """All of the caller's bookings; each upcoming one inside a closure or time off added since says
    so (`clash`, one query for all: the patient's bookings page shows the same)."""
    bookings = booking.bookings_of(g.api_user)
    clashes = booking.clashes_to_come(bookings, now=clinic.now())
    return [out.booking(a, clash=clashes.get(a.id)) for a in bookings]


@booking_api.put("/bookings/<int:booking_id>")
@jwt_required
def reschedule_booking(booking_id):
    """{"date", "time"[, "doctor_id"]}: move one of the caller's bookings (the POST's errors)."""
    body = json_body()
    if (missing := missing_fields(body, "date", "time")) is not None:
        return missing
    moved = booking.reschedule_by_patient(patient=g.api_user, appointment_id=booking_id, date=body.get("date"),
                                          time=body.get("time"), doctor_id=body.get("doctor_id"), now=clinic.now())
    return out.booking(moved)


@booking_api.delete("/bookings/<int:booking_id>")
@jwt_required
def cancel_booking(booking_id):
    """An optional JSON body {"reason": code, "note": text}; no body means the reason "other"."""
    body = json_body() if request.get_data() else {}  # (a chunked body has no Content-Length)
    booking.cancel_by_patient(patient=g.api_user, appointment_id=booking_id, reason=body.get("reason"),
                              note=body.get("note"), now=clinic.now())
    return {"message": "Booking cancelled successfully"}


@booking_api.post("/bookings/<int:booking_id>/confirm")
@jwt_required
def confirm_booking(booking_id):
    """The caller confirms one of their upcoming bookings (DESIGN.md section 16); again changes nothing."""
    confirmed = reminders.confirm_by_patient(patient=g.api_user, appointment_id=booking_id, now=clinic.now())
    return out.booking(confirmed)
