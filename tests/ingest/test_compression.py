"""TimescaleDB mode: compressed raw chunks, late events landing in them, the policy from settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.aggregate_refresh import refresh_pending
from ingest.retention import announce_dropped_aggregates, earliest_accepted_us
from simusage.change_feed import CHANNEL, parse_payload
from migrations.lifecycle import (
    AGGREGATES,
    apply_compression_policy,
    apply_lifecycle,
    apply_retention_policies,
    compression_policy,
    retention_policy,
)
from tests.conftest import settings_for
from tests.ingest.helpers import (
    EPOCH, batch_of, database_totals, expected_totals, raw_totals, value,
)
from tests.ingest.test_writer import write

pytestmark = pytest.mark.timescaledb
# What the compression policy does once a chunk is older than compress_after.
COMPRESS_OLD = """
    SELECT count(compress_chunk(chunk, if_not_compressed => true))
    FROM show_chunks('usage', older_than => INTERVAL '7 days') AS chunk
"""
COMPRESSED = """
    SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks
    WHERE hypertable_name = 'usage'
"""


def test_late_events_in_compressed_chunks_reach_the_aggregates_exactly(timescaledb_database: str) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    month_ago = now - timedelta(days=30)
    stored = [value(f"894400{1 + i % 14:02d}", 100 + i, month_ago + timedelta(minutes=7 * i))
              for i in range(600)]
    late = [value(f"894400{1 + i % 14:02d}", 5 + i, month_ago + timedelta(minutes=11 * i + 3))
            for i in range(200)]
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        assert compression_policy(connection.cursor()) == "7 days"  # the default, by migration
        write(connection, batch_of(stored), mode="timescaledb", use_copy=False)
        for name in AGGREGATES:  # the refresh policies, a month on
            connection.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)",
                               (name, now - timedelta(hours=1)))
        assert connection.execute(COMPRESS_OLD).fetchone()[0] > 0
        compressed, chunks = connection.execute(COMPRESSED).fetchone()
        assert compressed == chunks > 0
        assert write(connection, batch_of(late, start=600), mode="timescaledb", use_copy=False) > 0
        refresh_pending(connection)
        assert database_totals(connection) == raw_totals(connection) == expected_totals(stored + late)
        assert connection.execute(COMPRESSED).fetchone()[0] > 0  # written into, still compressed


def test_the_policy_follows_the_setting_on_every_migrate(timescaledb_database: str) -> None:
    environment = {**os.environ, "DATABASE_URL": timescaledb_database}
    for setting, expected in (("2 weeks", "14 days"), ("never", None), ("36 hours", "36:00:00")):
        migrate = subprocess.run(
            [sys.executable, "-m", "simusage.cli", "migrate"], capture_output=True, text=True,
            env={**environment, "SIMUSAGE_COMPRESS_AFTER": setting}, timeout=120)
        assert migrate.returncode == 0, migrate.stderr
        with psycopg.connect(timescaledb_database) as connection:
            assert compression_policy(connection.cursor()) == expected
    with psycopg.connect(timescaledb_database) as connection:
        apply_compression_policy(connection.cursor(), "7 days")
        connection.commit()
        assert compression_policy(connection.cursor()) == "7 days"


def test_retention_drops_raw_chunks_and_the_aggregates_keep_their_history(
    timescaledb_database: str,
) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    old = [value("89440001", 1000 + i, now - timedelta(days=420, minutes=5 * i)) for i in range(50)]
    recent = [value("89440002", 7, now - timedelta(days=2, minutes=i)) for i in range(20)]
    settings = settings_for(timescaledb_database, SIMUSAGE_RAW_RETENTION="13 months",
                            SIMUSAGE_AGGREGATE_RETENTION="10 years")
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        with connection.transaction():
            apply_lifecycle(connection.cursor(), settings)
        cursor = connection.cursor()
        assert retention_policy(cursor, "usage") == "1 year 1 mon"
        assert {retention_policy(cursor, name) for name in AGGREGATES} == {"10 years"}
        write(connection, batch_of(old + recent), mode="timescaledb", use_copy=False)
        for name in AGGREGATES:
            connection.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)",
                               (name, now - timedelta(hours=1)))
        answered = database_totals(connection)
        job = connection.execute("SELECT job_id FROM timescaledb_information.jobs WHERE "
                                 "proc_name = 'policy_retention' AND hypertable_name = 'usage'"
                                 ).fetchone()[0]
        connection.execute("CALL run_job(%s)", (job,))  # what the policy does on its schedule
        assert raw_totals(connection) == expected_totals(recent)  # the old raw rows are gone
        assert database_totals(connection) == answered == expected_totals(old + recent)
        # The worker refuses what it could no longer count exactly: before the first whole
        # month above the horizon.
        earliest = EPOCH + timedelta(microseconds=earliest_accepted_us(connection, "timescaledb"))
        horizon = now - timedelta(days=395)  # 13 months, as PostgreSQL counts them: about
        assert earliest.day == 1 and earliest.hour == 0
        assert horizon < earliest <= horizon + timedelta(days=35)
        with connection.transaction():
            apply_lifecycle(connection.cursor(), settings_for(timescaledb_database))
        assert earliest_accepted_us(connection, "timescaledb") == 0
        assert retention_policy(connection.cursor(), "usage") is None


def test_buckets_dropped_by_an_aggregates_retention_are_announced(timescaledb_database: str) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    old_hour = now - timedelta(days=400)
    events = [value("89440001", 5, old_hour), value("89440002", 6, now - timedelta(days=2))]
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")  # PGlite: one connection hears its own NOTIFY
        write(connection, batch_of(events), mode="timescaledb", use_copy=False)
        for name in AGGREGATES:
            connection.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)",
                               (name, now - timedelta(hours=1)))
        seen: dict = {}
        assert announce_dropped_aggregates(connection, seen)  # a first look announces
        assert not announce_dropped_aggregates(connection, seen)  # nothing moved since
        list(connection.notifies(timeout=0.2))
        with connection.transaction():
            apply_retention_policies(connection.cursor(), "keep", "200 days")
        for (job,) in connection.execute(
                "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = "
                "'policy_retention' AND hypertable_name <> 'usage'").fetchall():
            connection.execute("CALL run_job(%s)", (job,))  # what the policies do in time
        assert announce_dropped_aggregates(connection, seen)
        (change,) = [parse_payload(notify.payload) for notify in connection.notifies(timeout=0.5)]
        hour = int(old_hour.timestamp()) // 3600
        assert any(start <= hour < end for start, end in change.ranges)
