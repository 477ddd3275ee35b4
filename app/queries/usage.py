"""The SQL of usage series: pages of buckets, totals and counts, batched over many keys.

The statements are in app/queries/usage_statements.py: every organization's usage of a key,
or (SCOPED_) one organization's usage of a card, attributed by the time of each event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.calendar import MONTHLY, UTC_ZONE
from app.database import Database
from app.interval_parts import whole_days
from app.queries.calendar_statements import (
    CALENDAR_COUNT_STATEMENTS,
    CALENDAR_PAGE_STATEMENTS,
    CALENDAR_SPARSE_PAGE_STATEMENTS,
    SCOPED_CALENDAR_COUNT_STATEMENTS,
    SCOPED_CALENDAR_PAGE_STATEMENTS,
    SCOPED_CALENDAR_SPARSE_PAGE_STATEMENTS,
)
from app.queries.usage_statements import (  # bench/ imports PAGE_STATEMENTS from here
    COUNT_STATEMENTS,
    PAGE_STATEMENTS,
    SCOPED_COUNT_STATEMENTS,
    SCOPED_PAGE_STATEMENTS,
    SCOPED_SPARSE_PAGE_STATEMENTS,
    SCOPED_TOTALS_STATEMENTS,
    SPARSE_PAGE_STATEMENTS,
    TOTALS_STATEMENTS,
)
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


def pages_of(rows: Iterable[Sequence], keys: Sequence[str]) -> dict[str, list[Bucket]]:
    """Each key's buckets from rows of (key, bucket, bytes_used, event_count)."""
    pages: dict[str, list[Bucket]] = {key: [] for key in keys}
    for key, bucket, bytes_used, event_count in rows:
        pages[key].append(Bucket(int(bucket.timestamp()), bytes_used, event_count))
    return pages


def _statements(scope: str | None, every: dict, scoped: dict) -> dict:
    return every if scope is None else scoped


# A series: (subject, granularity, IANA zone of its local days and months).
Series = tuple[str, str, str]


def local_unit(granularity: str, zone: str) -> tuple[str, str | None]:
    """The aggregate a series reads and the local unit its rows are summed into (None: the
    aggregate's own buckets): local days from hours, UTC months from UTC days."""
    if granularity == HOURLY or (granularity == DAILY and zone == UTC_ZONE):
        return granularity, None
    unit = "month" if granularity == MONTHLY else "day"
    return (DAILY if zone == UTC_ZONE else HOURLY), unit


def _in_local_buckets(unit: str, zone: str, range_start: int, range_end: int) -> dict:
    """The parameters of calendar_statements.IN_LOCAL_BUCKETS."""
    return {"unit": unit, "zone": zone, "range_start": utc(range_start), "range_end": utc(range_end)}


def page_statement(
    series: Series, scope: str | None, keys: Sequence[str], lower: int, upper: int,
) -> tuple[str, list | dict]:
    """The statement of every stored bucket of each key in [lower, upper), and its parameters:
    positional (a list) over the aggregates' own buckets, named (a dict, with "keys") in local
    ones."""
    subject, granularity, zone = series
    relation, unit = local_unit(granularity, zone)
    if unit is not None:
        statements = _statements(scope, CALENDAR_PAGE_STATEMENTS, SCOPED_CALENDAR_PAGE_STATEMENTS)
        parameters = {"keys": list(keys), "organization": scope,
                      **_in_local_buckets(unit, zone, lower, upper)}
        return statements[subject, relation], parameters
    statement = _statements(scope, PAGE_STATEMENTS, SCOPED_PAGE_STATEMENTS)[subject, granularity]
    return statement, [list(keys), utc(lower), utc(upper)] + ([] if scope is None else [scope])


async def fetch_pages(
    database: Database, series: Series, scope: str | None,
    keys: Sequence[str], lower: int, upper: int,
) -> dict[str, list[Bucket]]:
    """Every stored bucket of each key in [lower, upper), in time order; scope: only the usage
    attributed to that organization (None: all of it)."""
    statement, parameters = page_statement(series, scope, keys, lower, upper)
    return pages_of(await database.fetch_all(statement, parameters), keys)


async def fetch_sparse_pages(
    database: Database, series: Series, scope: str | None, keys: Sequence[str],
    lower: int, upper: int, limit: int, backward: bool,
) -> dict[str, list[Bucket]]:
    """Up to limit non-empty buckets of each key in [lower, upper), nearest to lower
    (or to upper when backward) first."""
    subject, granularity, zone = series
    relation, unit = local_unit(granularity, zone)
    parameters = {
        "keys": list(keys), "lower": utc(lower), "upper": utc(upper), "limit": limit,
        "organization": scope,
    }
    if unit is not None:
        statements = _statements(
            scope, CALENDAR_SPARSE_PAGE_STATEMENTS, SCOPED_CALENDAR_SPARSE_PAGE_STATEMENTS
        )
        parameters.update(_in_local_buckets(unit, zone, lower, upper))
    else:
        statements = _statements(scope, SPARSE_PAGE_STATEMENTS, SCOPED_SPARSE_PAGE_STATEMENTS)
    rows = await database.fetch_all(statements[subject, relation, backward], parameters)
    return pages_of(rows, keys)


async def fetch_totals(
    database: Database, subject: str, scope: str | None, keys: Sequence[str], start: int, end: int
) -> dict[str, tuple[int, int]]:
    """(bytes, events) of each key over [start, end); keys without usage get (0, 0)."""
    days_start, days_end = whole_days(start, end)
    rows = await database.fetch_all(
        _statements(scope, TOTALS_STATEMENTS, SCOPED_TOTALS_STATEMENTS)[subject],
        {
            "keys": list(keys), "start": utc(start), "end": utc(end),
            "days_start": utc(days_start), "days_end": utc(days_end), "organization": scope,
        },
    )
    totals = {key: (0, 0) for key in keys}
    for key, bytes_used, event_count in rows:
        totals[key] = (bytes_used, event_count)
    return totals


async def fetch_counts(
    database: Database, series: Series, scope: str | None, keys: Sequence[str],
    start: int, end: int, lower: int, upper: int,
) -> dict[str, tuple[int, int, int]]:
    """(non-empty buckets in [start, end), of them before lower, of them from upper on)."""
    subject, granularity, zone = series
    relation, unit = local_unit(granularity, zone)
    parameters = {
        "keys": list(keys), "start": utc(start), "end": utc(end),
        "lower": utc(lower), "upper": utc(upper), "organization": scope,
    }
    if unit is not None:
        statements = _statements(scope, CALENDAR_COUNT_STATEMENTS, SCOPED_CALENDAR_COUNT_STATEMENTS)
        parameters.update(_in_local_buckets(unit, zone, start, end))
    else:
        statements = _statements(scope, COUNT_STATEMENTS, SCOPED_COUNT_STATEMENTS)
    rows = await database.fetch_all(statements[subject, relation], parameters)
    counts = {key: (0, 0, 0) for key in keys}
    for key, total, before_lower, from_upper in rows:
        counts[key] = (total, before_lower, from_upper)
    return counts
