"""Alembic environment of the replydesk records database.

Used both programmatically (``kb.records.migrate`` hands over an open connection in
``config.attributes["connection"]``) and from the ``alembic`` command line, where the
URL comes from the config's ``sqlalchemy.url`` or else from replydesk's ``Settings``
(``REPLYDESK_DATABASE_URL`` / ``REPLYDESK_HOME``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import kb.catalog  # noqa: F401 - registers the kb_* tables
import kb.records  # noqa: F401 - registers the records tables
from kb.db import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from kb.config import Settings

    return Settings().records_url


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), future=True)
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
