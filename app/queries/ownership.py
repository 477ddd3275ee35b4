"""The SQL of ownership over time: pages of cards' periods, most recent first, and their counts.

A card's periods [valid_from, valid_to) follow each other; the open one (valid_to NULL) is the
owner now. Pages are keyset over valid_from (`valid_from < before`), on the primary key
(sim_card_id, valid_from). A scoped viewer reads only its own organization's periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from app.database import Database

# Later than every period's start: a page from the most recent period on.
NOW_ON = "infinity"
OF_ONE_ORGANIZATION = " AND organization_id = %(organization)s"


@dataclass(frozen=True)
class Period:
    """One organization's ownership of a card over [valid_from, valid_to) (None: still lasts)."""

    organization_id: str
    valid_from: datetime
    valid_to: datetime | None


# A page of each card's periods, many cards in one statement (a `simCards { ownership }`
# query); LATERAL gives each card its own limit.
PERIODS_PAGE = """
    SELECT cards.id, page.organization_id, page.valid_from, page.valid_to
    FROM unnest(%(cards)s::text[]) WITH ORDINALITY AS cards (id, position)
    CROSS JOIN LATERAL (
        SELECT organization_id, valid_from, valid_to FROM ownership
        WHERE sim_card_id = cards.id AND valid_from < %(before)s::timestamptz{scope}
        ORDER BY valid_from DESC
        LIMIT %(limit)s
    ) AS page
    ORDER BY cards.position, page.valid_from DESC
"""

COUNT_PERIODS = """
    SELECT sim_card_id, count(*) FROM ownership
    WHERE sim_card_id = ANY(%(cards)s){scope}
    GROUP BY sim_card_id
"""


def _scoped(template: str) -> dict[bool, str]:
    """The statement for every owner (False) and for one organization (True)."""
    return {
        scoped: sql.SQL(template).format(scope=sql.SQL(OF_ONE_ORGANIZATION if scoped else "")).as_string()
        for scoped in (False, True)
    }


PERIODS_PAGE_STATEMENTS = _scoped(PERIODS_PAGE)
COUNT_PERIODS_STATEMENTS = _scoped(COUNT_PERIODS)


async def periods_page(
    database: Database, scope: str | None, cards: Sequence[str], before: datetime | None, limit: int
) -> dict[str, list[Period]]:
    """Up to limit periods of each card that start before `before`, most recent first; scope:
    only that organization's periods (None: every owner's)."""
    rows = await database.fetch_all(
        PERIODS_PAGE_STATEMENTS[scope is not None],
        {"cards": list(cards), "before": NOW_ON if before is None else before, "limit": limit,
         "organization": scope},
    )
    pages: dict[str, list[Period]] = {card: [] for card in cards}
    for card, organization_id, valid_from, valid_to in rows:
        pages[card].append(Period(organization_id, valid_from, valid_to))
    return pages


async def count_periods(database: Database, scope: str | None, cards: Sequence[str]) -> dict[str, int]:
    """How many periods each card has (only that organization's, if scope)."""
    rows = await database.fetch_all(
        COUNT_PERIODS_STATEMENTS[scope is not None], {"cards": list(cards), "organization": scope}
    )
    counts = {card: 0 for card in cards}
    counts.update(dict(rows))
    return counts
