"""What a clinic manager reads (DESIGN.md section 20): per doctor and ISO week (Monday to Sunday,
clinic-local days), utilisation, no-shows, late cancellations and lead time; the whole clinic's
total per week; the charts' geometry (templates/admin/_charts.html draws them); the CSV.

A report is four queries whatever the number of doctors, weeks and visits (the doctors and
their hours, the blocked periods and closures, the visits), then arithmetic in whole minutes
since the epoch: windows become instants with slots.window_span, so a week with a daylight-saving
change counts its local wall-clock hours as the real minutes they last.

Open time uses each doctor's current weekly hours: hours are not kept with a history.
"""
import bisect
import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.dates import format_date
from babel.numbers import get_decimal_symbol
from flask_babel import gettext
from sqlalchemy import and_, or_, select

from clinica_web import i18n
from clinica_web.extensions import db
from clinica_web.i18n import N_
from clinica_web.models import Appointment, BlockedPeriod, Doctor
from clinica_web.models.appointment import ARRIVED, COMPLETED, HELD, NO_SHOW
from clinica_web.services import availability, clinic, lifecycle, slots, values
from clinica_web.services.errors import DomainError, InvalidInput

MAX_DAYS = 366
DEFAULT_PAST_WEEKS = 4  # shown before the current week when no dates are given
# Visits that hold their time: a slot held for a waitlist offer is not a visit (yet).
VISITS = tuple(status for status in lifecycle.HOLDS_TIME if status != HELD)
DUE = (ARRIVED, COMPLETED, NO_SHOW)  # the patient was expected, and the desk said what happened
# The total's name, translated where it is shown (a table's row, the CSV, a chart's key); in a sentence.
WHOLE_CLINIC = N_("Whole clinic")
WHOLE_CLINIC_IN_SENTENCE = N_("whole clinic")


# ---------------------------------------------------------------------------------------------
# What the report is asked for


def period(first: str | None, last: str | None, *, now: datetime) -> tuple[date, date]:
    """The report's first and last local days from the query's `from` and `to` (YYYY-MM-DD).
    Left empty: the last DEFAULT_PAST_WEEKS complete weeks and the current one, to its Sunday."""
    monday = _monday(clinic.local_today(now))
    first_day = _date(first, "from") if first else monday - timedelta(weeks=DEFAULT_PAST_WEEKS)
    last_day = _date(last, "to") if last else monday + timedelta(days=6)
    if first_day > last_day:
        raise InvalidInput("The first day must not be after the last day", field="from")
    if (last_day - first_day).days >= MAX_DAYS:
        raise InvalidInput("Choose at most %(days)s days", field="to", days=MAX_DAYS)
    return first_day, last_day


def _date(text, name) -> date:
    try:
        return values.parse_date(text)
    except DomainError as error:
        raise InvalidInput(error.template, field=name, **error.values) from None


def doctor_filter(text: str | None) -> int | None:
    """The query's doctor_id: empty for every doctor; anything but an id is refused (the doctor
    itself is looked up with the report's doctors, in weekly_report)."""
    if not text:
        return None
    doctor_id = values.positive_number(text, values.MAX_ID)
    if doctor_id is None:
        raise _unknown_doctor()
    return doctor_id


def _unknown_doctor():
    return InvalidInput("Choose a doctor from the list", field="doctor_id")


def doctor_choices() -> list[Doctor]:
    """Every doctor, by name, for the report's form (one query)."""
    return list(db.session.scalars(select(Doctor).order_by(Doctor.display_name, Doctor.id)))


# ---------------------------------------------------------------------------------------------
# The measures


@dataclass
class Measures:
    """One doctor's week (or the clinic's: the sum of its doctors)."""

    open_minutes: int = 0
    booked_minutes: int = 0
    visits_due: int = 0
    no_shows: int = 0
    late_cancellations: int = 0
    lead_minutes: list[int] = field(default_factory=list)  # visit start - booking time, one per visit

    @property
    def utilisation(self) -> float | None:
        """Booked minutes of open minutes; None without open time (no hours, all blocked)."""
        return self.booked_minutes / self.open_minutes if self.open_minutes else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.visits_due if self.visits_due else None

    @property
    def median_lead_hours(self) -> float | None:
        return statistics.median(self.lead_minutes) / 60 if self.lead_minutes else None

    def add(self, other: "Measures") -> None:
        self.open_minutes += other.open_minutes
        self.booked_minutes += other.booked_minutes
        self.visits_due += other.visits_due
        self.no_shows += other.no_shows
        self.late_cancellations += other.late_cancellations
        self.lead_minutes += other.lead_minutes


