"""Schema migrations with Alembic, configured in code so that no alembic.ini has to be found.

`upgrade_database` is safe on a live install: migrations run one at a time (a lock file next to a
SQLite database, a transaction-level advisory lock on PostgreSQL), and a database that holds revisions
this code does not know (written by a newer Wharf) is refused before anything is touched.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from wharf.platform.db import get_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key shared by every process migrating one PostgreSQL database ("wharf").
POSTGRES_MIGRATION_LOCK = 0x77686172


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Wharf than this one."""

    def __init__(self, unknown: set[str]) -> None:
        super().__init__(
            "the database schema is newer than this Wharf; upgrade Wharf "
            f"(revisions this version does not know: {', '.join(sorted(unknown))})"
        )
        self.unknown = unknown


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


def database_revisions(database_url: str) -> set[str]:
    """The revisions the database is at (none for an empty database)."""
    with get_engine(database_url).connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def check_schema(database_url: str) -> None:
    """Raise SchemaTooNew when the database holds revisions this code does not know."""
    unknown = database_revisions(database_url) - known_revisions()
    if unknown:
        raise SchemaTooNew(unknown)


@contextmanager
def _sqlite_migration_lock(database_url: str) -> Iterator[None]:
    if not database_url.startswith("sqlite:///"):
        yield
        return
    database = Path(database_url.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with (database.parent / f".{database.name}.migrate.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_database(database_url: str) -> None:
    with _sqlite_migration_lock(database_url):
        check_schema(database_url)
        # "heads": features add their tables on branches of their own, all applied.
        command.upgrade(alembic_config(database_url), "heads")


def make_revision(database_url: str, message: str) -> None:
    """Developers: generate a migration from the models (`python -m wharf.platform.migrate MESSAGE`)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/wharf.db"
        upgrade_database(url)
        make_revision(url, " ".join(sys.argv[1:]) or "change")
