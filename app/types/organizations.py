"""The organizations the caller may see: their connection, an admin's list or a key's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from app.context import RequestContext
from app.pagination import ORGANIZATION_CURSOR, decode_cursor, encode_cursor, page_size
from app.queries import catalog
from app.types.catalog import Organization, nothing
from app.types.common import KnownPage, PageInfo


@strawberry.type(description="An organization in a list, with its cursor.")
class OrganizationEdge:
    """An organization and its cursor."""

    cursor: str = strawberry.field(description="Opaque cursor of this organization, for `after`.")
    node: Organization = strawberry.field(description="The organization.")


@strawberry.type(description="A page of organizations, ordered by id.")
class OrganizationConnection:
    """A page of organizations; totalCount is read only when asked."""

    edges: list[OrganizationEdge] = strawberry.field(description="The page's organizations, by id.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the list.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Organizations in the whole list, over all pages.")
    async def total_count(self) -> int:
        return await self.count()


def organization_connection(
    ids: list[str], limit: int, count: Callable[[], Awaitable[int]]
) -> OrganizationConnection:
    """A page of organizations from ids read with limit + 1."""
    edges = [
        OrganizationEdge(
            cursor=encode_cursor(ORGANIZATION_CURSOR, organization_id),
            node=Organization(id=strawberry.ID(organization_id)),
        )
        for organization_id in ids[:limit]
    ]
    page_info = PageInfo(source=KnownPage([edge.cursor for edge in edges], len(ids) > limit))
    return OrganizationConnection(edges=edges, page_info=page_info, count=count)


async def organizations_page(
    context: RequestContext, first: int | None, after: str | None
) -> OrganizationConnection:
    """A page of organizations: all (admin) or the viewer's own, if it has cards."""
    size, _ = page_size(first, None)
    after_id = decode_cursor(after, ORGANIZATION_CURSOR) if after is not None else None
    viewer, database = context.viewer, context.database
    if viewer.admin:
        ids = await catalog.organizations_page(database, after_id, size + 1)
        context.charge(min(size, len(ids)))
        return organization_connection(ids, size, lambda: catalog.count_organizations(database))
    own = viewer.organization_id
    exists = own is not None and await context.loaders.organizations.load(own)
    if not exists:
        return organization_connection([], size, nothing)
    listed = after_id is None or await catalog.sorts_after(database, own, after_id)
    return organization_connection([own] if listed else [], size, _one)


async def _one() -> int:
    return 1
