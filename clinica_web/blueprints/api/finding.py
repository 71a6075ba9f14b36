"""Finding a time in one look, in the booking API (DESIGN.md section 17): a doctor's month of days
and the earliest free times across doctors. JWT, like available-slots, with its parameters read
the same way (duration, appointment_type, doctor_id) and its error messages; like it, the times
counted are those the caller could book, clear of their own visits."""
from flask import g, request

from clinica_web.blueprints.api import booking_api
from clinica_web.blueprints.api import serializers as out
from clinica_web.blueprints.api.auth import jwt_required
from clinica_web.blueprints.api.errors import error
from clinica_web.services import availability, booking, clinic, finder
from clinica_web.services.errors import InvalidInput
from clinica_web.services.rules import refusal
from clinica_web.services.values import (
    parse_date,
    parse_duration,
    parse_month,
    positive_number,
    valid_id,
    whole_number,
)

DEFAULT_LIMIT, MAX_LIMIT = 10, 50


@booking_api.get("/doctors/<int:doctor_id>/calendar")
@jwt_required
def doctor_calendar(doctor_id):
    """?month=YYYY-MM[&duration=][&appointment_type=][&booking_id=] -> every day of the month with its
    status (for the caller's booking `booking_id`, as the days it can move to, at its length)."""
    year, month = parse_month(request.args.get("month"))
    moving = booking.booking_to_move(request.args.get("booking_id"), g.api_user_id)
    duration = moving.duration_minutes if moving else _duration(request.args)
    doctor = availability.active_doctor(doctor_id)
    if doctor is None:
        raise refusal("doctor_not_found")
    return [out.calendar_day(day) for day in finder.month(doctor, year, month, duration, now=clinic.now(),
                                                          patient_id=g.api_user_id, moving=moving)]


@booking_api.get("/bookings/next-available")
@jwt_required
def next_available():
    """?[doctor_id=][&specialty=][&duration=][&appointment_type=][&from=][&limit=][&booking_id=] -> the
    earliest free times of the active doctors (of the specialty, or the one doctor), earliest first
    (for the caller's booking `booking_id`, the times it can move to, at its length)."""
    args = request.args
    limit = DEFAULT_LIMIT if args.get("limit") in (None, "") else positive_number(args["limit"], MAX_LIMIT)
    if limit is None:
        return error(400, f"limit must be between 1 and {MAX_LIMIT}")
    start_day = parse_date(args["from"], bounded=False) if args.get("from") else None  # before today: from today
    moving = booking.booking_to_move(args.get("booking_id"), g.api_user_id)
    duration = moving.duration_minutes if moving else _duration(args)
    doctors = _doctors(args.get("doctor_id"), args.get("specialty"))
    times = finder.earliest(doctors, duration, now=clinic.now(), start_day=start_day, limit=limit,
                            patient_id=g.api_user_id, moving=moving)
    return [out.free_time(time) for time in times]


def _duration(args) -> int:
    """The visit's minutes: `duration`, else the `appointment_type`'s own, else available-slots'
    default; the same errors as available-slots and booking."""
    minutes = parse_duration(args.get("duration"), availability.DEFAULT_DURATION)
    name = args.get("appointment_type")
    if name in (None, ""):
        return minutes
    if "\x00" in name:  # no type is called that (and PostgreSQL refuses NUL in text)
        raise InvalidInput("Invalid appointment type", field="appointment_type")
    kind = booking.find_type(name)
    return minutes if args.get("duration") not in (None, "") else kind.default_duration


def _doctors(doctor_id, specialty):
    """The active doctors asked for: one by id (unknown: available-slots' error), else all, of the
    specialty when one is given (none of an unknown one)."""
    if doctor_id not in (None, ""):
        doctor_id = whole_number(doctor_id)
        doctors = finder.active_doctors(doctor_id=doctor_id) if valid_id(doctor_id) else []
        if not doctors:
            raise refusal("doctor_not_found")
        return [doctor for doctor in doctors if not specialty or doctor.specialty == specialty]
    if specialty and "\x00" in specialty:  # no doctor's specialty (and PostgreSQL refuses NUL in text)
        return []
    return finder.active_doctors(specialty=specialty or None)
