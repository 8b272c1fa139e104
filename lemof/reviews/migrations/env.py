"""Alembic's environment for the review database, driven from Python (``lemof.reviews.migrate``):
the caller hands over an open connection in ``config.attributes["connection"]``; no alembic.ini."""

from alembic import context

connection = context.config.attributes["connection"]
# no target_metadata: the revisions name every constraint themselves (lemof.reviews.schema.NAMING spelt out)
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
