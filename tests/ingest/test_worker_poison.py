"""Hostile records through the real broker and a running worker: it stays up, stores the good
records around them, dead-letters them (truncated where it must) and moves on (issue 16)."""

from __future__ import annotations

import hashlib
import random
import signal

import psycopg
import pytest

from ingest.dead_letter_record import ORIGINAL_LENGTH, ORIGINAL_SHA256, REASON, TRUNCATED
from ingest.dead_letters import SOURCE_OFFSET
from tests.ingest.conftest import (
    committed, dead_letters, end_offsets, produce, running_worker, wait_consumed, wait_for,
    worker_settings,
)
from tests.ingest.helpers import database_totals, expected_totals
from tests.ingest.test_worker import assert_exact, reference_runs

pytestmark = pytest.mark.kafka


def good(n: int) -> bytes:
    return b'{"sim-card-id": "89440001", "bytes-used": %d, "date": "2020-02-01T10:15:00Z"}' % n


def event_with(field: bytes, raw: bytes) -> bytes:
    fields = {b"sim-card-id": b'"89440002"', b"bytes-used": b"5", b"date": b'"2020-02-01T10:15:00Z"'}
    fields[field] = raw
    return b"{" + b", ".join(b'"%s": %s' % item for item in fields.items()) + b"}"


NESTED = event_with(b"sim-card-id", b"[" * 1000 + b"]" * 1000)
POISON = {
    "nested-1000-deep": (NESTED, "too-deep", False),
    "600-kb-date": (event_with(b"date", b'"' + b"2" * 600_000 + b'"'), "date-invalid", False),
    "600-kb-digits": (event_with(b"bytes-used", b'"' + b"7" * 600_000 + b'"'),
                      "bytes-used-out-of-range", False),
    "1-mib-invalid": (b"x" * 1_048_468, "not-json", True),
    "spoofed-reason": (b"nope", "not-json", False),
    "duplicate-card": (good(3)[:-1] + b', "sim-card-id": "89440002"}', "duplicate-field", False),
}


@pytest.mark.parametrize("first", [False, True], ids=["between-good", "first-in-batch"])
@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_record_is_dead_lettered_and_its_neighbours_stored(
    ingest_database: str, topic: str, name: str, first: bool
) -> None:
    poison, reason, truncated = POISON[name]
    records = [poison, good(1)] if first else [good(1), poison, good(2)]
    offset = records.index(poison)
    headers = [(REASON, b"spoofed"), ("trace", b"t-1")]
    with running_worker(worker_settings(ingest_database, topic)) as worker:
        sent = produce(topic, [(b"k", value) for value in records], partition=0,
                       headers=headers if name == "spoofed-reason" else None)
        wait_consumed(worker, end_offsets(topic))
        sent += produce(topic, [(b"k", good(4))], partition=0)  # the partition moves on
        wait_consumed(worker, end_offsets(topic))
        assert worker.rejected == 1
    with psycopg.connect(ingest_database) as connection:
        assert database_totals(connection) == expected_totals(sent)
    assert committed(ingest_database, topic) == len(sent)
    (letter,) = dead_letters(topic, 1)
    named = dict(letter.headers)
    assert letter.headers[0] == (REASON, reason.encode())
    assert int(named[SOURCE_OFFSET]) == offset
    assert len(named["simusage-detail"]) <= 300
    if truncated:
        assert poison.startswith(letter.value) and len(letter.value) > 900_000
        assert named[ORIGINAL_LENGTH] == str(len(poison)).encode()
        assert named[ORIGINAL_SHA256] == hashlib.sha256(poison).hexdigest().encode()
        assert named[TRUNCATED].startswith(b"value:")
    else:
        assert letter.value == poison
    if name == "spoofed-reason":
        assert [v for k, v in letter.headers if k == REASON] == [b"not-json"]
        assert (f"original-{REASON}", b"spoofed") in letter.headers and ("trace", b"t-1") in letter.headers


@pytest.mark.slow
def test_kill_9_while_poison_records_are_dead_lettered(ingest_database: str, topic: str, worker_processes) -> None:
    """Poison records, large ones among them, all through the stream; the worker is killed
    twice mid-way: every good record once, every poison record dead-lettered."""
    events = reference_runs(2)
    rng = random.Random(16)
    poison = [value for value, _, _ in POISON.values()]
    for index in sorted(rng.sample(range(len(events)), 40), reverse=True):
        events.insert(index, (b"k", poison[index % len(poison)]))
    sent = produce(topic, events)
    settings = worker_settings(ingest_database, topic, SIMUSAGE_BATCH_SIZE="3000")
    for share in (4, 2):
        worker = worker_processes(settings)
        wait_for(lambda s=share: committed(ingest_database, topic) >= len(sent) // s, 90, "progress")
        worker.signal(signal.SIGKILL)
        worker.wait()
    last = worker_processes(settings)
    wait_for(lambda: committed(ingest_database, topic) == len(sent), 120, "all ingested")
    assert last.stop() == 0
    assert_exact(ingest_database, topic, sent)
