"""The migrations build exactly the schema the models describe (so `flask db migrate` finds nothing)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clinica_web.extensions import db


def test_models_and_migrations_agree(app):
    with app.app_context():
        connection = db.session.connection()
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []
