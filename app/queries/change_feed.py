"""The SQL of the API's change-feed connection: LISTEN, a liveness probe, and where a read
replica stands against the primary."""

from __future__ import annotations

import psycopg
from psycopg import sql

from app.database import Database
from simusage.change_feed import CHANNEL

# The primary's WAL position now: past the commit of every notification already received.
CURRENT_LSN = "SELECT pg_current_wal_lsn()::text"
# Whether a read replica has replayed up to a position (the primary itself always has).
REPLAYED = "SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(%s AS pg_lsn), true)"
LISTEN = sql.SQL("LISTEN {channel}").format(channel=sql.Identifier(CHANNEL))
PROBE = "SELECT 1"


async def listen(connection: psycopg.AsyncConnection) -> None:
    """Subscribe the (autocommit) connection to the change feed's channel."""
    await connection.execute(LISTEN)


async def probe(connection: psycopg.AsyncConnection) -> None:
    """One round trip: raises if the connection is gone (a silent network drops no NOTIFY)."""
    await connection.execute(PROBE)


async def current_lsn(connection: psycopg.AsyncConnection) -> str:
    """The primary's current WAL position."""
    cursor = await connection.execute(CURRENT_LSN)
    return (await cursor.fetchone())[0]


async def replayed(replica: Database, lsn: str) -> bool:
    """Whether the read replica has replayed the WAL up to lsn."""
    return (await replica.fetch_all(REPLAYED, (lsn,)))[0][0]
