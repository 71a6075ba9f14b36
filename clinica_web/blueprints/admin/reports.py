"""Reports for the clinic manager (DESIGN.md section 20): thin views over services/reports.py.
Admins only, as every admin page (views.require_admin)."""
from flask import Response, abort, render_template, request

from clinica_web import i18n
from clinica_web.blueprints.admin import bp
from clinica_web.blueprints.roles import roles_required
from clinica_web.models import ADMIN
from clinica_web.services import clinic, reports
from clinica_web.services.errors import DomainError

# How the page writes the numbers.
FORMATS = {"percent": reports.percent, "duration": reports.duration, "lead_time": reports.lead_time}


def _asked_report():
    """The report the query string asks for (from, to, doctor_id); DomainError for a bad one,
    before anything is computed."""
    first, last = reports.period(request.args.get("from"), request.args.get("to"), now=clinic.now())
    return reports.weekly_report(first=first, last=last, doctor_id=reports.doctor_filter(request.args.get("doctor_id")))


@bp.route("/reports")
@roles_required(ADMIN)
def report():
    try:
        found = _asked_report()
    except DomainError as error:
        # The form again, as it was filled in, with what to fix: nothing else is shown.
        return render_template("admin/reports.html", report=None, error=error, error_message=i18n.error_text(error),
                               asked=request.args, doctors=reports.doctor_choices(), **FORMATS), 400
    return render_template("admin/reports.html", report=found, error=None, asked=request.args, doctors=found.choices,
                           utilisation=reports.utilisation_chart(found), no_shows=reports.no_show_chart(found),
                           **FORMATS)


@bp.route("/reports.csv")
@roles_required(ADMIN)
def report_csv():
    try:
        found = _asked_report()
    except DomainError as error:
        abort(400, i18n.error_text(error))
    filename = f"clinica-report-{found.first.isoformat()}-{found.last.isoformat()}.csv"
    return Response(reports.as_csv(found), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
