"""Waitlist offers (DESIGN.md section 18): freed time waiting to be offered, and the offers. A
held slot is an appointment row with status "held": the overlap guards already count it (every
status but cancelled holds time), so nobody else can book it while the offer is open.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'freed_times',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_freed_times_doctor_id_doctors')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_freed_times')),
    )
    op.create_table(
        'waitlist_offers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(), nullable=False),
        sa.Column('ends_at', sa.DateTime(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], ondelete='SET NULL',
                                name=op.f('fk_waitlist_offers_appointment_id_appointments')),
        sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_waitlist_offers_doctor_id_doctors')),
        sa.ForeignKeyConstraint(['entry_id'], ['waitlist_entries.id'],
                                name=op.f('fk_waitlist_offers_entry_id_waitlist_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_offers')),
    )
    op.create_index('ix_waitlist_offers_open', 'waitlist_offers', ['status', 'expires_at'])
    op.create_index('ix_waitlist_offers_entry', 'waitlist_offers', ['entry_id'])


def downgrade():
    op.drop_index('ix_waitlist_offers_entry', table_name='waitlist_offers')
    op.drop_index('ix_waitlist_offers_open', table_name='waitlist_offers')
    op.drop_table('waitlist_offers')
    op.drop_table('freed_times')
