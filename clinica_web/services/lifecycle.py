"""What each appointment status means, and which changes are allowed, by whom and when
(DESIGN.md sections 7 and 14).

Everything that asks "does this visit hold its time?", "which status steps can the desk offer
now?" or "may this be cancelled or moved?" asks here: the services, the day list and detail page,
the API and the migration's overlap guard. Nobody else writes a status list.
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_

from clinica_web.i18n import N_, Word
from clinica_web.models.appointment import (
    ARRIVED,
    CANCELLED,
    COMPLETED,
    HELD,
    NO_SHOW,
    SCHEDULED,
    STATUSES,
    Appointment,
)
from clinica_web.services import clinic
from clinica_web.services.errors import InvalidInput

# A cancelled visit gives its time back; every other status keeps it (a finished visit happened
# then, a missed one was kept free for the patient).
FREES_TIME = (CANCELLED,)
HOLDS_TIME = tuple(status for status in STATUSES if status not in FREES_TIME)
# No visit took place: nothing to document (a held slot never was a visit).
NO_VISIT = (CANCELLED, NO_SHOW, HELD)

STEPS = {SCHEDULED: (ARRIVED, NO_SHOW), ARRIVED: (COMPLETED,)}
# Arrival (and so a no-show) can be marked from a little before the visit until that day ends.
ARRIVAL_OPENS_BEFORE = timedelta(minutes=15)


def holds_time(status=Appointment.status):
    """SQL condition: the appointment holds its time (it counts in the overlap checks)."""
    return and_(*(status != freed for freed in FREES_TIME))


def is_booking(status=Appointment.status):
    """SQL condition: a booking, not a slot held for a waitlist offer (which lists leave out)."""
    return status != HELD


def guard_condition(row: str = "") -> str:
    """The overlap guards' SQL condition (PostgreSQL exclusion constraints, SQLite triggers) for a
    row that holds its time; `row` qualifies the column ("NEW", "other"). The migrations write the
    guards from it, so that the database refuses exactly what the services refuse."""
    column = f"{row}.status" if row else "status"
    return " AND ".join(f"{column} <> '{status}'" for status in FREES_TIME)


def label(status: str) -> str:
    return status.replace("_", " ")


def end_of_local_day(instant: datetime) -> datetime:
    """The next clinic-local midnight after `instant`."""
    return clinic.local_day_span(clinic.local_today(instant))[1]


# The statuses as the desk's messages name them ("no show"), translated where they are shown.
STATUS_WORDS = {SCHEDULED: N_("scheduled"), ARRIVED: N_("arrived"), COMPLETED: N_("completed"),
                NO_SHOW: N_("no show"), CANCELLED: N_("cancelled"), HELD: N_("held")}


def _status_word(status) -> str:
    """A status as step_refusal's message names it: a Word to translate if it is one, else as sent."""
    return Word(STATUS_WORDS[status]) if status in STATUS_WORDS else label(str(status))


def step_refusal(status: str, starts_at: datetime, to_status, *, now: datetime) -> InvalidInput | None:
    """Why the desk cannot set `to_status` now (the error to raise, a message for staff), or None if it can."""
    if to_status not in STEPS.get(status, ()):
        return InvalidInput("An appointment that is %(status)s cannot become %(to_status)s",
                            status=_status_word(status), to_status=_status_word(to_status))
    if to_status in allowed_steps(status, starts_at, now=now):
        return None
    if end_of_local_day(now) <= starts_at:
        return InvalidInput("This visit is on a later day: its status changes on the day")
    if now < starts_at:
        return InvalidInput("Arrival and no-show can be marked from 15 minutes before the visit")
    return InvalidInput("Arrival and no-show can be marked only on the day of the visit")


def allowed_steps(status: str, starts_at: datetime, *, now: datetime, day_ends=None) -> tuple[str, ...]:
    """The statuses the desk may set now: scheduled -> arrived -> completed, scheduled -> no_show.

    Arrived and no-show only from 15 minutes before the start until the end of that local day
    (`day_ends`, when the caller already knows it: the day list asks for 500 rows of one day);
    completed only after arrived. So a visit on a later day takes no step at all.
    """
    steps = STEPS.get(status, ())
    if not steps or steps == (COMPLETED,):
        return steps
    if not starts_at - ARRIVAL_OPENS_BEFORE <= now < (day_ends or end_of_local_day(starts_at)):
        return ()
    return steps


