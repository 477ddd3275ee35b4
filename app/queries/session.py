"""The SQL of the connection pool itself: session settings and the migration revision."""

from __future__ import annotations

import psycopg

# Run once per new connection. SET (not the `options` startup parameter) works through
# poolers and on PGlite. Read-only: no resolver can change data even by mistake.
CONFIGURE_SESSION = """
    SELECT set_config('statement_timeout', %s, false),
           set_config('TimeZone', 'UTC', false),
           set_config('default_transaction_read_only', 'on', false)
"""

MIGRATION_REVISION = "SELECT version_num FROM alembic_version"


async def configure_session(connection: psycopg.AsyncConnection, statement_timeout_ms: int) -> None:
    """Put a new connection under the statement timeout, in UTC, read-only."""
    await connection.execute(CONFIGURE_SESSION, [str(statement_timeout_ms)])


async def migration_revision(connection: psycopg.AsyncConnection) -> str | None:
    """The database's Alembic revision, or None before the first migration."""
    try:
        cursor = await connection.execute(MIGRATION_REVISION)
    except psycopg.errors.UndefinedTable:
        return None
    row = await cursor.fetchone()
    return row[0] if row else None
