"""Reminders and confirmations (DESIGN.md section 16): reminder rows in the outbox (a kind, the
appointment and SEQUENCE they remind of, and the instant after which they must not go out), the
time a patient confirmed, each patient's choice to get reminders, and the links already used.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # recreate='never' everywhere: plain ALTER TABLE ADD COLUMN on SQLite, which keeps the
    # appointments' overlap triggers (recreating a table would drop them).
    with op.batch_alter_table('outbox_emails', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='message'))
        batch_op.add_column(sa.Column('appointment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('not_after', sa.DateTime(), nullable=True))
    op.create_index('ix_outbox_emails_appointment', 'outbox_emails', ['appointment_id', 'status'])
    with op.batch_alter_table('appointments', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('wants_reminders', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        'used_links',
        sa.Column('digest', sa.String(length=64), primary_key=True),
        sa.Column('used_at', sa.DateTime(), nullable=False),
    )


def downgrade():
    op.drop_table('used_links')
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('wants_reminders')
    with op.batch_alter_table('appointments', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('confirmed_at')
    op.drop_index('ix_outbox_emails_appointment', table_name='outbox_emails')
    with op.batch_alter_table('outbox_emails', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('not_after')
        batch_op.drop_column('sequence')
        batch_op.drop_column('appointment_id')
        batch_op.drop_column('kind')