@dataclass(frozen=True)
class Week:
    """An ISO week, as far as it lies inside the report's days (the first and last may be cut)."""

    monday: date
    first: date
    last: date

    @property
    def label(self) -> str:
        """'3–9 Nov', '29 Dec – 4 Jan'."""
        if self.first == self.last:
            return _short(self.first)
        if self.first.month == self.last.month:
            return f"{self.first.day}–{self.last.day} {_month(self.last)}"
        return f"{_short(self.first)} – {_short(self.last)}"


def _short(day: date) -> str:
    """'7 Dec' ('7 dic'), in the page's language."""
    return format_date(day, "d MMM", locale=i18n.language())


def _month(day: date) -> str:
    return format_date(day, "MMM", locale=i18n.language())


@dataclass
class Report:
    first: date
    last: date
    weeks: list[Week]
    doctors: list[Doctor]  # the doctors reported: active ones and any with visits in these days
    choices: list[Doctor]  # every doctor, for the form
    doctor_id: int | None
    cells: dict[tuple[int, date], Measures]  # (doctor id, week's Monday)
    totals: dict[date, Measures]  # by week's Monday

    def measures(self, doctor_id: int, week: Week) -> Measures:
        return self.cells[doctor_id, week.monday]

    def rows(self, week: Week) -> list[tuple[str, Measures, bool]]:
        """(name, measures, is the total) of each doctor's week, then of the whole clinic's: not
        when the report is of one doctor, whose row it would repeat."""
        rows = [(doctor.display_name, self.measures(doctor.id, week), False) for doctor in self.doctors]
        return rows if self.doctor_id else rows + [(gettext(WHOLE_CLINIC), self.totals[week.monday], True)]

    @property
    def total_label(self) -> str:
        """What the total row is of: the whole clinic, or the one doctor asked for."""
        return self.doctors[0].display_name if self.doctor_id else gettext(WHOLE_CLINIC)

    @property
    def scope(self) -> str:
        """The same, inside a sentence."""
        return self.doctors[0].display_name if self.doctor_id else gettext(WHOLE_CLINIC_IN_SENTENCE)


def weekly_report(*, first: date, last: date, doctor_id: int | None = None) -> Report:
    """Every measure per doctor and week of [first, last] (local days), in four queries."""
    choices = list(db.session.scalars(select(Doctor).order_by(Doctor.display_name, Doctor.id)
                                      .options(db.selectinload(Doctor.weekly_hours))))
    if doctor_id is not None and doctor_id not in {doctor.id for doctor in choices}:
        raise _unknown_doctor()
    start, end = clinic.local_day_span(first, last)
    periods = _closed_time(start, end, doctor_id)
    visits = _visits(start, end, doctor_id)
    with_visits = {visit.doctor_id for visit in visits}
    doctors = [d for d in choices if d.id == doctor_id or doctor_id is None and (d.active or d.id in with_visits)]
    visits_of = {}
    for visit in visits:
        visits_of.setdefault(visit.doctor_id, []).append(visit)
    weeks = _weeks(first, last)
    cells = {}
    for doctor in doctors:
        closed = _merged(periods.get(doctor.id, []) + periods.get(None, []))
        open_time = _OpenTime(*_open_spans(doctor, first, last, closed))
        measures = {week.monday: Measures() for week in weeks}
        for monday, (open_at, close_at) in zip(open_time.mondays, open_time.spans):
            measures[monday].open_minutes += close_at - open_at
        for visit in visits_of.get(doctor.id, []):
            _count(visit, measures, open_time, start, end)
        cells.update({(doctor.id, monday): found for monday, found in measures.items()})
    totals = {week.monday: Measures() for week in weeks}
    for (_doctor_id, monday), found in cells.items():
        totals[monday].add(found)
    return Report(first=first, last=last, weeks=weeks, doctors=doctors, choices=choices, doctor_id=doctor_id,
                  cells=cells, totals=totals)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weeks(first: date, last: date) -> list[Week]:
    weeks, monday = [], _monday(first)
    while monday <= last:
        weeks.append(Week(monday, max(monday, first), min(monday + timedelta(days=6), last)))
        monday += timedelta(weeks=1)
    return weeks


