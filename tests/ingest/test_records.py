"""Cutting Kafka record batches into chunks: the same records kafka-python itself decodes."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from ingest.records import chunk_of_batch


def test_kafka_python_checks_crcs_with_the_c_extension() -> None:
    """Without the crc32c package kafka-python checks every batch's CRC in pure Python, 3.3x
    slower end to end: a missing package must fail here, not only show in the benchmark."""
    import crc32c  # noqa: PLC0415 - the point is that this import must work
    from kafka.record import util  # noqa: PLC0415

    assert util._crc32c is crc32c.crc32c  # noqa: SLF001
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def record_batch(records: list, base_offset: int, compression: int = 0) -> DefaultRecordBatch:
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=compression, is_transactional=False, producer_id=-1,
        producer_epoch=-1, base_sequence=-1, batch_size=1 << 24,
    )
    for delta, (key, value, headers) in enumerate(records):
        builder.append(delta, timestamp=1_700_000_000_000 + delta, key=key, value=value, headers=headers)
    buffer = bytearray(builder.build())
    struct.pack_into(">q", buffer, 0, base_offset)  # the base offset is outside the CRC
    batch = DefaultRecordBatch(bytes(buffer))
    assert batch.validate_crc()
    return batch


payloads = st.one_of(st.none(), st.binary(max_size=40), st.binary(min_size=100, max_size=20_000))
headers = st.lists(st.tuples(st.text(max_size=10), st.one_of(st.none(), st.binary(max_size=300))), max_size=3)
records = st.lists(st.tuples(payloads, payloads, headers), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(records, st.integers(0, 2**40), st.sampled_from([0, 1]), st.data())
def test_chunks_hold_what_kafka_python_decodes(drawn: list, base: int, compression: int, data) -> None:
    batch = record_batch(drawn, base, compression)
    expected = list(record_batch(drawn, base, compression))
    skip = data.draw(st.integers(0, len(drawn) - 1))  # fetched from the middle, after a seek
    chunk = chunk_of_batch("topic", 3, base + skip, batch)
    assert (chunk.topic, chunk.partition) == ("topic", 3)
    assert (chunk.start_offset, chunk.next_offset) == (base + skip, base + len(drawn))
    kept = expected[skip:]
    assert [bytes(v) if v is not None else None for v in chunk.values] == [r.value for r in kept]
    for index, record in enumerate(kept):
        assert chunk.record(index) == (record.offset, record.key, record.value, list(record.headers))
