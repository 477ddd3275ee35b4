"""The SQL of SIM cards and organizations: look-ups by id and keyset pages ordered by id.

A SIM card is known from the inventory or from its usage (sim_card_seen); an organization
exists once it owns or has owned a card (table `ownership`): a former owner keeps its history. Pages are keyset: `id > after`,
ordered by id in the database's collation, so ordering and cursors always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from app.database import Database

# Every string sorts after the empty one, so '' stands for "from the beginning": a single
# statement with a plain `id > %s` keeps the index range scan.
FROM_THE_BEGINNING = ""


@dataclass(frozen=True)
class SimCardRow:
    """A SIM card, the organization that owns it now (None: not in the inventory) and, when
    looked up by id, every organization that owns or owned it (table `ownership`)."""

    id: str
    organization_id: str | None
    owners: frozenset[str] = frozenset()


# Found in the inventory, or else seen in usage; ids found in neither give no row. The owners
# over time decide which keys see the card: one probe of the ownership primary key per id.
# {ids}: the placeholder of the id array (positional here, named in subject_pages.py).
SIM_CARDS_BY_ID_TEMPLATE = """
    SELECT ids.id, inventory.organization_id,
           ARRAY(SELECT DISTINCT ownership.organization_id FROM ownership
                 WHERE ownership.sim_card_id = ids.id)
    FROM unnest({ids}::text[]) AS ids (id)
    LEFT JOIN inventory ON inventory.sim_card_id = ids.id
    WHERE inventory.sim_card_id IS NOT NULL
       OR EXISTS (SELECT 1 FROM sim_card_seen WHERE sim_card_seen.sim_card_id = ids.id)
"""

# One index probe per id. A plain EXISTS becomes a semi-join that the planner may run as a
# hash join over the whole inventory (2 ms at 10,000 cards); ORDER BY the index's columns and
# LIMIT 1 keep it a probe, even for an id that matches nothing.
ORGANIZATIONS_BY_ID_TEMPLATE = """
    SELECT ids.id
    FROM unnest({ids}::text[]) AS ids (id)
    CROSS JOIN LATERAL (
        SELECT 1 FROM ownership WHERE ownership.organization_id = ids.id
        ORDER BY ownership.organization_id, ownership.sim_card_id LIMIT 1
    ) AS found
"""
SIM_CARDS_BY_ID = sql.SQL(SIM_CARDS_BY_ID_TEMPLATE).format(ids=sql.Placeholder()).as_string()
ORGANIZATIONS_BY_ID = sql.SQL(ORGANIZATIONS_BY_ID_TEMPLATE).format(ids=sql.Placeholder()).as_string()

# All cards, for an admin: the inventory merged with the cards only seen in usage. Each side
# reads at most `limit` ids from its primary key before the merge.
ALL_SIM_CARDS_PAGE = """
    SELECT ids.id, inventory.organization_id
    FROM (
        (SELECT sim_card_id AS id FROM inventory
         WHERE sim_card_id > %(after)s ORDER BY sim_card_id LIMIT %(limit)s)
        UNION
        (SELECT sim_card_id FROM sim_card_seen
         WHERE sim_card_id > %(after)s ORDER BY sim_card_id LIMIT %(limit)s)
    ) AS ids
    LEFT JOIN inventory ON inventory.sim_card_id = ids.id
    ORDER BY ids.id
    LIMIT %(limit)s
"""

COUNT_ALL_SIM_CARDS = """
    SELECT count(*) FROM (
        SELECT sim_card_id FROM inventory UNION SELECT sim_card_id FROM sim_card_seen
    ) AS ids
"""

# A page of each organization's cards, many organizations in one statement (an
# `organizations { simCards }` query), on the (organization_id, sim_card_id) index.
SIM_CARDS_OF_ORGANIZATIONS_PAGE = """
    SELECT organizations.id, page.sim_card_id
    FROM unnest(%s::text[]) WITH ORDINALITY AS organizations (id, position)
    CROSS JOIN LATERAL (
        SELECT sim_card_id FROM inventory
        WHERE organization_id = organizations.id AND sim_card_id > %s
        ORDER BY sim_card_id
        LIMIT %s
    ) AS page
    ORDER BY organizations.position, page.sim_card_id
