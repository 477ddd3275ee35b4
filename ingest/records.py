"""Kafka record batches cut into chunks: the values of a batch's records in a list, and the way
back to any one record (offset, key, value, headers) for its dead letter.

kafka-python decodes every record into a ConsumerRecord, byte by byte in Python (about 5 us a
record); `decode_values` takes only the values out, with the one- and two-byte varints of small
records decoded inline (about 0.5 us). The property tests check it against kafka-python.
"""

from __future__ import annotations

from kafka.errors import CorruptRecordError
from kafka.record.util import decode_varint


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
