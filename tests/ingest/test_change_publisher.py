"""The worker's change feed on the real server: sent with the batch's commit, never without it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingest.encoding import RowEncoder, prepare
from ingest.aggregate_refresh import refresh_pending
from ingest.writer import copy_works, prepare_connection, write_batch
from simusage.change_feed import CHANNEL, parse_payload
from tests.ingest.helpers import OWNERS, batch_of, constant_owners, value
from tests.ingest.test_writer import write


def _received(listener: psycopg.Connection) -> list:
    return [parse_payload(notify.payload) for notify in listener.notifies(timeout=0.5)]


@contextmanager
def listening(url: str) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """A connection listening to the change feed, and one to write batches with."""
    with psycopg.connect(url, autocommit=True) as listener, \
            psycopg.connect(url, autocommit=True) as writer:
        listener.execute(f"LISTEN {CHANNEL}")
        prepare_connection(writer, "postgres")
        yield listener, writer


def _prepared(values: list[bytes], start: int = 0):
    batch = batch_of(values, start=start)
    return prepare(batch, batch.cards(), RowEncoder(constant_owners(OWNERS)), set(),
                   mode="postgres", use_copy=True)


def test_a_batch_publishes_its_cards_organizations_and_hours_at_commit(postgres_database: str) -> None:
    values = [value("89440001", 10, "2020-02-01T00:10:00Z"), value("89440001", 5, "2020-02-01T03:00:00Z"),
              value("89440015", 7, "2020-02-01T00:30:00Z")]  # 89440015: in no inventory
    hour = int(datetime(2020, 2, 1, tzinfo=UTC).timestamp()) // 3600
    with listening(postgres_database) as (listener, writer):
        with writer.transaction():
            write_batch(writer, "t", _prepared(values), mode="postgres")
            assert _received(listener) == []  # nothing before the commit
        (change,) = _received(listener)
        assert change.cards == {"89440001": {hour, hour + 3}, "89440015": {hour}}
        assert change.organizations == {OWNERS["89440001"]: {hour, hour + 3}}
        assert change.new_cards and not change.everything


def test_a_batch_rolled_back_publishes_nothing(postgres_database: str) -> None:
    with listening(postgres_database) as (listener, writer):
        try:
            with writer.transaction():
                write_batch(writer, "t", _prepared([value("89440001", 1, "2020-02-01T00:00:00Z")]),
                            mode="postgres")
                raise RuntimeError("crash before the commit")
        except RuntimeError:
            pass
        assert _received(listener) == []


def test_a_large_batch_is_split_into_messages_the_server_takes(postgres_database: str) -> None:
    values = [value(f"8944{index:06d}", 1, f"2020-02-{1 + index % 28:02d}T{index % 24:02d}:00:00Z")
              for index in range(3_000)]
    with listening(postgres_database) as (listener, writer):
        with writer.transaction():
            write_batch(writer, "t", _prepared(values), mode="postgres")
        changes = _received(listener)
        assert len(changes) > 1
        cards = {key for change in changes for key in change.cards}
        assert cards == {f"8944{index:06d}" for index in range(3_000)}


@pytest.mark.timescaledb
def test_late_hours_are_published_by_the_refresh_that_shows_them(timescaledb_database: str) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    on_time, late = now - timedelta(hours=1), datetime(2020, 2, 1, 10, 15, tzinfo=UTC)
    hour_of = lambda moment: int(moment.timestamp()) // 3600  # noqa: E731
    # PGlite serves one connection: the writer listens itself (a session hears its own NOTIFY).
    with psycopg.connect(timescaledb_database, autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        use_copy = copy_works(connection)
        write(connection, batch_of([value("89440001", 1, now - timedelta(days=2))]),
              mode="timescaledb", use_copy=use_copy)
        connection.execute("CALL refresh_continuous_aggregate('usage_sim_card_hourly', NULL, %s)",
                           (now - timedelta(hours=3),))
        _received(connection)
        write(connection, batch_of([value("89440001", 5, on_time), value("89440002", 6, late)],
                                   start=1), mode="timescaledb", use_copy=use_copy)
        (change,) = _received(connection)
        assert change.cards == {"89440001": {hour_of(on_time)}}  # the late hour is not visible yet
        refresh_pending(connection)
        (refreshed,) = _received(connection)
        assert any(start <= hour_of(late) < end for start, end in refreshed.ranges)

