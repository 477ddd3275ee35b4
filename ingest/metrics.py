"""The ingest worker's Prometheus metrics, served on SIMUSAGE_INGEST_METRICS_PORT when > 0."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

ACCEPTED = Counter("simusage_ingest_events_accepted", "Events written to the usage table")
REJECTED = Counter(
    "simusage_ingest_events_rejected", "Records sent to the dead-letter topic", ["reason"]
)
UNKNOWN_CARD = Counter(
    "simusage_ingest_unknown_card_events", "Events of SIM cards missing from the inventory"
)
BATCHES = Counter("simusage_ingest_batches", "Batches committed to the database")
CONFLICTS = Counter(
    "simusage_ingest_offset_conflicts", "Batches rolled back: another worker owned the offsets"
)
DATABASE_ERRORS = Counter(
    "simusage_ingest_database_errors", "Failed attempts to write a batch (retried)"
)
BATCH_SIZE = Histogram(
    "simusage_ingest_batch_records", "Records per batch",
    buckets=(10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000),
)
COMMIT_SECONDS = Histogram(
    "simusage_ingest_commit_seconds", "Time to write and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ATTRIBUTED_AGAIN = Counter(
    "simusage_ingest_batches_attributed_again",
    "Batches attributed again before their commit: the ownership history changed meanwhile",
)
LAG = Gauge("simusage_ingest_consumer_lag", "Records behind the partition's end", ["partition"])
LOST = Counter(
    "simusage_ingest_records_lost", "Offsets skipped: gone from Kafka before they were read"
)
LATE_REFRESHES = Counter(
    "simusage_ingest_late_refreshes", "Continuous-aggregate refreshes run for late events"
)


def serve(port: int) -> bool:
    """Serve /metrics on port (0: don't); a port already taken is logged, not fatal."""
    if port <= 0:
        return False
    try:
        start_http_server(port)
    except OSError as error:
        log.warning("metrics not served on port %d: %s", port, error)
        return False
    return True


def batch_committed(batch, unknown_card_events: int, seconds: float, lags: dict[int, int]) -> None:
    """Count a committed batch: its rows, rejections by reason, time, and the lag after it."""
    ACCEPTED.inc(len(batch.times))
    for item in batch.rejected:
        REJECTED.labels(item.rejection.reason).inc()
    UNKNOWN_CARD.inc(unknown_card_events)
    BATCHES.inc()
    BATCH_SIZE.observe(len(batch))
    COMMIT_SECONDS.observe(seconds)
    for partition, lag in lags.items():
        LAG.labels(str(partition)).set(lag)
