"""TimescaleDB mode end to end (PGlite): late events show in the continuous aggregates soon after
they are ingested, through the worker's own refreshes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.inventory import change_owners
from ingest.metrics import REJECTED
from migrations.lifecycle import apply_lifecycle
from tests.conftest import settings_for
from ingest.producer import reference_events
from tests.ingest.conftest import (
    dead_letters, end_offsets, produce, running_worker, wait_consumed, wait_for, worker_settings,
)
from tests.ingest.helpers import OWNERS, database_totals, expected_totals, raw_totals, value

pytestmark = [pytest.mark.kafka, pytest.mark.timescaledb]

AGGREGATES = ("usage_sim_card_hourly", "usage_organization_hourly", "usage_sim_card_daily",
              "usage_organization_daily", "usage_sim_card_monthly")


@pytest.mark.parametrize("method", ["auto", "insert"])
def test_late_events_reach_the_continuous_aggregates(timescaledb_database: str, topic: str, method: str) -> None:
    url = timescaledb_database
    with psycopg.connect(url, autocommit=True) as connection:  # PGlite: one connection at a time
        with connection.transaction():
            change_owners(connection, OWNERS, None, datetime.now(UTC))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    recent = [(b"k", value(f"894400{1 + i % 15:02d}", i, now - timedelta(hours=2, minutes=7 * i)))
              for i in range(400)]
    settings = worker_settings(url, topic, SIMUSAGE_INGEST_WRITE_METHOD=method,
                               SIMUSAGE_LATE_REFRESH_INTERVAL_MS="200")
    sent = produce(topic, recent)
    with running_worker(settings) as worker:
        wait_consumed(worker, end_offsets(topic))
    with psycopg.connect(url, autocommit=True) as connection:
        # What the refresh policies do in time: the aggregates materialized up to an hour ago.
        for name in AGGREGATES:
            connection.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)", (name, now - timedelta(hours=1)))
        assert database_totals(connection) == raw_totals(connection) == expected_totals(sent)
    # Now the late ones: the reference data is from February 2020, and one event of today.
    late = [pair for pair, _ in zip(reference_events(seed=7), range(3000))]
    late.append((b"k", value("89440001", 99, now - timedelta(hours=3))))
    sent += produce(topic, late)
    with running_worker(settings) as worker:
        wait_consumed(worker, end_offsets(topic))
        wait_for(lambda: worker.upkeep.late_refreshes > 0 and not worker.upkeep.refreshing(), 20,
                 "the late ranges refreshed")
    with psycopg.connect(url, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM aggregate_refresh_pending").fetchone() == (0,)
        assert database_totals(connection) == raw_totals(connection) == expected_totals(sent)


def test_events_older_than_the_raw_rows_kept_are_dead_lettered_as_too_old(
    timescaledb_database: str, topic: str
) -> None:
    url = timescaledb_database
    with psycopg.connect(url, autocommit=True) as connection:
        with connection.transaction():
            change_owners(connection, OWNERS, None, datetime.now(UTC))
            apply_lifecycle(connection.cursor(), settings_for(url, SIMUSAGE_RAW_RETENTION="6 months"))
    now = datetime.now(UTC)
    kept = [(b"k", value("89440001", 5, now - timedelta(days=1)))]
    too_old = [(b"k", value("89440002", 9, now - timedelta(days=200)))]
    sent = produce(topic, kept + too_old)
    rejected = REJECTED.labels("too-old")._value.get()
    with running_worker(worker_settings(url, topic)) as worker:
        wait_consumed(worker, end_offsets(topic))
    (letter,) = dead_letters(topic, 1)
    assert dict(letter.headers)["simusage-reason"] == b"too-old"
    assert letter.value == too_old[0][1]
    assert REJECTED.labels("too-old")._value.get() == rejected + 1
    with psycopg.connect(url, autocommit=True) as connection:
        assert raw_totals(connection) == expected_totals(sent[:1])
