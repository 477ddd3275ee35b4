"""Raw rows' retention as the worker sees it: the earliest event time it stores, and in
PostgreSQL mode the day partitions it creates ahead and drops past SIMUSAGE_RAW_RETENTION.

TimescaleDB mode: a policy (migrations/lifecycle.py) drops whole raw chunks, and a late event's
month is refreshed from the raw rows, so an event whose UTC month is not whole above the horizon
would overwrite the answered history with a partial sum: the parser rejects it as too-old.
PostgreSQL mode: the rollups are kept exact by the worker, not recomputed from raw rows, but the
same horizon keeps the two modes alike (and re-attribution, which reads raw rows, exact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from ingest.change_publisher import publish_ranges
from ingest.events import EARLIEST

# Where TimescaleDB's retention policy (migrations/lifecycle.py) drops raw chunks, in UTC.
POLICY_HORIZON = """
    SELECT (now() - CAST(config ->> 'drop_after' AS interval)) AT TIME ZONE 'UTC'
    FROM timescaledb_information.jobs
    WHERE proc_name = 'policy_retention' AND hypertable_name = 'usage'
"""
SETTING_HORIZON = "SELECT (now() - CAST(%s AS interval)) AT TIME ZONE 'UTC'"
# PostgreSQL mode (migration 0009): day partitions, created with the rows the default
# partition holds for them; retention drops them below a horizon.
ENSURE_DAYS = "SELECT simusage_usage_days(%s::timestamptz[])"
ENSURE_AHEAD = "SELECT simusage_usage_days(ARRAY[now(), now() + interval '1 day'])"
DROP_BEFORE = "SELECT simusage_drop_usage_before(now() - CAST(%s AS interval))"


def _horizon(connection: psycopg.Connection, mode: str, raw_retention: str) -> datetime | None:
    if mode == "timescaledb":
        row = connection.execute(POLICY_HORIZON).fetchone()
    elif raw_retention != "keep":
        row = connection.execute(SETTING_HORIZON, (raw_retention,)).fetchone()
    else:
        row = None
    return None if row is None else row[0].replace(tzinfo=UTC)


def earliest_accepted_us(connection: psycopg.Connection, mode: str, raw_retention: str = "keep") -> int:
    """The earliest event time the worker stores, microseconds since 1970: the first UTC month
    that lies whole (a day to spare) above the retention horizon; 0 (all) without retention."""
    horizon = _horizon(connection, mode, raw_retention)
    if horizon is None:
        return 0
    horizon += timedelta(days=1)
    month = horizon.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if month < horizon:
        month = (month + timedelta(days=32)).replace(day=1)
    return (month - EARLIEST) // timedelta(microseconds=1)


def ensure_days(connection: psycopg.Connection, hours: list[int]) -> None:
    """PostgreSQL mode: the day partitions of these hours (since 1970), in the caller's
    transaction, before the batch's rows go in."""
    days = sorted({hour // 24 for hour in hours})
    if days:
        connection.execute(ENSURE_DAYS, ([EARLIEST + timedelta(days=day) for day in days],))


def prepare_days(connection: psycopg.Connection, raw_retention: str) -> int:
    """PostgreSQL mode, autocommit: today's and tomorrow's partitions ahead of their rows, and
    the days past retention dropped; returns the partitions dropped."""
    connection.execute(ENSURE_AHEAD)
    if raw_retention == "keep":
        return 0
    return connection.execute(DROP_BEFORE, (raw_retention,)).fetchone()[0]


# Where each continuous aggregate's materialized buckets begin: a retention policy on it moves
# this forward when it drops chunks, changing answers without any write of ours.
AGGREGATE_STARTS = """
    SELECT aggregates.view_name, min(chunks.range_start)
    FROM timescaledb_information.continuous_aggregates AS aggregates
    JOIN timescaledb_information.chunks AS chunks
      ON chunks.hypertable_schema = aggregates.materialization_hypertable_schema
     AND chunks.hypertable_name = aggregates.materialization_hypertable_name
    GROUP BY aggregates.view_name
"""


def announce_dropped_aggregates(connection: psycopg.Connection, seen: dict[str, datetime]) -> bool:
    """TimescaleDB mode, autocommit: if an aggregate's oldest buckets were dropped since the
    last look (seen, updated here; empty at first: then announced anyway), publish that every
    subject's hours before its new start changed, so that no cached answer keeps them."""
    starts = dict(connection.execute(AGGREGATE_STARTS).fetchall())
    moved = [start for name, start in starts.items() if name not in seen or start > seen[name]]
    seen.update(starts)
    if not moved:
        return False
    horizon = max(moved)
    publish_ranges(connection, [(0, (horizon - EARLIEST) // timedelta(hours=1))])
    return True
