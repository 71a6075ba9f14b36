"""A cancellation the clinic caused (its doctor unavailable, a clinic closure) is not a late
cancellation counted against the patient (lifecycle.is_late_cancellation): the ones recorded
as late before are not late either. Going down changes nothing (which were late is not known).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 19:30:00

"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE appointments SET late_cancellation = false "
               "WHERE late_cancellation AND cancel_reason_code IN ('doctor_unavailable', 'clinic_closed')")


def downgrade():
    pass
