"""What one GraphQL request read: the response cache keeps an answer only while none of it changed.

Every statement of a request goes through its RequestDatabase, which counts them; the loaders
(and the ranking) record what each of theirs read: a subject's usage over a time range, or the
catalog (cards, organizations, ownership). A request that ran a statement nobody described is
not cached: an unknown read could change unseen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from app.database import Database


class ReadSet:
    """The usage ranges and catalog reads of one request."""

    __slots__ = ("usage", "catalog", "statements", "described", "opaque")

    def __init__(self) -> None:
        self.usage: list[tuple[str, str, int, int]] = []  # (subject, key, lower, upper) seconds
        self.catalog = False
        self.statements = 0
        self.described = 0
        self.opaque = False  # the pool itself was used: reads nobody can describe

    def read_usage(self, subject: str, keys: Iterable[str], lower: int, upper: int) -> None:
        """One statement read these subjects' usage in [lower, upper) (epoch seconds)."""
        self.usage.extend((subject, key, lower, upper) for key in keys)
        self.described += 1

    def read_catalog(self, statements: int = 1) -> None:
        """Statements read cards, organizations or ownership."""
        self.catalog = True
        self.described += statements

    @property
    def complete(self) -> bool:
        """Whether every statement the request ran is described."""
        return not self.opaque and self.statements == self.described


class RequestDatabase:
    """The pool as one request sees it: each statement counted in the request's ReadSet."""

    def __init__(self, database: Database, reads: ReadSet) -> None:
        self._database = database
        self._reads = reads

    async def fetch_all(self, query: str, parameters: Sequence[Any] | dict[str, Any]) -> list[tuple]:
        """All rows of one statement."""
        self._reads.statements += 1
        return await self._database.fetch_all(query, parameters)

    def __getattr__(self, name: str) -> Any:
        # Anything but fetch_all (the pool, a raw connection) is a read nobody describes.
        self._reads.opaque = True
        return getattr(self._database, name)
