"""The desk's timeline (DESIGN.md section 20): the day as a grid of doctors and quarter hours."""
from flask import abort
from flask_login import current_user

from clinica_web.blueprints.desk import bp
from clinica_web.blueprints.desk.views import _day_arg, _int_arg
from clinica_web.blueprints.roles import DESK, STAFF, roles_required
from clinica_web.htmx import is_htmx, render_page_or_partial
from clinica_web.services import audit, clinic
from clinica_web.services import timeline as timelines
from clinica_web.services.errors import NotFound


@bp.route("/timeline")
@roles_required(*STAFF)
def timeline():
    """?date=YYYY-MM-DD&doctor_id=: the day list's day and doctors, as a grid. With htmx (its
    30-second refresh) only the grid."""
    now = clinic.now()
    day = _day_arg(now)
    # Recorded before the grid is loaded, as the day list does: the audit's commit would expire it.
    if not is_htmx():
        audit.record(actor=current_user, action="viewed timeline", detail=day.isoformat(), now=now)
    try:
        grid = timelines.timeline(current_user, day=day, doctor_id=_int_arg("doctor_id"), now=now)
    except NotFound:
        abort(404)
    return render_page_or_partial("desk/timeline.html", "desk/_timeline.html", timeline=grid,
                                  today=clinic.local_today(now), can_book=current_user.role in DESK)
