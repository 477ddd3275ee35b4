"""The statements of local days and months: aggregate rows summed into the customer's calendar.

A local day or month is a run of whole UTC hours (app/calendar.py refuses the zones where it is
not), so the hourly aggregate's rows sum into it exactly; UTC months are runs of UTC days and
read the daily aggregate. date_trunc(unit, bucket, zone) names the local bucket a row falls
in, with PostgreSQL's rule for a midnight the clocks skip (the first instant after the gap),
which is also Python's: the grid the API fills and the buckets the database sums agree.
"""

from __future__ import annotations

from functools import partial

from psycopg import sql

from app.queries.usage_statements import by_direction, scope_filter
from simusage.storage import KEY_COLUMNS, RELATIONS, SIM_CARD

# The rows of the keys in [range_start, range_end), summed per key and local bucket; a card's
# rows of every organization together, or (scoped) of one.
IN_LOCAL_BUCKETS = """(
    SELECT {key}, date_trunc(%(unit)s, bucket, %(zone)s) AS bucket,
           sum(bytes_used)::bigint AS bytes_used, sum(event_count)::bigint AS event_count
    FROM {relation}
    WHERE {key} = ANY(%(keys)s) AND bucket >= %(range_start)s AND bucket < %(range_end)s{scope}
    GROUP BY 1, 2
)"""

# A dense page: every summed bucket of [range_start, range_end), zeros filled in Python.
PAGE = """
    SELECT {key}, bucket, bytes_used, event_count
    FROM {buckets} AS stored
    ORDER BY {key}, bucket
"""

# A skipEmpty page: the first (or last) `limit` non-empty local buckets of each key.
SPARSE_PAGE = """
    SELECT {key}, bucket, bytes_used, event_count
    FROM (
        SELECT stored.*, row_number() OVER (PARTITION BY {key} ORDER BY bucket {direction}) AS place
        FROM {buckets} AS stored
        WHERE event_count > 0
    ) AS ranked
    WHERE place <= %(limit)s
    ORDER BY {key}, bucket {direction}
"""

# Non-empty local buckets of [range_start, range_end), before lower, from upper on.
COUNTS = """
    SELECT {key}, count(*),
           count(*) FILTER (WHERE bucket < %(lower)s),
           count(*) FILTER (WHERE bucket >= %(upper)s)
    FROM {buckets} AS stored
    WHERE event_count > 0
    GROUP BY {key}
"""


def _compose(template: str, scoped: bool, **fragments: sql.Composable) -> dict[tuple[str, str], str]:
    """The template for each (subject, relation granularity); scoped: for the cards only."""
    return {
        (subject, granularity): sql.SQL(template).format(
            key=sql.Identifier(KEY_COLUMNS[subject]),
            buckets=sql.SQL(IN_LOCAL_BUCKETS).format(
                key=sql.Identifier(KEY_COLUMNS[subject]),
                relation=sql.Identifier(relation),
                scope=scope_filter(scoped),
            ),
            **fragments,
        ).as_string()
        for (subject, granularity), relation in RELATIONS.items()
        if subject == SIM_CARD or not scoped
    }


# Keyed by (subject, granularity of the relation read) as RELATIONS; SCOPED_: one organization's
# usage of a card.
CALENDAR_PAGE_STATEMENTS = _compose(PAGE, scoped=False)
SCOPED_CALENDAR_PAGE_STATEMENTS = _compose(PAGE, scoped=True)
CALENDAR_SPARSE_PAGE_STATEMENTS = by_direction(partial(_compose, SPARSE_PAGE, False))
SCOPED_CALENDAR_SPARSE_PAGE_STATEMENTS = by_direction(partial(_compose, SPARSE_PAGE, True))
CALENDAR_COUNT_STATEMENTS = _compose(COUNTS, scoped=False)
SCOPED_CALENDAR_COUNT_STATEMENTS = _compose(COUNTS, scoped=True)
