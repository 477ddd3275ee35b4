"""The worker's view of raw-row retention (TimescaleDB mode): the earliest event time it stores.

Retention (migrations/lifecycle.py) drops whole raw chunks; a late event's month is refreshed
from the raw rows, so an event whose UTC month is not whole above the horizon would overwrite
the answered history with a partial sum: the parser rejects it as too-old instead.
"""

from __future__ import annotations

from datetime import UTC, timedelta

import psycopg

from ingest.events import EARLIEST

# Where TimescaleDB's retention policy (migrations/lifecycle.py) drops raw chunks, in UTC.
RETENTION_HORIZON = """
    SELECT (now() - CAST(config ->> 'drop_after' AS interval)) AT TIME ZONE 'UTC'
    FROM timescaledb_information.jobs
    WHERE proc_name = 'policy_retention' AND hypertable_name = 'usage'
"""


def earliest_accepted_us(connection: psycopg.Connection, mode: str) -> int:
    """The earliest event time the worker stores, microseconds since 1970: the first UTC month
    that lies whole (a day to spare) above the retention horizon, since a late event's month
    is refreshed from the raw rows; 0 (all) without a retention policy."""
    if mode != "timescaledb":
        return 0
    row = connection.execute(RETENTION_HORIZON).fetchone()
    if row is None:
        return 0
    horizon = row[0].replace(tzinfo=UTC) + timedelta(days=1)
    month = horizon.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if month < horizon:
        month = (month + timedelta(days=32)).replace(day=1)
    return (month - EARLIEST) // timedelta(microseconds=1)
