"""The worker's half of the change feed: NOTIFY what a write changed, in its transaction.

PostgreSQL delivers a notification when (and only if) the transaction that sent it commits, in
commit order: a listener hears of a change only once it can read it. The messages are in
simusage/change_feed.py.
"""

from __future__ import annotations

import psycopg

from ingest.encoding import BatchWrite
from simusage.change_feed import CHANNEL, EVERYTHING_PAYLOAD, range_payloads, subject_payloads

# One statement for all of a write's messages; unnest keeps their order.
PUBLISH = "SELECT count(pg_notify(%s, payload)) FROM unnest(%s::text[]) AS payload"


def publish(connection: psycopg.Connection, payloads: list[str]) -> None:
    """Send the messages, in the caller's transaction (delivered at its commit)."""
    if payloads:
        connection.execute(PUBLISH, (CHANNEL, payloads))


def publish_batch(connection: psycopg.Connection, write: BatchWrite, invisible: set[int]) -> None:
    """The batch's changed hours, but those its commit does not make visible (late hours of
    TimescaleDB mode, published by the refresh that shows them)."""
    cards, organizations = write.changed_cards, write.changed_organizations
    if invisible:
        cards = {key: hours - invisible for key, hours in cards.items()}
        organizations = {key: hours - invisible for key, hours in organizations.items()}
    publish(connection, subject_payloads(cards, organizations, bool(write.new_sims)))


def publish_ranges(connection: psycopg.Connection, ranges: list[tuple[int, int]]) -> None:
    """Every subject's hours in these [start, end) ranges (refreshed aggregates)."""
    publish(connection, range_payloads(ranges))


def publish_everything(connection: psycopg.Connection) -> None:
    """Anything may have changed: listeners forget all they keep (ownership, inventory)."""
    publish(connection, [EVERYTHING_PAYLOAD])
