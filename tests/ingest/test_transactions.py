"""Records of transactional producers: committed ones are stored, aborted ones never (issue 17)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from kafka import KafkaProducer

from tests.conftest import KAFKA
from tests.ingest.conftest import (
    committed, end_offsets, produce, running_worker, wait_consumed, worker_settings,
)
from tests.ingest.helpers import database_totals, expected_totals

pytestmark = pytest.mark.kafka


def event(card: int, used: int) -> bytes:
    return b'{"sim-card-id": "8944000%d", "bytes-used": %d, "date": "2020-02-01T10:15:00Z"}' % (card, used)


def test_aborted_transactions_are_skipped_and_committed_ones_stored(ingest_database: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=KAFKA, transactional_id=f"test-{uuid.uuid4().hex[:8]}")
    producer.init_transactions()
    stored: list[bytes] = []
    with running_worker(worker_settings(ingest_database, topic)) as worker:
        for round_number in range(4):
            for partition in (0, 1):
                stored += produce(topic, [(b"k", event(1, 1000 + round_number))], partition=partition)
                producer.begin_transaction()
                values = [event(2, 7 + n) for n in range(50)]
                for value in values:
                    producer.send(topic, key=b"k", value=value, partition=partition)
                producer.flush()
                if round_number % 2:
                    producer.commit_transaction()
                    stored += values
                else:
                    producer.abort_transaction()
        producer.close()
        stored += produce(topic, [(b"k", event(3, 5))], partition=0)  # after the last marker
        ends = end_offsets(topic)
        wait_consumed(worker, ends)
        assert worker.rejected == 0
    with psycopg.connect(ingest_database) as connection:
        assert database_totals(connection) == expected_totals(stored)
    assert committed(ingest_database, topic) == sum(ends.values())
