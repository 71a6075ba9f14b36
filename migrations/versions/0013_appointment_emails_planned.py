"""Appointment emails (booked, moved, cancelled) are planned in the change's transaction and
written out by the worker, like reminders: the row keeps, in `facts`, the doctor and times the
email is to say. Rows written whole before stay as they are (kind 'message').

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_emails", recreate="never") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))


def downgrade():
    # The code before this migration would send such rows as they are: empty. They are marked
    # failed instead, with why (their visits' emails are then not sent).
    op.execute("UPDATE outbox_emails SET status = 'failed', last_error = 'Planned by a later version; "
               "not written out after the downgrade' WHERE status = 'pending' "
               "AND kind IN ('booked', 'rescheduled', 'cancelled')")
    with op.batch_alter_table("outbox_emails", recreate="never") as batch:
        batch.drop_column("facts")
