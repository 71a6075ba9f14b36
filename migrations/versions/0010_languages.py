"""Languages (DESIGN.md section 19): each user's chosen language for pages and emails; none means
the browser's choice on pages and DEFAULT_LOCALE in emails.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # recreate='never': plain ALTER TABLE ADD COLUMN on SQLite (recreating would drop triggers).
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('language')