"""

COUNT_SIM_CARDS_OF_ORGANIZATIONS = """
    SELECT organization_id, count(*) FROM inventory
    WHERE organization_id = ANY(%s)
    GROUP BY organization_id
"""

# The distinct organizations after `after`, by a loose index scan: one index probe per
# organization instead of reading every inventory row.
ORGANIZATIONS_PAGE = """
    WITH RECURSIVE organizations (id) AS (
        (SELECT organization_id FROM ownership
         WHERE organization_id > %(after)s ORDER BY organization_id LIMIT 1)
        UNION ALL
        SELECT (SELECT ownership.organization_id FROM ownership
                WHERE ownership.organization_id > organizations.id
                ORDER BY ownership.organization_id LIMIT 1)
        FROM organizations
        WHERE organizations.id IS NOT NULL
    )
    SELECT id FROM organizations WHERE id IS NOT NULL LIMIT %(limit)s
"""

COUNT_ORGANIZATIONS = "SELECT count(DISTINCT organization_id) FROM ownership"

# Keyset order is the database's collation, which Python's string order need not match.
SORTS_AFTER = "SELECT %s::text > %s::text"


def sim_card_row(card_id: str, organization_id: str | None, owners: list[str]) -> SimCardRow:
    """A card from the columns of SIM_CARDS_BY_ID."""
    return SimCardRow(card_id, organization_id, frozenset(owners))


async def sim_cards_by_id(database: Database, ids: Sequence[str]) -> dict[str, SimCardRow]:
    """The known cards among ids."""
    rows = await database.fetch_all(SIM_CARDS_BY_ID, (list(ids),))
    return {row[0]: sim_card_row(*row) for row in rows}


async def organizations_by_id(database: Database, ids: Sequence[str]) -> set[str]:
    """The ids that name an organization that owns or owned a card."""
    return {row[0] for row in await database.fetch_all(ORGANIZATIONS_BY_ID, (list(ids),))}


async def all_sim_cards_page(database: Database, after: str | None, limit: int) -> list[SimCardRow]:
    """Up to limit cards after the id after, from the inventory and from usage."""
    rows = await database.fetch_all(
        ALL_SIM_CARDS_PAGE, {"after": after or FROM_THE_BEGINNING, "limit": limit}
    )
    return [SimCardRow(card_id, organization_id) for card_id, organization_id in rows]


async def count_all_sim_cards(database: Database) -> int:
    """How many cards the inventory and usage know together."""
    return (await database.fetch_all(COUNT_ALL_SIM_CARDS, ()))[0][0]


async def sim_cards_of_organizations_page(
    database: Database, organization_ids: Sequence[str], after: str | None, limit: int
) -> dict[str, list[SimCardRow]]:
    """Up to limit inventory cards of each organization, after the id after."""
    rows = await database.fetch_all(
        SIM_CARDS_OF_ORGANIZATIONS_PAGE,
        (list(organization_ids), after or FROM_THE_BEGINNING, limit),
    )
    pages: dict[str, list[SimCardRow]] = {organization_id: [] for organization_id in organization_ids}
    for organization_id, card_id in rows:
        pages[organization_id].append(SimCardRow(card_id, organization_id))
    return pages


async def count_sim_cards_of_organizations(
    database: Database, organization_ids: Sequence[str]
) -> dict[str, int]:
    """How many inventory cards each organization has."""
    rows = await database.fetch_all(COUNT_SIM_CARDS_OF_ORGANIZATIONS, (list(organization_ids),))
    counts = {organization_id: 0 for organization_id in organization_ids}
    counts.update(dict(rows))
    return counts


async def organizations_page(database: Database, after: str | None, limit: int) -> list[str]:
    """Up to limit organization ids after the id after."""
    rows = await database.fetch_all(
        ORGANIZATIONS_PAGE, {"after": after or FROM_THE_BEGINNING, "limit": limit}
    )
    return [row[0] for row in rows]


async def count_organizations(database: Database) -> int:
    """How many organizations own or owned a card."""
    return (await database.fetch_all(COUNT_ORGANIZATIONS, ()))[0][0]


async def sorts_after(database: Database, value: str, other: str) -> bool:
    """Whether value sorts after other in the database's order of ids."""
    return (await database.fetch_all(SORTS_AFTER, (value, other)))[0][0]
