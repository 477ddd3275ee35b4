"""Usage series: granularity, buckets and their connection."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from app.context import RequestContext
from app.queries.usage import utc
from app.scalars import BigInt, DateTime
from app.series import Edge, UsageSeries
from app.types.common import PageInfo


@strawberry.enum(description="The width of a usage bucket, in UTC.")
class Granularity(Enum):
    """The width of a usage bucket."""

    HOURLY = strawberry.enum_value("HOURLY", description="One bucket per whole UTC hour.")
    DAILY = strawberry.enum_value("DAILY", description="One bucket per UTC day, midnight to midnight.")


@strawberry.type(description="The usage in one bucket of time.")
class UsageBucket:
    """One bucket of a usage series."""

    start: DateTime = strawberry.field(
        description="Start of the bucket, UTC; the bucket covers [start, start + granularity)."
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


def _edge(edge: Edge) -> UsageEdge:
    bucket = edge.bucket
    return UsageEdge(
        cursor=edge.cursor,
        node=UsageBucket(
            start=utc(bucket.start), bytes_used=bucket.bytes_used, event_count=bucket.event_count
        ),
    )


@strawberry.type(description="A page of usage buckets, with totals over the whole interval.")
class UsageConnection:
    """A page of a usage series; every field reads lazily from the series."""

    series: strawberry.Private[UsageSeries]

    @strawberry.field(description="The page's buckets, in time order.")
    async def edges(self) -> list[UsageEdge]:
        return [_edge(edge) for edge in await self.series.edges()]

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
        description="Start of the interval, inclusive: a whole UTC hour (a UTC midnight for DAILY).",
    ),
]
To = Annotated[
    DateTime,
    strawberry.argument(
        description="End of the interval, exclusive: a whole UTC hour (a UTC midnight for DAILY); "
        "later than from."
    ),
]
GranularityArgument = Annotated[
    Granularity, strawberry.argument(description="Width of the buckets: HOURLY or DAILY.")
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
    granularity: Granularity, skip_empty: bool, first: int | None, after: str | None,
    last: int | None, before: str | None,
) -> UsageConnection:
    """The connection of one subject's usage; arguments are checked here, reads are lazy."""
    series = UsageSeries.build(
        context, subject, key, start, end, granularity.value, skip_empty, first, after, last, before
    )
    return UsageConnection(series=series)
