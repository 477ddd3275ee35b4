"""The writer's statements on the real servers: rows, rollups, offsets compare-and-set, late data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.encoding import RowEncoder, prepare
from ingest.chunk_parser import FastParser
from ingest.events import parse_event
from ingest.aggregate_refresh import refresh_pending
from ingest.writer import (
    OffsetConflict, copy_works, prepare_connection, storage_mode,
    stored_offsets, write_batch,
)
from tests.ingest.helpers import (
    OWNERS, Chunk, batch_of, constant_owners, database_totals, expected_totals, raw_totals, usage_rows, value,
)

EDGE_VALUES = [
    value("89440001", 10, "2020-02-01T00:00:00Z"),
    value("89440001", 20, "2020-02-01T00:59:59.999999Z"),
    value("89440006", 2**40, "2020-02-01T01:00:00+01:00"),  # 00:00 UTC
    value("89440015", 7, "2020-02-01T00:30:00Z"),  # not in the inventory
    value("89440016", 0, "1970-01-01T00:00:00Z"),
    value("89440011", 3, "2199-12-31T23:59:59.5Z"),
    value("89440011", 4, "2020-02-00T00:00:00Z"),  # rejected
]


def write(connection, batch, *, mode="postgres", use_copy=True, topic="t", seen=frozenset()):
    prepare_connection(connection, mode if use_copy else "")
    prepared = prepare(batch, batch.cards(), RowEncoder(constant_owners(OWNERS)), set(seen), mode=mode, use_copy=use_copy)
    with connection.transaction():
        return write_batch(connection, topic, prepared, mode=mode)


def expected_rows(values):
    rows = []
    for raw in values:
        event = parse_event(raw)
        if hasattr(event, "time_us"):
            rows.append((event.time, event.sim_card_id, OWNERS.get(event.sim_card_id), event.bytes_used))
    return sorted(rows)


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "insert"])
def test_rows_rollups_and_cards_seen(postgres_database: str, use_copy: bool) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        assert storage_mode(connection) == "postgres" and copy_works(connection)
        write(connection, batch_of(EDGE_VALUES[:4], start=0), use_copy=use_copy)
        write(connection, batch_of(EDGE_VALUES[4:] + EDGE_VALUES[:2], start=4), use_copy=use_copy)
        assert usage_rows(connection) == expected_rows(EDGE_VALUES + EDGE_VALUES[:2])
        expected = expected_totals(EDGE_VALUES + EDGE_VALUES[:2])
        assert database_totals(connection) == expected == raw_totals(connection)
        seen = {row[0] for row in connection.execute("SELECT sim_card_id FROM sim_card_seen")}
        assert seen == {"89440001", "89440006", "89440015", "89440016", "89440011"}
        assert stored_offsets(connection, "t", [0, 1]) == {0: 9}


def snapshot(connection) -> tuple:
    return (
        usage_rows(connection), database_totals(connection),
        connection.execute("SELECT topic, partition, next_offset FROM kafka_offset ORDER BY 1, 2").fetchall(),
        connection.execute("SELECT count(*) FROM sim_card_seen").fetchone(),
    )


def test_an_offset_conflict_rolls_the_whole_batch_back(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        write(connection, batch_of(EDGE_VALUES[:3], partition=0, start=0))
        before = snapshot(connection)
        # A worker that lost partition 0 at offset 1 writes late, with a new partition 1 too:
        # nothing of its batch stays, not even partition 1's part.
        stale = batch_of(EDGE_VALUES[3:], partition=0, start=1)
        stale.add(Chunk("t", 1, 0, 2, EDGE_VALUES[:2]), FastParser())
        with pytest.raises(OffsetConflict) as conflict:
            write(connection, stale)
        assert conflict.value.partitions == [0]
        assert snapshot(connection) == before
        # The owner goes on from where the database says.
        write(connection, batch_of(EDGE_VALUES[3:], partition=0, start=3))
        assert stored_offsets(connection, "t", [0, 1]) == {0: 7}


def test_two_writers_of_a_new_partition_cannot_both_win(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as first, \
            psycopg.connect(postgres_database, autocommit=True) as second:
        write(first, batch_of(EDGE_VALUES[:2], partition=5, start=0))
        with pytest.raises(OffsetConflict):
            write(second, batch_of(EDGE_VALUES[:3], partition=5, start=0))
        assert len(usage_rows(first)) == 2


@pytest.mark.timescaledb
def test_late_events_reach_the_continuous_aggregates(timescaledb_database: str) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    recent = [value("89440001", 100 + i, now - timedelta(hours=i + 2)) for i in range(30)]
    late = [value("89440002", 5, datetime(2020, 2, 1, 10, 15, tzinfo=UTC)),
            value("89440003", 6, datetime(2020, 3, 15, 0, 0, tzinfo=UTC)),
            value("89440015", 7, datetime(2021, 6, 1, 12, 0, tzinfo=UTC)),
            value("89440001", 8, now - timedelta(hours=3))]
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        assert storage_mode(connection) == "timescaledb"
        use_copy = copy_works(connection)
        assert write(connection, batch_of(recent), mode="timescaledb", use_copy=use_copy) == 0
        # What the refresh policies do after a while: materialize up to an hour ago.
        for name in ("usage_sim_card_hourly", "usage_organization_hourly",
                     "usage_sim_card_daily", "usage_organization_daily", "usage_sim_card_monthly"):
            connection.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)", (name, now - timedelta(hours=1)))
        queued = write(connection, batch_of(late, start=30), mode="timescaledb", use_copy=use_copy)
        assert queued >= 2  # 2020-02 and 2020-03 are coalesced or not; 2021 and today apart
        # The trap: rows below the watermark stay invisible, even with real-time aggregation.
        assert database_totals(connection) != raw_totals(connection)
        assert refresh_pending(connection) > 0
        assert connection.execute("SELECT count(*) FROM aggregate_refresh_pending").fetchone() == (0,)
        assert database_totals(connection) == raw_totals(connection) == expected_totals(recent + late)
        assert refresh_pending(connection) == 0


@pytest.mark.timescaledb
def test_a_year_of_backfill_is_a_few_refreshes(timescaledb_database: str) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        use_copy = copy_works(connection)
        write(connection, batch_of([value("89440001", 1, now - timedelta(days=2))]),
              mode="timescaledb", use_copy=use_copy)
        for name in ("usage_sim_card_hourly", "usage_organization_hourly",
                     "usage_sim_card_daily", "usage_organization_daily", "usage_sim_card_monthly"):
            connection.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)", (name, now - timedelta(hours=1)))
        start = datetime(2021, 1, 1, tzinfo=UTC)
        year = [value(f"894400{1 + i % 14:02d}", i, start + timedelta(hours=5 * i)) for i in range(1752)]
        queued = 0
        for part in range(0, len(year), 300):  # several batches, as a backfill arrives
            queued += write(connection, batch_of(year[part:part + 300], start=1 + part),
                            mode="timescaledb", use_copy=use_copy)
        assert queued == 6  # one coalesced range a batch
        assert refresh_pending(connection) == 4  # merged again: one range, four aggregates
        assert database_totals(connection) == raw_totals(connection)
