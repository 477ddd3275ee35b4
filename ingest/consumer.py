"""The Kafka side of the worker: a kafka-python consumer in a group that hands out chunks.

A chunk is the records of one Kafka record batch of one partition: their values in a list,
and the offsets `[start_offset, next_offset)` they cover. kafka-python turns every record
into a `ConsumerRecord` after decoding it byte by byte in Python (about 5 us a record here);
`ChunkRecords` plugs into its fetcher (the one class the fetcher instantiates per fetched
partition) and cuts each record batch into values with a tighter loop instead (about 0.8 us),
after the same CRC check. If a kafka-python release moves that seam, `IngestConsumer` falls
back to the public API and builds the same chunks from `ConsumerRecord`s, only slower.

Offsets: the database is the truth. On every assignment the worker's callback seeks each
partition to the offset stored with the rows (or the beginning); Kafka's committed offsets are
only advisory, for lag dashboards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.util import decode_varint
from kafka.structs import OffsetAndMetadata

from simusage.settings import Settings

log = logging.getLogger(__name__)


class Chunk:
    """Records of one partition: values, the offsets they cover, and a way back to each record."""

    __slots__ = ("topic", "partition", "start_offset", "next_offset", "offset", "values", "_source")

    def __init__(self, topic, partition, start_offset, next_offset, values, source) -> None:
        self.topic, self.partition = topic, partition
        self.start_offset, self.next_offset = start_offset, next_offset
        self.offset = next_offset - 1  # what kafka-python's fetcher compares to its position
        self.values = values
        # (buffer, base_offset, positions) of a record batch, or a list of ConsumerRecords
        self._source = source

    def record(self, index: int) -> tuple[int, bytes | None, bytes | None, list]:
        """(offset, key, value, headers) of the index-th record, for a dead letter."""
        if isinstance(self._source, list):
            record = self._source[index]
            return record.offset, record.key, record.value, list(record.headers or [])
        buffer, base_offset, positions = self._source
        offset_delta, key, value, headers = _decode_record(buffer, positions[index])
        return base_offset + offset_delta, key, value, headers


def _decode_record(buffer, pos: int) -> tuple[int, bytes | None, bytes | None, list]:
    """Every field of the record at pos (record format v2)."""
    _, pos = decode_varint(buffer, pos)  # length
    pos += 1  # attributes
    _, pos = decode_varint(buffer, pos)  # timestamp delta
    offset_delta, pos = decode_varint(buffer, pos)
    fields = []
    for _ in range(2):
        length, pos = decode_varint(buffer, pos)
        fields.append(bytes(buffer[pos : pos + length]) if length >= 0 else None)
        pos += max(length, 0)
    count, pos = decode_varint(buffer, pos)
    headers = []
    for _ in range(count):
        length, pos = decode_varint(buffer, pos)
        name = bytes(buffer[pos : pos + length]).decode("utf-8", "replace")
        pos += length
        length, pos = decode_varint(buffer, pos)
        headers.append((name, bytes(buffer[pos : pos + length]) if length >= 0 else None))
        pos += max(length, 0)
    return offset_delta, fields[0], fields[1], headers


def decode_values(buffer, pos: int, end: int) -> tuple[list, list[int]]:
    """Values and start positions of the v2 records in buffer[pos:end].

    Only the value is taken out; the varints before it are skipped, with the one- and two-byte
    cases (all the lengths of small records) decoded inline."""
    values: list = []
    positions: list[int] = []
    add_value, add_position = values.append, positions.append
    while pos < end:
        add_position(pos)
        b = buffer[pos]
        if b < 0x80:
            length = b >> 1
            pos += 1
        elif buffer[pos + 1] < 0x80:
            length = ((b & 0x7F) | (buffer[pos + 1] << 7)) >> 1
            pos += 2
        else:
            length, pos = decode_varint(buffer, pos)
        record_end = pos + length
        p = pos + 1  # attributes
        while buffer[p] & 0x80:  # timestamp delta
            p += 1
        p += 1
        while buffer[p] & 0x80:  # offset delta
            p += 1
        p += 1
        b = buffer[p]
        if b < 0x80:
            key_length = (b >> 1) ^ -(b & 1)
            p += 1
        else:
            key_length, p = decode_varint(buffer, p)
        if key_length > 0:
            p += key_length
        b = buffer[p]
        if b < 0x80:
            value_length = (b >> 1) ^ -(b & 1)
            p += 1
        elif buffer[p + 1] < 0x80:
            zigzag = (b & 0x7F) | (buffer[p + 1] << 7)
            value_length = (zigzag >> 1) ^ -(zigzag & 1)
            p += 2
        else:
            value_length, p = decode_varint(buffer, p)
        add_value(buffer[p : p + value_length] if value_length >= 0 else None)
        pos = record_end
    return values, positions


def chunk_of_batch(topic: str, partition: int, start: int, batch) -> Chunk:
    """The chunk of a v2 record batch (CRC already checked), from offset start on."""
    batch._maybe_uncompress()
    buffer = batch._buffer
    pos = batch._pos
    try:
        values, positions = decode_values(buffer, pos, len(buffer))
    except IndexError as error:
        raise CorruptRecordError(f"record batch at offset {batch.base_offset}: {error}") from None
    if len(values) != batch.records_count:
        raise CorruptRecordError(
            f"record batch at offset {batch.base_offset}: {len(values)} records, "
            f"header says {batch.records_count}"
        )
    if batch.base_offset < start:  # fetched from the middle of a batch, after a seek
        keep = [
            i for i, p in enumerate(positions) if batch.base_offset + _decode_record(buffer, p)[0] >= start
        ]
        values, positions = [values[i] for i in keep], [positions[i] for i in keep]
    return Chunk(
        topic, partition, start, batch.next_offset, values, (buffer, batch.base_offset, positions)
    )


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
                if batch.is_control_batch:  # transaction markers: offsets, no records
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
            isolation_level="read_uncommitted",
            # A kill -9'ed worker's partitions move on after the session timeout.
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            # Large fetches: a poll brings megabytes, cut into chunks of whole record batches.
            max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
            fetch_max_bytes=4 * settings.kafka_max_partition_fetch_bytes,
            fetch_max_wait_ms=100,
            max_poll_records=10_000,
            check_crcs=True,
        )
        fetcher = getattr(self._consumer, "_fetcher", None)
        self.fast = bool(fast and isinstance(getattr(fetcher, "PartitionRecords", None), type))
        if self.fast:
            fetcher.PartitionRecords = ChunkRecords
        else:
            log.warning("kafka-python's fetcher has no PartitionRecords seam: slow record path")
        self._positions: dict[int, int] = {}

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                on_revoked(list(revoked))

            def on_partitions_assigned(self, assigned):
                on_assigned(list(assigned))

        self._consumer.subscribe([self.topic], listener=Listener())

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

    def close(self) -> None:
        """Leave the group at once, so the partitions move on without waiting for a timeout."""
        try:
            self._consumer.close(autocommit=False)
        except Exception as error:  # noqa: BLE001
            log.warning("closing the Kafka consumer: %s", error)
