"""The one seam into kafka-python's internals on the read path: ChunkRecords, its fetcher's
per-partition fetch result, cutting each record batch into one Chunk (see ingest/consumer.py);
and the check, on a synthetic record batch, that the installed kafka-python still fits it.
"""

from __future__ import annotations

import logging

from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher, IsolationLevel
from kafka.errors import CorruptRecordError
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder
from prometheus_client import Counter

from ingest.records import Chunk, chunk_of_batch

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
