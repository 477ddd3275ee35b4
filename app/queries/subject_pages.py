"""A card's or an organization's existence and a page of its usage, in one statement.

`organization(id) { usage { ... } }` used to cost two round trips: the look-up that decides
whether the field is null, then the page. Where the page is known before the look-up (see
app/look_ahead.py), both are one statement: the look-up's rows, each joined to its key's
stored buckets (none: a subject without usage in the page, no row: no such subject).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from psycopg import sql

from app.database import Database
from app.queries.catalog import (
    ORGANIZATIONS_BY_ID_TEMPLATE,
    SIM_CARDS_BY_ID_TEMPLATE,
    SimCardRow,
    sim_card_row,
)
from app.queries.usage import Bucket, Series, page_statement, pages_of
from simusage.storage import ORGANIZATION, SIM_CARD

# OFFSET 0 keeps the look-up a subquery of its own, computed once per id: flattened into the
# join, a card's ARRAY of owners was computed again for each of its buckets (24 times for a
# day of hours: twice the statement's PostgreSQL CPU, measured by bench/api.py).
EXISTING_WITH_PAGE = """
    SELECT existing.*, page.bucket, page.bytes_used, page.event_count
    FROM ({existing} OFFSET 0) AS existing
    LEFT JOIN ({page}) AS page (key, bucket, bytes_used, event_count) ON page.key = existing.id
"""

# The look-up of each subject, with its ids as a positional or as the named "keys" parameter,
# the style of the page statement it is joined to; and how many columns its rows have.
# One key (the usual request) is written ARRAY[key]: PostgreSQL then knows the look-up yields
# one row even in a generic plan, and keeps the statement's generic plan; over an array
# parameter it estimates 100 and re-plans every execution (0.67 against 0.34 ms for a card's day
# of hours, planning included).
EXISTING = {
    (subject, named, single): sql.SQL(template).format(ids=sql.SQL("ARRAY[{}]").format(
        sql.Placeholder("keys") if named else sql.Placeholder()) if single else
        sql.Placeholder("keys") if named else sql.Placeholder())
    for subject, template in ((SIM_CARD, SIM_CARDS_BY_ID_TEMPLATE),
                              (ORGANIZATION, ORGANIZATIONS_BY_ID_TEMPLATE))
    for named in (False, True)
    for single in (False, True)
}
EXISTING_COLUMNS = {SIM_CARD: 3, ORGANIZATION: 1}
# The page statements' one array parameter: the keys (every other parameter is a scalar).
KEYS_IN_PAGE = {False: ("= ANY(%s)", "= ANY(ARRAY[%s]::text[])"),
                True: ("= ANY(%(keys)s)", "= ANY(ARRAY[%(keys)s]::text[])")}


@functools.lru_cache(maxsize=256)  # one per page statement: a few dozen
def existing_with_page(subject: str, page: str, named: bool, single: bool = False) -> str:
    """The look-up of subject joined to the page statement (parameters in its style); single:
    for one key, given as a scalar."""
    if single:
        page = page.replace(*KEYS_IN_PAGE[named])
    return sql.SQL(EXISTING_WITH_PAGE).format(
        existing=EXISTING[subject, named, single], page=sql.SQL(page)).as_string()


# A subject as found: a card's row or None, whether an organization exists.
Found = SimCardRow | bool | None


async def fetch_subjects_with_pages(
    database: Database, series: Series, scope: str | None, keys: Sequence[str],
    lower: int, upper: int,
) -> dict[str, tuple[Found, list[Bucket]]]:
    """For each key: the subject as its look-up finds it, and its stored buckets in
    [lower, upper) as fetch_pages gives them (scope: only that organization's usage)."""
    subject = series[0]
    page, parameters = page_statement(series, scope, keys, lower, upper)
    named, single = isinstance(parameters, dict), len(keys) == 1
    if named:
        parameters["keys"] = keys[0] if single else parameters["keys"]
    else:
        parameters = [keys[0], keys[0], *parameters[1:]] if single else \
            [list(keys), *parameters]
    rows = await database.fetch_all(existing_with_page(subject, page, named, single), parameters)
    width = EXISTING_COLUMNS[subject]
    found: dict[str, Found] = dict.fromkeys(keys, None if subject == SIM_CARD else False)
    for row in rows:
        found[row[0]] = sim_card_row(*row[:width]) if subject == SIM_CARD else True
    pages = pages_of(((row[0], *row[width:]) for row in rows if row[width] is not None), keys)
    return {key: (found[key], pages[key]) for key in keys}
