"""Alembic environment: runs the migrations on the database of DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from migrations.timescaledb_probe import timescaledb_problem
from simusage.settings import get_settings


def sqlalchemy_url(database_url: str) -> str:
    """The psycopg 3 dialect's spelling of a postgresql:// URL."""
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+psycopg://{rest}"


def run_migrations_online() -> None:
    """Run the migrations over one connection (PGlite serves one at a time)."""
    settings = context.config.attributes.get("settings") or get_settings()
    context.config.attributes["settings"] = settings
    url = context.config.attributes.get("database_url") or settings.database_url
    if settings.storage_mode != "postgres":
        # Before the migration's own connection: PGlite serves one connection at a time.
        context.config.attributes["timescaledb_problem"] = timescaledb_problem(url)
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("simusage migrations need a live database: the storage mode is decided there")
run_migrations_online()
