"""The Kafka side of the worker: a kafka-python consumer in a group that hands out chunks.

A chunk is the records of one Kafka record batch of one partition: their values in a list,
and the offsets `[start_offset, next_offset)` they cover. kafka-python turns every record
into a `ConsumerRecord` after decoding it byte by byte in Python (about 5 us a record here);
`ChunkRecords` (ingest/chunk_records.py) plugs into its fetcher (the one class it instantiates per
partition) and cuts each record batch into values (ingest.records, about 0.5 us a record),
after the same CRC check. If a kafka-python release moves that seam, `IngestConsumer` falls
back to the public API and builds the same chunks from `ConsumerRecord`s, only slower.

Transactions: the consumer reads committed. Upstream pipelines that produce with Kafka
transactions (Kafka Streams, Flink) abort some: the records of an aborted transaction and the
transaction markers become empty chunks (their offsets move on, nothing is stored), the same
way kafka-python's own record path skips them.

Offsets: the database is the truth. On every assignment the worker's callback seeks each
partition to the offset stored with the rows (or the beginning); Kafka's committed offsets are
only advisory, for lag dashboards.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from ingest.chunk_records import ChunkRecords, SEAM_MISSES, seam_fits
from ingest.records import Chunk
from simusage.settings import Settings

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _no_metadata_backoff(consumer: KafkaConsumer) -> Iterator[None]:
    """kafka-python (3.0.12) gives its metadata the default 100 ms retry backoff whatever the
    consumer's retry_backoff_ms, so the refresh right after the bootstrap's own waited 100 ms
    for nothing: at every start, and at every restart that hands partitions on."""
    config = getattr(getattr(consumer, "_cluster", None), "config", None)
    if not isinstance(config, dict) or "retry_backoff_ms" not in config:
        yield
        return
    backoff, config["retry_backoff_ms"] = config["retry_backoff_ms"], 0
    try:
        yield
    finally:
        config["retry_backoff_ms"] = backoff


class IngestConsumer:
    """A group consumer of one topic that polls chunks; the database positions it."""

    def __init__(
        self,
        settings: Settings,
        on_assigned: Callable[[list[TopicPartition]], None],
        on_revoked: Callable[[list[TopicPartition]], None],
        *,
        fast: bool = True,
    ) -> None:
        self.topic = settings.topic
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
            group_id=settings.consumer_group,
            client_id=f"simusage-ingest-{settings.consumer_group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # A kill -9'ed worker's partitions move on after the session timeout.
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            # Large fetches: a poll brings megabytes, cut into chunks of whole record batches.
            max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
            fetch_max_bytes=4 * settings.kafka_max_partition_fetch_bytes,
            fetch_max_wait_ms=100,
            max_poll_records=10_000,
            check_crcs=True,
            # A topic created a moment before the worker subscribes can come back without
            # partitions; the default 5-minute metadata age then left the worker idle that long.
            metadata_max_age_ms=5000,
            # Kafka down and back: kafka-python backs off reconnecting exponentially up to
            # 30 s (the Java client: 1 s), so after an outage of seconds the worker sat idle
            # for up to 30 s more, per connection (bootstrap, coordinator, partition leader).
            reconnect_backoff_max_ms=1000,
        )
        fetcher = getattr(self._consumer, "_fetcher", None)
        records_class = getattr(fetcher, "PartitionRecords", None)
        self.fast = fast and seam_fits(records_class)
        if self.fast:
            fetcher.PartitionRecords = ChunkRecords
        elif fast:
            SEAM_MISSES.inc()
            log.warning("kafka-python's fetcher no longer fits ChunkRecords (kafka-python is "
                        "pinned in pyproject.toml): using the public record path, ~10x slower")
        self._positions: dict[int, int] = {}

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                on_revoked(list(revoked))

            def on_partitions_assigned(self, assigned):
                on_assigned(list(assigned))

        self._consumer.subscribe([self.topic], listener=Listener())
        # Know the topic's partitions before joining: a group leader without them assigns
        # nothing, then rebalances again once the metadata arrives (~0.3 s of every start).
        with _no_metadata_backoff(self._consumer):
            self._consumer.partitions_for_topic(self.topic)

    def poll(self, timeout_ms: int, max_chunks: int = 16) -> list[Chunk]:
        """Chunks fetched since the last poll, at most max_chunks record batches (or as many
        records on the slow path); rebalance callbacks run in here."""
        fetched = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_chunks if self.fast else 4096)
        chunks: list[Chunk] = []
        for tp, items in fetched.items():
            if self.fast:
                chunks.extend(items)
            elif items:
                start = self._positions.get(tp.partition, items[0].offset)
                next_offset = items[-1].offset + 1
                chunks.append(Chunk(tp.topic, tp.partition, start, next_offset,
                                    [r.value for r in items], items))
                self._positions[tp.partition] = next_offset
        return chunks

    def seek(self, partition: TopicPartition, offset: int | None) -> None:
        """Position a partition at offset, or at its beginning when offset is None."""
        if offset is None:
            self._consumer.seek_to_beginning(partition)
            self._positions.pop(partition.partition, None)
        else:
            self._consumer.seek(partition, offset)
            self._positions[partition.partition] = offset

    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment())

    def commit(self, offsets: dict[int, int]) -> None:
        """Tell Kafka the next offsets of partitions (advisory: the database is the truth)."""
        if not offsets:
            return
        try:
            self._consumer.commit_async({
                TopicPartition(self.topic, partition): OffsetAndMetadata(offset, "", -1)
                for partition, offset in offsets.items()
            })
        except Exception as error:  # noqa: BLE001 - best effort by design
            log.debug("advisory Kafka commit failed: %s", error)

    def lag(self, offsets: dict[int, int]) -> dict[int, int]:
        """partition -> records behind the high watermark, for partitions whose is known."""
        lags = {}
        for partition, offset in offsets.items():
            highwater = self._consumer.highwater(TopicPartition(self.topic, partition))
            if highwater is not None:
                lags[partition] = max(highwater - offset, 0)
        return lags

    def read_to_end(self, positions: dict[int, int | None]) -> bool:
        """Whether positions (partition -> next offset to read, None for the beginning) have
        reached the high watermark of every assigned partition, as the last fetches gave it."""
        assignment = self._consumer.assignment()
        for tp in assignment:
            highwater = self._consumer.highwater(tp)
            if highwater is None or highwater > (positions.get(tp.partition) or 0):
                return False
        return bool(assignment)

    def close(self) -> None:
        """Leave the group at once, so the partitions move on without waiting for a timeout."""
        try:
            self._consumer.close(autocommit=False)
        except Exception as error:  # noqa: BLE001
            log.warning("closing the Kafka consumer: %s", error)


def connect(settings: Settings, on_assigned, on_revoked, stop) -> IngestConsumer | None:
    """Join the group, retrying while no broker answers; None if stop is set meanwhile."""
    delay = 0.5
    while True:
        try:
            return IngestConsumer(settings, on_assigned, on_revoked)
        except KafkaError as error:
            log.warning("Kafka unavailable (%s); retrying in %.1f s", error, delay)
            if stop.wait(delay):
                return None
            delay = min(delay * 2, 5.0)
