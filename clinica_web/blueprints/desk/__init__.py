"""The clinic's side: the day list, appointment detail and history, booking on behalf of a
patient, reschedule and cancel, documentation, doctors' hours."""
from clinica_web.blueprints import page_blueprint

bp = page_blueprint("desk", __name__, url_prefix="/desk")

from clinica_web.blueprints.desk import patient_views  # noqa: E402,F401
from clinica_web.blueprints.desk import timeline_views  # noqa: E402,F401
from clinica_web.blueprints.desk import views  # noqa: E402,F401
