"""The SQL of rankings: an organization's SIM cards by the bytes attributed to it over an interval.

The per-card aggregates keep the organization each row's usage is attributed to (by the time
of its events), so a ranking reads only its organization's rows: a card that changed hands is
ranked by what it used while it was the organization's. The interval is read in the parts of
app/interval_parts.py (months, days, hours added; hours trimmed off a month subtracted): exact,
also for late data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from app.database import Database
from app.interval_parts import Parts, interval_parts
from app.queries.usage import utc

# Cards are ordered most bytes first, ties by card id. A keyset bound is (bytes, id) of a
# cursor; NULL bounds leave that side open. `counts` always gives one row, so
# an empty page still says how many cards there are and how many precede or follow it.
TOP_SIM_CARDS = """
    WITH per_card AS (
        SELECT sim_card_id, sum(bytes_used)::bigint AS bytes_used,
               sum(event_count)::bigint AS event_count
        FROM (
            SELECT sim_card_id, bytes_used, event_count FROM usage_sim_card_monthly
            WHERE organization_id = %(organization)s
              AND bucket >= %(months_start)s AND bucket < %(months_end)s
            UNION ALL
            SELECT sim_card_id, bytes_used, event_count FROM usage_sim_card_daily
            WHERE organization_id = %(organization)s
              AND ((bucket >= %(days_a_start)s AND bucket < %(days_a_end)s)
                   OR (bucket >= %(days_b_start)s AND bucket < %(days_b_end)s))
            UNION ALL
            SELECT sim_card_id, bytes_used, event_count FROM usage_sim_card_hourly
            WHERE organization_id = %(organization)s
              AND ((bucket >= %(hours_a_start)s AND bucket < %(hours_a_end)s)
                   OR (bucket >= %(hours_b_start)s AND bucket < %(hours_b_end)s))
            UNION ALL
            SELECT sim_card_id, -bytes_used, -event_count FROM usage_sim_card_hourly
            WHERE organization_id = %(organization)s
              AND ((bucket >= %(trimmed_a_start)s AND bucket < %(trimmed_a_end)s)
                   OR (bucket >= %(trimmed_b_start)s AND bucket < %(trimmed_b_end)s))
        ) AS parts
        GROUP BY sim_card_id
        HAVING sum(event_count) > 0
    ),
    counts AS (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE %(after_bytes)s::bigint IS NOT NULL AND (
                   bytes_used > %(after_bytes)s::bigint
                   OR (bytes_used = %(after_bytes)s::bigint AND sim_card_id <= %(after_card)s::text)
               )) AS up_to_after,
               count(*) FILTER (WHERE %(before_bytes)s::bigint IS NOT NULL AND (
                   bytes_used < %(before_bytes)s::bigint
                   OR (bytes_used = %(before_bytes)s::bigint AND sim_card_id >= %(before_card)s::text)
               )) AS from_before
        FROM per_card
    )
    SELECT counts.total, counts.up_to_after, counts.from_before,
           page.sim_card_id, page.bytes_used, page.event_count, inventory.organization_id
    FROM counts
    LEFT JOIN LATERAL (
        SELECT sim_card_id, bytes_used, event_count FROM per_card
        WHERE (%(after_bytes)s::bigint IS NULL
               OR bytes_used < %(after_bytes)s::bigint
               OR (bytes_used = %(after_bytes)s::bigint AND sim_card_id > %(after_card)s::text))
          AND (%(before_bytes)s::bigint IS NULL
               OR bytes_used > %(before_bytes)s::bigint
               OR (bytes_used = %(before_bytes)s::bigint AND sim_card_id < %(before_card)s::text))
        ORDER BY bytes_used {descending}, sim_card_id {ascending}
        LIMIT %(limit)s
    ) AS page ON true
    LEFT JOIN inventory ON inventory.sim_card_id = page.sim_card_id
    ORDER BY page.bytes_used {descending}, page.sim_card_id {ascending}
"""
TOP_SIM_CARDS_FORWARD = sql.SQL(TOP_SIM_CARDS).format(
    descending=sql.SQL("DESC"), ascending=sql.SQL("ASC")).as_string()
TOP_SIM_CARDS_BACKWARD = sql.SQL(TOP_SIM_CARDS).format(  # the page nearest `before`, reversed
    descending=sql.SQL("ASC"), ascending=sql.SQL("DESC")).as_string()


@dataclass(frozen=True)
class RankedCard:
    """A card of a ranking: its bytes and events in the interval, and its owner now."""

    sim_card_id: str
    bytes_used: int
    event_count: int
    organization_id: str | None


@dataclass(frozen=True)
class Ranking:
    """A page of a ranking (in ranking order), and the counts that give its flags."""

    cards: list[RankedCard]
    total: int
    up_to_after: int  # cards ranked at or before the `after` bound
    from_before: int  # cards ranked at or after the `before` bound


Bound = tuple[int, str] | None


def spans(parts: Parts) -> dict[str, datetime]:
    """The statement's span parameters of the parts."""
    spans = {"months": parts.months}
    for name in ("days", "hours", "trimmed"):
        first, second = getattr(parts, name)
        spans |= {f"{name}_a": first, f"{name}_b": second}
    return {f"{name}_{end}": utc(bound) for name, span in spans.items()
            for end, bound in zip(("start", "end"), span, strict=True)}


async def top_sim_cards(
    database: Database, organization_id: str, start: int, end: int,
    after: Bound, before: Bound, limit: int, backward: bool,
) -> Ranking:
    """Up to limit cards after `after` (or, backward, before `before`), most bytes first."""
    parts = interval_parts(start, end)
    after_bytes, after_card = after if after is not None else (None, None)
    before_bytes, before_card = before if before is not None else (None, None)
    rows = await database.fetch_all(
        TOP_SIM_CARDS_BACKWARD if backward else TOP_SIM_CARDS_FORWARD,
        {
            "organization": organization_id, **spans(parts), "limit": limit,
            "after_bytes": after_bytes, "after_card": after_card,
            "before_bytes": before_bytes, "before_card": before_card,
        },
    )
    cards = [RankedCard(row[3], row[4], row[5], row[6]) for row in rows if row[3] is not None]
    if backward:
        cards.reverse()
    total, up_to_after, from_before = rows[0][:3]
    return Ranking(cards, total, up_to_after, from_before)
