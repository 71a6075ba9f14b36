"""SQLAlchemy models, one module per aggregate."""
from clinica_web.models.appointment import (  # noqa: F401
    ARRIVED,
    CANCELLED,
    COMPLETED,
    HELD,
    NO_SHOW,
    SCHEDULED,
    STATUSES,
    Appointment,
    AppointmentChange,
    AppointmentType,
)
from clinica_web.models.audit import AccessEvent  # noqa: F401,E402
from clinica_web.models.calendar import CalendarVersion  # noqa: F401
from clinica_web.models.doctor import BlockedPeriod, Doctor, WeeklyHours  # noqa: F401
from clinica_web.models.outbox import OutboxEmail, UsedLink  # noqa: F401
from clinica_web.models.user import (  # noqa: F401
    ADMIN,
    DOCTOR,
    PATIENT,
    RECEPTION,
    ROLES,
    STAFF_ROLES,
    ApiToken,
    PasswordResetRequest,
    User,
    UserSession,
)
from clinica_web.models.waitlist import FreedTime, WaitlistEntry, WaitlistOffer  # noqa: F401
