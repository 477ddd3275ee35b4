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

import logging
import threading

from confluent_kafka import KafkaError, KafkaException, Producer

from ingest.batch import Rejected
from ingest.dead_letter_record import (
    DETAIL, REASON, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC, dead_letter, detail_bytes,
)
from ingest.dead_letter_topic import ensure_dead_letter_topic
from simusage.settings import Settings

# librdkafka's "any partition": its partitioner chooses.
ANY_PARTITION = -1
LIBRDKAFKA_LOG = logging.getLogger(__name__ + ".librdkafka")


class Delivery:
    """What the broker said of one dead letter: nothing yet, done, or an error."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: KafkaError | None = None

    def __call__(self, error: KafkaError | None, message: object) -> None:
        """librdkafka's delivery report, served by poll() or flush()."""
        self.done, self.error = error is None, error


class DeadLetters:
    """A producer to the dead-letter topic. `send` hands a batch's rejected records to the
    producer's own thread and returns at once; `confirm`, called inside the batch's database
    transaction just before it commits, waits until the broker has them all (sending again
    what failed) and raises if it cannot."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.dead_letters
        self._settings = settings
        self._limit = settings.dead_letter_max_bytes
        self._producer: Producer | None = None
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

    def _connect(self) -> Producer:
        with self._lock:
            return self._connect_locked()

    def _connect_locked(self) -> Producer:
        if self._producer is None:
            # librdkafka (confluent-kafka), not kafka-python: a send costs ~2 us in C where
            # kafka-python's cost ~36 us in Python, and a tenth of a stream may be dead letters.
            self._producer = Producer({
                "bootstrap.servers": self._settings.kafka_bootstrap_servers,
                "client.id": f"simusage-dead-letters-{self._settings.consumer_group}",
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "batch.size": 512 * 1024,
                "message.max.bytes": max(1024 * 1024, self._limit + 65536),
                # As the consumer: retry a broker that was down every second, not every 30 s.
                "reconnect.backoff.max.ms": 1000,
                "logger": LIBRDKAFKA_LOG,
            })
        return self._producer

    def _partition(self, producer: Producer, source_partition: int) -> int:
        """The source partition's dead letters all go to one partition, in order."""
        if self._partitions is None:
            try:
                metadata = producer.list_topics(self.topic, timeout=5)
                self._partitions = len(metadata.topics[self.topic].partitions) or 0
            except (KafkaException, KeyError):
                return ANY_PARTITION  # unknown yet: let the producer choose
        return source_partition % self._partitions if self._partitions else ANY_PARTITION

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
            delivery = Delivery()
            self._produce(producer, key, value, self._partition(producer, chunk.partition),
                          headers, delivery)
            pending.append((item, delivery))
        producer.poll(0)  # serve the reports that are in
        return pending

    def _produce(self, producer: Producer, key, value, partition: int, headers, delivery) -> None:
        while True:
            try:
                producer.produce(self.topic, value=value, key=key, partition=partition,
                                 headers=headers, on_delivery=delivery)
                return
            except BufferError:  # librdkafka's queue is full: let it drain a little
                producer.poll(0.1)

    def confirm(self, pending: list, timeout_s: float = 30.0) -> None:
        """Wait until the broker has every dead letter of pending; raise if it cannot."""
        if not pending:
            return
        self._connect().flush(timeout_s)
        failed = [item for item, delivery in pending if not delivery.done]
        if failed:
            again = self.send(failed)
            self._connect().flush(timeout_s)
            for _, delivery in again:
                if not delivery.done:
                    raise KafkaException(delivery.error or KafkaError(
                        KafkaError._MSG_TIMED_OUT, "dead letter not confirmed in time"))

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
