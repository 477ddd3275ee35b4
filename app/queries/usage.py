"""The SQL of usage series: pages of buckets, totals and counts, batched over many keys.

Every statement reads the hourly or daily aggregates, never the raw `usage` rows. They are
rollup tables (postgres mode) or continuous aggregates (timescaledb mode) with the same
columns, so one statement serves both modes. Statements are composed once, at import, from
fixed identifiers (psycopg.sql), and take every value as a parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg import sql

from app.database import Database

from simusage.storage import (  # noqa: F401 - re-exported: the API's names for them
    DAILY,
    DAY_SECONDS,
    HOUR_SECONDS,
    HOURLY,
    KEY_COLUMNS,
    ORGANIZATION,
    RELATIONS,
    SIM_CARD,
)

# Every bucket of the keys in [lower, upper): a dense page, whose zeros are filled in Python.
PAGE = """
    SELECT {key}, bucket, bytes_used, event_count
    FROM {relation}
    WHERE {key} = ANY(%s) AND bucket >= %s AND bucket < %s
    ORDER BY {key}, bucket
"""

# The first (or last) `limit` non-empty buckets of each key in [lower, upper): a skipEmpty
# page. LATERAL gives each key its own limit in one statement.
SPARSE_PAGE = """
    SELECT keys.id, page.bucket, page.bytes_used, page.event_count
    FROM unnest(%s::text[]) WITH ORDINALITY AS keys (id, position)
    CROSS JOIN LATERAL (
        SELECT bucket, bytes_used, event_count
        FROM {relation}
        WHERE {key} = keys.id AND bucket >= %s AND bucket < %s AND event_count > 0
        ORDER BY bucket {direction}
        LIMIT %s
    ) AS page
    ORDER BY keys.position, page.bucket {direction}
"""

# Exact totals over [start, end): whole days from the daily aggregate (one row per day),
# the ragged hours at either end from the hourly one.
TOTALS = """
    SELECT id, sum(bytes_used)::bigint, sum(event_count)::bigint
    FROM (
        SELECT {key} AS id, bytes_used, event_count FROM {daily}
        WHERE {key} = ANY(%(keys)s) AND bucket >= %(days_start)s AND bucket < %(days_end)s
        UNION ALL
        SELECT {key}, bytes_used, event_count FROM {hourly}
        WHERE {key} = ANY(%(keys)s) AND bucket >= %(start)s AND bucket < %(days_start)s
        UNION ALL
        SELECT {key}, bytes_used, event_count FROM {hourly}
        WHERE {key} = ANY(%(keys)s) AND bucket >= %(days_end)s AND bucket < %(end)s
    ) AS parts
    GROUP BY id
"""

# Non-empty buckets in [start, end), and how many lie before lower and from upper on: the
# skipEmpty totalCount and the page flags for the direction not being paged.
COUNTS = """
    SELECT {key}, count(*),
           count(*) FILTER (WHERE bucket < %(lower)s),
           count(*) FILTER (WHERE bucket >= %(upper)s)
    FROM {relation}
    WHERE {key} = ANY(%(keys)s) AND bucket >= %(start)s AND bucket < %(end)s
      AND event_count > 0
    GROUP BY {key}
