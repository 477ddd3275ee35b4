"""The dead-letter topic: every record that is not an event, kept with why and where from.

A dead letter carries the original key and value bytes untouched, and headers:
`simusage-reason` (a code of `ingest.events.REASONS`), `simusage-detail` (human text),
`simusage-source-topic`, `simusage-source-partition` and `simusage-source-offset`, followed by
the original record's own headers; what is bounded and renamed, and how a record too large to
fit is cut, is `ingest.dead_letter_record`'s.

Ordering against the database: the dead letters of a batch are produced as soon as the batch is
parsed, and acknowledged by the broker (acks=all) BEFORE the transaction that moves the offsets
past them commits: the worker waits for them inside that transaction and rolls it back if the
broker does not confirm. A crash (or a lost partition) in between leaves the offsets where they
were, so the records are read again and their dead letters sent again: a dead letter can be
duplicated, never lost. A consumer of the dead-letter topic recognises a duplicate by its
source topic, partition and offset.
"""

from __future__ import annotations

import threading

from kafka import KafkaProducer

from ingest.batch import Rejected
from ingest.dead_letter_record import (
    DETAIL, REASON, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC, dead_letter, detail_bytes,
)
from ingest.dead_letter_topic import ensure_dead_letter_topic
from simusage.settings import Settings

class DeadLetters:
    """A producer to the dead-letter topic. `send` hands a batch's rejected records to the
    producer's own thread and returns at once; `confirm`, called inside the batch's database
    transaction just before it commits, waits until the broker has them all (sending again
    what failed) and raises if it cannot."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.dead_letters
        self._settings = settings
        self._limit = settings.dead_letter_max_bytes
        self._producer: KafkaProducer | None = None
        self._partitions: int | None = None
        self._lock = threading.Lock()
        self._started = threading.Event()  # set while no start() is under way
        self._started.set()

    def start(self) -> None:
        """Connect the producer and learn the topic's partitions on a thread of their own, while
        the worker connects to the database and joins its group (the first batch's dead letters
        would otherwise wait ~0.1 s for them on the main thread)."""

        def connect() -> None:
            try:
                # Before the producer's first metadata request, which could auto-create it.
                ensure_dead_letter_topic(self._settings)
                self._partition(self._connect(), 0)
            except Exception:  # noqa: BLE001 - the first send connects again, and says why
                pass
            finally:
                self._started.set()

        self._started.clear()
        threading.Thread(target=connect, name="dead-letters-connect", daemon=True).start()

    def _connect(self) -> KafkaProducer:
        with self._lock:
            return self._connect_locked()

    def _connect_locked(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self._settings.kafka_bootstrap_servers.split(","),
                client_id=f"simusage-dead-letters-{self._settings.consumer_group}",
                acks="all",
                linger_ms=5,
                # Big batches: fewer wake-ups of the sender thread, half the cost of a send.
                # Under the broker's default 1 MB message.max.bytes.
                batch_size=512 * 1024,
                max_request_size=max(1024 * 1024, self._limit + 65536),
                retries=5,
                # As the consumer: retry a broker that was down every second, not every 30 s.
                reconnect_backoff_max_ms=1000,
            )
        return self._producer

    def _partition(self, producer: KafkaProducer, source_partition: int) -> int | None:
        """The source partition's dead letters all go to one partition (in order); naming it
        also spares kafka-python's partitioner, a third of the cost of a send."""
        if self._partitions is None:
            try:
                self._partitions = len(producer.partitions_for(self.topic) or ()) or 0
            except Exception:  # noqa: BLE001 - unknown yet: let the producer choose
                return None
        return source_partition % self._partitions if self._partitions else None

    def send(self, rejected: list[Rejected]) -> list:
        """Start producing every rejected record; return what `confirm` needs."""
        if not rejected:
            return []
        self._started.wait(15)  # the topic exists (created with room) before the first send
        producer = self._connect()
        topic_bytes: dict[str, bytes] = {}
        pending = []
        for item in rejected:
            chunk, rejection = item.chunk, item.rejection
            offset, key, value, headers = chunk.record(item.index)
            source = topic_bytes.get(chunk.topic)
            if source is None:
                source = topic_bytes[chunk.topic] = chunk.topic.encode()
            key, value, headers = dead_letter(key, value, [
                (REASON, rejection.reason.encode()),
                (DETAIL, detail_bytes(rejection.detail)),
                (SOURCE_TOPIC, source),
                (SOURCE_PARTITION, str(chunk.partition).encode()),
                (SOURCE_OFFSET, str(offset).encode()),
            ], headers, self._limit)
            partition = self._partition(producer, chunk.partition)
            future = producer.send(self.topic, key=key, value=value, partition=partition,
                                   headers=headers)
            pending.append((item, future))
        return pending

    def confirm(self, pending: list, timeout_s: float = 30.0) -> None:
        """Wait until the broker has every dead letter of pending; raise if it cannot."""
        if not pending:
            return
        self._connect().flush(timeout=timeout_s)
        failed = [item for item, future in pending if future.failed() or not future.is_done]
        if failed:
            again = self.send(failed)
            self._connect().flush(timeout=timeout_s)
            for _, future in again:
                future.get(timeout=timeout_s)  # raises the send's error

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
