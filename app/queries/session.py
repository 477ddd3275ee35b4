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


# A read replica's lag: none once it has replayed all it received (an idle primary sends
# nothing, and the last replayed commit's age would then grow without any lag).
REPLICA_LAG = """
    SELECT pg_is_in_recovery(),
           CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                THEN 0.0
                ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
"""


async def replica_lag(connection: psycopg.AsyncConnection) -> tuple[bool, float]:
    """(whether the server is a standby, seconds its replay is behind what it received)."""
    cursor = await connection.execute(REPLICA_LAG)
    standby, lag = await cursor.fetchone()
    return standby, lag or 0.0
