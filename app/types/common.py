"""Types shared by every connection."""

from __future__ import annotations

from typing import Protocol

import strawberry


class PageSource(Protocol):
    """Whatever can answer Relay's page questions, possibly by reading the database."""

    async def has_previous_page(self) -> bool: ...
    async def has_next_page(self) -> bool: ...
    async def start_cursor(self) -> str | None: ...
    async def end_cursor(self) -> str | None: ...


class KnownPage:
    """A page whose answers are already known (the id-ordered lists)."""

    def __init__(self, cursors: list[str], has_next_page: bool) -> None:
        self._cursors = cursors
        self._has_next_page = has_next_page

    async def has_previous_page(self) -> bool:
        """Always false: these lists page forward only, as graphql-relay-js does."""
        return False

    async def has_next_page(self) -> bool:
        """Whether items follow the page."""
        return self._has_next_page

    async def start_cursor(self) -> str | None:
        """Cursor of the first item."""
        return self._cursors[0] if self._cursors else None

    async def end_cursor(self) -> str | None:
        """Cursor of the last item."""
        return self._cursors[-1] if self._cursors else None


@strawberry.type(description="Where a page lies in its list (Relay cursor connections).")
class PageInfo:
    """Relay's PageInfo, answered lazily: flags that need a query cost one only when asked."""

    source: strawberry.Private[PageSource]

    @strawberry.field(description="Whether items follow this page (with first: in the list after `after`).")
    async def has_next_page(self) -> bool:
        return await self.source.has_next_page()

    @strawberry.field(description="Whether items precede this page (with last: in the list before `before`).")
    async def has_previous_page(self) -> bool:
        return await self.source.has_previous_page()

    @strawberry.field(description="Cursor of the page's first item; null for an empty page.")
    async def start_cursor(self) -> str | None:
        return await self.source.start_cursor()

    @strawberry.field(description="Cursor of the page's last item; null for an empty page.")
    async def end_cursor(self) -> str | None:
        return await self.source.end_cursor()
