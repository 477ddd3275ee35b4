"""Rankings: an organization's SIM cards by bytes used over an interval, paged by keyset."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.calendar import in_zone, time_zone, whole_interval
from app.context import RequestContext
from app.errors import UserInputError
from app.pagination import decode_cursor, encode_cursor, page_size
from app.queries import ranking
from app.scalars import BigInt, DateTime
from app.types.common import KnownPage, PageInfo
from simusage.storage import HOUR_SECONDS, ORGANIZATION, SIM_CARD_ID_PATTERN

if TYPE_CHECKING:
    from app.types.catalog import SimCard

RANKING_CURSOR = "top-sim-cards"
DEFAULT_RANKING_SIZE = 10
_POSITION = re.compile(f"([0-9]{{1,19}}):({SIM_CARD_ID_PATTERN})")


@strawberry.type(description="A SIM card's usage over an interval.")
class SimCardUsage:
    """One card of a ranking."""

    sim_card: Annotated[SimCard, strawberry.lazy("app.types.catalog")] = strawberry.field(
        description="The SIM card."
    )
    bytes_used: BigInt = strawberry.field(description="Bytes the card used in the interval.")
    event_count: BigInt = strawberry.field(description="Usage events of the card in the interval.")


@strawberry.type(description="A card of a ranking, with its cursor.")
class SimCardUsageEdge:
    """A ranked card and its cursor."""

    cursor: str = strawberry.field(
        description="Opaque cursor of this place in the ranking, for `after` or `before`; it stays "
        "valid while data arrives (it names a place, not an offset)."
    )
    node: SimCardUsage = strawberry.field(description="The card and its usage.")


@strawberry.type(description="A page of a ranking of SIM cards, most bytes first.")
class SimCardUsageConnection:
    """A page of ranked cards."""

    edges: list[SimCardUsageEdge] = strawberry.field(description="The page's cards, most bytes first.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the ranking.")
    total_count: int = strawberry.field(description="Cards with usage in the interval.")


class _RankingPage(KnownPage):
    """Relay's flags of a ranking page, both known from the one statement."""

    def __init__(self, cursors: list[str], has_previous_page: bool, has_next_page: bool) -> None:
        super().__init__(cursors, has_next_page)
        self._has_previous_page = has_previous_page

    async def has_previous_page(self) -> bool:
        """Whether cards precede the page."""
        return self._has_previous_page


def _position(cursor: str | None) -> ranking.Bound:
    if cursor is None:
        return None
    value = decode_cursor(cursor, RANKING_CURSOR)
    match = _POSITION.fullmatch(value)
    if match is None or int(match[1]) >= 2**63:
        raise UserInputError(f"invalid cursor {cursor!r}: use a cursor this API returned")
    return int(match[1]), match[2]


async def top_sim_cards_page(
    context: RequestContext, organization_id: str, start: datetime, end: datetime, zone_name: str | None,
    first: int | None, after: str | None, last: int | None, before: str | None,
) -> SimCardUsageConnection:
    """A page of the organization's cards ranked by bytes in [start, end), checked first."""
    from app.types.catalog import SimCard  # the catalog's types refer to this module's

    zone = time_zone(zone_name)
    lower, upper = whole_interval(in_zone(start, zone), in_zone(end, zone), zone, HOUR_SECONDS,
                                  "a whole hour for topSimCards")
    size, backward = page_size(None if last is not None else first, last)
    after_position, before_position = _position(after), _position(before)
    context.reads.read_usage(ORGANIZATION, [organization_id], lower, upper)
    page = await ranking.top_sim_cards(
        context.database, organization_id, lower, upper, after_position, before_position,
        size + 1, backward,
    )
    more = len(page.cards) > size
    cards = page.cards[1:] if backward and more else page.cards[:size]
    context.charge(len(cards))
    edges = [
        SimCardUsageEdge(
            cursor=encode_cursor(RANKING_CURSOR, f"{card.bytes_used}:{card.sim_card_id}"),
            node=SimCardUsage(
                sim_card=SimCard(id=strawberry.ID(card.sim_card_id), organization_id=card.organization_id),
                bytes_used=BigInt(card.bytes_used), event_count=BigInt(card.event_count),
            ),
        )
        for card in cards
    ]
    if backward:
        flags = (more, page.from_before > 0)
    else:
        flags = (page.up_to_after > 0, more)
    return SimCardUsageConnection(
        edges=edges, page_info=PageInfo(source=_RankingPage([edge.cursor for edge in edges], *flags)),
        total_count=page.total,
    )


RankingFirst = Annotated[
    int | None,
    strawberry.argument(description="Page forward: this many cards after `after` (at most 1000)."),
]
RankingAfter = Annotated[
    str | None, strawberry.argument(description="Cursor of the place the page starts after.")
]
RankingLast = Annotated[
    int | None,
    strawberry.argument(
        description="Page backward: this many cards before `before` (at most 1000); first is then "
        "ignored."
    ),
]
RankingBefore = Annotated[
    str | None, strawberry.argument(description="Cursor of the place the page ends before.")
]
RankingFrom = Annotated[
    DateTime,
    strawberry.argument(name="from", description="Start of the interval, inclusive: a whole hour."),
]
RankingTo = Annotated[
    DateTime, strawberry.argument(description="End of the interval, exclusive: a whole hour.")
]
RankingTimeZone = Annotated[
    str | None,
    strawberry.argument(
        description="The IANA time zone in which from/to written without an offset are read, e.g. "
        "Europe/Lisbon; zones whose offset is not a whole number of hours are refused."
    ),
]
