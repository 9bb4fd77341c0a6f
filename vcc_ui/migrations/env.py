"""Alembic environment: runs on the connection handed over by vcc_ui.db.migrate."""

from alembic import context
from sqlmodel import SQLModel

from vcc_ui import models  # noqa: F401  (registers the tables)

connection = context.config.attributes.get('connection')
if connection is None:
    raise RuntimeError('run migrations through vcc_ui.db.migrate(engine)')
context.configure(
    connection=connection, target_metadata=SQLModel.metadata, render_as_batch=connection.dialect.name == 'sqlite'
)
with context.begin_transaction():
    context.run_migrations()
