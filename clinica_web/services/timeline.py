"""The desk's timeline (DESIGN.md section 20): one local day as a grid, a column per working
doctor and a row per quarter hour, holding the visits, the time off and clinic closures, the free
times to book and, today, "now" and each doctor's walk-in time.

A fixed number of queries whatever the day holds: the doctors, their hours that weekday, the
time off and closures of every doctor at once (availability.busy_by_doctor), their reasons, the
visits (patient and visit type joined in; with the periods, the slot engine's busy time) and the
default visit type. The free times are the slot engine's (availability.free_minutes): the
timeline offers exactly what booking that time would accept.
"""
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select

from clinica_web.extensions import db
from clinica_web.models import DOCTOR, HELD, SCHEDULED, Appointment, AppointmentType, Doctor, User, WeeklyHours
from clinica_web.services import availability, booking, clinic, day_list, lifecycle, slots
from clinica_web.services.errors import DomainError, NotFound

STEP = slots.STEP_MINUTES
DAY_MINUTES = 1440
# What a cell of a doctor's column holds: visits, a period of time off or a closure, a free start
# time (a link to book it), open hours no visit of the default type can start in (past, or a
# gap too short), or hours the doctor does not work.
VISITS, PERIOD, FREE, OPEN, OFF = "visits", "period", "free", "open", "off"
PERIOD_RULES = (slots.CLOSED, slots.BLOCKED)


@dataclass(frozen=True)
class Period:
    """Time off (slots.BLOCKED) or a clinic closure (slots.CLOSED) on the timeline's day."""
    rule: str
    reason: str
    starts_at: datetime
    ends_at: datetime

    @property
    def is_closure(self) -> bool:
        return self.rule == slots.CLOSED


@dataclass(slots=True)
class Visit:
    id: int
    status: str  # scheduled, arrived, completed, no_show or held (a time held for a waitlist offer)
    patient_name: str
    visit_label: str
    start: int  # local minutes since midnight
    end: int
    confirmed: bool  # the patient confirmed this time (the reminder's Confirm link)
    late: bool  # still "scheduled" after its start
    clash: Period | None  # the closure or time off it lies in: the desk should move it

    @property
    def is_held(self) -> bool:
        return self.status == HELD


@dataclass(slots=True)
class _Booked:
    """A visit as read, before its clash is known."""
    visit: Visit
    starts_at: datetime
    ends_at: datetime


@dataclass
class Cell:
    """One cell of a doctor's column: from `minute`, `span` quarter-hour rows tall."""
    kind: str
    minute: int
    span: int = 1
    visits: list[Visit] = field(default_factory=list)
    period: Period | None = None


@dataclass
class Column:
    doctor: Doctor
    cells: list[Cell]
    walk_in: int | None = None  # today: the next quarter hour, when it is free (local minutes)


@dataclass
class Row:
    minute: int
    now: bool  # the quarter hour "now" is in
    cells: list[Cell | None]  # one per column; None where a taller cell above covers this row


@dataclass
class Timeline:
    day: date
    doctors: list[Doctor]  # the doctors this user may narrow the timeline to
    doctor_id: int | None
    columns: list[Column]
    rows: list[Row]
    now: int | None  # local minutes, when the day is today
    visit_type: AppointmentType | None  # the free times are this type's (the default) starts

    @property
    def now_is_shown(self) -> bool:
        """Whether "now" falls on one of the grid's rows: before the first doctor starts or after the
        last one stops, the grid has no row to mark (nor for a "Now" link to lead to)."""
        return any(row.now for row in self.rows)


