"""The desk's timeline (DESIGN.md section 20): the day as a grid of doctors and quarter hours."""
from dataclasses import dataclass

from flask import abort, url_for
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup

from clinica_web.blueprints.desk import bp
from clinica_web.blueprints.desk.views import _day_arg, _int_arg
from clinica_web.blueprints.roles import DESK, STAFF, roles_required
from clinica_web.htmx import is_htmx, render_page_or_partial
from clinica_web.services import audit, clinic
from clinica_web.services import timeline as timelines
from clinica_web.services.errors import NotFound

# Stands for the time in a label translated once per column, then cut in two around it.
_TIME = "\x00"


@dataclass(frozen=True)
class BookLinks:
    """What a column's links to book its free times are made of, built once per doctor: a busy
    day has over a thousand free times, and building each link and label whole (url_for, gettext)
    cost twice as much as the rest of the page. The template writes href + time, and the label's
    words before and after the time (in the page's language, in the order it puts them)."""
    doctor_id: int
    href: str
    before: Markup
    after: Markup


@bp.route("/timeline")
@roles_required(*STAFF)
def timeline():
    """?date=YYYY-MM-DD&doctor_id=: the day list's day and doctors, as a grid. With htmx (its
    30-second refresh) only the grid."""
    now = clinic.now()
    day = _day_arg(now)
    try:
        grid = timelines.timeline(current_user, day=day, doctor_id=_int_arg("doctor_id"), now=now)
    except NotFound:
        abort(404)  # another doctor's column, or no such doctor: nothing shown, nothing recorded
    can_book = current_user.role in DESK
    page = render_page_or_partial("desk/timeline.html", "desk/_timeline.html", timeline=grid,
                                  today=clinic.local_today(now), can_book=can_book,
                                  book_links=_book_links(grid) if can_book else None)
    # Recorded once the page is made (the audit's commit would expire what it reads); not for the
    # 30-second refreshes, which are no new view.
    if not is_htmx():
        audit.record(actor=current_user, action="viewed timeline", detail=day.isoformat(), now=now)
    return page


def _book_links(grid) -> list[BookLinks]:
    """A column's BookLinks, in the order of the columns."""
    visit_type = grid.visit_type.name if grid.visit_type else ""
    found = []
    for column in grid.columns:
        href = url_for("desk.book", doctor_id=column.doctor.id, date=grid.day.isoformat(), type=visit_type) + "&time="
        label = Markup(gettext('Book %(time)s<span class="visually-hidden"> with %(doctor)s</span>')) % {
            "time": _TIME, "doctor": column.doctor.display_name}
        before, _time, after = label.partition(_TIME)
        found.append(BookLinks(column.doctor.id, href, Markup(before), Markup(after)))
    return found
