"""Alembic environment: run programmatically by ``hub.state.migrate`` with a live connection."""

from alembic import context

from hub.state.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  version_table="hub_alembic_version")
with context.begin_transaction():
    context.run_migrations()
