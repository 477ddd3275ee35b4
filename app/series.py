"""One usage series as asked by a client: checked arguments, then lazily its page, flags, totals.

Nothing is read until a field asks for it, and everything is read through the request's
DataLoaders, so a hundred cards' series cost one statement per kind of read.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from app.calendar import (
    MONTHLY,
    UTC_ZONE,
    CalendarGrid,
    calendar_grid,
    in_zone,
    time_zone,
    whole_interval,
)
from app.context import RequestContext
from app.loader_keys import CountsKey, PageKey, SparsePageKey, TotalsKey
from app.pagination import (
    DAILY_CURSOR,
    HOURLY_CURSOR,
    MONTHLY_CURSOR,
    DensePage,
    Grid,
    Slice,
    dense_page,
    encode_cursor,
    slice_grid,
)
from app.queries.usage import DAILY, DAY_SECONDS, HOUR_SECONDS, HOURLY, SIM_CARD, Bucket

STEPS = {HOURLY: HOUR_SECONDS, DAILY: DAY_SECONDS}
CURSOR_KINDS = {HOURLY: HOURLY_CURSOR, DAILY: DAILY_CURSOR, MONTHLY: MONTHLY_CURSOR}
UNITS = {HOURLY: "a whole UTC hour", DAILY: "a UTC midnight"}


def usage_grid(
    start: datetime, end: datetime, granularity: str, zone: tzinfo = UTC
) -> Grid | CalendarGrid:
    """The bucket grid of [start, end) in the zone, checked: ordered and aligned to the
    granularity (local days and months in the zone; hours are the same hours everywhere)."""
    if granularity == MONTHLY or (granularity == DAILY and zone is not UTC):
        return calendar_grid(granularity, zone, start, end)
    step = STEPS[granularity]
    rule = f"{UNITS[granularity]} for {granularity} usage"
    return Grid(*whole_interval(start, end, zone, step, rule), step)


class UsageSeries:
    """The usage of one SIM card or organization, paged as the arguments say.

    scope: for a card, the organization whose attributed usage is read (None: all of it, for
    an admin); an organization's series needs none, its relation is keyed by organization.
    """

    def __init__(
        self, context: RequestContext, subject: str, scope: str | None, key: str,
        granularity: str, zone: tzinfo, grid: Grid | CalendarGrid, page_slice: Slice,
        skip_empty: bool,
    ) -> None:
        self.context = context
        self.zone = zone
        # The loaders' key: null and "UTC" are one series.
        self.zone_name = UTC_ZONE if zone is UTC else zone.key  # type: ignore[attr-defined]
        self.subject = subject
        self.scope = scope
        self.key = key
        self.granularity = granularity
        self.grid = grid
        self.slice = page_slice
        self.skip_empty = skip_empty
        self.kind = CURSOR_KINDS[granularity]
        self._dense: DensePage | None = None if skip_empty else dense_page(page_slice)
        self._charged = False

    @classmethod
    def build(
        cls, context: RequestContext, subject: str, key: str, start: datetime, end: datetime,
        granularity: str, zone_name: str | None, skip_empty: bool, first: int | None,
        after: str | None, last: int | None, before: str | None,
    ) -> UsageSeries:
        """Check every argument now, so that bad input fails whatever fields are selected."""
        zone = time_zone(zone_name)
        grid = usage_grid(in_zone(start, zone), in_zone(end, zone), granularity, zone)
        page_slice = slice_grid(grid, CURSOR_KINDS[granularity], first, after, last, before)
        scope = context.viewer.card_scope() if subject == SIM_CARD else None
        return cls(context, subject, scope, key, granularity, zone, grid, page_slice, skip_empty)

    async def _sparse_rows(self) -> list[Bucket]:
        request = SparsePageKey(
            self.subject, self.granularity, self.zone_name, self.scope, self.key, self.slice.lower,
            self.slice.upper, self.slice.size + 1, self.slice.backward,
        )
        if self.slice.size == 0 or self.slice.lower == self.slice.upper:
            return []
        return await self.context.loaders.sparse_pages.load(request)

    async def _counts(self) -> tuple[int, int, int]:
        return await self.context.loaders.counts.load(CountsKey(
            self.subject, self.granularity, self.zone_name, self.scope, self.key, self.grid.start,
            self.grid.end, self.slice.lower, self.slice.upper,
        ))

    def page_key(self) -> PageKey | None:
        """The loaders' key of the dense page; None for a skipEmpty or an empty page."""
        page = self._dense
        if page is None or page.start == page.end:
            return None
        return PageKey(self.subject, self.granularity, self.zone_name, self.scope, self.key,
                       page.start, page.end)

    async def buckets(self) -> list[Bucket]:
        """The page's buckets in time order (zeros included unless skipEmpty)."""
        if not self._charged:
            self._charged = True
            self.context.charge(min(self.slice.size, self.slice.upper_index - self.slice.lower_index))
        if self._dense is None:
            rows = (await self._sparse_rows())[: self.slice.size]
            if self.slice.backward:
                rows.reverse()
            return rows
        page_key = self.page_key()
        if page_key is None:
            return []
        rows = await self.context.loaders.pages.load(page_key)
        stored = {row.start: row for row in rows}
        return [stored.get(start) or Bucket(start, 0, 0)
                for start in self.grid.starts(page_key.lower, page_key.upper)]

    async def has_previous_page(self) -> bool:
        """Relay's hasPreviousPage."""
        if self._dense is not None:
            return self._dense.has_previous_page
        if self.slice.backward:
            return len(await self._sparse_rows()) > self.slice.size
        return (await self._counts())[1] > 0

    async def has_next_page(self) -> bool:
        """Relay's hasNextPage."""
        if self._dense is not None:
            return self._dense.has_next_page
        if not self.slice.backward:
            return len(await self._sparse_rows()) > self.slice.size
        return (await self._counts())[2] > 0

    async def start_cursor(self) -> str | None:
        """Cursor of the page's first bucket."""
        edges = await self._page_bounds()
        return edges[0]

    async def end_cursor(self) -> str | None:
        """Cursor of the page's last bucket."""
        edges = await self._page_bounds()
        return edges[1]

    async def _page_bounds(self) -> tuple[str | None, str | None]:
        if self._dense is not None:
            page = self._dense
            if page.start == page.end:
                return None, None
            last = self.grid.time(self.grid.index_before(page.end) - 1)
            return encode_cursor(self.kind, page.start), encode_cursor(self.kind, last)
        rows = (await self._sparse_rows())[: self.slice.size]
        if not rows:
            return None, None
        first, last = (rows[-1], rows[0]) if self.slice.backward else (rows[0], rows[-1])
        return encode_cursor(self.kind, first.start), encode_cursor(self.kind, last.start)

    async def total_count(self) -> int:
        """Buckets in the whole interval; only the non-empty ones with skipEmpty."""
        if self._dense is not None:
            return self.grid.count
        return (await self._counts())[0]

    async def totals(self) -> tuple[int, int]:
        """(bytes, events) over the whole interval."""
        return await self.context.loaders.totals.load(
            TotalsKey(self.subject, self.scope, self.key, self.grid.start, self.grid.end)
        )

