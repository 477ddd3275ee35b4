"""The group consumer on the real broker: chunks, and the public-API fallback giving the same."""

from __future__ import annotations

import pytest

from kafka.consumer.fetcher import Fetcher
from prometheus_client import REGISTRY

from ingest.chunk_records import seam_fits
from ingest.consumer import IngestConsumer
from tests.conftest import settings_for
from tests.ingest.conftest import end_offsets, produce, wait_for

pytestmark = pytest.mark.kafka

GOOD = b'{"sim-card-id": "89440001", "bytes-used": 100, "date": "2020-02-01T10:15:00Z"}'


def test_the_slow_consumer_path_gives_the_same_chunks(topic: str) -> None:
    sent = produce(topic, [(b"k", v) for v in [GOOD, None, b"x" * 300, GOOD]] * 50)
    ends = end_offsets(topic)
    seen = {}
    for fast in (True, False):
        settings = settings_for("postgresql://unused/x", SIMUSAGE_TOPIC=topic,
                                SIMUSAGE_CONSUMER_GROUP=f"{topic}-{fast}")
        chunks = []
        consumer = IngestConsumer(settings, lambda p: None, lambda p: None, fast=fast)
        assert consumer.fast is fast
        wait_for(lambda: chunks.extend(consumer.poll(200)) or
                 sum(len(c.values) for c in chunks) >= len(sent), 30, "all records")
        consumer.close()
        per_partition = {}
        for chunk in chunks:
            values = per_partition.setdefault(chunk.partition, [])
            values.extend(
                chunk.record(i)[1:3] + (chunk.record(i)[0],) for i in range(len(chunk.values))
            )
            assert [bytes(v) if v is not None else None for v in chunk.values] == [
                chunk.record(i)[2] for i in range(len(chunk.values))]
        seen[fast] = per_partition
        assert {p: len(v) for p, v in per_partition.items()} == {p: e for p, e in ends.items() if e}
    assert seen[True] == seen[False]


def test_the_consumer_knows_its_partitions_before_joining(topic: str) -> None:
    """The metadata refresh before the join skips kafka-python's retry backoff (a seam in its
    internals, checked here so that an upgrade that moves it fails a test), and restores it."""
    settings = settings_for("postgresql://unused/x", SIMUSAGE_TOPIC=topic,
                            SIMUSAGE_CONSUMER_GROUP=f"{topic}-partitions")
    consumer = IngestConsumer(settings, lambda p: None, lambda p: None)
    try:
        cluster = consumer._consumer._cluster  # noqa: SLF001
        assert cluster.partitions_for_topic(topic) == set(range(4))
        assert cluster.config["retry_backoff_ms"] == 100
    finally:
        consumer.close()


def test_the_fetcher_seam_is_checked_on_a_synthetic_batch() -> None:
    assert seam_fits(Fetcher.PartitionRecords)
    assert not seam_fits(object)


def test_where_the_seam_no_longer_fits_the_worker_warns_counts_and_goes_public(
    topic: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A kafka-python release whose record path changed: its take() yields nothing of ours.
    monkeypatch.setattr(Fetcher.PartitionRecords, "take", lambda self, n=None: [])
    before = REGISTRY.get_sample_value("simusage_ingest_fetcher_seam_misses_total") or 0
    settings = settings_for("postgresql://unused/x", SIMUSAGE_TOPIC=topic,
                            SIMUSAGE_CONSUMER_GROUP=f"{topic}-seam")
    consumer = IngestConsumer(settings, lambda p: None, lambda p: None)
    try:
        assert consumer.fast is False
    finally:
        consumer.close()
    assert REGISTRY.get_sample_value("simusage_ingest_fetcher_seam_misses_total") == before + 1
    assert [r.levelname for r in caplog.records if "no longer fits" in r.getMessage()] == ["WARNING"]
