"""A running worker and changes of ownership: no batch commits with a superseded history."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.inventory import change_owners
from ingest.reattribution import run_pending
from tests.ingest.conftest import end_offsets, produce, running_worker, wait_consumed, worker_settings
from tests.ingest.helpers import database_totals, raw_totals, value

pytestmark = pytest.mark.kafka

CARD = "99990001"


def organizations_by_bytes(url: str) -> dict[int, str | None]:
    """bytes_used (the event's sequence number) -> organization of its row."""
    with psycopg.connect(url) as connection:
        return dict(connection.execute(
            "SELECT bytes_used, organization_id FROM usage WHERE sim_card_id = %s", (CARD,)))


def test_a_card_new_to_the_inventory_is_attributed_at_once_and_its_past_afterwards(
    ingest_database: str, topic: str
) -> None:
    settings = worker_settings(ingest_database, topic)
    event = value(CARD, 1, "2020-02-01T10:15:00Z")
    with running_worker(settings) as worker:
        produce(topic, [(b"k", event)], partition=0)
        wait_consumed(worker, end_offsets(topic))
        with psycopg.connect(ingest_database) as connection:
            change_owners(connection, {CARD: "org-new"}, None, datetime.now(UTC))
        produce(topic, [(b"k", value(CARD, 2, "2020-02-01T10:16:00Z"))], partition=0)
        wait_consumed(worker, end_offsets(topic))
        # No 60 s cache: the batch after the change carries the new owner...
        assert organizations_by_bytes(ingest_database) == {1: None, 2: "org-new"}
    with psycopg.connect(ingest_database, autocommit=True) as connection:
        run_pending(connection)
        # ...and the card's whole past becomes its organization's.
        assert organizations_by_bytes(ingest_database) == {1: "org-new", 2: "org-new"}
        assert database_totals(connection) == raw_totals(connection)


def test_a_move_while_events_stream_never_commits_a_superseded_owner(
    ingest_database: str, topic: str
) -> None:
    settings = worker_settings(ingest_database, topic, SIMUSAGE_BATCH_SIZE="50", SIMUSAGE_BATCH_WAIT_MS="20")
    moved_at = datetime(2024, 1, 1, tzinfo=UTC)
    with psycopg.connect(ingest_database) as connection:
        change_owners(connection, {CARD: "org-old"}, None, datetime.now(UTC))
    total, stop = 4000, threading.Event()
    # Every event is dated after the move: once the move is committed, each batch committed
    # after it must give them to org-new, whenever they were read.
    events = [(b"k", value(CARD, n, moved_at + timedelta(seconds=n))) for n in range(total)]

    def stream() -> None:
        for start in range(0, total, 100):
            if stop.is_set():
                return
            produce(topic, events[start:start + 100], partition=0)

    with running_worker(settings) as worker:
        producer = threading.Thread(target=stream)
        producer.start()
        with psycopg.connect(ingest_database) as connection:
            while connection.execute("SELECT coalesce(sum(next_offset), 0) FROM kafka_offset").fetchone()[0] < 500:
                threading.Event().wait(0.02)
            with connection.transaction():
                change_owners(connection, {CARD: "org-new"}, moved_at, datetime.now(UTC))
                # The change holds the version's lock: exactly these offsets committed before.
                before = connection.execute(
                    "SELECT next_offset FROM kafka_offset WHERE partition = 0").fetchone()[0]
        producer.join()
        wait_consumed(worker, end_offsets(topic), timeout=120)
    assert 500 <= before < total, "the move came in the middle of the stream"
    owners = organizations_by_bytes(ingest_database)
    assert len(owners) == total
    assert {owners[n] for n in range(before)} == {"org-old"}  # to be re-attributed
    assert {owners[n] for n in range(before, total)} == {"org-new"}
    with psycopg.connect(ingest_database, autocommit=True) as connection:
        run_pending(connection)
        assert set(organizations_by_bytes(ingest_database).values()) == {"org-new"}
        assert database_totals(connection) == raw_totals(connection)