"""


def _compose(template: str, **identifiers: str) -> str:
    parts = {name: sql.Identifier(value) for name, value in identifiers.items()}
    return sql.SQL(template).format(**parts).as_string()


def _composed_per_relation(template: str) -> dict[tuple[str, str], str]:
    return {
        (subject, granularity): _compose(template, key=KEY_COLUMNS[subject], relation=relation)
        for (subject, granularity), relation in RELATIONS.items()
    }


PAGE_STATEMENTS = _composed_per_relation(PAGE)
COUNT_STATEMENTS = _composed_per_relation(COUNTS)
SPARSE_PAGE_STATEMENTS = {
    (subject, granularity, backward): sql.SQL(SPARSE_PAGE).format(
        key=sql.Identifier(KEY_COLUMNS[subject]),
        relation=sql.Identifier(relation),
        direction=sql.SQL("DESC" if backward else "ASC"),
    ).as_string()
    for (subject, granularity), relation in RELATIONS.items()
    for backward in (False, True)
}
TOTALS_STATEMENTS = {
    subject: _compose(
        TOTALS, key=KEY_COLUMNS[subject],
        daily=RELATIONS[subject, DAILY], hourly=RELATIONS[subject, HOURLY],
    )
    for subject in KEY_COLUMNS
}


@dataclass(frozen=True)
class Bucket:
    """One aggregate row: bucket start in epoch seconds, bytes and events."""

    start: int
    bytes_used: int
    event_count: int


@functools.lru_cache(maxsize=65536)
def utc(epoch_seconds: int) -> datetime:
    """The UTC datetime of an epoch second (datetimes are immutable: shared between requests)."""
    return datetime.fromtimestamp(epoch_seconds, UTC)


def whole_days(start: int, end: int) -> tuple[int, int]:
    """The UTC days wholly inside [start, end), as [days_start, days_end); empty at end."""
    days_start = -(-start // DAY_SECONDS) * DAY_SECONDS
    days_end = end // DAY_SECONDS * DAY_SECONDS
    if days_start >= days_end:
        return end, end
    return days_start, days_end


def _pages(rows, keys: Sequence[str]) -> dict[str, list[Bucket]]:
    pages: dict[str, list[Bucket]] = {key: [] for key in keys}
    for key, bucket, bytes_used, event_count in rows:
        pages[key].append(Bucket(int(bucket.timestamp()), bytes_used, event_count))
    return pages


async def fetch_pages(
    database: Database, subject: str, granularity: str, keys: Sequence[str], lower: int, upper: int
) -> dict[str, list[Bucket]]:
    """Every stored bucket of each key in [lower, upper), in time order."""
    rows = await database.fetch_all(
        PAGE_STATEMENTS[subject, granularity], (list(keys), utc(lower), utc(upper))
    )
    return _pages(rows, keys)


async def fetch_sparse_pages(
    database: Database, subject: str, granularity: str, keys: Sequence[str],
    lower: int, upper: int, limit: int, backward: bool,
) -> dict[str, list[Bucket]]:
    """Up to limit non-empty buckets of each key in [lower, upper), nearest to lower
    (or to upper when backward) first."""
    rows = await database.fetch_all(
        SPARSE_PAGE_STATEMENTS[subject, granularity, backward],
        (list(keys), utc(lower), utc(upper), limit),
    )
    return _pages(rows, keys)


async def fetch_totals(
    database: Database, subject: str, keys: Sequence[str], start: int, end: int
) -> dict[str, tuple[int, int]]:
    """(bytes, events) of each key over [start, end); keys without usage get (0, 0)."""
    days_start, days_end = whole_days(start, end)
    rows = await database.fetch_all(
        TOTALS_STATEMENTS[subject],
        {
            "keys": list(keys), "start": utc(start), "end": utc(end),
            "days_start": utc(days_start), "days_end": utc(days_end),
        },
    )
    totals = {key: (0, 0) for key in keys}
    for key, bytes_used, event_count in rows:
        totals[key] = (bytes_used, event_count)
    return totals


async def fetch_counts(
    database: Database, subject: str, granularity: str, keys: Sequence[str],
    start: int, end: int, lower: int, upper: int,
) -> dict[str, tuple[int, int, int]]:
    """(non-empty buckets in [start, end), of them before lower, of them from upper on)."""
    rows = await database.fetch_all(
        COUNT_STATEMENTS[subject, granularity],
        {
            "keys": list(keys), "start": utc(start), "end": utc(end),
            "lower": utc(lower), "upper": utc(upper),
        },
    )
    counts = {key: (0, 0, 0) for key in keys}
    for key, total, before_lower, from_upper in rows:
        counts[key] = (total, before_lower, from_upper)
    return counts
