"""SIM cards and organizations, their connections, and the scoping of what a viewer sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.context import RequestContext
from app.loader_keys import OrganizationCardsKey
from app.pagination import (
    DEFAULT_PAGE_SIZE,
    SIM_CARD_CURSOR,
    decode_cursor,
    encode_cursor,
    page_size,
)
from app.queries import catalog
from app.queries.catalog import SimCardRow
from app.queries.usage import ORGANIZATION, SIM_CARD
from app.types.common import KnownPage, PageInfo
from app.types.node import Node
from app.types.ownership import (
    OwnershipAfter,
    OwnershipConnection,
    OwnershipFirst,
    ownership_page,
)
from app.types.ranking import (
    DEFAULT_RANKING_SIZE,
    RankingAfter,
    RankingBefore,
    RankingFirst,
    RankingFrom,
    RankingLast,
    RankingTimeZone,
    RankingTo,
    SimCardUsageConnection,
    top_sim_cards_page,
)
from app.types.usage import (
    After,
    Before,
    First,
    From,
    GranularityArgument,
    Last,
    SkipEmpty,
    TimeZoneArgument,
    To,
    UsageConnection,
    usage_connection,
)

CardsFirst = Annotated[
    int | None,
    strawberry.argument(description="Page size: this many cards after `after` (default 100, at most 1000)."),
]
CardsAfter = Annotated[
    str | None, strawberry.argument(description="Cursor of the card the page starts after.")
]


@strawberry.type(description="A SIM card: known from the inventory or from its usage.")
class SimCard(Node):
    """A SIM card the viewer may see."""

    id: strawberry.ID = strawberry.field(
        description="The SIM card id as it appears in events, e.g. 89440001."
    )
    organization_id: strawberry.Private[str | None]

    @strawberry.field(
        description="The organization that owns the card now; null for a card missing from the inventory,\n"
        "and for a key of an organization that owned the card before."
    )
    def organization(self, info: Info) -> Organization | None:
        # A former owner's key sees the card's past, not who has it now.
        owner = self.organization_id
        if owner is None or not info.context.viewer.may_see_organization(owner):
            return None
        return Organization(id=strawberry.ID(owner))

    @strawberry.field(
        description="The card's owners over time, most recent first; a scoped key sees only its own periods."
    )
    async def ownership(
        self, info: Info, first: OwnershipFirst = DEFAULT_PAGE_SIZE, after: OwnershipAfter = None
    ) -> OwnershipConnection:
        return await ownership_page(info, self.id, first, after)

    @strawberry.field(
        description="Usage in [from, to), which must be aligned to the granularity in timeZone (whole\n"
        "hours; local midnights for DAILY; the 1st of a month for MONTHLY). Buckets with no usage\n"
        "are returned with zeros unless skipEmpty."
    )
    def usage(
        self, info: Info, from_: From, to: To, granularity: GranularityArgument,
        skip_empty: SkipEmpty = False, first: First = None, after: After = None,
        last: Last = None, before: Before = None, time_zone: TimeZoneArgument = "UTC",
    ) -> UsageConnection:
        return usage_connection(
            info.context, SIM_CARD, self.id, from_, to, granularity, time_zone, skip_empty,
            first, after, last, before,
        )


@strawberry.type(description="A SIM card in a list, with its cursor.")
class SimCardEdge:
    """A SIM card and its cursor."""

    cursor: str = strawberry.field(description="Opaque cursor of this card, for `after`.")
    node: SimCard = strawberry.field(description="The SIM card.")


@strawberry.type(description="A page of SIM cards, ordered by id.")
class SimCardConnection:
    """A page of SIM cards; totalCount is read only when asked."""

    edges: list[SimCardEdge] = strawberry.field(description="The page's cards, by id.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Cards in the whole list, over all pages.")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type(description="A customer organization: it owns SIM cards in the inventory.")
class Organization(Node):
    """An organization the viewer may see."""

    id: strawberry.ID = strawberry.field(description="The organization id, e.g. f00ff.")

    @strawberry.field(description="The organization's SIM cards in the inventory, by id.")
    async def sim_cards(
        self, info: Info, first: CardsFirst = None, after: CardsAfter = None
    ) -> SimCardConnection:
        return await cards_page(info.context, self.id, first, after)

    @strawberry.field(
        description="Usage of all the organization's SIM cards in [from, to); same rules as SimCard.usage."
    )
    def usage(
        self, info: Info, from_: From, to: To, granularity: GranularityArgument,
        skip_empty: SkipEmpty = False, first: First = None, after: After = None,
        last: Last = None, before: Before = None, time_zone: TimeZoneArgument = "UTC",
    ) -> UsageConnection:
        return usage_connection(
            info.context, ORGANIZATION, self.id, from_, to, granularity, time_zone, skip_empty,
            first, after, last, before,
        )


    @strawberry.field(
        description="The organization's SIM cards ranked by bytes used in [from, to), most first;\n"
        "ties by card id; only cards with usage attributed to the organization in the interval."
    )
    async def top_sim_cards(
        self, info: Info, from_: RankingFrom, to: RankingTo, time_zone: RankingTimeZone = "UTC",
        first: RankingFirst = DEFAULT_RANKING_SIZE, after: RankingAfter = None,
        last: RankingLast = None, before: RankingBefore = None,
    ) -> SimCardUsageConnection:
        return await top_sim_cards_page(
            info.context, self.id, from_, to, time_zone, first, after, last, before
        )


def sim_card_connection(
    rows: list[SimCardRow], limit: int, count: Callable[[], Awaitable[int]]
) -> SimCardConnection:
    """A page of cards from rows read with limit + 1 (the extra one says a next page exists)."""
    page = rows[:limit]
    edges = [
        SimCardEdge(
            cursor=encode_cursor(SIM_CARD_CURSOR, row.id),
            node=SimCard(id=strawberry.ID(row.id), organization_id=row.organization_id),
        )
        for row in page
    ]
    page_info = PageInfo(source=KnownPage([edge.cursor for edge in edges], len(rows) > limit))
    return SimCardConnection(edges=edges, page_info=page_info, count=count)


async def cards_page(
    context: RequestContext, organization_id: str | None, first: int | None, after: str | None
) -> SimCardConnection:
    """A page of cards: all of them (admin) or one organization's; none the viewer may not see."""
    size, _ = page_size(first, None)
    after_id = decode_cursor(after, SIM_CARD_CURSOR) if after is not None else None
    viewer, database, loaders = context.viewer, context.database, context.loaders
    if organization_id is None and viewer.admin:
        rows = await catalog.all_sim_cards_page(database, after_id, size + 1)
        context.charge(min(size, len(rows)))
        return sim_card_connection(rows, size, lambda: catalog.count_all_sim_cards(database))
    if organization_id is None:
        organization_id = viewer.organization_id  # a key's list is its organization's cards
    if organization_id is None or not viewer.may_see_organization(organization_id):
        return sim_card_connection([], size, nothing)
    rows = await loaders.organization_cards.load(
        OrganizationCardsKey(organization_id, after_id, size + 1)
    )
    context.charge(min(size, len(rows)))
    visible = organization_id
    return sim_card_connection(rows, size, lambda: loaders.organization_card_counts.load(visible))


async def nothing() -> int:
    """The count of an empty list."""
    return 0
