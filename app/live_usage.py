"""Live usage: the subscriptions of one API process, fed by the change feed.

A change names hours (of cards and organizations) or ranges of hours (of every subject). Each
subscription watching a changed subject maps them to its own buckets (local days or months in
its zone), the new totals are read for all such subscriptions in one statement per kind of
series, and each subscription is sent the buckets whose totals differ from what it was last
sent: every message carries a bucket's full total, so a repeated one does the client no harm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import tzinfo

import psycopg
from psycopg_pool import PoolTimeout

from app.calendar import bucket_span
from app.database import Database
from app.errors import TooManySubscriptionsError
from app.metrics import SUBSCRIBERS_DROPPED, SUBSCRIPTIONS
from app.queries.usage import ORGANIZATION, SIM_CARD, Bucket, fetch_pages
from simusage.change_feed import Change, merged
from simusage.storage import HOUR_SECONDS

log = logging.getLogger("simusage.api")
RETRY_SECONDS = 1.0
# Buckets a subscription remembers having sent (to send only what differs), most recent kept.
KNOWN_BUCKETS = 512
# After a feed reconnect or an ownership change, the hours re-read around now.
RECENT_HOURS = 24


class SubscriberTooSlow(Exception):
    """The client did not read its updates: they would pile up without bound."""


@dataclass(frozen=True)
class Watch:
    """What a subscription watches: a subject's series as a granularity and zone cut it;
    scope: the organization whose part of a card's usage the viewer reads (None: all)."""

    subject: str
    key: str
    scope: str | None
    granularity: str
    zone: tzinfo
    zone_name: str