def _closed_time(start, end, doctor_id) -> dict[int | None, list[tuple[int, int]]]:
    """{doctor id (None: clinic closures): [(start, end) epoch minutes]} overlapping [start, end)."""
    query = select(BlockedPeriod.doctor_id, BlockedPeriod.starts_at, BlockedPeriod.ends_at).where(
        BlockedPeriod.starts_at < end, BlockedPeriod.ends_at > start)
    if doctor_id is not None:
        query = query.where(or_(BlockedPeriod.doctor_id == doctor_id, BlockedPeriod.doctor_id.is_(None)))
    found = {}
    for owner, starts_at, ends_at in db.session.execute(query):
        found.setdefault(owner, []).append((slots.epoch_minutes(starts_at), slots.epoch_minutes(ends_at)))
    return found


def _visits(start, end, doctor_id):
    """The visits overlapping [start, end) that hold time, and the cancellations recorded as late."""
    query = select(Appointment.doctor_id, Appointment.starts_at, Appointment.ends_at, Appointment.status,
                   Appointment.created_at, Appointment.late_cancellation).where(
        Appointment.overlapping(start, end),
        or_(and_(lifecycle.holds_time(), lifecycle.is_booking()), Appointment.late_cancellation))
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    return db.session.execute(query).all()


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans joined: sorted and disjoint."""
    merged = []
    for span_start, span_end in sorted(spans):
        if merged and span_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
        else:
            merged.append((span_start, span_end))
    return merged


def _open_spans(doctor: Doctor, first: date, last: date, closed: list[tuple[int, int]]):
    """The doctor's open time from `first` to `last`: their windows, day by day, less `closed`
    (sorted, disjoint). Returns (each span's week Monday, [(start, end)] epoch minutes, in order)."""
    tz = clinic.tz()
    windows = availability.weekly_windows(doctor)
    closed_ends = [span_end for _start, span_end in closed]
    mondays, spans = [], []
    day = first
    while day <= last:
        for window in windows.get(day.weekday(), []):
            open_at, close_at = slots.window_span(day, window, tz)
            index = bisect.bisect_right(closed_ends, open_at)  # the first closed span ending after open_at
            for closed_start, closed_end in closed[index:]:
                if closed_start >= close_at:
                    break
                if closed_start > open_at:
                    mondays.append(_monday(day))
                    spans.append((open_at, closed_start))
                open_at = max(open_at, closed_end)
            if open_at < close_at:
                mondays.append(_monday(day))
                spans.append((open_at, close_at))
        day += timedelta(days=1)
    return mondays, spans


class _OpenTime:
    """A doctor's open spans in order, each with its week's Monday, and their ends to bisect."""

    def __init__(self, mondays: list[date], spans: list[tuple[int, int]]):
        self.mondays, self.spans = mondays, spans
        self.ends = [span_end for _start, span_end in spans]

    def overlaps(self, visit_start: int, visit_end: int):
        """(week's Monday, minutes) of each open span the visit overlaps."""
        for index in range(bisect.bisect_right(self.ends, visit_start), len(self.spans)):
            open_at, close_at = self.spans[index]
            if open_at >= visit_end:
                break
            yield self.mondays[index], min(close_at, visit_end) - max(open_at, visit_start)


def _count(visit, measures: dict[date, Measures], open_time: _OpenTime, start, end) -> None:
    """Adds one visit to its doctor's weeks: its minutes inside open time to the weeks of that
    time; the rest to the week it starts in, if it starts in the report's days."""
    if visit.status in VISITS:
        for monday, minutes in open_time.overlaps(slots.epoch_minutes(visit.starts_at),
                                                  slots.epoch_minutes(visit.ends_at)):
            measures[monday].booked_minutes += minutes
    if not start <= visit.starts_at < end:
        return
    week = measures[_monday(clinic.local_today(visit.starts_at))]
    if visit.status in VISITS:
        lead = (visit.starts_at - visit.created_at).total_seconds() // 60
        week.lead_minutes.append(max(0, int(lead)))  # a visit written down after it began: no lead time
    if visit.status in DUE:
        week.visits_due += 1
        week.no_shows += visit.status == NO_SHOW
    if visit.late_cancellation and visit.status not in VISITS:
        week.late_cancellations += 1


# ---------------------------------------------------------------------------------------------
# Numbers as people read them (the page) and as spreadsheets take them (the CSV)

NONE = "—"  # a rate of nothing: no open time, no visit due, no visit


def _decimal(value: float) -> str:
    """One decimal, with the page's language's decimal mark: '12.5', '12,5'."""
    text = f"{value:.1f}"
    return text if i18n.language() == "en" else text.replace(".", get_decimal_symbol(i18n.language()))


def percent(rate: float | None) -> str:
    return NONE if rate is None else f"{_decimal(rate * 100)}%"


def duration(minutes: int) -> str:
    """'15 h', '9 h 30 min', '45 min'."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def lead_time(hours: float | None) -> str:
    """In days with one decimal, or in hours under a day."""
    if hours is None:
        return NONE
    if hours < 24:
        return gettext("%(num)s hours", num=_decimal(hours))
    return gettext("%(num)s days", num=_decimal(hours / 24))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


# The header row, in the reader's language (translated when written).
CSV_COLUMNS = [N_("Doctor"), N_("Week start"), N_("Week end"), N_("Open minutes"), N_("Booked minutes"),
               N_("Utilisation %"), N_("Visits due"), N_("No-shows"), N_("No-show rate %"), N_("Late cancellations"),
               N_("Median lead time (hours)")]


def as_csv(report: Report) -> str:
    """The rows of the page's last table, week by week (Report.rows). An undefined rate is an
    empty cell. Cells a spreadsheet would run as a formula (a doctor named "=...") are
    quoted with a leading ', as in the day list's CSV (day_list.as_csv)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([gettext(column) for column in CSV_COLUMNS])
    for week, (name, measures, _total) in ((week, row) for week in report.weeks for row in report.rows(week)):
        writer.writerow([values.csv_cell(name), week.first.isoformat(), week.last.isoformat(), measures.open_minutes,
                         measures.booked_minutes, _number(_hundredths(measures.utilisation)), measures.visits_due,
                         measures.no_shows, _number(_hundredths(measures.no_show_rate)),
                         measures.late_cancellations, _number(measures.median_lead_hours)])
    return out.getvalue()


def _hundredths(rate):
    return None if rate is None else rate * 100


# ---------------------------------------------------------------------------------------------
# The charts' geometry, in the units of the SVG's viewBox: sized for a phone (the SVG scales to
# its box), so that its 12-unit text reads at about 12 px on a 390 px screen.

WIDTH, HEIGHT = 360, 224
LEFT, RIGHT, TOP, BOTTOM = 46, 348, 14, 184  # the plotting area; week labels below, values left
MAX_WEEK_LABELS = 6  # more would overlap: every second (third...) week is named
MAX_VALUE_LABELS = 13  # bars are too narrow for their values beyond that: the table has them


@dataclass(frozen=True)
class Line:
    name: str
    style: int | None  # which line style (colour, dash, marker) of the macro's; None: the total's
    path: str  # SVG path data, broken where a week has no value
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # its value, above it ("" when there are too many bars to label)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot: tuple[int, int, int, int] = (LEFT, TOP, RIGHT, BOTTOM)


def _x(index: int, count: int) -> float:
    """The middle of week `index`'s band."""
    return round(LEFT + (index + 0.5) * (RIGHT - LEFT) / count, 1)


def _y(value: float, top: float) -> float:
    return round(BOTTOM - value / top * (BOTTOM - TOP), 1)


def _x_ticks(weeks: list[Week]) -> list[tuple[float, str]]:
    every = math.ceil(len(weeks) / MAX_WEEK_LABELS)
    return [(_x(index, len(weeks)), _short(week.first)) for index, week in enumerate(weeks) if index % every == 0]


def _line(name, style, rates, count, top) -> Line:
    path, points, pen_down = [], [], False
    for index, rate in enumerate(rates):
        if rate is None:
            pen_down = False
            continue
        point = (_x(index, count), _y(rate, top))
        path.append(f"{'L' if pen_down else 'M'}{point[0]} {point[1]}")
        points.append(point)
        pen_down = True
    return Line(name, style, " ".join(path), points)


def _long(day: date) -> str:
    """'07 Dec 2026' ('07 dic 2026')."""
    return format_date(day, "dd MMM yyyy", locale=i18n.language())


NICE_TOPS = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0)  # the scale's top: its half is a round number too


