"""The exact response cache: answers kept in memory until the change feed says what they read changed.

An answer is keyed by the operation's text, name and variables and by the caller's scope, and
remembers what it read (app/read_set.py). It is stored only if the change feed was live for
the whole execution and no change arrived meanwhile (an answer read before a change it does
not yet show would otherwise outlive it), and it is evicted by the first change to anything it
read. Bounded in bytes, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from app.change_feed import ChangeFeed
from app.metrics import CACHE
from app.read_set import ReadSet
from app.viewer import Viewer
from simusage.change_feed import Change
from simusage.storage import HOUR_SECONDS, ORGANIZATION, SIM_CARD

CacheKey = tuple[str, str | None, bytes, bool, str | None]
ENTRY_OVERHEAD_BYTES = 600  # the key, the read set and the bookkeeping of an entry, roughly


@dataclass(slots=True)
class Entry:
    """A cached answer and what it read."""

    data: Any
    size: int
    usage: list[tuple[str, str, int, int]]
    catalog: bool
    label: str  # the operation's metrics label


def cache_key(query: str, operation_name: str | None, variables: dict | None,
              viewer: Viewer) -> CacheKey | None:
    """The key of an operation as this viewer asks it; None if it cannot be keyed."""
    try:
        encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return (query, operation_name, encoded, viewer.admin, viewer.organization_id)


class ResponseCache:
    """Answers by key, bounded in bytes, evicted by the change feed."""

    def __init__(self, feed: ChangeFeed, max_bytes: int) -> None:
        self.feed = feed
        self.max_bytes = max_bytes
        self.bytes = 0
        self.entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self.by_subject: dict[tuple[str, str], set[CacheKey]] = defaultdict(set)
        feed.add_evictor(self.on_change)

    def lookup(self, key: CacheKey) -> Entry | None:
        """The cached answer of key, if any (counted as a hit or a miss)."""
        entry = self.entries.get(key) if self.feed.live else None
        if entry is None:
            CACHE.labels("miss").inc()
            return None
        self.entries.move_to_end(key)
        CACHE.labels("hit").inc()
        return entry

    def ticket(self) -> int | None:
        """Taken before executing: the feed's message count, None if the feed is down."""
        return self.feed.messages if self.feed.live and not self.feed.settling else None

    def store(self, key: CacheKey, ticket: int | None, data: Any, reads: ReadSet,
              label: str) -> None:
        """Keep data if nothing changed since the ticket and every read is described."""
        if ticket is None or not self.feed.live or self.feed.settling \
                or self.feed.messages != ticket or not reads.complete:
            return
        size = len(orjson.dumps(data)) + ENTRY_OVERHEAD_BYTES + 48 * len(reads.usage)
        if size > self.max_bytes // 4:
            return  # one huge answer must not flush everything else
        self._remove(key)
        self.entries[key] = Entry(data, size, reads.usage, reads.catalog, label)
        self.bytes += size
        for subject, subject_key, _, _ in reads.usage:
            self.by_subject[subject, subject_key].add(key)
        while self.bytes > self.max_bytes:
            self._remove(next(iter(self.entries)))

    def _remove(self, key: CacheKey) -> None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        self.bytes -= entry.size
        for subject, subject_key, _, _ in entry.usage:
            keys = self.by_subject.get((subject, subject_key))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_subject[subject, subject_key]

    def _evict(self, keys: set[CacheKey]) -> None:
        for key in keys:
            if key in self.entries:
                self._remove(key)
                CACHE.labels("eviction").inc()

    def on_change(self, change: Change) -> None:
        """Evict every answer that read something the change touched."""
        try:
            self._evict_changed(change)
        except Exception:
            self._evict(set(self.entries))  # never keep what might be stale
            raise

    def _evict_changed(self, change: Change) -> None:
        if change.everything:
            self._evict(set(self.entries))
            return
        doomed: set[CacheKey] = set()
        if change.new_cards:
            doomed.update(key for key, entry in self.entries.items() if entry.catalog)
        for start, end in change.ranges:
            low, high = start * HOUR_SECONDS, end * HOUR_SECONDS
            doomed.update(key for key, entry in self.entries.items()
                          if any(lower < high and low < upper for *_, lower, upper in entry.usage))
        for subject, changed in ((SIM_CARD, change.cards), (ORGANIZATION, change.organizations)):
            for subject_key, hours in changed.items():
                for key in self.by_subject.get((subject, subject_key), ()):
                    if self._reads_hours(self.entries[key], subject, subject_key, hours):
                        doomed.add(key)
        self._evict(doomed)

    @staticmethod
    def _reads_hours(entry: Entry, subject: str, key: str, hours: frozenset[int]) -> bool:
        for read_subject, read_key, lower, upper in entry.usage:
            if read_subject == subject and read_key == key:
                first, last = lower // HOUR_SECONDS, -(-upper // HOUR_SECONDS)
                if any(first <= hour < last for hour in hours):
                    return True
        return False
