"""The worker when things go wrong: the database away and back, signals, and its metrics."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient

from ingest import metrics
from tests.ingest.conftest import (
    Proxy, committed, end_offsets, produce, running_worker, wait_consumed, wait_for,
    worker_settings,
)
from tests.conftest import KAFKA
from tests.ingest.helpers import expected_totals
from tests.ingest.test_worker import assert_exact, reference_runs, totals

pytestmark = pytest.mark.kafka


def through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"))


@pytest.mark.slow
def test_the_database_going_away_mid_ingest_loses_and_doubles_nothing(ingest_database: str, topic: str) -> None:
    sent = produce(topic, reference_runs(2))
    proxy = Proxy(urlsplit(ingest_database).port)
    errors_before = metrics.DATABASE_ERRORS._value.get()  # noqa: SLF001
    try:
        settings = worker_settings(through(proxy, ingest_database), topic, SIMUSAGE_BATCH_SIZE="1000")
        with running_worker(settings) as worker:
            wait_for(lambda: committed(ingest_database, topic) >= len(sent) // 4, 60, "a quarter ingested")
            proxy.cut()
            time.sleep(0.5)  # a commit may have been on its way
            stalled = committed(ingest_database, topic)
            time.sleep(2)
            assert committed(ingest_database, topic) == stalled < len(sent)  # no progress, no crash
            proxy.restore()
            wait_consumed(worker, end_offsets(topic), timeout=60)
    finally:
        proxy.close()
    assert metrics.DATABASE_ERRORS._value.get() > errors_before  # noqa: SLF001
    assert_exact(ingest_database, topic, sent)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_worker_cleanly(ingest_database: str, topic: str, worker_processes, signum) -> None:
    sent = produce(topic, reference_runs(1)[:5000])
    worker = worker_processes(worker_settings(ingest_database, topic))
    wait_for(lambda: committed(ingest_database, topic) == len(sent), 60, "the records ingested")
    started = time.monotonic()
    worker.signal(signum)
    assert worker.wait(20) == 0
    assert time.monotonic() - started < 10
    assert "stopped:" in worker.path.read_text()


def scrape(port: int) -> dict[str, float]:
    """The samples of the worker's /metrics page, by name and labels."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, number = line.rpartition(" ")
            samples[name] = float(number)
    return samples


def test_metrics_are_served_and_move_with_accepted_and_rejected_events(
    ingest_database: str, topic: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert metrics.serve(port)
    assert not metrics.serve(port)  # taken: logged, not fatal
    before = scrape(port)
    sent = produce(topic, reference_runs(1)[:3000])  # day 00 first: 1,440 rejected
    with running_worker(worker_settings(ingest_database, topic)) as worker:
        wait_consumed(worker, end_offsets(topic))
        after = scrape(port)  # while running: a revoked partition's lag is removed

    def moved(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert worker.rows + worker.rejected == len(sent)
    assert (worker.rows, worker.rejected) == (3000 - 1440, 1440)
    assert moved("simusage_ingest_events_accepted_total") == worker.rows
    assert moved('simusage_ingest_events_rejected_total{reason="date-invalid"}') == worker.rejected
    assert moved("simusage_ingest_batches_total") >= 1
    assert moved("simusage_ingest_commit_seconds_count") == moved("simusage_ingest_batches_total")
    assert any(name.startswith("simusage_ingest_consumer_lag{") for name in after)


def test_records_deleted_from_kafka_before_they_were_read_are_skipped_loudly(
    ingest_database: str, topic: str, caplog
) -> None:
    events = reference_runs(1)[1440:1740]  # day 1: all valid
    first = produce(topic, events[:100], partition=0)
    settings = worker_settings(ingest_database, topic)
    with running_worker(settings) as worker:
        wait_consumed(worker, end_offsets(topic))
    later = produce(topic, events[100:], partition=0)  # offsets 100..299, read by nobody yet
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.delete_records({TopicPartition(topic, 0): 150})  # retention took 100..149
    admin.close()
    lost_before = metrics.LOST._value.get()  # noqa: SLF001
    with running_worker(settings) as worker:
        wait_consumed(worker, end_offsets(topic))
    assert metrics.LOST._value.get() - lost_before == 50  # noqa: SLF001
    assert "offsets 100 to 149 are no longer in Kafka" in caplog.text
    assert committed(ingest_database, topic) == 300
    assert totals(ingest_database) == expected_totals(first + later[50:])
