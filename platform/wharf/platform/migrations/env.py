"""Alembic environment: runs against the URL handed over by wharf.platform.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

import wharf.platform.models  # noqa: F401  (registers every table on Base.metadata)
from wharf.platform.db import Base, get_engine
from wharf.platform.migrate import POSTGRES_MIGRATION_LOCK

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None

with get_engine(url).connect() as connection:
    if connection.dialect.name == "postgresql":
        # One migrator at a time on a live install; released when the migrations commit.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
