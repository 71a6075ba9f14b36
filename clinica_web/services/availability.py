"""What a doctor's calendar looks like: working windows, busy time, the free slots it leaves and the
rules that stop any one time. Changing hours and blocked periods is schedule.py.

Each function runs a fixed number of queries, whatever the number of appointments.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, case, literal, null, or_, select, union_all

from clinica_web.extensions import db
from clinica_web.models import Appointment, BlockedPeriod, Doctor
from clinica_web.models.appointment import MAX_DURATION
from clinica_web.services import clinic, lifecycle, slots, values

DEFAULT_DURATION = 30


def active_doctor(doctor_id, *, share_lock=False) -> Doctor | None:
    """An active doctor, with their weekly hours loaded in the same query (slots need both). With
    `share_lock` (a booking's check), the doctor's row is share-locked until the transaction ends:
    hiding the doctor or changing their hours (schedule.managed_doctor) waits for the booking to
    commit, so that what it returns or checks includes it, or the booking waits for the change."""
    if not values.valid_id(doctor_id):
        return None
    query = select(Doctor).where(Doctor.id == doctor_id, Doctor.active).options(db.joinedload(Doctor.weekly_hours))
    if share_lock:
        query = query.with_for_update(read=True, of=Doctor)
    return db.session.scalars(query).unique().first()


def weekly_windows(doctor: Doctor) -> dict[int, list[tuple[int, int]]]:
    """{weekday: [(start_minute, end_minute), ...]} for one doctor, in order."""
    windows = {}
    for hours in doctor.weekly_hours:
        windows.setdefault(hours.weekday, []).append((hours.start_minute, hours.end_minute))
    return windows


def busy_intervals(doctor_id, start, end, *, patient_id=None, exclude_id=None) -> list[slots.Busy]:
    """Everything holding time in [start, end), in one query, each with the rule it stops a time by:
    the doctor's bookings ("booked"), their blocked periods ("blocked"), clinic closures ("closed")
    and, when `patient_id` is given, the patient's own bookings with any doctor ("patient_busy").

    exclude_id: an appointment being moved, whose own time counts as free.
    """
    statement = busy_statement(for_patient=patient_id is not None, excluding=exclude_id is not None)
    parameters = busy_parameters(doctor_id, start, end, patient_id=patient_id, exclude_id=exclude_id)
    return [slots.Busy(*row) for row in db.session.execute(statement, parameters)]


def busy_parameters(doctor_id, start, end, *, patient_id=None, exclude_id=None) -> dict:
    earliest = start - timedelta(minutes=MAX_DURATION)  # see Appointment.overlapping
    return dict(doctor_id=doctor_id, start=start, end=end, earliest=earliest, patient_id=patient_id,
                exclude_id=exclude_id)


@lru_cache(maxsize=None)
def busy_statement(*, for_patient=False, excluding=False):
    """busy_intervals()' query, built once for each use (building it cost more than running it, on
    the hot path of every slot list): rows of (start, end, rule, id), for busy_parameters()."""
    doctor_id, start, end = bindparam("doctor_id"), bindparam("start"), bindparam("end")

    def appointments(rule, *conditions):
        query = select(Appointment.starts_at, Appointment.ends_at, literal(rule), Appointment.id).where(
            *conditions, lifecycle.holds_time(), Appointment.overlapping(start, end, earliest=bindparam("earliest")))
        return query.where(Appointment.id != bindparam("exclude_id")) if excluding else query

    parts = [
        appointments(slots.BOOKED, Appointment.doctor_id == doctor_id),
        select(BlockedPeriod.starts_at, BlockedPeriod.ends_at,
               case((BlockedPeriod.doctor_id.is_(None), literal(slots.CLOSED)), else_=literal(slots.BLOCKED)),
               BlockedPeriod.id)
        .where(or_(BlockedPeriod.doctor_id == doctor_id, BlockedPeriod.doctor_id.is_(None)),
               BlockedPeriod.starts_at < end, BlockedPeriod.ends_at > start),
    ]
    if for_patient:
        parts.append(appointments(slots.PATIENT_BUSY, Appointment.patient_id == bindparam("patient_id")))
    return union_all(*parts)


def rules_stopping(doctor: Doctor, day: date, minute: int, duration: int, *, now: datetime, patient_id=None,
                   exclude_id=None, every=False) -> list[tuple[str, slots.Busy | None]]:
    """The time rules (rules.TIME_RULES) that stop [minute, minute + duration) on the doctor's
    local `day`: the first, or with `every` all of them (slots.Day.stops).

    The busy time is read (one query) only where the time is, and only if the rules of the day
    and the hours have not already refused it.
    """
    tz, policy = clinic.tz(), clinic.policy()
    calendar = slots.Day(day=day, windows=weekly_windows(doctor).get(day.weekday(), []), busy=(), now=now, tz=tz,
                         policy=policy)
    found = calendar.stops(minute, duration, every=every)
    if found and not every or not values.in_range(day):
        return found
    start = slots.local_instant(day, minute, tz) or slots.local_instant(day, minute + 60, tz)
    busy = busy_intervals(doctor.id, start, start + timedelta(minutes=duration), patient_id=patient_id,
                          exclude_id=exclude_id)
    return slots.Day(day=day, windows=calendar.windows, busy=busy, now=now, tz=tz, policy=policy).stops(
        minute, duration, every=every)


def free_slots(doctor: Doctor, day: date, duration: int, *, now: datetime, exclude_id=None) -> list[int]:
    """Free local start minutes of one doctor on one local day (DESIGN.md section 5).

    exclude_id: an appointment being moved, whose own time counts as free.
    """
    start, end = clinic.local_day_span(day)
    busy = busy_intervals(doctor.id, start, end, exclude_id=exclude_id)
    return slots.free_slots(
        day=day,
        windows=weekly_windows(doctor).get(day.weekday(), []),
        busy=busy,
        duration=duration,
        now=now,
        tz=clinic.tz(),
        policy=clinic.policy(),
    )


@dataclass(frozen=True)
class DayOffer:
    """A doctor's free times on one day and, when there are none, why: "past", "beyond_horizon",
    "day_off" (no hours that weekday, or their time off covers them), "closed" (a clinic closure,
    with its reason), "over" (today's hours are behind us) or "full"."""

    free_minutes: list[int]
    why_none: str | None = None
    reason: str = ""
    closures: tuple[int, ...] = ()


def day_offer(doctor: Doctor, day: date, duration: int, *, now: datetime,
              moving: Appointment | None = None, patient_id=None) -> DayOffer:
    """free_slots() with the reason a day offers nothing, from the same one query. For a visit
    `moving`, the times it can move to (times_to_move_to): a day whose one free time is its own
    is "full" for it. For a patient (`patient_id`; a visit moving: its patient), only times clear
    of their own other visits with any doctor (the rule "patient_busy"), which they could not
    book: a day whose free times all clash with theirs is "full" for them."""
    start, end = clinic.local_day_span(day)
    busy = busy_intervals(doctor.id, start, end, patient_id=whose_visits(moving, patient_id),
                          exclude_id=moving.id if moving else None)
    offer = classify_day(day, weekly_windows(doctor).get(day.weekday(), []), busy, duration, now=now)
    if offer.why_none == "closed":
        return DayOffer([], "closed", closure_reasons(offer.closures, period_reasons(offer.closures)))
    return for_a_move(offer, moving, doctor.id, day)


def whose_visits(moving: Appointment | None, patient_id):
    """Whose own visits the free times shown are clear of: a moving visit's patient, else the
    patient asked for (None: nobody's)."""
    return moving.patient_id if moving is not None else patient_id


def for_a_move(offer: DayOffer, moving: Appointment | None, doctor_id: int, day: date) -> DayOffer:
    """A day's offer (the visit `moving` left out of its busy time) as a move sees it: its own
    start is no time to move to (times_to_move_to), and a day whose one free time is its own is
    "full" for it. The offer itself when nothing is moving."""
    if moving is None or not offer.free_minutes:
        return offer
    free = times_to_move_to(offer.free_minutes, moving, doctor_id, day)
    return DayOffer(free, None if free else "full")


def times_to_move_to(free_minutes: list[int], appointment: Appointment, doctor_id: int, day: date) -> list[int]:
    """The free start minutes of a doctor's day (the visit's own time counted free: exclude_id) that
    the visit can be moved to: all but its own start, where a move changes nothing."""
    local = clinic.to_local(appointment.starts_at)
    if (doctor_id, day) != (appointment.doctor_id, local.date()):
        return list(free_minutes)
    return [minute for minute in free_minutes if minute != local.hour * 60 + local.minute]


def free_minutes(day: date, windows, busy, duration: int, *, now: datetime) -> list[int]:
    """slots.free_slots() (no query), without trying each quarter hour of a day whose hours are
    booked solid: finding a time across a busy clinic's weeks meets mostly such days."""
    tz = clinic.tz()
    if duration > 0 and _solid(day, windows, busy, tz):
        return []
    return slots.free_slots(day=day, windows=windows, busy=busy, duration=duration, now=now, tz=tz,
                            policy=clinic.policy())


def _solid(day, windows, busy, tz) -> bool:
    """Whether what holds time (a rule of slots.BUSY_RULES each) covers every one of the day's
    windows without a gap: then no start fits, whatever the rules of the day (Day.stops finds a
    busy interval around any start inside a window)."""
    busy = [item if isinstance(item, slots.Busy) else slots.Busy(*item) for item in busy]  # as Day takes it
    held = sorted((slots.epoch_minutes(b.start), slots.epoch_minutes(b.end)) for b in busy
                  if b.rule in slots.BUSY_RULES)
    try:
        spans = [slots.window_span(day, window, tz) for window in windows]
    except OverflowError:  # year 1 or 9999: free_slots says so
        return False
    for open_at, close_at in spans:
        reach = open_at
        for start, end in held:
            if start > reach or reach >= close_at:
                break
            reach = max(reach, end)
        if reach < close_at:
            return False
    return True


def classify_day(day: date, windows, busy, duration: int, *, now: datetime) -> DayOffer:
    """A day's free times, or why there are none, from its windows and busy time (no query). For
    a clinic closure, `closures` holds the periods' ids; the caller looks their reasons up."""
    tz, policy = clinic.tz(), clinic.policy()
    free = free_minutes(day, windows, busy, duration, now=now)
    if free:
        return DayOffer(free)
    calendar = slots.Day(day=day, windows=windows, busy=busy, now=now, tz=tz, policy=policy)
    if calendar.past or calendar.beyond:
        return DayOffer([], "past" if calendar.past else "beyond_horizon")
    if not windows:
        return DayOffer([], "day_off")
    hours = [slots.window_span(day, window, tz) for window in windows]
    if all(close_at <= calendar.earliest for _open_at, close_at in hours):
        return DayOffer([], "over")  # today, and its hours are behind us

    def covering(rule):
        """The periods of `rule` that leave none of the day's hours open."""
        periods = [b for b in busy if b.rule == rule]
        spans = [(slots.epoch_minutes(b.start), slots.epoch_minutes(b.end)) for b in periods]
        covered = all(any(s <= open_at and close_at <= e for s, e in spans) for open_at, close_at in hours)
        return periods if periods and covered else []

    if closures := covering(slots.CLOSED):
        return DayOffer([], "closed", closures=tuple(b.ref for b in closures))
    if covering(slots.BLOCKED):
        return DayOffer([], "day_off")
    return DayOffer([], "full")


def busy_by_doctor(doctor_ids, start, end, *, bookings=True, exclude_id=None,
                   patient_id=None) -> dict[int, list[slots.Busy]]:
    """busy_intervals() for several doctors at once, in one query: {doctor_id: [Busy]} (clinic
    closures, and a patient's own visits with any doctor when `patient_id` is given, under every
    doctor). With bookings=False only time off and closures, for a caller that reads the bookings
    itself (the timeline); `exclude_id` leaves out a visit being moved."""
    doctor_ids = list(doctor_ids)
    parts = [
        select(BlockedPeriod.doctor_id, BlockedPeriod.starts_at, BlockedPeriod.ends_at,
               case((BlockedPeriod.doctor_id.is_(None), literal(slots.CLOSED)), else_=literal(slots.BLOCKED)),
               BlockedPeriod.id)
        .where(or_(BlockedPeriod.doctor_id.in_(doctor_ids), BlockedPeriod.doctor_id.is_(None)),
               BlockedPeriod.starts_at < end, BlockedPeriod.ends_at > start)
    ]

    def appointments(owner, rule, *conditions):
        query = select(owner, Appointment.starts_at, Appointment.ends_at, literal(rule), Appointment.id).where(
            *conditions, lifecycle.holds_time(), Appointment.overlapping(start, end))
        return query if exclude_id is None else query.where(Appointment.id != exclude_id)

    if bookings:
        parts.insert(0, appointments(Appointment.doctor_id, slots.BOOKED, Appointment.doctor_id.in_(doctor_ids)))
    if patient_id is not None:  # with no doctor of its own: it stops a time with any doctor
        parts.append(appointments(null(), slots.PATIENT_BUSY, Appointment.patient_id == patient_id))
    rows = db.session.execute(union_all(*parts) if len(parts) > 1 else parts[0])
    found = {doctor_id: [] for doctor_id in doctor_ids}
    for doctor_id, *busy in rows:
        for owner in doctor_ids if doctor_id is None else [doctor_id]:  # a closure, the patient's own visit
            found[owner].append(slots.Busy(*busy))
    return found


def period_reasons(period_ids) -> dict[int, str]:
    """{period id: reason}, earliest period first, in one query."""
    if not period_ids:
        return {}
    return dict(db.session.execute(select(BlockedPeriod.id, BlockedPeriod.reason).where(
        BlockedPeriod.id.in_(set(period_ids))).order_by(BlockedPeriod.starts_at)).all())


def closure_reasons(closure_ids, reasons: dict[int, str]) -> str:
    """What a closed day says: the reasons of its closures (from period_reasons), earliest first."""
    return "; ".join(reason for period_id, reason in reasons.items() if period_id in closure_ids and reason)


def first_day_with_free_slot(doctor: Doctor, duration: int, *, now: datetime, patient_id=None) -> date | None:
    """The first local day, from today to the booking horizon, with a free slot (for a patient,
    one clear of their own visits: busy_intervals); None if none."""
    policy = clinic.policy()
    today = clinic.local_today(now)
    last = today + timedelta(days=policy.horizon_days)
    start, end = clinic.local_day_span(today, last)
    # Two queries for the whole horizon, then the engine runs day by day in memory.
    windows = weekly_windows(doctor)
    busy = busy_intervals(doctor.id, start, end, patient_id=patient_id)
    day = today
    while day <= last:
        day_start, day_end = clinic.local_day_span(day)
        if windows.get(day.weekday()) and slots.free_slots(
            day=day,
            windows=windows[day.weekday()],
            busy=[interval for interval in busy if interval.start < day_end and interval.end > day_start],
            duration=duration,
            now=now,
            tz=clinic.tz(),
            policy=policy,
        ):
            return day
        day += timedelta(days=1)
    return None


def clash_of(appointment: Appointment) -> BlockedPeriod | None:
    """The clinic closure or the doctor's time off a visit that still holds its place lies in
    (blocked after it was booked): the desk should move or cancel it."""
    return clashes_of([appointment]).get(appointment.id)


def clashes_of(appointments: list[Appointment]) -> dict[int, BlockedPeriod]:
    """clash_of for each of `appointments` that has one ({appointment id: the earliest period}),
    in one query whatever their number: a patient's upcoming visits."""
    movable = [a for a in appointments if a.status in lifecycle.STEPS]  # only scheduled and arrived can move
    if not movable:
        return {}
    periods = db.session.scalars(select(BlockedPeriod).where(
        or_(BlockedPeriod.doctor_id.in_({a.doctor_id for a in movable}), BlockedPeriod.doctor_id.is_(None)),
        BlockedPeriod.starts_at < max(a.ends_at for a in movable),
        BlockedPeriod.ends_at > min(a.starts_at for a in movable),
    ).order_by(BlockedPeriod.starts_at, BlockedPeriod.id)).all()
    found = {}
    for appointment in movable:
        period = next((p for p in periods if p.doctor_id in (None, appointment.doctor_id)
                       and p.starts_at < appointment.ends_at and appointment.starts_at < p.ends_at), None)
        if period is not None:
            found[appointment.id] = period
    return found


def appointments_during(period: BlockedPeriod, *, now: datetime) -> list[Appointment]:
    """The bookings not yet over inside a blocked period (for a closure: every doctor's), not
    cancelled: those to move or cancel. One already over is left out (time off added once the
    day is under way); one under way is not (the patient may be in the waiting room). A waitlist
    hold is not one: its "Book it" now refuses the time (waitlist.accept), and it runs out."""
    query = (
        select(Appointment)
        .where(lifecycle.holds_time(), lifecycle.is_booking(), Appointment.ends_at > now,
               Appointment.overlapping(period.starts_at, period.ends_at))
        .options(db.joinedload(Appointment.patient), db.joinedload(Appointment.doctor))
        .order_by(Appointment.starts_at)
    )
    if period.doctor_id is not None:
        query = query.where(Appointment.doctor_id == period.doctor_id)
    return list(db.session.scalars(query))


def bookings_inside(doctor_id, period_id, *, now: datetime) -> list[Appointment]:
    """The bookings to come inside one of the doctor's blocked periods ([] if it is not theirs)."""
    period = db.session.get(BlockedPeriod, period_id)
    if period is None or period.doctor_id != doctor_id:
        return []
    return appointments_during(period, now=now)


def upcoming_blocked_periods(doctor_id, *, now: datetime) -> list[BlockedPeriod]:
    """Blocked periods of a doctor (None: clinic closures) that have not ended yet."""
    doctor_filter = BlockedPeriod.doctor_id.is_(None) if doctor_id is None else BlockedPeriod.doctor_id == doctor_id
    return list(db.session.scalars(
        select(BlockedPeriod).where(doctor_filter, BlockedPeriod.ends_at > now).order_by(BlockedPeriod.starts_at)
    ))
