"""TimescaleDB mode end to end (PGlite): late events show in the continuous aggregates soon after
they are ingested, through the worker's own refreshes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.inventory import change_owners
from ingest.producer import reference_events
from tests.ingest.conftest import end_offsets, produce, running_worker, wait_consumed, wait_for, worker_settings
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
