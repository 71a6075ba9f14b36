"""The waitlist (DESIGN.md section 18): what each patient waits for.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 13:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'waitlist_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('doctor_id', sa.Integer(), nullable=True),
        sa.Column('specialty', sa.String(length=80), nullable=True),
        sa.Column('appointment_type', sa.String(length=40), nullable=False),
        sa.Column('from_date', sa.Date(), nullable=False),
        sa.Column('to_date', sa.Date(), nullable=False),
        sa.Column('part_of_day', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint('from_date <= to_date', name=op.f('ck_waitlist_entries_ordered')),
        sa.CheckConstraint('(doctor_id IS NULL) <> (specialty IS NULL)', name=op.f('ck_waitlist_entries_one_target')),
        sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_waitlist_entries_doctor_id_doctors')),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_waitlist_entries_patient_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    )
    op.create_index('ix_waitlist_entries_patient', 'waitlist_entries', ['patient_id', 'status'])
    op.create_index('ix_waitlist_entries_queue', 'waitlist_entries', ['status', 'id'])


def downgrade():
    op.drop_index('ix_waitlist_entries_queue', table_name='waitlist_entries')
    op.drop_index('ix_waitlist_entries_patient', table_name='waitlist_entries')
    op.drop_table('waitlist_entries')
