"""Whether TimescaleDB can be enabled in a database, asked in a connection of its own.

On a server where the extension is installed but not preloaded, CREATE EXTENSION ends the
connection with FATAL: no savepoint survives that, so it is not asked in the migration's
connection. Here a FATAL costs only this connection, and the answer says why.
"""

from __future__ import annotations

import psycopg

FRESH_DATABASE = "SELECT to_regclass('simusage_storage') IS NULL"
AVAILABLE = "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
CREATE_TIMESCALEDB = "CREATE EXTENSION IF NOT EXISTS timescaledb"
HOW_TO_ENABLE = ("to use it, add timescaledb to shared_preload_libraries in postgresql.conf, "
                 "restart PostgreSQL and migrate a new database")


class StorageModeError(RuntimeError):
    """The storage mode asked for cannot be had on this server."""


def timescaledb_problem(database_url: str) -> str | None:
    """Why TimescaleDB cannot be enabled in the database; None when it is (created if need be),
    or when the database was migrated already (its mode is chosen)."""
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as connection:
            if not connection.execute(FRESH_DATABASE).fetchone()[0]:
                return None
            if not connection.execute(AVAILABLE).fetchone()[0]:
                return "the timescaledb extension is not installed on this server"
            connection.execute(CREATE_TIMESCALEDB)
    except psycopg.OperationalError:
        raise  # the database is unreachable: not a question of TimescaleDB
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    return None
