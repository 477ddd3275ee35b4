"""The dead-letter topic: every record that is not an event, kept with why and where from.

A dead letter carries the original key and value bytes untouched, and headers:
`simusage-reason` (a code of `ingest.events.REASONS`), `simusage-detail` (human text),
`simusage-source-topic`, `simusage-source-partition` and `simusage-source-offset`, followed by
the original record's own headers.

Ordering against the database: the dead letters of a batch are produced and flushed (acknowledged
by the broker, acks=all) BEFORE the transaction that moves the offsets past them commits. A crash
in between leaves the offsets where they were, so the records are read again and their dead
letters sent again: a dead letter can be duplicated, never lost. Consumers of the dead-letter
topic can recognise a duplicate by its source topic, partition and offset.
"""

from __future__ import annotations

from kafka import KafkaProducer

from ingest.batch import Rejected
from simusage.settings import Settings

REASON = "simusage-reason"
DETAIL = "simusage-detail"
SOURCE_TOPIC = "simusage-source-topic"
SOURCE_PARTITION = "simusage-source-partition"
SOURCE_OFFSET = "simusage-source-offset"


class DeadLetters:
    """A producer to the dead-letter topic, sending and flushing a batch's rejected records."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.dead_letters
        self._settings = settings
        self._producer: KafkaProducer | None = None

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers.split(","),
                client_id=f"simusage-dead-letters-{self._settings.consumer_group}",
                acks="all",
                linger_ms=5,
                retries=5,
            )
        return self._producer

    def send(self, rejected: list[Rejected], timeout_s: float = 30.0) -> None:
        """Produce every rejected record and wait until the broker has them all; raise if not."""
        if not rejected:
            return
        producer = self._connect()
        futures = []
        for item in rejected:
            offset, key, value, headers = item.chunk.record(item.index)
            futures.append(producer.send(
                self.topic,
                key=key,
                value=value,
                headers=[
                    (REASON, item.rejection.reason.encode()),
                    (DETAIL, item.rejection.detail.encode("utf-8", "replace")),
                    (SOURCE_TOPIC, item.chunk.topic.encode()),
                    (SOURCE_PARTITION, str(item.chunk.partition).encode()),
                    (SOURCE_OFFSET, str(offset).encode()),
                    *headers,
                ],
            ))
        producer.flush(timeout=timeout_s)
        for future in futures:
            future.get(timeout=timeout_s)  # raises the send's error, if any

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