class Subscription:
    """One subscriber's pending buckets and the totals it was last sent.

    Pending updates are kept by bucket, the newest total replacing an older one not yet sent:
    what waits for a slow client is bounded by the buckets, not by the changes.
    """

    def __init__(self, watch: Watch, owner: str, queue_size: int) -> None:
        self.watch = watch
        self.owner = owner
        self.queue_size = queue_size
        self.pending: OrderedDict[int, Bucket] = OrderedDict()
        self.known: OrderedDict[int, tuple[int, int]] = OrderedDict()
        self.dropped = False
        self._ready = asyncio.Event()

    def offer(self, bucket: Bucket) -> bool:
        """Queue the bucket unless the client was sent this total; False if it is too slow."""
        totals = (bucket.bytes_used, bucket.event_count)
        if self.known.get(bucket.start) == totals and bucket.start not in self.pending:
            return True
        if bucket.start not in self.pending and len(self.pending) >= self.queue_size:
            self.dropped = True
            self._ready.set()
            return False
        self.pending[bucket.start] = bucket
        self.known[bucket.start] = totals
        self.known.move_to_end(bucket.start)
        if len(self.known) > KNOWN_BUCKETS:
            self.known.popitem(last=False)
        self._ready.set()
        return True

    async def next(self, timeout: float) -> Bucket | None:
        """The next changed bucket, or None if none came within timeout; raises
        SubscriberTooSlow once dropped."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return None
        if self.dropped:
            raise SubscriberTooSlow
        _, bucket = self.pending.popitem(last=False)
        if not self.pending:
            self._ready.clear()
        return bucket


def _extent(watch: Watch, starts: set[int], spans: list[tuple[int, int]]) -> tuple[int, int]:
    """[lower, upper) covering the changed buckets and spans."""
    ends = [bucket_span(watch.granularity, watch.zone, start)[1] for start in starts]
    return (min([*starts, *(low for low, _ in spans)]),
            max([*ends, *(high for _, high in spans)]))


class LiveUsage:
    """The process's subscriptions by subject, and their limits."""

    def __init__(self, database: Database, per_key: int, queue_size: int) -> None:
        self.database = database
        self.per_key = per_key
        self.queue_size = queue_size
        self.by_subject: dict[tuple[str, str], set[Subscription]] = defaultdict(set)
        self.owners: Counter[str] = Counter()
        self._changes: list[Change] = []  # received, not yet delivered
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def subscribe(self, watch: Watch, owner: str) -> Subscription:
        """A new subscription of owner (an API key's id); refused past the key's limit."""
        if self.owners[owner] >= self.per_key:
            raise TooManySubscriptionsError(
                f"this API key has {self.per_key} subscriptions open in this server process, the "
                f"most allowed (SIMUSAGE_API_MAX_SUBSCRIPTIONS_PER_KEY): end one first"
            )
        subscription = Subscription(watch, owner, self.queue_size)
        self.by_subject[watch.subject, watch.key].add(subscription)
        self.owners[owner] += 1
        SUBSCRIPTIONS.inc()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget the subscription (its client left, or was dropped)."""
        watch = subscription.watch
        subscribers = self.by_subject.get((watch.subject, watch.key))
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self.by_subject[watch.subject, watch.key]
        self.owners[subscription.owner] -= 1
        if not self.owners[subscription.owner]:
            del self.owners[subscription.owner]
        SUBSCRIPTIONS.dec()

    async def on_change(self, change: Change) -> None:
        """Queue the change for delivery: the feed reads on while the new totals are read."""
        if not self.by_subject:
            return
        self._changes.append(change)
        self._wake.set()

    async def start(self) -> None:
        """Deliver queued changes in the background until stopped."""
        self._task = asyncio.create_task(self._deliver_queued(), name="simusage-live-usage")

    async def stop(self) -> None:
        """Stop delivering."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _deliver_queued(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            change, self._changes = merged(self._changes), []
            try:
                await self.deliver(change)
            except (psycopg.Error, PoolTimeout) as error:
                # Totals are read when sent: retried later, they are the newest, not stale.
                log.warning("live usage: new totals not read (%s); retrying in 1 s", error)
                self._changes.insert(0, change)
                self._wake.set()
                await asyncio.sleep(RETRY_SECONDS)

    async def deliver(self, change: Change) -> None:
        """Send every affected subscription the buckets whose totals changed."""
        wanted = self._affected(change)
        groups: dict[tuple, dict[str, list[tuple[Subscription, set[int], list]]]] = defaultdict(
            lambda: defaultdict(list))
        for subscription, (starts, spans) in wanted.items():
            watch = subscription.watch
            group = (watch.subject, watch.granularity, watch.zone_name, watch.scope)
            groups[group][watch.key].append((subscription, starts, spans))
        for (subject, granularity, zone_name, scope), by_key in groups.items():
            extents = [_extent(subscription.watch, starts, spans)
                       for entries in by_key.values() for subscription, starts, spans in entries]
            lower, upper = min(low for low, _ in extents), max(high for _, high in extents)
            pages = await fetch_pages(self.database, (subject, granularity, zone_name), scope,
                                      list(by_key), lower, upper)
            for key, entries in by_key.items():
                stored = {bucket.start: bucket for bucket in pages[key]}
                for subscription, starts, spans in entries:
                    self._send(subscription, stored, starts, spans)

    def _send(self, subscription: Subscription, stored: dict[int, Bucket], starts: set[int],
              spans: list[tuple[int, int]]) -> None:
        buckets = {start: stored.get(start) or Bucket(start, 0, 0) for start in starts}
        for lower, upper in spans:
            for start, bucket in stored.items():
                if lower <= start < upper:
                    buckets[start] = bucket
            for start in subscription.known:  # known, now absent: moved away entirely
                if lower <= start < upper and start not in stored:
                    buckets[start] = Bucket(start, 0, 0)
        for start in sorted(buckets):
            if not subscription.offer(buckets[start]):
                SUBSCRIBERS_DROPPED.inc()
                self.unsubscribe(subscription)
                return

    def _affected(self, change: Change) -> dict[Subscription, tuple[set[int], list]]:
        """Each affected subscription's changed bucket starts, and bucket spans whose stored
        rows all count as changed."""
        affected: dict[Subscription, tuple[set[int], list]] = {}
        if change.everything or change.ranges:
            now = int(time.time()) // HOUR_SECONDS
            ranges = change.ranges if not change.everything else [
                (now - RECENT_HOURS, now + 1)]
            for subscribers in self.by_subject.values():
                for subscription in subscribers:
                    watch = subscription.watch
                    spans = [(bucket_span(watch.granularity, watch.zone, start * HOUR_SECONDS)[0],
                              bucket_span(watch.granularity, watch.zone,
                                          (end - 1) * HOUR_SECONDS)[1])
                             for start, end in ranges]
                    known = set(subscription.known) if change.everything else set()
                    affected[subscription] = (known, spans)
            return affected
        for subject, changed in ((SIM_CARD, change.cards), (ORGANIZATION, change.organizations)):
            for key, hours in changed.items():
                for subscription in self.by_subject.get((subject, key), ()):
                    watch = subscription.watch
                    starts = {bucket_span(watch.granularity, watch.zone, hour * HOUR_SECONDS)[0]
                              for hour in hours}
                    affected[subscription] = (starts, [])
        return affected