def _top(rates) -> float:
    """The scale's top: the lowest of NICE_TOPS that holds every rate (low rates stay readable)."""
    highest = max((rate for rate in rates if rate is not None), default=0)
    return next((nice for nice in NICE_TOPS if highest <= nice), 1.0)


def _y_ticks(top) -> list[tuple[float, str]]:
    return [(_y(share * top, top), f"{share * top * 100:.0f}%") for share in (0, 0.5, 1)]


def utilisation_chart(report: Report) -> Chart:
    """A line per doctor, and a thicker one for the whole clinic when there are several."""
    count = len(report.weeks)
    rates = [(doctor.display_name, [report.measures(doctor.id, week).utilisation for week in report.weeks])
             for doctor in report.doctors]  # a list: two doctors may share a name
    totals = [report.totals[week.monday].utilisation for week in report.weeks]
    top = _top([*totals, *(rate for _name, each in rates for rate in each)])
    lines = [_line(name, index, each, count, top) for index, (name, each) in enumerate(rates)]
    if report.doctor_id is None:
        lines.append(_line(gettext(WHOLE_CLINIC), None, totals, count, top))
    said = [gettext("%(who)s: %(rate)s in the week of %(week)s", who=report.total_label, rate=percent(rate),
                    week=_short(week.first))
            for week, rate in ((report.weeks[0], totals[0]), (report.weeks[-1], totals[-1]))]
    return Chart(
        id="utilisation-chart", title=gettext("Utilisation per week, %(scope)s", scope=report.scope),
        description=gettext("Booked minutes of open minutes, per doctor, over the weeks from %(first)s to %(last)s. "
                            "%(values)s. The table after the chart lists every value.",
                            first=_long(report.weeks[0].first), last=_long(report.weeks[-1].last),
                            values="; ".join(said[:1] if count == 1 else said)),
        y_ticks=_y_ticks(top), x_ticks=_x_ticks(report.weeks), lines=lines,
    )


