"""An index for pending documentation at scale: its pages in order, its count from the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        # Pending documentation: pages in starts_at order without a sort, and (PostgreSQL) the
        # count from the index alone, status included, however long the history.
        batch_op.create_index('ix_appointments_undocumented', ['starts_at', 'id'], unique=False,
                              postgresql_include=['status'],
                              postgresql_where=sa.text('documentation IS NULL'),
                              sqlite_where=sa.text('documentation IS NULL'))


def downgrade():
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_undocumented')
