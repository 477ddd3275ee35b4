"""The statements the ingest worker runs against the database for a batch (the inventory's are
in ingest/inventory.py, the storage mode's here too).

`write_batch` writes one batch inside the caller's transaction: the compare-and-set of the
Kafka offsets first (a worker that lost its partitions fails before doing any work), then the
raw rows (binary COPY, or INSERT from arrays where COPY is not available), the SIM cards seen,
and either the four rollups (PostgreSQL mode) or the ranges of late events whose continuous
aggregates must be refreshed (TimescaleDB mode). `refresh_pending` runs those refreshes after
the commit, in autocommit mode, since TimescaleDB refuses them inside a transaction.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg import sql

from ingest.batch import HOURS_PER_DAY, coalesce, merge_ranges
from ingest.encoding import EMPTY_STREAM, ROLLUP_KINDS, BatchWrite
from ingest.events import EARLIEST, HOUR_US
from simusage.storage import DAILY, HOUR_SECONDS, HOURLY, ORGANIZATION, RELATIONS, SIM_CARD

# Late hours this close together are refreshed as one range: a refresh only recomputes the
# invalidated buckets inside its window, so a wide window costs little and a year of backfill
# becomes a handful of refreshes instead of thousands.
LATE_RANGE_GAP_HOURS = 7 * 24

HOURLY_AGGREGATES = (RELATIONS[SIM_CARD, HOURLY], RELATIONS[ORGANIZATION, HOURLY])
DAILY_AGGREGATES = (RELATIONS[SIM_CARD, DAILY], RELATIONS[ORGANIZATION, DAILY])


class OffsetConflict(Exception):
    """The database's offsets are not where the batch started: another worker wrote them."""

    def __init__(self, topic: str, partitions: list[int]) -> None:
        super().__init__(f"offsets of {topic} partitions {partitions} moved: batch not written")
        self.partitions = partitions


STORAGE_MODE = "SELECT mode FROM simusage_storage"


def storage_mode(connection: psycopg.Connection) -> str:
    """'postgres' or 'timescaledb', as the first migration recorded it."""
    return connection.execute(STORAGE_MODE).fetchone()[0]


# ---- offsets --------------------------------------------------------------------------------

STORED_OFFSETS = """
    SELECT partition, next_offset FROM kafka_offset WHERE topic = %s AND partition = ANY(%s)
"""


def stored_offsets(
    connection: psycopg.Connection, topic: str, partitions: list[int]
) -> dict[int, int]:
    """partition -> next offset to consume, for the partitions the database knows."""
    return dict(connection.execute(STORED_OFFSETS, (topic, partitions)).fetchall())


ADVANCE_OFFSETS = """
    UPDATE kafka_offset AS stored SET next_offset = moved.next, updated_at = now()
    FROM unnest(%s::integer[], %s::bigint[], %s::bigint[]) AS moved(partition, start, next)
    WHERE stored.topic = %s AND stored.partition = moved.partition
      AND stored.next_offset = moved.start
    RETURNING stored.partition
"""
INSERT_OFFSETS = """
    INSERT INTO kafka_offset (topic, partition, next_offset)
    SELECT %s, partition, next FROM unnest(%s::integer[], %s::bigint[]) AS new(partition, next)
    ON CONFLICT (topic, partition) DO NOTHING
    RETURNING partition
"""


def advance_offsets(
    connection: psycopg.Connection, topic: str, spans: list[tuple[int, int, int]]
) -> None:
    """Compare-and-set each (partition, start, next): raise OffsetConflict unless the database
    held `start` (or nothing yet) for every partition."""
    if not spans:
        return
    partitions, starts, nexts = (list(column) for column in zip(*spans))
    moved = {row[0] for row in connection.execute(ADVANCE_OFFSETS, (partitions, starts, nexts, topic))}
    absent = [(p, n) for p, _, n in spans if p not in moved]
    if absent:
        new_partitions, new_nexts = (list(column) for column in zip(*absent))
        inserted = {
            row[0]
            for row in connection.execute(INSERT_OFFSETS, (topic, new_partitions, new_nexts))
        }
        lost = sorted(set(new_partitions) - inserted)
        if lost:
            raise OffsetConflict(topic, lost)


# ---- raw rows -------------------------------------------------------------------------------

# Column order chosen so that the fixed-size fields of a binary row are one struct.
COPY_USAGE = "COPY usage (time, bytes_used, sim_card_id, organization_id) FROM STDIN (FORMAT BINARY)"
INSERT_USAGE = """
    INSERT INTO usage (time, bytes_used, sim_card_id, organization_id)
    SELECT * FROM unnest(%b::timestamptz[], %b::bigint[], %b::text[], %b::text[])
"""


def copy_works(connection: psycopg.Connection) -> bool:
    """Whether the server takes COPY FROM STDIN (some embedded servers do not): tried once
    with no rows, in a transaction rolled back whatever happens."""
    try:
        with connection.transaction(force_rollback=True):
            with connection.cursor().copy(COPY_USAGE) as copy:
                copy.write(EMPTY_STREAM)
    except psycopg.Error:
        return False
    return True


def insert_usage(connection: psycopg.Connection, write: BatchWrite) -> None:
    """The batch's accepted events into usage: the binary COPY stream, or one INSERT over
    arrays where COPY is not available."""
    batch = write.batch
    if not batch.times:
        return
    if write.usage_stream is not None:
        with connection.cursor().copy(COPY_USAGE) as copy:
            copy.write(write.usage_stream)
        return
    organization_of = write.organization_of.get
    times = [EARLIEST + timedelta(microseconds=time_us) for time_us in batch.times]
    organizations = [organization_of(sim) for sim in batch.sims]
    connection.execute(INSERT_USAGE, (times, batch.counts, batch.sims, organizations))