def staff_cancel_refusal(appointment: Appointment) -> str | None:
    """Staff cancel a scheduled or arrived visit, never one completed or documented."""
    if appointment.status not in (SCHEDULED, ARRIVED):
        return N_("Only scheduled or arrived appointments can be cancelled")
    if appointment.documentation is not None:
        return N_("A documented visit cannot be cancelled")
    return None


def reschedule_refusal(appointment: Appointment) -> str | None:
    """Only a scheduled visit that is not documented can move (staff; patients add the cutoff)."""
    if appointment.status != SCHEDULED:
        return N_("Only scheduled appointments can be rescheduled")
    if appointment.documentation is not None:
        return N_("A documented visit cannot be rescheduled")
    return None


# Why a visit is cancelled (DESIGN.md section 15): patients choose from the first list, staff
# from both. Shown in the history, the desk's detail and CSV; never in emails.
PATIENT_CANCEL_REASONS = {"feeling_better": "Feeling better", "cannot_attend": "Cannot attend",
                          "booked_by_mistake": "Booked by mistake", "found_another_time": "Found another time",
                          "other": "Other"}
STAFF_CANCEL_REASONS = {**PATIENT_CANCEL_REASONS, "doctor_unavailable": "Doctor unavailable",
                        "patient_called": "Patient called", "clinic_closed": "Clinic closed"}
CLINIC_CANCEL_REASONS = frozenset({"doctor_unavailable", "clinic_closed"})  # the clinic's doing, not the patient's


def change_cutoff(appointment: Appointment) -> datetime:
    """Until when a patient may change or cancel this visit online (CHANGE_CUTOFF_HOURS before it)."""
    return cutoff_before(appointment.starts_at)


def cutoff_before(start: datetime) -> datetime:
    """Until when a visit starting at `start` can be changed or cancelled online."""
    return start - timedelta(hours=current_app.config["CHANGE_CUTOFF_HOURS"])


def online_changes_closed(start: datetime, *, now: datetime) -> bool:
    """Whether a visit starting at `start`, booked now, could no longer be changed online (the
    confirmation says so before it is booked)."""
    return now >= cutoff_before(start)


def patient_may_cancel(appointment: Appointment, *, now: datetime) -> bool:
    """A patient cancels their own scheduled visits that have not started (the cutoff aside)."""
    return appointment.status == SCHEDULED and appointment.starts_at > now


def patient_change_refusal(appointment: Appointment, *, now: datetime) -> str | None:
    """Why the patient may not change or cancel this booking online: "not_upcoming" (not a
    scheduled visit to come) or the rule "too_late_to_change"; None if they may."""
    if not patient_may_cancel(appointment, now=now):
        return "not_upcoming"
    if now >= change_cutoff(appointment):
        return "too_late_to_change"
    return None


def is_late_cancellation(appointment: Appointment, *, reason: str, now: datetime) -> bool:
    """A cancellation inside the cutoff (by staff: patients cannot), counted in the reports and
    against the patient; not one the clinic caused (its doctor away, a closure)."""
    return reason not in CLINIC_CANCEL_REASONS and now >= change_cutoff(appointment)


def is_upcoming_for_patient(appointment: Appointment, *, now: datetime) -> bool:
    """What "My bookings" lists as upcoming: scheduled and not over."""
    return appointment.status == SCHEDULED and appointment.ends_at > now


# What a patient reads of their own visit: the desk's statuses are the clinic's business.
PATIENT_WORDS = {SCHEDULED: "Scheduled", ARRIVED: "Completed", COMPLETED: "Completed", NO_SHOW: "Missed",
                 CANCELLED: "Cancelled", HELD: "Held for you"}


def patient_status(appointment: Appointment, *, now: datetime) -> str:
    """"Scheduled", "Completed", "Missed", "Cancelled"; "Past" for a visit over but not marked."""
    if appointment.status == SCHEDULED and appointment.ends_at <= now:
        return "Past"
    return PATIENT_WORDS[appointment.status]


def may_document(status: str, starts_at: datetime, *, now: datetime) -> bool:
    """A visit can be documented once it has started, unless it did not take place."""
    return status not in NO_VISIT and starts_at <= now
