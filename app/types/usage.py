"""Usage series: granularity, buckets and their connection."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from enum import Enum
from typing import Annotated

import strawberry

from app.calendar import local_time
from app.context import RequestContext
from app.queries.usage import Bucket, utc
from app.scalars import BigInt, DateTime
from app.pagination import encode_cursor
from app.series import UsageSeries
from app.types.common import PageInfo


@strawberry.enum(description="The width of a usage bucket, in the series' time zone (UTC by default).")
class Granularity(Enum):
    """The width of a usage bucket."""

    HOURLY = strawberry.enum_value(
        "HOURLY", description="One bucket per whole hour (the same hours in every zone)."
    )
    DAILY = strawberry.enum_value(
        "DAILY", description="One bucket per day, local midnight to midnight: 23 or 25 hours "
        "across a daylight-saving change."
    )
    MONTHLY = strawberry.enum_value(
        "MONTHLY", description="One bucket per calendar month, from local midnight of the 1st."
    )


@strawberry.type(description="The usage in one bucket of time.")
class UsageBucket:
    """One bucket of a usage series."""

    start: DateTime = strawberry.field(
        description="Start of the bucket, written with the series' UTC offset at that instant (Z in "
        "UTC); the bucket covers [start, start + granularity)."
    )
    bytes_used: BigInt = strawberry.field(description="Bytes used in the bucket.")
    event_count: BigInt = strawberry.field(description="Usage events in the bucket.")


@strawberry.type(description="A bucket of a usage connection, with its cursor.")
class UsageEdge:
    """A bucket and its cursor."""

    cursor: str = strawberry.field(
        description="Opaque cursor of this bucket, for `after` or `before` of the same series."
    )
    node: UsageBucket = strawberry.field(description="The bucket.")


def usage_bucket(bucket: Bucket, zone: tzinfo) -> UsageBucket:
    """A stored bucket as GraphQL writes it, its start with the zone's offset then."""
    start = utc(bucket.start) if zone is UTC else local_time(bucket.start, zone)
    return UsageBucket(start=start, bytes_used=bucket.bytes_used, event_count=bucket.event_count)



@strawberry.type(description="A page of usage buckets, with totals over the whole interval.")
class UsageConnection:
    """A page of a usage series; every field reads lazily from the series."""

    series: strawberry.Private[UsageSeries]

    @strawberry.field(description="The page's buckets, in time order.")
    async def edges(self) -> list[UsageEdge]:
        series = self.series
        zone, kind = series.zone, series.kind
        # usage_bucket and the cursor inlined: this runs for every bucket of every page.
        return [UsageEdge(cursor=encode_cursor(kind, bucket.start), node=UsageBucket(
                    start=utc(bucket.start) if zone is UTC else local_time(bucket.start, zone),
                    bytes_used=bucket.bytes_used, event_count=bucket.event_count))
                for bucket in await series.buckets()]

    @strawberry.field(description="Where this page lies in the series.")
    def page_info(self) -> PageInfo:
        return PageInfo(source=self.series)

    @strawberry.field(
        description="Buckets in the whole interval, over all pages (non-empty ones only when skipEmpty)."
    )
    async def total_count(self) -> int:
        return await self.series.total_count()

    @strawberry.field(description="Bytes used over the whole interval, over all pages.")
    async def total_bytes_used(self) -> BigInt:
        return BigInt((await self.series.totals())[0])

    @strawberry.field(description="Usage events over the whole interval, over all pages.")
    async def total_event_count(self) -> BigInt:
        return BigInt((await self.series.totals())[1])


# The arguments of SimCard.usage and Organization.usage, described once.
From = Annotated[
    DateTime,
    strawberry.argument(
        name="from",
        description="Start of the interval, inclusive: a whole hour; for DAILY a local midnight, for "
        "MONTHLY local midnight of the 1st, in timeZone.",
    ),
]
To = Annotated[
    DateTime,
    strawberry.argument(
        description="End of the interval, exclusive, aligned as from; later than from."
    ),
]
GranularityArgument = Annotated[
    Granularity, strawberry.argument(description="Width of the buckets: HOURLY, DAILY or MONTHLY.")
]
TimeZoneArgument = Annotated[
    str | None,
    strawberry.argument(
        description="The IANA time zone of the buckets, e.g. Europe/Lisbon: days and months start "
        "at its local midnight, `start` is written with its offset, and from/to written without an "
        "offset are its local time (a time the clocks repeat: the earlier one). Zones whose offset is not a whole number of hours "
        "(Asia/Kolkata) are refused: usage is aggregated by UTC hour."
    ),
]
SkipEmpty = Annotated[
    bool,
    strawberry.argument(
        description="Leave out the buckets without usage events (they are returned with zeros "
        "otherwise)."
    ),
]
First = Annotated[
    int | None,
    strawberry.argument(
        description="Page forward: this many buckets after `after` (default 100, at most 1000)."
    ),
]
After = Annotated[
    str | None, strawberry.argument(description="Cursor of the bucket the page starts after.")
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description="Page backward: this many buckets before `before` (at most 1000); not with first."
    ),
]
Before = Annotated[
    str | None, strawberry.argument(description="Cursor of the bucket the page ends before.")
]


def usage_connection(
    context: RequestContext, subject: str, key: str, start: datetime, end: datetime,
    granularity: Granularity, time_zone: str | None, skip_empty: bool, first: int | None,
    after: str | None, last: int | None, before: str | None,
) -> UsageConnection:
    """The connection of one subject's usage; arguments are checked here, reads are lazy."""
    series = UsageSeries.build(
        context, subject, key, start, end, granularity.value, time_zone, skip_empty, first, after,
        last, before,
    )
    return UsageConnection(series=series)