def timeline(actor: User, *, day: date, doctor_id=None, now: datetime) -> Timeline:
    """The day as the desk's grid, for every doctor `actor` may see (a doctor: their own) that
    works that day, or for the one `doctor_id` (NotFound if it is not one of them)."""
    doctors = day_list.doctors_for(actor)
    if doctor_id is not None:
        doctors_shown = [doctor for doctor in doctors if doctor.id == doctor_id]
        if not doctors_shown:
            raise NotFound("Doctor not found")
    else:
        doctors_shown = doctors
    ids = [doctor.id for doctor in doctors_shown]
    start, end = clinic.local_day_span(day)
    windows = _windows(ids, day.weekday())
    busy = availability.busy_by_doctor(ids, start, end, bookings=False)
    periods = _periods(busy)
    visits = _visits(ids, start, end, now=now, busy=busy)
    kind = _default_type()
    duration = kind.default_duration if kind else availability.DEFAULT_DURATION
    today = clinic.local_today(now) == day
    # A doctor's own column is always theirs to see; the desk sees the doctors who work that day.
    if actor.role != DOCTOR and doctor_id is None:
        doctors_shown = [doctor for doctor in doctors_shown if windows.get(doctor.id) or visits.get(doctor.id)
                         or any(not p.is_closure for p in periods.get(doctor.id, ()))]
    first, last = _row_span([windows.get(d.id, []) for d in doctors_shown],
                            [booked.visit for d in doctors_shown for booked in visits.get(d.id, [])])
    columns = []
    for doctor in doctors_shown:
        own_periods = periods.get(doctor.id, [])
        own_visits = [_with_clash(visit, own_periods) for visit in visits.get(doctor.id, [])]
        free = set(availability.free_minutes(day, windows.get(doctor.id, []), busy[doctor.id], duration, now=now))
        cells = _cells(first, last, own_visits, own_periods, windows.get(doctor.id, []), free, day)
        columns.append(Column(doctor, cells, _walk_in(now, day, free) if today else None))
    now_minute = _local_minute(now) if today else None
    return Timeline(day=day, doctors=doctors, doctor_id=doctor_id, columns=columns,
                    rows=_rows(first, last, columns, now_minute), now=now_minute, visit_type=kind)


def _windows(doctor_ids, weekday) -> dict[int, list[tuple[int, int]]]:
    """{doctor id: [(start minute, end minute)]}: the doctors' hours on this weekday, in one query."""
    found = {}
    for doctor_id, start, end in db.session.execute(
            select(WeeklyHours.doctor_id, WeeklyHours.start_minute, WeeklyHours.end_minute)
            .where(WeeklyHours.doctor_id.in_(doctor_ids), WeeklyHours.weekday == weekday)
            .order_by(WeeklyHours.start_minute)):
        found.setdefault(doctor_id, []).append((start, end))
    return found


def _visits(doctor_ids, start, end, *, now, busy) -> dict[int, list[_Booked]]:
    """{doctor id: [visit]}: the visits starting that day that hold their time (cancelled ones
    gave it back and are not shown; a time held for a waitlist offer is), in start order. Their
    time, and that of any visit running into the day from the day before, is added to `busy` (the
    slot engine's busy time, as availability.busy_by_doctor reads it)."""
    query = (
        select(Appointment.id, Appointment.doctor_id, Appointment.starts_at, Appointment.duration_minutes,
               Appointment.status, Appointment.appointment_type, Appointment.confirmed_at, User.full_name,
               AppointmentType.label)
        .join(User, User.id == Appointment.patient_id)
        .outerjoin(AppointmentType, AppointmentType.name == Appointment.appointment_type)
        .where(Appointment.doctor_id.in_(doctor_ids), Appointment.overlapping(start, end), lifecycle.holds_time())
        .order_by(Appointment.starts_at, Appointment.id)
    )
    found, tz = {}, clinic.tz()
    for (appointment_id, doctor_id, starts_at, minutes, status, visit_type, confirmed_at, name,
         label) in db.session.execute(query):
        ends_at = starts_at + timedelta(minutes=minutes)
        busy[doctor_id].append(slots.Busy(starts_at, ends_at, slots.BOOKED, appointment_id))
        if starts_at < start:
            continue  # yesterday's visit: it only holds time
        minute = _local_minute(starts_at, tz)
        visit = Visit(id=appointment_id, status=status, patient_name=name,
                      visit_label=label or visit_type.replace("_", " ").capitalize(), start=minute,
                      end=min(minute + minutes, DAY_MINUTES), confirmed=confirmed_at is not None,
                      late=status == SCHEDULED and starts_at < now, clash=None)
        found.setdefault(doctor_id, []).append(_Booked(visit, starts_at, ends_at))
    return found


def _periods(busy) -> dict[int, list[Period]]:
    """{doctor id: [Period]}: each doctor's time off and the clinic's closures that day, earliest
    first, from the slot engine's busy time (their reasons: one query)."""
    reasons = availability.period_reasons({b.ref for found in busy.values() for b in found if b.rule in PERIOD_RULES})
    return {doctor_id: sorted((Period(b.rule, reasons.get(b.ref, ""), b.start, b.end)
                               for b in found if b.rule in PERIOD_RULES), key=lambda p: (p.starts_at, p.rule))
            for doctor_id, found in busy.items()}


