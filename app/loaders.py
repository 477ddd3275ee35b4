"""DataLoaders: the look-ups of one request, batched so N cards cost one statement, not N.

Each loader's key names one entity plus the parameters of the look-up; the batch function
groups the keys that differ only by entity and runs one statement per group. A card's keys
carry the viewer's scope (the organization whose usage it reads, None for all): keys of two
scopes never share a statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.database import Database
from app.read_set import ReadSet, RequestDatabase
from app.loader_keys import (
    CountsKey,
    OrganizationCardsKey,
    OwnershipCountKey,
    OwnershipPageKey,
    PageKey,
    SparsePageKey,
    TotalsKey,
)
from app.queries import catalog, ownership, subject_pages, usage

Value = TypeVar("Value")
K = TypeVar("K")
V = TypeVar("V")


def _group_of(request: Any) -> tuple:
    fields = vars(request)
    return tuple(value for name, value in fields.items() if name != "key")


def grouped(
    fetch: Callable[[tuple, list[str]], Awaitable[dict[str, Value]]],
) -> Callable[[Sequence[Any]], Awaitable[list[Value]]]:
    """A batch function: one fetch per group of keys that share all but the entity."""

    async def load(requests: Sequence[Any]) -> list[Value]:
        groups: dict[tuple, list[str]] = {}
        for request in requests:
            keys = groups.setdefault(_group_of(request), [])
            if request.key not in keys:
                keys.append(request.key)
        if len(groups) == 1:  # the usual batch: awaited in place, no task to schedule
            found = [await fetch(*next(iter(groups.items())))]
        else:
            found = await asyncio.gather(*(fetch(group, keys) for group, keys in groups.items()))
        results = dict(zip(groups, found, strict=True))
        return [results[_group_of(request)][request.key] for request in requests]

    return load


def by_id(fetch: Callable[[list[str]], Awaitable[dict[str, Value]]], missing: Value):
    """A batch function over plain ids, with a value for ids not found."""

    async def load(ids: Sequence[Hashable]) -> list[Value]:
        found = await fetch(list(dict.fromkeys(ids)))
        return [found.get(identifier, missing) for identifier in ids]

    return load


class SharedLoader(DataLoader[K, V]):
    """A DataLoader whose futures outlive the cancellation of any one waiter.

    When a non-null field fails, graphql-core cancels its siblings; aliases of one request share
    the loader's cached futures, so the cancellation reached them too and the request ended in
    CancelledError, a bare 500 (a query over the node limit that also asked for totals).
    """

    def load(self, key: K) -> Awaitable[V]:
        """The value of key; cancelling this waiter leaves the shared future running."""
        future = super().load(key)
        # A settled future (primed, or loaded before) cannot be cancelled: no shield needed.
        return future if future.done() else asyncio.shield(future)


class Loaders:
    """The DataLoaders of one request, each made on first use."""

    def __init__(self, database: Database | RequestDatabase, reads: ReadSet) -> None:
        self.database = database
        self.reads = reads  # what each statement read, for the response cache

    def _catalog(self, fetch: Callable[[Any, list[str]], Awaitable[dict]]):
        """fetch(database, ids), recorded as a catalog read."""
        async def load(ids: list[str]) -> dict:
            self.reads.read_catalog()
            return await fetch(self.database, ids)

        return load

    @cached_property
    def pages(self) -> DataLoader[PageKey, list[usage.Bucket]]:
        """Dense pages of usage."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, list[usage.Bucket]]:
            subject, granularity, zone, scope, lower, upper = group
            self.reads.read_usage(subject, keys, lower, upper)
            return await usage.fetch_pages(
                self.database, (subject, granularity, zone), scope, keys, lower, upper
            )

        return SharedLoader(grouped(fetch))

    @cached_property
    def subjects_with_pages(self) -> DataLoader[PageKey, None]:
        """Cards or organizations looked up together with a dense page of their usage, both
        then primed into the loaders that read them one at a time (pages and look-ups)."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, None]:
            subject, granularity, zone, scope, lower, upper = group
            self.reads.read_usage(subject, keys, lower, upper)
            self.reads.read_catalog(statements=0)  # the same statement looks them up
            found = await subject_pages.fetch_subjects_with_pages(
                self.database, (subject, granularity, zone), scope, keys, lower, upper
            )
            lookups = self.sim_cards if subject == usage.SIM_CARD else self.organizations
            for key, (subject_found, buckets) in found.items():
                lookups.prime(key, subject_found)
                self.pages.prime(PageKey(subject, granularity, zone, scope, key, lower, upper),
                                 buckets)
            return dict.fromkeys(keys)

        return SharedLoader(grouped(fetch))

    @cached_property
    def sparse_pages(self) -> DataLoader[SparsePageKey, list[usage.Bucket]]:
        """skipEmpty pages of usage."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, list[usage.Bucket]]:
            subject, granularity, zone, scope, lower, upper, limit, backward = group
            self.reads.read_usage(subject, keys, lower, upper)
            return await usage.fetch_sparse_pages(
                self.database, (subject, granularity, zone), scope, keys, lower, upper, limit,
                backward,
            )

        return SharedLoader(grouped(fetch))

    @cached_property
    def totals(self) -> DataLoader[TotalsKey, tuple[int, int]]:
        """Usage totals."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, tuple[int, int]]:
            subject, scope, start, end = group
            self.reads.read_usage(subject, keys, start, end)
            return await usage.fetch_totals(self.database, subject, scope, keys, start, end)

        return SharedLoader(grouped(fetch))

    @cached_property
    def counts(self) -> DataLoader[CountsKey, tuple[int, int, int]]:
        """Counts of non-empty buckets."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, tuple[int, int, int]]:
            subject, granularity, zone, scope, start, end, lower, upper = group
            self.reads.read_usage(subject, keys, start, end)
            return await usage.fetch_counts(
                self.database, (subject, granularity, zone), scope, keys, start, end, lower, upper
            )

        return SharedLoader(grouped(fetch))

    @cached_property
    def sim_cards(self) -> DataLoader[str, catalog.SimCardRow | None]:
        """SIM cards by id (None: unknown)."""
        return SharedLoader(by_id(self._catalog(catalog.sim_cards_by_id), None))

    @cached_property
    def organizations(self) -> DataLoader[str, bool]:
        """Whether an organization exists, by id."""
        async def fetch(ids: list[str]) -> dict[str, bool]:
            self.reads.read_catalog()
            return dict.fromkeys(await catalog.organizations_by_id(self.database, ids), True)

        return SharedLoader(by_id(fetch, False))

    @cached_property
    def organization_cards(self) -> DataLoader[OrganizationCardsKey, list[catalog.SimCardRow]]:
        """Pages of organizations' inventory cards."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, list[catalog.SimCardRow]]:
            after, limit = group
            self.reads.read_catalog()
            return await catalog.sim_cards_of_organizations_page(self.database, keys, after, limit)

        return SharedLoader(grouped(fetch))

    @cached_property
    def organization_card_counts(self) -> DataLoader[str, int]:
        """How many inventory cards each organization has."""
        return SharedLoader(by_id(self._catalog(catalog.count_sim_cards_of_organizations), 0))

    @cached_property
    def ownership(self) -> DataLoader[OwnershipPageKey, list[ownership.Period]]:
        """Pages of cards' ownership periods."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, list[ownership.Period]]:
            scope, before, limit = group
            self.reads.read_catalog()
            return await ownership.periods_page(self.database, scope, keys, before, limit)

        return SharedLoader(grouped(fetch))

    @cached_property
    def ownership_counts(self) -> DataLoader[OwnershipCountKey, int]:
        """How many ownership periods each card has."""
        async def fetch(group: tuple, keys: list[str]) -> dict[str, int]:
            (scope,) = group
            self.reads.read_catalog()
            return await ownership.count_periods(self.database, scope, keys)

        return SharedLoader(grouped(fetch))
