"""Patients without an email address (DESIGN.md section 20): the desk registers a patient by phone
only, so users.email may be NULL. Such a patient cannot log in and is sent no email. The unique
constraint stays: it allows any number of NULLs (SQLite and PostgreSQL alike).

SQLite cannot drop a NOT NULL in place, and rebuilding `users` (batch mode's way) would drop the
table that the foreign keys of every other table refuse to lose. So the table's stored CREATE
statement is edited instead, the procedure SQLite documents for removing a NOT NULL constraint
("Making Other Kinds Of Table Schema Changes"): no row moves and the triggers stay.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

NOT_NULL = "email VARCHAR(254) NOT NULL"
NULLABLE = "email VARCHAR(254)"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_users_table(NOT_NULL, NULLABLE)
    else:
        op.alter_column('users', 'email', existing_type=sa.String(length=254), nullable=True)


def downgrade():
    missing = op.get_bind().execute(sa.text("SELECT count(*) FROM users WHERE email IS NULL")).scalar()
    if missing:
        raise RuntimeError(f"{missing} patients have no email address; give each one an address (or remove "
                           "them), then downgrade again.")
    if op.get_bind().dialect.name == "sqlite":
        _edit_sqlite_users_table(NULLABLE, NOT_NULL)
    else:
        op.alter_column('users', 'email', existing_type=sa.String(length=254), nullable=False)


def _edit_sqlite_users_table(old, new):
    """Replace `old` by `new` in the users table's CREATE statement, and raise the schema version
    so that every open connection reads the schema again."""
    bind = op.get_bind()
    created = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'")).scalar()
    if created.count(old) != 1:
        raise RuntimeError(f"The users table is not as expected (no '{old}'): {created}")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'users'"),
                 {"sql": created.replace(old, new)})
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))
