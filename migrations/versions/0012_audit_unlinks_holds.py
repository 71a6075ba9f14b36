"""Audit entries no longer point at waitlist holds: a time offered by hand was recorded with a
link to its held appointment row, which is deleted when the offer ends unbooked; the link then
stopped the deletion (a foreign key), and with it every pass of the worker. Such entries keep
their patient and their words ("Dr. X, Mon 07 Dec 2026, 13:00"); the offers made since are
recorded without the link.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 07:30:00

"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE access_events SET appointment_id = NULL "
               "WHERE appointment_id IN (SELECT id FROM appointments WHERE status = 'held')")


def downgrade():
    pass  # the links are not wanted back: they are what stopped the holds from being released
