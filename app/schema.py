"""The GraphQL schema: the Query root, its thin resolvers, and the schema's extensions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from app.context import RequestContext
from app.errors import checked_id, code_of, coded, log_unexpected
from app.extensions import (
    Limits,
    ValidationCache,
    cached_parser,
    operation_count,
    request_pipeline,
    validation_rules,
)
from app.direct_resolvers import check_seam as check_direct_resolver_seam
from app.look_ahead import check_seam as check_look_ahead_seam
from app.look_ahead import look_up_with_usage_page
from app.metrics import ERRORS, operation_labeler
from app.prepared_operations import PreparedOperations
from app.plain_lists import PlainListExecutionContext, check_seam
from app.queries.usage import ORGANIZATION, SIM_CARD
from app.query_cost import CostModel
from app.scalars import SCALARS
from app.types.catalog import (
    CardsAfter,
    CardsFirst,
    Organization,
    SimCard,
    SimCardConnection,
    cards_page,
)
from app.types.live import Subscription
from app.types.node import Node, decode_node_id
from app.types.organizations import OrganizationConnection, organizations_page

# Distinct query texts kept parsed and validated per worker. Clients send a handful of
# shapes with variables; a bounded cache keeps a flood of distinct texts from growing memory.
CACHE_SIZE = 512


async def visible_sim_card(context: RequestContext, sim_card_id: str) -> SimCard | None:
    """The card as a GraphQL object, if the viewer may see it."""
    row = await context.visible_card(sim_card_id)
    if row is None:
        return None
    return SimCard(id=strawberry.ID(row.id), organization_id=row.organization_id)


async def visible_organization(context: RequestContext, organization_id: str) -> Organization | None:
    """The organization as a GraphQL object, if the viewer may see it."""
    if not await context.sees_organization(organization_id):
        return None
    return Organization(id=strawberry.ID(organization_id))


@strawberry.type(description="The questions simusage answers: SIM cards, organizations and their usage.")
class Query:
    @strawberry.field(description="A SIM card known from the inventory or from its usage; null if neither.")
    async def sim_card(
        self, info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The SIM card id, e.g. 89440001.")],
    ) -> SimCard | None:
        sim_card_id = checked_id(id)
        await look_up_with_usage_page(info, SIM_CARD, sim_card_id)
        return await visible_sim_card(info.context, sim_card_id)

    @strawberry.field(
        description="An organization that owns or owned at least one SIM card; null otherwise."
    )
    async def organization(
        self, info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The organization id, e.g. f00ff.")],
    ) -> Organization | None:
        organization_id = checked_id(id)
        if info.context.viewer.may_see_organization(organization_id):
            await look_up_with_usage_page(info, ORGANIZATION, organization_id)
        return await visible_organization(info.context, organization_id)

    @strawberry.field(
        description="The Organization or SimCard of a global id (its `nodeId`); null, as for the "
        "typed fields, if there is none the caller may see."
    )
    async def node(
        self, info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The object's nodeId.")],
    ) -> Node | None:
        type_name, key = decode_node_id(checked_id(id))
        if type_name == "SimCard":
            return await visible_sim_card(info.context, checked_id(key))
        return await visible_organization(info.context, checked_id(key))

    @strawberry.field(
        description="SIM cards by id: of one organization, or every card the caller may see "
        "(for an admin, the inventory and the cards known only from their usage)."
    )
    async def sim_cards(
        self, info: Info, first: CardsFirst = None, after: CardsAfter = None,
        organization_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the inventory cards of this organization."),
        ] = None,
    ) -> SimCardConnection:
        organization = checked_id(organization_id, "organizationId") if organization_id is not None else None
        return await cards_page(info.context, organization, first, after)

    @strawberry.field(description="The organizations the caller may see, by id.")
    async def organizations(
        self, info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(description="Page size (default 100, at most 1000)."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the organization the page starts after."),
        ] = None,
    ) -> OrganizationConnection:
        return await organizations_page(info.context, first, after)


class Schema(strawberry.Schema):
    """Strawberry's schema, whose errors all carry a code and hide the server's internals."""

    # Set by build_schema: the operations a query text defines, from the parse cache, and the
    # documents known valid, executed without strawberry's per-request pipeline.
    operation_count: Callable[[str], int]
    prepared: PreparedOperations

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected failures, then replace each error, in place, by its coded form.

        Strawberry calls this once for every result with errors, on every path (parse and
        validation failures, execution, exceptions), before the response is built.
        """
        # Strawberry records the result only once execution has run.
        self.code_errors(errors, execution_context is None or execution_context.result is None)

    def code_errors(self, errors: list[GraphQLError], before_execution: bool) -> None:
        """Log unexpected failures, then code each error in place (before_execution: from
        parsing or validation)."""
        log_unexpected(errors)
        errors[:] = [coded(error, before_execution) for error in errors]
        for error in errors:
            ERRORS.labels(code_of(error)).inc()


def build_schema(
    max_tokens: int = 2000, max_depth: int = 12, max_aliases: int = 30,
    metrics_operations: frozenset[str] = frozenset(), max_cost: int = 25_000,
    plain_lists: bool = True,
) -> Schema:
    """The schema with its limits; build it once per process, not per request."""
    rules = validation_rules(max_depth, max_aliases)
    label = operation_labeler(metrics_operations)
    cost_model = CostModel(max_cost)
    cached_parse = cached_parser(CACHE_SIZE)
    limits = Limits(max_tokens, rules, cached_parse, label, cost_model)
    validations = ValidationCache(CACHE_SIZE)
    extensions: list[Any] = [request_pipeline(limits, validations)]
    schema = Schema(
        query=Query,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=PlainListExecutionContext if plain_lists else None,
    )
    if plain_lists:
        check_seam(schema._schema, "UsageBucket", "bytesUsed")
    check_look_ahead_seam()
    check_direct_resolver_seam(schema, "Query", "organization")
    cost_model.bind(schema.as_str())
    schema.operation_count = lambda query: operation_count(cached_parse, query, max_tokens)
    schema.prepared = PreparedOperations(schema, limits, validations, CACHE_SIZE)
    return schema
