"""The SQL of the API's change-feed connection: LISTEN, and a liveness probe."""

from __future__ import annotations

import psycopg
from psycopg import sql

from simusage.change_feed import CHANNEL

LISTEN = sql.SQL("LISTEN {channel}").format(channel=sql.Identifier(CHANNEL))
PROBE = "SELECT 1"


async def listen(connection: psycopg.AsyncConnection) -> None:
    """Subscribe the (autocommit) connection to the change feed's channel."""
    await connection.execute(LISTEN)


async def probe(connection: psycopg.AsyncConnection) -> None:
    """One round trip: raises if the connection is gone (a silent network drops no NOTIFY)."""
    await connection.execute(PROBE)