def _with_clash(booked: _Booked, periods: list[Period]) -> Visit:
    """The visit, flagged with the closure or time off it lies in, by the day list's rule: only a
    visit that can still move (scheduled, arrived) is flagged."""
    if booked.visit.status not in lifecycle.STEPS:
        return booked.visit
    clash = next((p for p in periods if p.starts_at < booked.ends_at and booked.starts_at < p.ends_at), None)
    return booked.visit if clash is None else replace(booked.visit, clash=clash)


def _default_type() -> AppointmentType | None:
    """The visit type a desk booking starts with (booking.DEFAULT_TYPE); None if the clinic has none."""
    try:
        return booking.find_type(None)
    except DomainError:
        return None


def _local_minute(instant: datetime, tz=None) -> int:
    local = instant.astimezone(tz or clinic.tz())
    return local.hour * 60 + local.minute


def _row_span(windows_per_doctor, visits) -> tuple[int, int]:
    """The rows' first minute and the minute after the last: from the earliest opening to the latest
    close of the doctors shown, and any visit outside them. (0, 0): no rows."""
    edges = [edge for windows in windows_per_doctor for window in windows for edge in window]
    edges += [edge for visit in visits for edge in (visit.start, visit.end)]
    if not edges:
        return 0, 0
    return min(edges) // STEP * STEP, min(-(-max(edges) // STEP) * STEP, DAY_MINUTES)


def _cells(first, last, visits, periods, windows, free, day) -> list[Cell]:
    """One doctor's column from `first` to `last`: visits (overlapping ones share a cell), then
    the periods they leave, then free start times, open hours and hours off."""
    groups = _visit_groups(visits, first, last)
    spans = [(period, *_period_minutes(period, day)) for period in periods]

    def period_at(minute):
        if not spans:  # most columns
            return None, 0
        return next(((p, end) for p, start, end in spans if start < minute + STEP and minute < end), (None, 0))

    def working(minute):
        return any(start <= minute < end for start, end in windows)

    cells, minute = [], first
    while minute < last:
        if groups and groups[0][0] == minute:
            group_start, group_end, group = groups.pop(0)
            cells.append(Cell(VISITS, minute, (group_end - group_start) // STEP, visits=group))
            minute = group_end
            continue
        stop = groups[0][0] if groups else last  # a cell ends where the next visit begins
        period, period_end = period_at(minute)
        if period is not None:
            until = min(-(-period_end // STEP) * STEP, stop)
        elif minute in free or working(minute):
            until = minute + STEP
        else:  # hours off: one cell down to the next thing in the column
            until = minute + STEP
            while until < stop and not working(until) and period_at(until)[0] is None:
                until += STEP
        kind = PERIOD if period else FREE if minute in free else OPEN if working(minute) else OFF
        cells.append(Cell(kind, minute, (until - minute) // STEP, period=period))
        minute = until
    return cells


def _visit_groups(visits, first, last) -> list[tuple[int, int, list[Visit]]]:
    """[(first row minute, the minute after the last row, visits)]: each visit over the quarter
    rows it touches; visits sharing a row share a cell (a doctor's visits never overlap, but a
    visit may be off the quarter-hour grid, or in the hour repeated when clocks go back)."""
    groups = []
    for visit in sorted(visits, key=lambda v: (v.start, v.id)):
        start = max(visit.start // STEP * STEP, first)
        end = min(max(-(-visit.end // STEP) * STEP, start + STEP), last)
        if groups and start < groups[-1][1]:
            groups[-1] = (groups[-1][0], max(groups[-1][1], end), groups[-1][2] + [visit])
        else:
            groups.append((start, end, [visit]))
    return groups


def _period_minutes(period: Period, day: date) -> tuple[int, int]:
    """The period's local minutes on `day`, cut to the day."""
    start = 0 if clinic.local_today(period.starts_at) < day else _local_minute(period.starts_at)
    end = DAY_MINUTES if clinic.local_today(period.ends_at) > day else _local_minute(period.ends_at)
    return start, end


def _walk_in(now: datetime, day: date, free: set[int]) -> int | None:
    """A walk-in's time: the first quarter hour a booking made now may start at (the slot rules
    want a start later than now plus the notice), if it is free."""
    earliest = now + timedelta(minutes=clinic.policy().min_notice_minutes)
    if clinic.local_today(earliest) != day:
        return None
    minute = (_local_minute(earliest) // STEP + 1) * STEP
    return minute if minute in free else None


def _rows(first, last, columns, now_minute) -> list[Row]:
    by_minute = [{cell.minute: cell for cell in column.cells} for column in columns]
    return [Row(minute, now_minute is not None and minute <= now_minute < minute + STEP,
                [cells.get(minute) for cells in by_minute])
            for minute in range(first, last, STEP)]
