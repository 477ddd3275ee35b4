"""The worker end to end on the real broker and PostgreSQL: exact totals, dead letters, restarts."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import psycopg
import pytest

from ingest import metrics
from ingest.dead_letters import REASON, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC
from ingest.events import Event, parse_event
from ingest.producer import REFERENCE_EVENTS, reference_events
from simusage.settings import Settings
from tests.ingest.conftest import (
    committed, dead_letters, end_offsets, produce, running_worker, wait_consumed,
    wait_for, worker_settings,
)
from tests.ingest.helpers import database_totals, expected_totals, raw_totals, usage_rows

pytestmark = pytest.mark.kafka


def totals(url: str) -> dict:
    with psycopg.connect(url) as connection:
        return database_totals(connection)


def headers_of(record) -> dict[str, bytes]:
    return dict(record.headers)


def test_the_reference_run(ingest_database: str, topic: str) -> None:
    sent = produce(topic, reference_events())
    assert len(sent) == REFERENCE_EVENTS
    unknown_before = metrics.UNKNOWN_CARD._value.get()  # noqa: SLF001
    with running_worker(worker_settings(ingest_database, topic)) as worker:
        wait_consumed(worker, end_offsets(topic))
    assert totals(ingest_database) == expected_totals(sent)
    letters = dead_letters(topic, 1440)
    assert len(letters) == 1440
    assert {headers_of(r)[REASON] for r in letters} == {b"date-invalid"}
    assert all(b"2020-02-00T" in r.value for r in letters)
    assert sorted(r.value for r in letters) == sorted(v for v in sent if b"2020-02-00T" in v)
    assert (worker.rows, worker.rejected) == (REFERENCE_EVENTS - 1440, 1440)
    with psycopg.connect(ingest_database) as connection:
        # 89440015 is not in the inventory: its usage is there, with no organization.
        unknown = connection.execute(
            "SELECT count(*) FROM usage WHERE sim_card_id = '89440015' AND organization_id IS NULL"
        ).fetchone()[0]
        assert unknown > 0
        assert connection.execute("SELECT count(*) FROM usage WHERE organization_id IS NULL").fetchone()[0] == unknown
    assert metrics.UNKNOWN_CARD._value.get() - unknown_before == unknown  # noqa: SLF001


BAD_RECORDS = [
    (b"not json", "not-json"),
    (b"", "not-json"),
    (None, "no-value"),
    (b"[1, 2, 3]", "not-object"),
    (b'"89440001"', "not-object"),
    (b'{"bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-missing"),
    (b'{"sim-card-id": "", "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-invalid"),
    (b'{"sim-card-id": 89440001, "bytes-used": 1, "date": "2020-02-01T00:00:00Z"}', "sim-card-id-invalid"),
    (b'{"sim-card-id": "89440001", "date": "2020-02-01T00:00:00Z"}', "bytes-used-missing"),
    (b'{"sim-card-id": "89440001", "bytes-used": -5, "date": "2020-02-01T00:00:00Z"}', "bytes-used-out-of-range"),
    (b'{"sim-card-id": "89440001", "bytes-used": 1.5, "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "89440001", "bytes-used": "1e3", "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "89440001", "bytes-used": true, "date": "2020-02-01T00:00:00Z"}', "bytes-used-invalid"),
    (b'{"sim-card-id": "89440001", "bytes-used": 2000000000000, "date": "2020-02-01T00:00:00Z"}',
     "bytes-used-out-of-range"),
    (b'{"sim-card-id": "89440001", "bytes-used": 1}', "date-missing"),
    (b'{"sim-card-id": "89440001", "bytes-used": 1, "date": "2020-02-00T10:15:00Z"}', "date-invalid"),
    (b'{"sim-card-id": "89440001", "bytes-used": 1, "date": "2020-02-30T10:15:00Z"}', "date-invalid"),
    (b'{"sim-card-id": "89440001", "bytes-used": 1, "date": "2020-02-01T10:15:00"}', "date-no-timezone"),
    (b'{"sim-card-id": "89440001", "bytes-used": 1, "date": "1900-02-01T10:15:00Z"}', "date-out-of-range"),
]
GOOD = b'{"sim-card-id": "89440001", "bytes-used": 100, "date": "2020-02-01T10:15:00Z"}'


def test_bad_records_go_to_the_dead_letter_topic_and_change_nothing_else(ingest_database: str, topic: str) -> None:
    good = produce(topic, [(b"89440001", GOOD)] * 3, partition=0)
    settings = worker_settings(ingest_database, topic)
    with running_worker(settings) as worker:
        wait_consumed(worker, end_offsets(topic))
        before = totals(ingest_database)
        with psycopg.connect(ingest_database) as connection:
            rows_before = usage_rows(connection)
        produce(topic, [(f"key-{i}".encode(), bad) for i, (bad, _) in enumerate(BAD_RECORDS)], partition=1)
        wait_consumed(worker, end_offsets(topic))
    assert len(BAD_RECORDS) >= 15
    assert before == totals(ingest_database) == expected_totals(good)
    with psycopg.connect(ingest_database) as connection:
        assert usage_rows(connection) == rows_before
        assert connection.execute(
            "SELECT partition, next_offset FROM kafka_offset WHERE topic = %s ORDER BY 1", (topic,)
        ).fetchall() == [(0, 3), (1, len(BAD_RECORDS))]
    letters = dead_letters(topic, len(BAD_RECORDS))
    assert len(letters) == len(BAD_RECORDS)
    by_offset = {int(headers_of(r)[SOURCE_OFFSET]): r for r in letters}
    for offset, (bad, reason) in enumerate(BAD_RECORDS):
        letter = by_offset[offset]
        assert letter.value == bad and letter.key == f"key-{offset}".encode()
        headers = headers_of(letter)
        assert headers[REASON].decode() == reason
        assert headers[SOURCE_TOPIC].decode() == topic and headers[SOURCE_PARTITION] == b"1"
        assert headers["simusage-detail"]


def reference_runs(count: int) -> list[tuple[bytes, bytes]]:
    return [pair for run in range(count) for pair in reference_events(seed=run)]


def assert_exact(url: str, topic: str, sent: list[bytes]) -> None:
    assert totals(url) == expected_totals(sent)
    with psycopg.connect(url) as connection:
        assert raw_totals(connection) == expected_totals(sent)
    valid = sum(1 for v in sent if isinstance(parse_event(v), Event))
    letters = dead_letters(topic, len(sent) - valid)
    sources = Counter((headers_of(r)[SOURCE_PARTITION], headers_of(r)[SOURCE_OFFSET]) for r in letters)
    assert len(sources) == len(sent) - valid  # every rejected record, maybe more than once


@pytest.mark.slow
def test_kill_9_mid_ingest_and_restart_gives_exact_totals(ingest_database: str, topic: str, worker_processes) -> None:
    sent = produce(topic, reference_runs(3))
    defaults = Settings.model_fields  # the session timeout and heartbeat a deployment gets
    settings = worker_settings(
        ingest_database, topic, SIMUSAGE_BATCH_SIZE="2000",
        SIMUSAGE_SESSION_TIMEOUT_MS=str(defaults["session_timeout_ms"].default),
        SIMUSAGE_HEARTBEAT_INTERVAL_MS=str(defaults["heartbeat_interval_ms"].default),
    )
    first = worker_processes(settings)
    wait_for(lambda: committed(ingest_database, topic) >= len(sent) // 4, 60, "a quarter ingested")
    first.signal(signal.SIGKILL)
    killed = time.monotonic()
    assert first.wait() == -signal.SIGKILL
    assert committed(ingest_database, topic) < len(sent)
    second = worker_processes(settings)
    wait_for(lambda: second.assignments() and second.assignments()[-1] == "[0, 1, 2, 3]", 30,
             "the partitions handed on")
    assert time.monotonic() - killed < 15  # the dead worker's session timed out in time
    wait_for(lambda: committed(ingest_database, topic) == len(sent), 90, "all ingested after restart")
    assert second.stop() == 0
    assert_exact(ingest_database, topic, sent)


@pytest.mark.slow
def test_two_workers_and_rebalances_give_exact_totals(ingest_database: str, topic: str, worker_processes) -> None:
    events = reference_runs(3)
    sent = produce(topic, events[: len(events) // 3])
    settings = worker_settings(ingest_database, topic, SIMUSAGE_BATCH_SIZE="500")
    first = worker_processes(settings)
    wait_for(lambda: committed(ingest_database, topic) >= len(sent) // 2, 60, "a sixth ingested")
    # The rest arrives while the second worker joins, so the group rebalances mid-ingest
    # however fast the first worker is.
    rest = events[len(events) // 3:]

    def trickle() -> None:
        for start in range(0, len(rest), 4000):
            produce(topic, rest[start:start + 4000])
            time.sleep(0.3)

    producing = threading.Thread(target=trickle)
    producing.start()
    second = worker_processes(settings)
    wait_for(lambda: any(a != "[]" for a in second.assignments()), 30, "the second worker's share")
    assert committed(ingest_database, topic) < len(events), "the rebalance came after the ingest"
    producing.join()
    sent += [value for _, value in rest]
    assert len(first.assignments()) >= 2 and first.assignments()[-1] != "[0, 1, 2, 3]"
    wait_for(lambda: committed(ingest_database, topic) >= len(sent) * 2 // 3, 60, "two thirds ingested")
    assert first.stop() == 0  # SIGTERM: leaves the group at once, the second takes everything
    wait_for(lambda: second.assignments()[-1] == "[0, 1, 2, 3]", 15, "the second worker to take over")
    wait_for(lambda: committed(ingest_database, topic) == len(sent), 90, "all ingested")
    assert second.stop() == 0
    assert_exact(ingest_database, topic, sent)


def test_records_at_the_end_of_the_log_commit_without_waiting_for_the_batch_to_fill(
    ingest_database: str, topic: str
) -> None:
    """A batch waits to fill only while there is more to read: once the worker has read all
    there is, its records commit at once, not a batch wait later."""
    settings = worker_settings(ingest_database, topic, SIMUSAGE_BATCH_WAIT_MS="60000")
    with running_worker(settings) as worker:
        sent = produce(topic, [(b"89440001", GOOD)] * 5, partition=2)
        wait_consumed(worker, end_offsets(topic), timeout=20)  # a third of the batch wait
        sent += produce(topic, [(b"89440001", GOOD)] * 3, partition=3)
        wait_consumed(worker, end_offsets(topic), timeout=20)
    assert totals(ingest_database) == expected_totals(sent)
