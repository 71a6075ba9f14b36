"""Why a time can or cannot be booked: every rule that stops it, not only the first, each with
what staff need to act on it (DESIGN.md section 17's explainer). It evaluates the same rules as
the slot engine and the booking check (availability.rules_stopping, rules.py).

For staff only: a booking in the way is named with its patient. So a doctor, who sees only their
own visits, is answered only about their own calendar: any other doctor's is "not found", as an
appointment of theirs would be.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.i18n import N_, Day, Word
from clinica_web.models import DOCTOR, Appointment, BlockedPeriod, User
from clinica_web.services import availability, clinic, patients, slots
from clinica_web.services.rules import RULES

# A weekday in the plural, as the details say it ("does not work on Mondays"); translated on the desk's page.
WEEKDAYS = (N_("Mondays"), N_("Tuesdays"), N_("Wednesdays"), N_("Thursdays"), N_("Fridays"), N_("Saturdays"),
            N_("Sundays"))


class Detail(str):
    """A reason's detail: the English text (the clinic API's), with its template and values, so
    that the desk's page says it in the reader's language (i18n.error_text, as a service error)."""

    def __new__(cls, template, **values):
        self = super().__new__(cls, template % values if values else template)
        self.template, self.values = template, values
        return self

    @property
    def message(self) -> str:
        return str(self)


# How the desk's page heads a reason where the booking API's message would mislead staff (the
# API keeps its contract's words: "Time blocked by doctor" for a clinic closure too).
STAFF_HEADINGS = {"closed": N_("The clinic is closed"), "too_soon": N_("Too soon, or already past"),
                  "patient_busy": N_("The patient already has a booking at this time")}
# A move's own reason, beside the booking rules (rules.RULES): the visit's very time.
OWN_TIME = "own_time"
RULES_OF_A_MOVE = {OWN_TIME: N_("This is the visit's own time")}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str  # the booking API's message for the rule
    detail: str  # what stands in the way, for staff (a Detail)


@dataclass(frozen=True)
class Explanation:
    bookable: bool
    reasons: list[Reason]


def explain_instant(*, actor: User, doctor_id: int, start: datetime, duration: int, now: datetime) -> Explanation:
    """Explain a start instant (the clinic API). A time between grid minutes, or the second pass of
    an hour repeated when clocks go back, is off the grid."""
    local = clinic.to_local(start)
    minute = local.hour * 60 + local.minute
    repeated_hour = slots.local_instant(local.date(), minute, clinic.tz()) != start
    off_grid = bool(local.second or local.microsecond) or repeated_hour
    return explain(actor=actor, doctor_id=doctor_id, day=local.date(), minute=minute, duration=duration, now=now,
                   off_grid=off_grid)


def explain(*, actor: User, doctor_id: int, day: date, minute: int, duration: int | None, now: datetime,
            off_grid=False, moving: Appointment | None = None, patient_id=None) -> Explanation:
    """Every rule that stops [minute, minute + duration) on the doctor's local `day`. For a visit
    `moving` (the desk's move picker): its length, its own time free for it, its patient's other
    visits in the way, and its very time refused (moving there changes nothing). For a patient
    being booked for (`patient_id`, the desk's booking picker): their other visits in the way."""
    if moving is not None or actor.role == DOCTOR:
        patient_id = None  # a move's patient is its own; a doctor is answered of their own calendar only
    elif patient_id is not None:
        patients.get_patient(patient_id)  # a patient's, or "Choose a patient"
    doctor = availability.active_doctor(doctor_id)
    if doctor is None or (actor.role == DOCTOR and doctor.user_id != actor.id):
        return Explanation(False, [_reason("doctor_not_found", Detail(N_("No active doctor has this id")))])
    if moving is not None:
        local = clinic.to_local(moving.starts_at)
        if (doctor.id, day, minute) == (moving.doctor_id, local.date(), local.hour * 60 + local.minute):
            return Explanation(False, [Reason(OWN_TIME, RULES_OF_A_MOVE[OWN_TIME],
                                              Detail(N_("Moving the visit there changes nothing")))])
        duration = moving.duration_minutes
    stopped = availability.rules_stopping(doctor, day, minute, duration, now=now, every=True,
                                          patient_id=moving.patient_id if moving else patient_id,
                                          exclude_id=moving.id if moving else None)
    if off_grid and not any(code == "off_grid" for code, _busy in stopped):
        stopped.append(("off_grid", None))
    rows = _rows_in_the_way([busy for _code, busy in stopped if busy is not None])
    reasons = [_reason(code, _detail(code, busy, rows, doctor=doctor, day=day, minute=minute, now=now,
                                     hide_other_doctors=actor.role == DOCTOR))
               for code, busy in stopped]
    return Explanation(not reasons, reasons)


def _reason(code, detail):
    return Reason(code, RULES[code].message, detail)


def _rows_in_the_way(busy: list[slots.Busy]) -> dict:
    """The appointments (with their patients) and blocked periods in the way, by (rule, id): two
    queries at most, however many there are."""
    appointment_ids = [b.ref for b in busy if b.rule in (slots.BOOKED, slots.PATIENT_BUSY)]
    period_ids = [b.ref for b in busy if b.rule in (slots.BLOCKED, slots.CLOSED)]
    rows = {}
    if appointment_ids:
        query = select(Appointment).where(Appointment.id.in_(appointment_ids)).options(
            db.joinedload(Appointment.patient))
        rows.update({("appointment", a.id): a for a in db.session.scalars(query)})
    if period_ids:
        rows.update({("period", p.id): p for p in db.session.scalars(
            select(BlockedPeriod).where(BlockedPeriod.id.in_(period_ids)))})
    return rows


def _detail(code, busy, rows, *, doctor, day, minute, now, hide_other_doctors=False) -> "Detail":
    tz, policy = clinic.tz(), clinic.policy()
    if code == "doctor_not_found":
        return Detail(N_("No active doctor has this id"))
    if code == "too_soon":
        earliest = now + timedelta(minutes=policy.min_notice_minutes)
        return Detail(N_("Times can be booked from %(when)s on"), when=clinic.format_local(earliest))
    if code == "beyond_horizon":
        last = clinic.local_today(now) + timedelta(days=policy.horizon_days)
        return Detail(N_("Bookings open %(days)s days ahead: up to %(last)s"), days=policy.horizon_days,
                      last=Day.of(last))
    if code == "not_working_day":
        return Detail(N_("%(doctor)s does not work on %(weekdays)s"), doctor=doctor.display_name,
                      weekdays=Word(WEEKDAYS[day.weekday()]))
    if code == "outside_hours":
        hours = ", ".join(f"{slots.format_minute(start)}–{slots.format_minute(end)}"
                          for start, end in availability.weekly_windows(doctor).get(day.weekday(), []))
        return Detail(N_("%(doctor)s's hours on %(weekdays)s: %(hours)s"), doctor=doctor.display_name,
                      weekdays=Word(WEEKDAYS[day.weekday()]), hours=hours)
    if code == "off_grid":
        if slots.local_instant(day, minute, tz) is None:
            return Detail(N_("This local time does not exist: the clocks skip it (daylight saving)"))
        return Detail(N_("Visits start on the quarter hour (:00, :15, :30, :45)"))
    if code in (slots.BLOCKED, slots.CLOSED):
        period = rows.get(("period", busy.ref))
        when = clinic.format_period(busy.start, busy.end)
        reason = f": {period.reason}" if period is not None and period.reason else ""
        if code == slots.CLOSED:
            return Detail(N_("The clinic is closed %(period)s%(reason)s"), period=when, reason=reason)
        return Detail(N_("%(doctor)s is away %(period)s%(reason)s"), doctor=doctor.display_name, period=when,
                      reason=reason)
    return _appointment_detail(code, busy, rows, doctor=doctor, hide_other_doctors=hide_other_doctors)


def _appointment_detail(code, busy, rows, *, doctor, hide_other_doctors) -> "Detail":
    """The booking in the way: which, whose and when; to a doctor, a patient's visit with a
    colleague only as such (a doctor is answered about their own calendar only)."""
    appointment = rows.get(("appointment", busy.ref))
    if hide_other_doctors and code == slots.PATIENT_BUSY and (appointment is None
                                                              or appointment.doctor_id != doctor.id):
        return Detail(N_("The patient has another visit at this time"))
    patient = appointment.patient.full_name if appointment is not None else Word(N_("a patient"))
    return Detail(N_("Appointment %(id)s of %(patient)s, %(period)s"), id=busy.ref, patient=patient,
                  period=clinic.format_period(busy.start, busy.end))
