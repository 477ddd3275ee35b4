"""The API's connection pool: read-only, UTC, every statement under the statement timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from app.queries import session
from simusage.settings import Settings

# How long a request waits for a free connection before it fails as SERVICE_UNAVAILABLE.
POOL_WAIT_SECONDS = 10.0


class Database:
    """A pool of autocommit connections: each read is one round trip, no BEGIN/COMMIT."""

    def __init__(self, settings: Settings, pool_size: int | None = None) -> None:
        self.statement_timeout_ms = settings.statement_timeout_ms
        self.pool = AsyncConnectionPool(
            # Reads go to the replica when there is one; it lags: see app/change_feed.py.
            settings.read_database_url or settings.database_url,
            min_size=1,
            max_size=pool_size or settings.api_pool_size,
            open=False,
            timeout=POOL_WAIT_SECONDS,
            configure=self._configure,
            # prepare_threshold=0: every statement is prepared on its first use, so a hot
            # query is planned once per connection, not once per request.
            kwargs={"autocommit": True, "prepare_threshold": 0},
            name="simusage-api",
        )

    async def _configure(self, connection: psycopg.AsyncConnection) -> None:
        await session.configure_session(connection, self.statement_timeout_ms)

    async def open(self) -> None:
        """Open the pool without waiting: the API starts even while the database is down."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        """Close every connection."""
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A connection from the pool, for the duration of the block."""
        async with self.pool.connection() as connection:
            yield connection

    async def fetch_all(self, query: str, parameters: Sequence[Any] | dict[str, Any]) -> list[tuple]:
        """All rows of one statement."""
        async with self.pool.connection() as connection:
            cursor = await connection.execute(query, parameters)
            return await cursor.fetchall()

    async def migration_revision(self) -> str | None:
        """The database's Alembic revision, or None before the first migration."""
        async with self.pool.connection() as connection:
            return await session.migration_revision(connection)

    async def replica_lag(self) -> tuple[bool, float]:
        """(whether the read database is a standby, its replay lag in seconds)."""
        async with self.pool.connection() as connection:
            return await session.replica_lag(connection)
