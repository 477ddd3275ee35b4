"""The Subscription root: a card's or an organization's buckets as their totals change."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import psycopg
import strawberry
from graphql import GraphQLError
from psycopg_pool import PoolTimeout
from strawberry.types import Info

from app.authentication import MESSAGES, AuthenticationFailed
from app.calendar import UTC_ZONE, check_whole_hours, time_zone
from app.errors import (
    SUBSCRIBER_TOO_SLOW,
    TooManySubscriptionsError,
    UserInputError,
    checked_id,
)
from app.context import RequestContext
from app.live_usage import SubscriberTooSlow, Watch
from app.queries.usage import ORGANIZATION, SIM_CARD
from app.types.usage import Granularity, TimeZoneArgument, UsageBucket, usage_bucket

# How often an open subscription checks that its key still holds (the authenticator caches a
# verified key as long): a revoked key's subscriptions end within twice this.
KEY_CHECK_SECONDS = 2.0
UNAUTHENTICATED = "UNAUTHENTICATED"

@strawberry.type(description="A bucket of a card's or an organization's usage with its new totals.")
class UsageBucketUpdate:
    """One changed bucket."""

    sim_card_id: strawberry.ID | None = strawberry.field(
        description="The SIM card subscribed to; null for an organization's usage."
    )
    organization_id: strawberry.ID | None = strawberry.field(
        description="The organization subscribed to; null for a SIM card's usage."
    )
    bucket: UsageBucket = strawberry.field(
        description="The bucket, with its full new totals (not the increase): applying the "
        "same update twice is harmless."
    )


async def _watch(info: Info, sim_card_id: strawberry.ID | None,
                 organization_id: strawberry.ID | None, granularity: Granularity,
                 zone_name: str | None) -> Watch:
    """What the arguments ask to watch, checked; what the viewer may not see is reported as
    not existing, as for the queries."""
    context = info.context
    if (sim_card_id is None) == (organization_id is None):
        raise UserInputError("give exactly one of simCardId and organizationId")
    zone = time_zone(zone_name)
    check_whole_hours(zone, [datetime.now(UTC)])
    name = UTC_ZONE if zone is UTC else zone.key  # type: ignore[attr-defined]
    if sim_card_id is not None:
        key = checked_id(sim_card_id, "simCardId")
        if await context.visible_card(key) is None:
            raise UserInputError(f"simCardId {key!r} names no SIM card you may see")
        return Watch(SIM_CARD, key, context.viewer.card_scope(), granularity.value, zone, name)
    key = checked_id(organization_id, "organizationId")
    if not await context.sees_organization(key):
        raise UserInputError(f"organizationId {key!r} names no organization you may see")
    return Watch(ORGANIZATION, key, None, granularity.value, zone, name)


async def _check_key(context: RequestContext) -> None:
    """End the subscription if its socket's key was revoked since it connected."""
    if context.key_check is None or context.authorization is None:
        return  # access control is off
    try:
        await context.key_check(context.authorization)
    except AuthenticationFailed as failure:
        raise GraphQLError(f"this subscription was ended: {MESSAGES[failure.reason]}",
                           extensions={"code": UNAUTHENTICATED}) from None
    except (psycopg.Error, PoolTimeout):
        pass  # the database is away: the key was valid, it is checked again soon


@strawberry.type(description="Live usage, over WebSocket (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(
        description="The buckets of a card or an organization whose totals changed, as they "
        "change: each within about a second of the commit that changed it."
    )
    async def usage_updates(
        self, info: Info,
        sim_card_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="The SIM card to watch (or organizationId, not both).")] = None,
        organization_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="The organization to watch (or simCardId, not both).")] = None,
        granularity: Annotated[Granularity, strawberry.argument(
            description="The buckets updates are given in.")] = Granularity.HOURLY,
        time_zone: TimeZoneArgument = UTC_ZONE,
    ) -> AsyncGenerator[UsageBucketUpdate, None]:
        context = info.context
        watch = await _watch(info, sim_card_id, organization_id, granularity, time_zone)
        live = context.live
        if live is None:
            raise UserInputError("live usage is off in this server (SIMUSAGE_CHANGE_FEED=off)")
        if context.subscriptions >= context.max_subscriptions:
            raise TooManySubscriptionsError(
                f"this connection has {context.max_subscriptions} subscriptions open, the most "
                "allowed (SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_CONNECTION): end one first")
        subscription = live.subscribe(watch, context.key_id)
        context.subscriptions += 1
        card = strawberry.ID(watch.key) if watch.subject == SIM_CARD else None
        organization = strawberry.ID(watch.key) if watch.subject == ORGANIZATION else None
        checked = time.monotonic()
        try:
            while True:
                bucket = await subscription.next(KEY_CHECK_SECONDS)
                if time.monotonic() - checked >= KEY_CHECK_SECONDS:
                    await _check_key(context)
                    checked = time.monotonic()
                if bucket is None:
                    continue
                yield UsageBucketUpdate(sim_card_id=card, organization_id=organization,
                                        bucket=usage_bucket(bucket, watch.zone))
        except SubscriberTooSlow:
            raise GraphQLError(
                f"this subscription was ended: more than {live.queue_size} buckets' updates "
                "waited for the client to read them; subscribe again", extensions={"code": SUBSCRIBER_TOO_SLOW},
            ) from None
        finally:
            context.subscriptions -= 1
            live.unsubscribe(subscription)
