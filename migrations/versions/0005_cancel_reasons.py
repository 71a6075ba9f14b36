"""Cancellation reasons: a code from the lifecycle's lists, the note beside it, and whether a
cancellation came inside the change cutoff (late).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # recreate='never': plain ALTER TABLE ADD COLUMN on SQLite, which keeps the overlap triggers
    # (recreating the table would drop them).
    with op.batch_alter_table('appointments', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('cancel_reason_code', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('late_cancellation', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    # Cancellations from before: the staff's free text stays as the note, the code is "other".
    op.execute("UPDATE appointments SET cancel_reason_code = 'other' WHERE status = 'cancelled'")


def downgrade():
    with op.batch_alter_table('appointments', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('late_cancellation')
        batch_op.drop_column('cancel_reason_code')
