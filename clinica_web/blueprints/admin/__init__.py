"""Admin pages: doctors, staff accounts, API tokens, clinic closures, the audit trail, reports."""
from clinica_web.blueprints import page_blueprint

bp = page_blueprint("admin", __name__, url_prefix="/admin")

from clinica_web.blueprints.admin import reports  # noqa: E402,F401
from clinica_web.blueprints.admin import views  # noqa: E402,F401
