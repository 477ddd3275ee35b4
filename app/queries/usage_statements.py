"""The statements of usage series, composed once at import for every relation and scope.

Every statement reads the hourly or daily aggregates, never the raw `usage` rows. They are
rollup tables (postgres mode) or continuous aggregates (timescaledb mode) with the same
columns, so one statement serves both modes. Statements are composed from fixed identifiers
(psycopg.sql), and take every value as a parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from psycopg import sql

from simusage.storage import DAILY, HOURLY, KEY_COLUMNS, RELATIONS, SIM_CARD

# The relation of a statement is the aggregate itself, or for an admin's per-card page the
# aggregate summed over organizations: a card's rows are one per bucket and organization its
# usage is attributed to. A scoped viewer's per-card statements read the aggregate with
# {scope} = OF_ONE_ORGANIZATION: only its organization's rows, which are one per bucket. The
# rows without an organization ('' or NULL, by mode) are never compared to: an admin reads them
# in the sums, a scoped viewer never does.
SUMMED_OVER_ORGANIZATIONS = """(
    SELECT sim_card_id, bucket, sum(bytes_used)::bigint AS bytes_used,
           sum(event_count)::bigint AS event_count
    FROM {relation}
    GROUP BY sim_card_id, bucket
)"""
OF_ONE_ORGANIZATION = " AND organization_id = {organization}"
# The organization as a named parameter; PAGE takes it positionally.
NAMED = sql.Placeholder("organization")

# Every bucket of the keys in [lower, upper): a dense page, whose zeros are filled in Python.
# Positional parameters (keys, lower, upper, then the organization if scoped): bench/ runs it.
PAGE = """
    SELECT {key}, bucket, bytes_used, event_count
    FROM {relation} AS stored
    WHERE {key} = ANY(%s) AND bucket >= %s AND bucket < %s{scope}
    ORDER BY {key}, bucket
"""

# The first (or last) `limit` non-empty buckets of each key in [lower, upper): a skipEmpty
# page. LATERAL gives each key its own limit in one statement. For an admin's card the
# event_count filter applies to the summed bucket (the planner makes it a HAVING).
SPARSE_PAGE = """
    SELECT keys.id, page.bucket, page.bytes_used, page.event_count
    FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS keys (id, position)
    CROSS JOIN LATERAL (
        SELECT bucket, bytes_used, event_count
        FROM {relation} AS stored
        WHERE {key} = keys.id AND bucket >= %(lower)s AND bucket < %(upper)s
          AND event_count > 0{scope}
        ORDER BY bucket {direction}
        LIMIT %(limit)s
    ) AS page
    ORDER BY keys.position, page.bucket {direction}
"""

# Exact totals over [start, end): whole days from the daily aggregate (one row per day),
# the ragged hours at either end from the hourly one. Totals need no sum per bucket first.
TOTALS = """
    SELECT id, sum(bytes_used)::bigint, sum(event_count)::bigint
    FROM (
        SELECT {key} AS id, bytes_used, event_count FROM {daily}
        WHERE {key} = ANY(%(keys)s) AND bucket >= %(days_start)s AND bucket < %(days_end)s{scope}
        UNION ALL
        SELECT {key}, bytes_used, event_count FROM {hourly}
        WHERE {key} = ANY(%(keys)s) AND bucket >= %(start)s AND bucket < %(days_start)s{scope}
        UNION ALL
        SELECT {key}, bytes_used, event_count FROM {hourly}
        WHERE {key} = ANY(%(keys)s) AND bucket >= %(days_end)s AND bucket < %(end)s{scope}
    ) AS parts
    GROUP BY id
"""

# Non-empty buckets in [start, end), and how many lie before lower and from upper on: the
# skipEmpty totalCount and the page flags for the direction not being paged.
COUNTS = """
    SELECT {key}, count(*),
           count(*) FILTER (WHERE bucket < %(lower)s),
           count(*) FILTER (WHERE bucket >= %(upper)s)
    FROM {relation} AS stored
    WHERE {key} = ANY(%(keys)s) AND bucket >= %(start)s AND bucket < %(end)s
      AND event_count > 0{scope}
    GROUP BY {key}
"""


def scope_filter(scoped: bool, placeholder: sql.Placeholder = NAMED) -> sql.Composable:
    """The condition to one organization's rows of a card (scoped), or nothing."""
    return sql.SQL(OF_ONE_ORGANIZATION).format(organization=placeholder) if scoped else sql.SQL("")


def _relation(subject: str, relation: str, scoped: bool) -> sql.Composable:
    if subject == SIM_CARD and not scoped:
        return sql.SQL(SUMMED_OVER_ORGANIZATIONS).format(relation=sql.Identifier(relation))
    return sql.Identifier(relation)


def _per_relation(
    template: str, scoped: bool, placeholder: sql.Placeholder = NAMED, **fragments: sql.Composable
) -> dict[tuple[str, str], str]:
    """The template for each (subject, granularity); scoped: for the cards only."""
    return {
        (subject, granularity): sql.SQL(template).format(
            key=sql.Identifier(KEY_COLUMNS[subject]),
            relation=_relation(subject, relation, scoped),
            scope=scope_filter(scoped, placeholder),
            **fragments,
        ).as_string()
        for (subject, granularity), relation in RELATIONS.items()
        if subject == SIM_CARD or not scoped
    }


def _totals(scoped: bool) -> dict[str, str]:
    return {
        subject: sql.SQL(TOTALS).format(
            key=sql.Identifier(KEY_COLUMNS[subject]),
            daily=sql.Identifier(RELATIONS[subject, DAILY]),
            hourly=sql.Identifier(RELATIONS[subject, HOURLY]),
            scope=scope_filter(scoped, NAMED),
        ).as_string()
        for subject in KEY_COLUMNS
        if subject == SIM_CARD or not scoped
    }


def by_direction(compose: Callable[..., dict[tuple[str, str], str]]) -> dict[tuple[str, str, bool], str]:
    """compose(direction=ASC or DESC) for both directions, keyed (subject, granularity, backward)."""
    return {
        (subject, granularity, backward): statement
        for backward in (False, True)
        for (subject, granularity), statement in compose(
            direction=sql.SQL("DESC" if backward else "ASC")
        ).items()
    }


# Every organization's usage (an admin's, and the organizations' own series), keyed as
# RELATIONS; the SCOPED_ statements read one organization's usage of a card.
PAGE_STATEMENTS = _per_relation(PAGE, scoped=False)
SCOPED_PAGE_STATEMENTS = _per_relation(PAGE, scoped=True, placeholder=sql.Placeholder())
COUNT_STATEMENTS = _per_relation(COUNTS, scoped=False)
SCOPED_COUNT_STATEMENTS = _per_relation(COUNTS, scoped=True)
SPARSE_PAGE_STATEMENTS = by_direction(partial(_per_relation, SPARSE_PAGE, False))
SCOPED_SPARSE_PAGE_STATEMENTS = by_direction(partial(_per_relation, SPARSE_PAGE, True))
TOTALS_STATEMENTS = _totals(scoped=False)
SCOPED_TOTALS_STATEMENTS = _totals(scoped=True)
