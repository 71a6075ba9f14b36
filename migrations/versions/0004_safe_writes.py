"""Safe writes: a patient is in one place at a time, bounded SQLite guards, sessions that end.

- PostgreSQL: a second exclusion constraint, over (patient, time range) where not cancelled,
  next to the doctor's.
- SQLite: the overlap triggers are made again, for the doctor and for the patient, and bounded
  below by the longest visit (480 minutes), so that they read one day of the index instead of the
  doctor's whole history on every insert.
- users.session_version (raised by a password change or reset: every JWT and session of the
  user ends) and users.welcomed_at (a welcome link signs in once).
- user_sessions: one row per login, ended by logout, so that a copied cookie dies with it.
- password_reset_requests: what the password reset form leaves for the worker, so that a known
  and an unknown address cost the request the same.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:00:00

"""
import sqlalchemy as sa
from alembic import op

from clinica_web.services.lifecycle import guard_condition

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

MAX_DURATION = 480  # minutes: the longest visit (the appointments' duration check)


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('welcomed_at', sa.DateTime(), nullable=True))
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('digest', name=op.f('uq_user_sessions_digest')),
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)
    op.create_table(
        'password_reset_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_requests')),
    )

    _refuse_patients_booked_twice()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT appointments_patient_no_overlap EXCLUDE USING gist "
            f"(patient_id WITH =, tsrange(starts_at, ends_at, '[)') WITH &&) WHERE ({guard_condition()})"
        )
    elif dialect == "sqlite":
        _drop_triggers()
        # An update is checked when it moves the time, the people or the status (not for notes or
        # documentation, say), as PostgreSQL's constraint is.
        moves = "UPDATE OF starts_at, ends_at, doctor_id, patient_id, status"
        for event, not_itself in (("INSERT", ""), (moves, "AND other.id <> NEW.id")):
            checks = "".join(_sqlite_check(column, name, not_itself) for column, name in (
                ("doctor_id", "appointments_no_overlap"), ("patient_id", "appointments_patient_no_overlap")))
            op.execute(f"""
                CREATE TRIGGER appointments_no_overlap_{event.split()[0].lower()}
                BEFORE {event} ON appointments
                WHEN {guard_condition('NEW')}
                BEGIN {checks}
                END
            """)


def _refuse_patients_booked_twice():
    """Stop, saying which, if a patient already holds two overlapping appointments (the rule was
    only the booking service's until now): one of each pair must be moved or cancelled first."""
    pairs = op.get_bind().execute(sa.text(f"""
        SELECT a.patient_id, a.id, b.id FROM appointments AS a JOIN appointments AS b
          ON a.patient_id = b.patient_id AND a.id < b.id
         AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
         WHERE {guard_condition('a')} AND {guard_condition('b')}
         ORDER BY a.patient_id, a.id LIMIT 20
    """)).all()
    if pairs:
        listed = ", ".join(f"patient {patient}: appointments {first} and {second}" for patient, first, second in pairs)
        raise RuntimeError("Some patients have two appointments at the same time; move or cancel one of each "
                           f"pair, then upgrade again ({listed}).")


def _sqlite_check(column, name, not_itself):
    # Timestamps are 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text: compared as strings, as instants. The
    # lower bound (no visit is longer than MAX_DURATION) lets the (column, starts_at) index read
    # a day's range; datetime() drops the fraction, which only widens that range a little.
    return f"""
                    SELECT RAISE(ABORT, '{name}')
                    WHERE EXISTS (
                        SELECT 1 FROM appointments AS other
                        WHERE other.{column} = NEW.{column}
                          AND other.starts_at > datetime(NEW.starts_at, '-{MAX_DURATION} minutes')
                          AND other.starts_at < NEW.ends_at
                          AND NEW.starts_at < other.ends_at
                          AND {guard_condition('other')}
                          {not_itself}
                    );"""


def _drop_triggers():
    op.execute("DROP TRIGGER IF EXISTS appointments_no_overlap_insert")
    op.execute("DROP TRIGGER IF EXISTS appointments_no_overlap_update")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT appointments_patient_no_overlap")
    elif dialect == "sqlite":
        _drop_triggers()
        for event, not_itself in (("INSERT", ""), ("UPDATE", "AND other.id <> NEW.id")):
            op.execute(f"""
                CREATE TRIGGER appointments_no_overlap_{event.lower()}
                BEFORE {event} ON appointments
                WHEN NEW.status <> 'cancelled'
                BEGIN
                    SELECT RAISE(ABORT, 'appointments_no_overlap')
                    WHERE EXISTS (
                        SELECT 1 FROM appointments AS other
                        WHERE other.doctor_id = NEW.doctor_id
                          AND other.status <> 'cancelled'
                          AND other.starts_at < NEW.ends_at
                          AND NEW.starts_at < other.ends_at
                          {not_itself}
                    );
                END
            """)
    op.drop_table('password_reset_requests')
    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')
    # ALTER TABLE ... DROP COLUMN in place: on SQLite, rebuilding the table (batch mode's way) would
    # drop `users`, which the foreign keys of every other table refuse.
    with op.batch_alter_table('users', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('welcomed_at')
        batch_op.drop_column('session_version')
