"""Schema migrations with Alembic, configured in code so that no alembic.ini has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
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