# ---- cards seen, rollups, late ranges -------------------------------------------------------

INSERT_SEEN = """
    INSERT INTO sim_card_seen (sim_card_id) SELECT unnest(%s::text[])
    ON CONFLICT (sim_card_id) DO NOTHING
"""

# The batch's totals go through a temporary table (binary COPY, emptied at commit), then into
# each rollup sorted by (key, bucket): every worker locks rollup rows in the same order, so
# concurrent batches wait for each other but never deadlock.
CREATE_STAGE = """
    CREATE TEMPORARY TABLE IF NOT EXISTS rollup_stage (
        kind smallint NOT NULL, bucket timestamptz NOT NULL, bytes_used bigint NOT NULL,
        event_count bigint NOT NULL, key text NOT NULL
    ) ON COMMIT DELETE ROWS
"""
COPY_STAGE = "COPY rollup_stage (kind, bucket, bytes_used, event_count, key) FROM STDIN (FORMAT BINARY)"
UPSERT_FROM_STAGE = sql.SQL("""
    INSERT INTO {table} AS total (bucket, {key}, bytes_used, event_count)
    SELECT bucket, key, bytes_used, event_count FROM rollup_stage WHERE kind = %s
    ORDER BY key, bucket
    ON CONFLICT ({key}, bucket) DO UPDATE
    SET bytes_used = total.bytes_used + excluded.bytes_used,
        event_count = total.event_count + excluded.event_count
""")
# Without COPY: the same from arrays, which arrive sorted (a function scan keeps their order).
UPSERT_FROM_ARRAYS = sql.SQL("""
    INSERT INTO {table} AS total (bucket, {key}, bytes_used, event_count)
    SELECT to_timestamp(bucket * %b::bigint), key, bytes_used, event_count
    FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::bigint[])
        AS added(key, bucket, bytes_used, event_count)
    ON CONFLICT ({key}, bucket) DO UPDATE
    SET bytes_used = total.bytes_used + excluded.bytes_used,
        event_count = total.event_count + excluded.event_count
""")


def prepare_connection(connection: psycopg.Connection, mode: str) -> None:
    """Session set-up of a new connection: the staging table of PostgreSQL mode."""
    if mode == "postgres":
        connection.execute(CREATE_STAGE)


def upsert_rollups(connection: psycopg.Connection, write: BatchWrite) -> None:
    """Add the batch's totals into the four rollup tables (PostgreSQL mode)."""
    if write.stage_stream is not None:
        with connection.cursor().copy(COPY_STAGE) as copy:
            copy.write(write.stage_stream)
    for kind, (table, key, attribute, unit_us) in enumerate(ROLLUP_KINDS):
        names = {"table": sql.Identifier(table), "key": sql.Identifier(key)}
        if write.stage_stream is not None:
            connection.execute(UPSERT_FROM_STAGE.format(**names), (kind,))
            continue
        rows = write.aggregates.rows(attribute)
        if rows:
            keys, buckets, bytes_used, events = (list(column) for column in zip(*rows))
            connection.execute(
                UPSERT_FROM_ARRAYS.format(**names),
                (unit_us // 1_000_000, keys, buckets, bytes_used, events),
            )


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


def record_late_ranges(connection: psycopg.Connection, hours: list[int]) -> int:
    """Queue the coalesced hour ranges of the events below a watermark; return their number."""
    if not hours:
        return 0
    names = list(HOURLY_AGGREGATES + DAILY_AGGREGATES)
    watermark_us = connection.execute(WATERMARK, (names,)).fetchone()[0]
    if watermark_us is None:
        return 0
    late = [hour for hour in hours if hour * HOUR_US < watermark_us]
    ranges = coalesce(late, LATE_RANGE_GAP_HOURS)
    if ranges:
        starts, ends = (list(column) for column in zip(*ranges))
        connection.execute(INSERT_PENDING, (starts, ends))
    return len(ranges)


def write_batch(
    connection: psycopg.Connection, topic: str, write: BatchWrite, *, mode: str
) -> int:
    """Write the batch in the caller's transaction; return the number of late ranges queued.

    Raises OffsetConflict (the caller's transaction must then roll back) if another worker
    moved an offset of the batch's partitions.
    """
    advance_offsets(connection, topic, write.batch.partitions(topic))
    insert_usage(connection, write)
    if write.new_sims:
        connection.execute(INSERT_SEEN, (sorted(write.new_sims),))
    if mode == "postgres":
        upsert_rollups(connection, write)
        return 0
    return record_late_ranges(connection, write.aggregates.hours)


# ---- refreshing continuous aggregates after the commit --------------------------------------

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


def refresh_pending(connection: psycopg.Connection) -> int:
    """Refresh the queued late ranges (hourly aggregates, then the daily ones built on them),
    each clamped to the aggregate's watermark, then forget them. The connection must be in
    autocommit mode. Returns the number of refresh calls made."""
    pending = connection.execute(PENDING).fetchall()
    if not pending:
        return 0
    ranges = merge_ranges(
        [(_hour_of(start), _hour_of(end)) for _, start, end in pending], LATE_RANGE_GAP_HOURS
    )
    calls = 0
    for names, hours in ((HOURLY_AGGREGATES, 1), (DAILY_AGGREGATES, HOURS_PER_DAY)):
        for name in names:
            watermark_us = connection.execute(AGGREGATE_WATERMARK, (name,)).fetchone()[0]
            limit = watermark_us // HOUR_US  # watermarks are bucket-aligned
            for start, end in ranges:
                start = start // hours * hours
                end = min(-(-end // hours) * hours, limit)
                if end > start:
                    connection.execute(REFRESH, (name, start, end))
                    calls += 1
    connection.execute(DELETE_PENDING, ([row[0] for row in pending],))
    return calls
