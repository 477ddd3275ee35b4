"""TimescaleDB mode: late events into the continuous aggregates.

Real-time aggregation reads raw rows only above a continuous aggregate's watermark: late events
below it stay invisible until a refresh covers them. A batch records the coalesced ranges of its
late hours in its own transaction (`record_late_ranges`); `refresh_pending` refreshes them after
the commit, in autocommit mode, since TimescaleDB refuses refreshes inside a transaction. A
crash in between loses nothing: the ranges stay queued.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg import sql

from ingest.change_publisher import publish_ranges
from ingest.batch import HOURS_PER_DAY, coalesce, merge_ranges, month_start_hour_of_day
from ingest.events import EARLIEST, HOUR_US
from simusage.storage import (
    DAILY,
    HOUR_SECONDS,
    HOURLY,
    ORGANIZATION,
    RELATIONS,
    SIM_CARD,
    SIM_CARD_MONTHLY,
)

# Late hours this close together are refreshed as one range: a refresh only recomputes the
# invalidated buckets inside its window, so a wide window costs little and a year of backfill
# becomes a handful of refreshes instead of thousands.
LATE_RANGE_GAP_HOURS = 7 * 24

HOURLY_AGGREGATES = (RELATIONS[SIM_CARD, HOURLY], RELATIONS[ORGANIZATION, HOURLY])
DAILY_AGGREGATES = (RELATIONS[SIM_CARD, DAILY], RELATIONS[ORGANIZATION, DAILY])
MONTHLY_AGGREGATES = (SIM_CARD_MONTHLY,)  # built on the daily one: refreshed after it


# Real-time aggregation reads raw rows only above a continuous aggregate's watermark: below it,
# rows stay invisible until a refresh covers them. The highest watermark bounds "late".
WATERMARK = """
    SELECT max(_timescaledb_functions.cagg_watermark(mat_hypertable_id))
    FROM _timescaledb_catalog.continuous_agg
    WHERE user_view_schema = current_schema() AND user_view_name = ANY(%s)
"""
INSERT_PENDING = sql.SQL("""
    INSERT INTO aggregate_refresh_pending (range_start, range_end)
    SELECT to_timestamp(range_start * {hour}), to_timestamp(range_end * {hour})
    FROM unnest(%s::bigint[], %s::bigint[]) AS late(range_start, range_end)
""").format(hour=sql.Literal(HOUR_SECONDS)).as_string()


def late_hours(connection: psycopg.Connection, hours: list[int]) -> list[int]:
    """The hours below a watermark: their events stay invisible until a refresh."""
    if not hours:
        return []
    names = list(HOURLY_AGGREGATES + DAILY_AGGREGATES + MONTHLY_AGGREGATES)
    watermark_us = connection.execute(WATERMARK, (names,)).fetchone()[0]
    if watermark_us is None:
        return []
    return [hour for hour in hours if hour * HOUR_US < watermark_us]


def record_late_ranges(connection: psycopg.Connection, late: list[int]) -> int:
    """Queue the coalesced ranges of the late hours; return their number."""
    ranges = coalesce(late, LATE_RANGE_GAP_HOURS)
    if ranges:
        starts, ends = (list(column) for column in zip(*ranges))
        connection.execute(INSERT_PENDING, (starts, ends))
    return len(ranges)


PENDING = "SELECT id, range_start, range_end FROM aggregate_refresh_pending ORDER BY id"
AGGREGATE_WATERMARK = """
    SELECT _timescaledb_functions.cagg_watermark(mat_hypertable_id)
    FROM _timescaledb_catalog.continuous_agg
    WHERE user_view_schema = current_schema() AND user_view_name = %s
"""
REFRESH = sql.SQL(
    "CALL refresh_continuous_aggregate(%s, to_timestamp(%s::bigint * {hour}), "
    "to_timestamp(%s::bigint * {hour}))"
).format(hour=sql.Literal(HOUR_SECONDS)).as_string()
DELETE_PENDING = "DELETE FROM aggregate_refresh_pending WHERE id = ANY(%s)"


def _hour_of(moment) -> int:
    return (moment - EARLIEST) // timedelta(hours=1)


def _day_aligned(start: int, end: int) -> tuple[int, int]:
    return start // HOURS_PER_DAY * HOURS_PER_DAY, -(-end // HOURS_PER_DAY) * HOURS_PER_DAY


def _month_aligned(start: int, end: int) -> tuple[int, int]:
    """[start, end) in hours widened to whole UTC months."""
    last = month_start_hour_of_day((end - 1) // HOURS_PER_DAY)
    # A month has at most 31 days: 31 days after its start lies in the next month.
    following = month_start_hour_of_day(last // HOURS_PER_DAY + 31)
    return month_start_hour_of_day(start // HOURS_PER_DAY), following


# Hourly aggregates, then the daily ones built on them, then the months built on the days;
# each refresh window widened to whole buckets of its aggregate.
REFRESH_ORDER = (
    (HOURLY_AGGREGATES, lambda start, end: (start, end)),
    (DAILY_AGGREGATES, _day_aligned),
    (MONTHLY_AGGREGATES, _month_aligned),
)


def refresh_pending(connection: psycopg.Connection) -> int:
    """Refresh the queued late ranges (hourly aggregates, then the daily and the monthly ones
    built on them), each clamped to the aggregate's watermark, then forget them. The connection must be in
    autocommit mode. Returns the number of refresh calls made."""
    pending = connection.execute(PENDING).fetchall()
    if not pending:
        return 0
    ranges = merge_ranges(
        [(_hour_of(start), _hour_of(end)) for _, start, end in pending], LATE_RANGE_GAP_HOURS
    )
    calls = 0
    for names, aligned in REFRESH_ORDER:
        for name in names:
            watermark_us = connection.execute(AGGREGATE_WATERMARK, (name,)).fetchone()[0]
            limit = watermark_us // HOUR_US  # watermarks are bucket-aligned
            for start, end in ranges:
                start, end = aligned(start, end)
                end = min(end, limit)
                if end > start:
                    connection.execute(REFRESH, (name, start, end))
                    calls += 1
    connection.execute(DELETE_PENDING, ([row[0] for row in pending],))
    publish_ranges(connection, ranges)  # autocommit: delivered now, after the refreshes
    return calls
