"""The keys of the request's DataLoaders (app/loaders.py): one entity (`key`) plus the
parameters of its look-up, which decide the statement it shares with other keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PageKey:
    """Every stored bucket of one key in [lower, upper)."""

    subject: str
    granularity: str
    zone: str  # the IANA zone of local days and months
    scope: str | None  # only the usage attributed to this organization; None: all of it
    key: str
    lower: int
    upper: int


@dataclass(frozen=True)
class SparsePageKey:
    """Up to limit non-empty buckets of one key in [lower, upper), from lower or from upper."""

    subject: str
    granularity: str
    zone: str
    scope: str | None
    key: str
    lower: int
    upper: int
    limit: int
    backward: bool


@dataclass(frozen=True)
class TotalsKey:
    """Bytes and events of one key over [start, end)."""

    subject: str
    scope: str | None
    key: str
    start: int
    end: int


@dataclass(frozen=True)
class CountsKey:
    """Non-empty buckets of one key in [start, end), before lower, from upper on."""

    subject: str
    granularity: str
    zone: str
    scope: str | None
    key: str
    start: int
    end: int
    lower: int
    upper: int


@dataclass(frozen=True)
class OwnershipPageKey:
    """Up to limit of one card's periods that start before `before` (None: now), latest first."""

    scope: str | None  # only this organization's periods; None: every owner's
    key: str
    before: datetime | None
    limit: int


@dataclass(frozen=True)
class OwnershipCountKey:
    """How many periods one card has (of one organization, if scoped)."""

    scope: str | None
    key: str


@dataclass(frozen=True)
class OrganizationCardsKey:
    """A page of one organization's inventory cards."""

    key: str
    after: str | None
    limit: int
