"""Plain functions from models to JSON-ready dicts (models stay free of HTTP)."""
from datetime import datetime, timedelta, timezone

from clinica_web.services import clinic, waitlist
from clinica_web.services.slots import format_minute


def instant(value: datetime | None) -> str | None:
    """'2023-10-27T14:30:00.000Z': UTC with milliseconds, as the seeds write instants."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def doctor(d) -> dict:
    return {"id": d.id, "name": d.display_name, "specialty": d.specialty}


def calendar_day(day) -> dict:
    """A day of a doctor's month (finder.CalendarDay); a closure's reason stays on the pages."""
    return {"date": day.date.isoformat(), "status": day.status, "free": day.free}


def free_time(time) -> dict:
    """One of the earliest free times (finder.FreeTime): the doctor, the local date and time."""
    return {"doctor_id": time.doctor.id, "doctor_name": time.doctor.display_name, "specialty": time.doctor.specialty,
            "date": time.day.isoformat(), "time": format_minute(time.minute)}


def booking(a, clash=None) -> dict:
    """A booking in the booking API: local date and time, UTC scheduled_at; `clash`, the closure or
    time off its time lies in (availability.clashes_of), if the caller looked it up."""
    local = clinic.to_local(a.starts_at)
    return {
        "id": a.id,
        "doctor_id": a.doctor_id,
        "doctor_name": a.doctor.display_name,
        "specialty": a.doctor.specialty,
        "user_id": a.patient_id,
        "date": local.date().isoformat(),
        "time": format_minute(local.hour * 60 + local.minute),
        "duration": a.duration_minutes,
        "status": a.status,
        "appointment_type": a.appointment_type,
        "scheduled_at": instant(a.starts_at),
        "created_at": instant(a.created_at),
        "confirmed_at": instant(a.confirmed_at),  # null until the patient confirms this time
        "clash": clash_with(clash),
    }


def clash_with(period) -> dict | None:
    """Why a booked time is no longer open, as the patient's pages say it: a clinic closure, with its
    reason, or the doctor's time off, whose reason stays with the staff. None: no clash."""
    if period is None:
        return None
    if period.doctor_id is None:
        return {"kind": "clinic_closed", "reason": period.reason or None}
    return {"kind": "doctor_unavailable", "reason": None}


def appointment(a) -> dict:
    """An appointment in the clinic API: the seed's fields, and confirmed_at (DESIGN.md section 16)."""
    return {
        "id": a.id,
        "patient_id": a.patient_id,
        "provider_id": a.doctor_id,
        "scheduled_at": instant(a.starts_at),
        "status": a.status,
        "appointment_type": a.appointment_type,
        "duration_minutes": a.duration_minutes,
        "notes": a.notes,
        "created_at": instant(a.created_at),
        "updated_at": instant(a.updated_at),
        "confirmed_at": instant(a.confirmed_at),
    }


def user(u) -> dict:
    return {"id": u.id, "email": u.email, "full_name": u.full_name}


def waitlist_entry(e, held=None) -> dict:
    """A waitlist entry: for a doctor, their name and specialty; for a specialty, no doctor. With
    `held`, the time held for it now (an open offer) and the token that books it."""
    return {
        "id": e.id,
        "doctor_id": e.doctor_id,
        "doctor_name": e.doctor.display_name if e.doctor_id else None,
        "specialty": e.doctor.specialty if e.doctor_id else e.specialty,
        "appointment_type": e.appointment_type,
        "from_date": e.from_date.isoformat(),
        "to_date": e.to_date.isoformat(),
        "part_of_day": e.part_of_day,
        "status": e.status,
        "created_at": instant(e.created_at),
        "held": None if held is None else held_time(held),
    }


def held_time(offer) -> dict:
    """A time the waitlist holds for the patient (an open offer) until `held_until`, and a token
    POST /v1/waitlist/offers/{token}/accept books it with (as the email's "Book it" link does)."""
    local = clinic.to_local(offer.starts_at)
    return {"doctor_id": offer.doctor_id, "doctor_name": offer.doctor.display_name,
            "date": local.date().isoformat(), "time": format_minute(local.hour * 60 + local.minute),
            "duration": (offer.ends_at - offer.starts_at) // timedelta(minutes=1),
            "held_until": instant(offer.expires_at), "accept_token": waitlist.answer_tokens(offer).get("accept")}
