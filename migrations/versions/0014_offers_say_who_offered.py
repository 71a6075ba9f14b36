"""A waitlist offer keeps who made it: a member of staff who offered a time by hand, or nobody
(the worker). The visit's history records the offer when it is accepted, with that name.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 13:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("waitlist_offers") as batch:
        batch.add_column(sa.Column("offered_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_waitlist_offers_offered_by_id_users", "users", ["offered_by_id"], ["id"])


def downgrade():
    with op.batch_alter_table("waitlist_offers") as batch:
        batch.drop_constraint("fk_waitlist_offers_offered_by_id_users", type_="foreignkey")
        batch.drop_column("offered_by_id")
