"""The Kafka side of the worker: a kafka-python consumer in a group that hands out chunks.

A chunk is the records of one Kafka record batch of one partition: their values in a list,
and the offsets `[start_offset, next_offset)` they cover. kafka-python turns every record
into a `ConsumerRecord` after decoding it byte by byte in Python (about 5 us a record here);
`ChunkRecords` plugs into its fetcher (the one class the fetcher instantiates per fetched
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
from kafka.consumer.fetcher import Fetcher, IsolationLevel
from kafka.errors import CorruptRecordError, KafkaError
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter

from ingest.records import Chunk, chunk_of_batch
from simusage.settings import Settings

log = logging.getLogger(__name__)


class ChunkRecords(Fetcher.PartitionRecords):
    """kafka-python's per-partition fetch result, yielding one Chunk per record batch."""

    def _unpack_records(self, tp, records, key_deserializer, value_deserializer):
        batch = records.next_batch()
        last_batch = None
        while batch is not None:
            last_batch = batch
            if self.check_crcs and not batch.validate_crc():
                raise CorruptRecordError(
                    f"record batch for {tp} at offset {batch.base_offset} failed its CRC check"
                )
            start = self.next_fetch_offset
            if batch.magic != 2:  # message format v0/v1: only from very old brokers' logs
                items = [r for r in batch if r.offset >= start]
                next_offset = items[-1].offset + 1 if items else start
                chunk = Chunk(tp.topic, tp.partition, start, next_offset,
                              [r.value for r in items], items)
            elif batch.next_offset <= start:
                batch = records.next_batch()
                continue
            else:
                self.leader_epoch = batch.leader_epoch
                if batch.is_control_batch or self._aborted(batch):
                    # Transaction markers, or an aborted transaction's records: offsets only.
                    chunk = Chunk(tp.topic, tp.partition, start, batch.next_offset, [], [])
                else:
                    chunk = chunk_of_batch(tp.topic, tp.partition, start, batch)
            self.records_read += len(chunk.values)
            self.bytes_read += batch.size_in_bytes if batch.magic == 2 else 0
            self.next_fetch_offset = chunk.next_offset
            yield chunk
            batch = records.next_batch()
        if last_batch is not None and last_batch.magic == 2:
            self.next_fetch_offset = max(self.next_fetch_offset, last_batch.next_offset)
        self.drain()

    def _aborted(self, batch) -> bool:
        """Whether a batch belongs to an aborted transaction (kafka-python's own bookkeeping of
        the fetch response's aborted transactions, as its record path does)."""
        if self.isolation_level != IsolationLevel.READ_COMMITTED or not batch.has_producer_id():
            return False
        self._consume_aborted_transactions_up_to(batch.last_offset)
        if self._contains_abort_marker(batch):
            self.aborted_producer_ids.discard(batch.producer_id)
            return False
        return self._is_batch_aborted(batch)


# What ChunkRecords uses of kafka-python's PartitionRecords besides _unpack_records.
_SEAM = ("_consume_aborted_transactions_up_to", "_contains_abort_marker", "_is_batch_aborted")
_PROBE_VALUES = [b'{"probe": 1}', b'{"probe": 2}']

SEAM_MISSES = Counter(
    "simusage_ingest_fetcher_seam_misses",
    "Worker starts where kafka-python's fetcher no longer fits ChunkRecords (the slow, public "
    "record path is used instead).",
)


def seam_fits(records_class: object) -> bool:
    """Whether ChunkRecords, put where records_class is, cuts a synthetic record batch (built
    with kafka-python's own builder) into the chunk it holds: two values, offsets [7, 9)."""
    if not isinstance(records_class, type) or not all(hasattr(records_class, n) for n in _SEAM):
        return False
    try:
        builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 16, offset=7)
        for value in _PROBE_VALUES:
            builder.append(0, None, value)
        builder.close()
        parsed = ChunkRecords(7, TopicPartition("probe", 0), MemoryRecords(builder.buffer()),
                              check_crcs=True, isolation_level=IsolationLevel.READ_COMMITTED)
        chunks = parsed.take()
    except Exception:  # noqa: BLE001 - any failure means the seam does not fit
        log.exception("kafka-python's fetcher seam failed its check")
        return False
    return (len(chunks) == 1 and chunks[0].values == _PROBE_VALUES
            and (chunks[0].start_offset, chunks[0].next_offset) == (7, 9))


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
