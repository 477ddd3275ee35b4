"""Alembic driven from code: `simusage migrate` and the tests need no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from simusage.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings, database_url: str | None = None) -> Config:
    """An Alembic configuration for the database of the settings (or of database_url)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    config.attributes["database_url"] = database_url or settings.database_url
    return config


def upgrade(settings: Settings, revision: str = "head", database_url: str | None = None) -> None:
    """Migrate the database up to revision."""
    command.upgrade(alembic_config(settings, database_url), revision)


def downgrade(settings: Settings, revision: str = "base", database_url: str | None = None) -> None:
    """Migrate the database down to revision."""
    command.downgrade(alembic_config(settings, database_url), revision)


def head_revision() -> str:
    """The newest revision the code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()
