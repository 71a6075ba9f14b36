"""The calendar version (issue 20): one number the database changes with every change to doctors,
weekly hours, blocked periods and closures, or visit types, so that each web worker can keep those
in memory and still see a change made by any other at once (services/calendars.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ("doctors", "weekly_hours", "blocked_periods", "appointment_types")
EVENTS = ("INSERT", "UPDATE", "DELETE")
# A random 62-bit number rather than a count: a change rolled back leaves the old number, and the
# next change cannot land on a number a worker may have cached with the rolled-back rows.
NEW_VERSION = {
    "postgresql": "floor(random() * 4611686018427387903)::bigint",
    "sqlite": "abs(random() >> 1)",
}


def upgrade():
    op.create_table(
        'calendar_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_calendar_version_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_version')),
    )
    op.execute("INSERT INTO calendar_version (id, version) VALUES (1, 0)")
    dialect = op.get_bind().dialect.name
    bump = f"UPDATE calendar_version SET version = {NEW_VERSION[dialect]} WHERE id = 1"
    if dialect == "postgresql":
        # Once a statement, however many rows it touched (a bulk load changes the number once).
        op.execute(f"""
            CREATE FUNCTION bump_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {bump}; RETURN NULL; END $$
        """)
        for table in TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_calendar_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_calendar_version()
            """)
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"""
                    CREATE TRIGGER {table}_calendar_version_{event.lower()} AFTER {event} ON {table}
                    BEGIN {bump}; END
                """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_calendar_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_calendar_version()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_calendar_version_{event.lower()}")
    op.drop_table('calendar_version')
