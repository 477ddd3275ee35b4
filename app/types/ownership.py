"""A SIM card's owners over time: its ownership periods, most recent first, as a connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from app.context import RequestContext
from app.loader_keys import OwnershipCountKey, OwnershipPageKey
from app.pagination import (
    OWNERSHIP_CURSOR,
    decode_instant_cursor,
    instant_cursor,
    page_size,
)
from app.queries.ownership import Period
from app.scalars import DateTime
from app.types.common import KnownPage, PageInfo

if TYPE_CHECKING:
    from app.types.catalog import Organization

# app.types.catalog imports this module: its Organization is resolved once both are loaded.
LazyOrganization = Annotated["Organization", strawberry.lazy("app.types.catalog")]
OwnershipFirst = Annotated[
    int | None,
    strawberry.argument(description="Page size: this many periods after `after` (at most 1000)."),
]
OwnershipAfter = Annotated[
    str | None, strawberry.argument(description="Cursor of the period the page starts after.")
]


def _organization(root: Ownership) -> LazyOrganization:
    from app.types.catalog import Organization  # a cycle: catalog imports this module

    return Organization(id=strawberry.ID(root.organization_id))


@strawberry.type(description="One organization's ownership of a SIM card over a period of time.")
class Ownership:
    """A period [from, to) of one owner."""

    organization_id: strawberry.Private[str]
    organization: LazyOrganization = strawberry.field(
        resolver=_organization, description="The organization that owns (or owned) the card over the period."
    )
    from_: DateTime = strawberry.field(
        name="from",
        description="Start of the period, inclusive (1970-01-01 for an owner since the beginning).",
    )
    to: DateTime | None = strawberry.field(description="End of the period, exclusive; null while it lasts.")


@strawberry.type(description="An ownership period in a list, with its cursor.")
class OwnershipEdge:
    """An ownership period and its cursor."""

    cursor: str = strawberry.field(description="Opaque cursor of this period, for `after`.")
    node: Ownership = strawberry.field(description="The period.")


@strawberry.type(description="A page of a SIM card's ownership periods, most recent first.")
class OwnershipConnection:
    """A page of periods; totalCount is read only when asked."""

    edges: list[OwnershipEdge] = strawberry.field(description="The page's periods, most recent first.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Periods in the whole list, over all pages.")
    async def total_count(self) -> int:
        return await self.count()


def _edge(period: Period) -> OwnershipEdge:
    node = Ownership(organization_id=period.organization_id, from_=period.valid_from, to=period.valid_to)
    return OwnershipEdge(cursor=instant_cursor(OWNERSHIP_CURSOR, period.valid_from), node=node)


async def ownership_page(
    info: Info, sim_card_id: str, first: int | None, after: str | None
) -> OwnershipConnection:
    """A page of the card's periods: every owner's for an admin, a key's own otherwise."""
    context: RequestContext = info.context
    size, _ = page_size(first, None)
    before = decode_instant_cursor(after, OWNERSHIP_CURSOR) if after is not None else None
    scope = context.viewer.card_scope()
    loaders = context.loaders
    periods = await loaders.ownership.load(OwnershipPageKey(scope, sim_card_id, before, size + 1))
    context.charge(min(size, len(periods)))
    edges = [_edge(period) for period in periods[:size]]
    page_info = PageInfo(source=KnownPage([edge.cursor for edge in edges], len(periods) > size))
    count_key = OwnershipCountKey(scope, sim_card_id)
    return OwnershipConnection(
        edges=edges, page_info=page_info, count=lambda: loaders.ownership_counts.load(count_key)
    )
