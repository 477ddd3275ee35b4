"""Test data written straight into the tables the API reads (not through the ingest worker).

Raw rows go into `usage`; the read relations follow: in postgres mode the rollup tables are
recomputed from every raw row by one GROUP BY per table, in timescaledb mode the continuous
aggregates are refreshed. Either way the API sees what ingest would have produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from ingest.change_publisher import publish_everything

# A card owned "since the beginning" (the migration's history of the inventory as it was).
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

INSERT_INVENTORY = """
    INSERT INTO inventory (sim_card_id, organization_id) VALUES (%s, %s)
    ON CONFLICT (sim_card_id) DO UPDATE SET organization_id = EXCLUDED.organization_id
"""
DELETE_PERIODS = "DELETE FROM ownership WHERE sim_card_id = %s"
INSERT_PERIOD = """
    INSERT INTO ownership (sim_card_id, organization_id, valid_from, valid_to) VALUES (%s, %s, %s, %s)
"""
# The organization is the card's owner at the event's time, as the ingest worker attributes
# it. Arrays make thousands of events one statement (PGlite has no COPY FROM STDIN).
INSERT_USAGE = """
    INSERT INTO usage (time, sim_card_id, organization_id, bytes_used)
    SELECT events.time, events.sim_card_id, ownership.organization_id, events.bytes_used
    FROM unnest(%s::timestamptz[], %s::text[], %s::bigint[]) AS events (time, sim_card_id, bytes_used)
    LEFT JOIN ownership ON ownership.sim_card_id = events.sim_card_id
        AND ownership.valid_from <= events.time
        AND (ownership.valid_to IS NULL OR events.time < ownership.valid_to)
"""
INSERT_SEEN = """
    INSERT INTO sim_card_seen (sim_card_id)
    SELECT DISTINCT sim_card_id FROM usage
    ON CONFLICT (sim_card_id) DO NOTHING
"""

# The per-card rollups keep the attribution, '' for no organization; the organizations' only
# have the attributed usage.
CARD_ROLLUP = """
    INSERT INTO {table} (bucket, sim_card_id, organization_id, bytes_used, event_count)
    SELECT date_trunc('{unit}', time, 'UTC'), sim_card_id, coalesce(organization_id, ''),
           sum(bytes_used), count(*)
    FROM usage GROUP BY 1, 2, 3
"""
ORGANIZATION_ROLLUP = """
    INSERT INTO {table} (bucket, organization_id, bytes_used, event_count)
    SELECT date_trunc('{unit}', time, 'UTC'), organization_id, sum(bytes_used), count(*)
    FROM usage WHERE organization_id IS NOT NULL GROUP BY 1, 2
"""
ROLLUPS = {
    "usage_sim_card_hourly": (CARD_ROLLUP, "hour"),
    "usage_sim_card_daily": (CARD_ROLLUP, "day"),
    "usage_organization_hourly": (ORGANIZATION_ROLLUP, "hour"),
    "usage_organization_daily": (ORGANIZATION_ROLLUP, "day"),
    "usage_sim_card_monthly": (CARD_ROLLUP, "month"),
}

# A card's history: (valid_from, organization) oldest first, each until the next, the last open.
History = Sequence[tuple[datetime, str]]


def rebuild_rollups(connection: psycopg.Connection) -> None:
    """Recompute the five postgres-mode rollup tables from every raw row."""
    for table, (statement, unit) in ROLLUPS.items():
        connection.execute(f"DELETE FROM {table}")
        connection.execute(statement.format(table=table, unit=unit))


def write_history(cursor: psycopg.Cursor, sim_card_id: str, history: History) -> None:
    """Replace the card's periods by history, and make its last owner the inventory's."""
    cursor.execute(DELETE_PERIODS, (sim_card_id,))
    ends = [valid_from for valid_from, _ in history[1:]] + [None]
    for (valid_from, organization_id), valid_to in zip(history, ends, strict=True):
        cursor.execute(INSERT_PERIOD, (sim_card_id, organization_id, valid_from, valid_to))
    cursor.execute(INSERT_INVENTORY, (sim_card_id, history[-1][1]))


def refresh_aggregates(url: str) -> None:
    """Refresh the timescaledb-mode continuous aggregates over all time (hourly first)."""
    with psycopg.connect(url, autocommit=True) as connection:
        for view in (
            "usage_sim_card_hourly", "usage_organization_hourly",
            "usage_sim_card_daily", "usage_organization_daily", "usage_sim_card_monthly",
        ):
            connection.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")


def storage_mode(url: str) -> str:
    """The storage mode the database was migrated in."""
    with psycopg.connect(url) as connection:
        return connection.execute("SELECT mode FROM simusage_storage").fetchone()[0]


def load(
    url: str,
    inventory: Mapping[str, str] = {},
    events: Iterable[tuple[datetime, str, int]] = (),
    ownership: Mapping[str, History] = {},
) -> None:
    """Add inventory cards (each owned by its organization since the beginning), cards with an
    ownership history, and usage events, then bring the read relations up to date."""
    mode = storage_mode(url)
    histories = {card: [(BEGINNING, organization_id)] for card, organization_id in inventory.items()}
    histories.update(ownership)
    with psycopg.connect(url) as connection:
        with connection.cursor() as cursor:
            for sim_card_id, history in histories.items():
                write_history(cursor, sim_card_id, history)
            events = list(events)
            if events:
                times, cards, sizes = (list(column) for column in zip(*events, strict=True))
                cursor.execute(INSERT_USAGE, (times, cards, sizes))
            cursor.execute(INSERT_SEEN)
        if mode == "postgres":
            rebuild_rollups(connection)
            publish_everything(connection)  # as every writer does: cached answers are stale
    if mode == "timescaledb":
        refresh_aggregates(url)


def raw_sum(url: str, column: str, key: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(bytes, events) straight from the raw rows: the truth the aggregates must match."""
    assert column in ("sim_card_id", "organization_id")
    with psycopg.connect(url) as connection:
        row = connection.execute(
            f"SELECT coalesce(sum(bytes_used), 0), count(*) FROM usage "
            f"WHERE {column} = %s AND time >= %s AND time < %s",
            (key, start, end),
        ).fetchone()
    return int(row[0]), int(row[1])


# The reference inventory of ../shared/data/inventory.json; 89440015 is missing from it.
REFERENCE_INVENTORY = {
    **{f"894400{n:02}": "a01b7" for n in range(1, 6)},
    **{f"894400{n:02}": "x00g8" for n in range(6, 11)},
    **{f"894400{n:02}": "f00ff" for n in (11, 12, 13, 14, 16)},
}
REFERENCE_CARDS = [f"894400{n:02}" for n in range(1, 17)]


def known_events() -> list[tuple[datetime, str, int]]:
    """A known data set shaped like the reference producer's, without its randomness.

    One event a minute from 2022-02-09T00:00Z to 2022-02-13T23:59Z (7,200 events), on the
    16 cards in a fixed rotation, bytes (i * 7919 + 13) mod 4097: every hour of every card
    has a known, distinct total.
    """
    start = datetime(2022, 2, 9, tzinfo=UTC)
    return [
        (start + timedelta(minutes=i), REFERENCE_CARDS[i * 7 % 16], (i * 7919 + 13) % 4097)
        for i in range(5 * 24 * 60)
    ]
