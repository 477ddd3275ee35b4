"""The statements the ingest worker runs against the database for a batch (the inventory's are
in ingest/inventory.py, the storage mode's here too).

`write_batch` writes one batch inside the caller's transaction: the compare-and-set of the
Kafka offsets first (a worker that lost its partitions fails before doing any work), then the
raw rows (binary COPY, or INSERT from arrays where COPY is not available), the SIM cards seen,
and either the five rollups (PostgreSQL mode) or the ranges of late events whose continuous
aggregates must be refreshed (TimescaleDB mode: ingest/aggregate_refresh.py).
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg import sql

from ingest.aggregate_refresh import late_hours, record_late_ranges
from ingest.change_publisher import publish_batch
from ingest.retention import ensure_days
from ingest.encoding import EMPTY_STREAM, ROLLUP_KINDS, BatchWrite
from ingest.events import EARLIEST
from simusage.storage import ORGANIZATION, SIM_CARD


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


# ---- ownership ------------------------------------------------------------------------------

# FOR SHARE: a change of ownership (which updates the row) waits for the batches in flight,
# and a batch started after it reads the version it made.
LOCK_OWNERSHIP_VERSION = "SELECT version FROM ownership_version FOR SHARE"


def lock_ownership_version(connection: psycopg.Connection) -> int:
    """The ownership version, locked against changes until the caller's transaction ends."""
    return connection.execute(LOCK_OWNERSHIP_VERSION).fetchone()[0]


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
    owner_at = write.owners.at
    times = [EARLIEST + timedelta(microseconds=time_us) for time_us in batch.times]
    organizations = [owner_at(sim, time_us) for sim, time_us in zip(batch.sims, batch.times)]
    connection.execute(INSERT_USAGE, (times, batch.counts, batch.sims, organizations))


# ---- cards seen, rollups, late ranges -------------------------------------------------------

INSERT_SEEN = """
    INSERT INTO sim_card_seen (sim_card_id) SELECT unnest(%s::text[])
    ON CONFLICT (sim_card_id) DO NOTHING
"""

# The batch's totals go through a temporary table (binary COPY, emptied at commit), then into
# each rollup sorted by its primary key: every worker (and every re-attribution) locks rollup
# rows in the same order, so concurrent batches wait for each other but never deadlock. A
# card's rows carry the organization its usage is attributed to ('' for none).
CREATE_STAGE = """
    CREATE TEMPORARY TABLE IF NOT EXISTS rollup_stage (
        kind smallint NOT NULL, bucket timestamptz NOT NULL, bytes_used bigint NOT NULL,
        event_count bigint NOT NULL, key text NOT NULL, organization_id text NOT NULL
    ) ON COMMIT DELETE ROWS
"""
COPY_STAGE = (
    "COPY rollup_stage (kind, bucket, bytes_used, event_count, key, organization_id) "
    "FROM STDIN (FORMAT BINARY)"
)
UPSERT_FROM_STAGE = {
    ORGANIZATION: sql.SQL("""
        INSERT INTO {table} AS total (bucket, {key}, bytes_used, event_count)
        SELECT bucket, key, bytes_used, event_count FROM rollup_stage WHERE kind = %s
        ORDER BY key, bucket
        ON CONFLICT ({key}, bucket) DO UPDATE
        SET bytes_used = total.bytes_used + excluded.bytes_used,
            event_count = total.event_count + excluded.event_count
    """),
    SIM_CARD: sql.SQL("""
        INSERT INTO {table} AS total (bucket, {key}, organization_id, bytes_used, event_count)
        SELECT bucket, key, organization_id, bytes_used, event_count FROM rollup_stage
        WHERE kind = %s
        ORDER BY key, bucket, organization_id
        ON CONFLICT ({key}, bucket, organization_id) DO UPDATE
        SET bytes_used = total.bytes_used + excluded.bytes_used,
            event_count = total.event_count + excluded.event_count
    """),
}
# Without COPY: the same from arrays (the function scan keeps their order; one connection).
UPSERT_FROM_ARRAYS = {
    ORGANIZATION: sql.SQL("""
        INSERT INTO {table} AS total (bucket, {key}, bytes_used, event_count)
        SELECT to_timestamp(bucket * %b::bigint), key, bytes_used, event_count
        FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::bigint[])
            AS added(key, bucket, bytes_used, event_count)
        ON CONFLICT ({key}, bucket) DO UPDATE
        SET bytes_used = total.bytes_used + excluded.bytes_used,
            event_count = total.event_count + excluded.event_count
    """),
    SIM_CARD: sql.SQL("""
        INSERT INTO {table} AS total (bucket, {key}, organization_id, bytes_used, event_count)
        SELECT to_timestamp(bucket * %b::bigint), key, organization_id, bytes_used, event_count
        FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::bigint[])
            AS added(key, organization_id, bucket, bytes_used, event_count)
        ON CONFLICT ({key}, bucket, organization_id) DO UPDATE
        SET bytes_used = total.bytes_used + excluded.bytes_used,
            event_count = total.event_count + excluded.event_count
    """),
}


def prepare_connection(connection: psycopg.Connection, mode: str) -> None:
    """Session set-up of a new connection: the staging table of PostgreSQL mode."""
    if mode == "postgres":
        connection.execute(CREATE_STAGE)


def upsert_rollups(connection: psycopg.Connection, write: BatchWrite) -> None:
    """Add the batch's totals into the five rollup tables (PostgreSQL mode)."""
    if write.stage_stream is not None:
        with connection.cursor().copy(COPY_STAGE) as copy:
            copy.write(write.stage_stream)
    for kind, rollup in enumerate(ROLLUP_KINDS):
        names = {"table": sql.Identifier(rollup.table), "key": sql.Identifier(rollup.key)}
        if write.stage_stream is not None:
            connection.execute(UPSERT_FROM_STAGE[rollup.subject].format(**names), (kind,))
            continue
        rows = write.aggregates.rows(rollup.attribute)
        if not rows:
            continue
        keys, buckets, bytes_used, events = (list(column) for column in zip(*rows))
        if rollup.subject == SIM_CARD:
            sims, owners = (list(column) for column in zip(*keys))
            arrays = (sims, owners, buckets, bytes_used, events)
        else:
            arrays = (keys, buckets, bytes_used, events)
        connection.execute(UPSERT_FROM_ARRAYS[rollup.subject].format(**names),
                           (rollup.unit_us // 1_000_000, *arrays))


def write_batch(
    connection: psycopg.Connection, topic: str, write: BatchWrite, *, mode: str
) -> int:
    """Write the batch in the caller's transaction; return the number of late ranges queued.

    Raises OffsetConflict (the caller's transaction must then roll back) if another worker
    moved an offset of the batch's partitions. The caller has checked the ownership version
    (lock_ownership_version) first in the same transaction.
    """
    advance_offsets(connection, topic, write.batch.partitions(topic))
    if mode == "postgres":
        ensure_days(connection, write.aggregates.hours)
    insert_usage(connection, write)
    if write.new_sims:
        connection.execute(INSERT_SEEN, (sorted(write.new_sims),))
    if mode == "postgres":
        upsert_rollups(connection, write)
        publish_batch(connection, write, set())
        return 0
    late = late_hours(connection, write.aggregates.hours)
    publish_batch(connection, write, set(late))
    return record_late_ranges(connection, late)


