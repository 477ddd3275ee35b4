"""PostgreSQL mode: raw rows in day partitions, created for each batch's days (with the rows the
default partition held for them), and dropped past the retention; the rollups keep it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from ingest.retention import earliest_accepted_us, prepare_days
from tests.ingest.helpers import (
    EPOCH, OWNERS, batch_of, database_totals, expected_totals, raw_totals, value,
)
from tests.ingest.test_writer import write

PARTITIONS = """
    SELECT child.relname FROM pg_inherits JOIN pg_class AS child ON child.oid = inhrelid
    WHERE inhparent = 'usage'::regclass ORDER BY 1
"""
IN_DEFAULT = "SELECT count(*) FROM ONLY usage_default"


def test_a_batch_writes_into_its_days_partitions_moving_the_default_partitions_rows(
    postgres_database: str,
) -> None:
    early = [value("89440001", 11, "2020-02-01T23:59:59Z")]
    batch = [value("89440001", 5, "2020-02-01T10:00:00Z"), value("89440006", 7, "2020-02-02T00:00:00Z"),
             value("89440011", 3, "2020-02-02T23:00:00+01:00")]
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        # A row stored before its day had a partition (as test data and the migration's old
        # table do) sits in the default partition.
        connection.execute("INSERT INTO usage VALUES ('2020-02-01T23:59:59Z', '89440001', %s, 11)",
                           (OWNERS["89440001"],))
        assert connection.execute(IN_DEFAULT).fetchone() == (1,)
        write(connection, batch_of(batch), seen={"89440001"})
        names = [row[0] for row in connection.execute(PARTITIONS)]
        assert names == ["usage_20200201", "usage_20200202", "usage_default"]
        assert connection.execute(IN_DEFAULT).fetchone() == (0,)  # moved into its day
        assert connection.execute(
            "SELECT count(*) FROM usage_20200201").fetchone() == (2,)
        assert raw_totals(connection) == expected_totals(early + batch)  # nothing lost or doubled
        assert database_totals(connection) == expected_totals(batch)  # the rollups: the batch's


def test_retention_drops_whole_days_and_the_rollups_keep_them(postgres_database: str) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    old = [value("89440001", 100, now - timedelta(days=200, hours=hour)) for hour in range(30)]
    recent = [value("89440002", 7, now - timedelta(hours=hour + 1)) for hour in range(5)]
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        write(connection, batch_of(old + recent))
        answered = database_totals(connection)
        assert answered == expected_totals(old + recent) == raw_totals(connection)
        assert prepare_days(connection, "keep") == 0
        names = {row[0] for row in connection.execute(PARTITIONS)}
        for day in (now, now + timedelta(days=1)):  # created ahead of their rows
            assert f"usage_{day:%Y%m%d}" in names
        dropped = prepare_days(connection, "6 months")
        assert dropped >= 2  # the old events' two days
        assert raw_totals(connection) == expected_totals(recent)
        assert database_totals(connection) == answered  # the rollups keep the history
        earliest = EPOCH + timedelta(microseconds=earliest_accepted_us(connection, "postgres",
                                                                       "6 months"))
        assert earliest.day == 1 and now - timedelta(days=186) < earliest <= now - timedelta(days=140)
        assert earliest_accepted_us(connection, "postgres", "keep") == 0