def no_show_chart(report: Report) -> Chart:
    """A bar per week: the whole clinic's no-show rate (or the one doctor's)."""
    count = len(report.weeks)
    rates = [report.totals[week.monday].no_show_rate for week in report.weeks]
    top = _top(rates)
    band = (RIGHT - LEFT) / count
    bars = []
    for index, rate in enumerate(rates):
        y = _y(rate or 0, top)
        label = (f"{rate * 100:.0f}%" if rate is not None else NONE) if count <= MAX_VALUE_LABELS else ""
        bars.append(Bar(x=round(_x(index, count) - band * 0.3, 1), y=y, width=round(band * 0.6, 1),
                        height=round(BOTTOM - y, 1), label=label))
    due = sum(report.totals[week.monday].visits_due for week in report.weeks)
    missed = sum(report.totals[week.monday].no_shows for week in report.weeks)
    return Chart(
        id="no-show-chart", title=gettext("No-show rate per week, %(scope)s", scope=report.scope),
        description=gettext("No-shows of the visits that were due, over the weeks from %(first)s to %(last)s: "
                            "%(missed)s of %(due)s in all. A dash marks a week with no visit due. The table after "
                            "the chart lists every value.", first=_long(report.weeks[0].first),
                            last=_long(report.weeks[-1].last), missed=missed, due=due),
        y_ticks=_y_ticks(top), x_ticks=_x_ticks(report.weeks), bars=bars,
    )
