"""A batch of records on its way to the database: pure accumulation and arithmetic, no I/O.

Accepted events are kept in three parallel columns (time in microseconds since 1970 UTC, SIM
card id, bytes) rather than one object each. The batch also remembers the rejected records and,
per partition, the offsets it covers: `[start, next)`, `start` being the offset the database
must still hold for the batch to be written (the compare-and-set of the writer).

Hours and days are counted from 1970-01-01 UTC, as integers: `time_us // HOUR_US`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from ingest.chunk_parser import FastParser
from ingest.events import HOUR_US, Rejection
from ingest.ownership import Owners

HOURS_PER_DAY = 24


class DiscontinuousChunk(Exception):
    """A chunk does not start where the batch's previous chunk of its partition ended."""


@dataclass(slots=True)
class Rejected:
    """A record that is not an event: where it was, and why."""

    chunk: object  # the consumer's chunk, which can give back the original record
    index: int
    rejection: Rejection


@dataclass(slots=True)
class Batch:
    """Events in columns, rejected records, and the offset range of each partition."""

    times: list[int] = field(default_factory=list)
    sims: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    hourly: dict = field(default_factory=dict)  # (sim, hour) -> [bytes, events]
    rejected: list[Rejected] = field(default_factory=list)
    # (topic, partition) -> [start offset, next offset]
    offsets: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    records: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, chunk, parser: FastParser) -> None:
        """Parse a chunk's values into the batch (chunk: topic, partition, start_offset,
        next_offset, values)."""
        key = (chunk.topic, chunk.partition)
        span = self.offsets.get(key)
        if span is not None and span[1] != chunk.start_offset:
            raise DiscontinuousChunk(
                f"{key}: chunk starts at {chunk.start_offset}, batch is at {span[1]}"
            )
        rejected: list[tuple[int, Rejection]] = []
        parser.parse(chunk.values, self.times, self.sims, self.counts, rejected, self.hourly)
        # The offsets move past the chunk only once every record of it is an event or a
        # rejection: a batch never covers records it does not hold.
        if span is None:
            self.offsets[key] = [chunk.start_offset, chunk.next_offset]
        else:
            span[1] = chunk.next_offset
        if rejected:  # in index order: the parser's promise
            self.rejected.extend(Rejected(chunk, index, why) for index, why in rejected)
        self.records += len(chunk.values)

    def __len__(self) -> int:
        return self.records

    def cards(self) -> set[str]:
        """The distinct SIM cards of the accepted events (from the hourly totals: a few
        thousand keys rather than one entry per event)."""
        return {sim for sim, _ in self.hourly}

    def partitions(self, topic: str) -> list[tuple[int, int, int]]:
        """(partition, start, next) of the topic's partitions, sorted by partition."""
        return sorted((p, s, n) for (t, p), (s, n) in self.offsets.items() if t == topic)


# (key, bucket) -> [bytes, events]; a card's key is (SIM, owner or '').
Totals = dict[tuple, list[int]]
# A batch's (times, sims, counts) columns.
Events = tuple[Sequence[int], Sequence[str], Sequence[int]]


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Per-bucket totals of a batch for the five rollups: (key, bucket) -> [bytes, events],
    buckets being hour or day numbers (months: the hour of their start). `rows` gives them sorted by (key, bucket), the
    primary-key order of the rollup tables in which every worker must lock them."""

    sim_card_hourly: Totals
    organization_hourly: Totals
    sim_card_daily: Totals
    organization_daily: Totals
    sim_card_monthly: Totals  # buckets: the hour number of each UTC month's start
    hours: list[int]  # sorted distinct hours with events
    unknown_card_events: int

    def rows(self, attribute: str) -> list[tuple[str, int, int, int]]:
        """(key, bucket, bytes, events) of one relation, sorted by (key, bucket)."""
        totals: Totals = getattr(self, attribute)
        return [(key, bucket, total[0], total[1]) for (key, bucket), total in sorted(totals.items())]


def _roll(totals: Totals, key_of: Callable, bucket_of) -> Totals:
    rolled: Totals = {}
    for (key, bucket), (bytes_used, events) in totals.items():
        new_key = key_of(key)
        if new_key is None:
            continue
        slot = (new_key, bucket_of(bucket))
        total = rolled.get(slot)
        if total is None:
            rolled[slot] = [bytes_used, events]
        else:
            total[0] += bytes_used
            total[1] += events
    return rolled


def aggregate(
    hourly: Totals, owners: Owners, *, rollups: bool = True, events: Events = ((), (), ())
) -> Aggregates:
    """From the per (SIM, hour) totals, derive per (SIM and its owner, hour), (org, hour),
    (SIM and owner, day), (org, day); events: the batch's (times, sims, counts) columns.

    Events are attributed by their time. Those of a card without owner then count for their
    SIM card only, under the owner ''. Without rollups, only the hours and the unknown-card
    count are computed (TimescaleDB aggregates by itself).
    """
    hours = sorted({hour for _, hour in hourly})
    unknown = sum(total[1] for (sim, _), total in hourly.items() if not owners.knows(sim))
    if not rollups:
        return Aggregates({}, {}, {}, {}, {}, hours=hours, unknown_card_events=unknown)
    sim_card_hourly = attribute(hourly, owners, events)
    organization_hourly = _roll(sim_card_hourly, _owner, _same)
    sim_card_daily = _roll(sim_card_hourly, _same, _day_of_hour)
    return Aggregates(
        sim_card_hourly=sim_card_hourly,
        organization_hourly=organization_hourly,
        sim_card_daily=sim_card_daily,
        organization_daily=_roll(organization_hourly, _same, _day_of_hour),
        sim_card_monthly=_roll(sim_card_daily, _same, month_start_hour_of_day),
        hours=hours,
        unknown_card_events=unknown,
    )


def attribute(hourly: Totals, owners: Owners, events: Events) -> Totals:
    """((SIM, owner or ''), hour) -> [bytes, events]. An hour in which the card changed hands
    is split by the time of each of its events (found in the columns: rare, and only then)."""
    constant = owners.constant
    attributed: Totals = {}
    split: set[tuple[str, int]] = set()
    for (sim, hour), total in hourly.items():
        owner = constant.get(sim)
        if owner is None:
            owner, whole = owners.of_hour(sim, hour)
            if not whole:
                split.add((sim, hour))
                continue
        attributed[(sim, owner or ""), hour] = total
    if split:
        for time_us, sim, bytes_used in zip(*events):
            hour = time_us // HOUR_US
            if (sim, hour) in split:
                slot = ((sim, owners.at(sim, time_us) or ""), hour)
                total = attributed.setdefault(slot, [0, 0])
                total[0] += bytes_used
                total[1] += 1
    return attributed


def changed_hours(aggregates: Aggregates, hourly: Totals, owners: Owners,
                  events: Events) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """The hours of each card and of each organization the batch adds usage to (for the
    change feed); attributed as the rollups are, computed here where TimescaleDB rolls up."""
    attributed = aggregates.sim_card_hourly or attribute(hourly, owners, events)
    cards: dict[str, set[int]] = {}
    organizations: dict[str, set[int]] = {}
    for (sim, owner), hour in attributed:
        cards.setdefault(sim, set()).add(hour)
        if owner:
            organizations.setdefault(owner, set()).add(hour)
    return cards, organizations


def _owner(key: tuple[str, str]) -> str | None:
    return key[1] or None


def _same(value):
    return value


def _day_of_hour(hour: int) -> int:
    return hour // HOURS_PER_DAY


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=4096)
def month_start_hour_of_day(day: int) -> int:
    """The hour number (since 1970) of the start of the UTC month of a day number."""
    first = date.fromordinal(_EPOCH_ORDINAL + day).replace(day=1)
    return (first.toordinal() - _EPOCH_ORDINAL) * HOURS_PER_DAY


def coalesce(units: Iterable[int], max_gap: int) -> list[tuple[int, int]]:
    """Half-open ranges [start, end) covering the integer units, merging ranges whose gap
    (units not covered between them) is at most max_gap."""
    ranges: list[list[int]] = []
    for unit in sorted(set(units)):
        if ranges and unit - ranges[-1][1] <= max_gap:
            ranges[-1][1] = max(ranges[-1][1], unit + 1)
        else:
            ranges.append([unit, unit + 1])
    return [(start, end) for start, end in ranges]


def merge_ranges(ranges: Iterable[tuple[int, int]], max_gap: int) -> list[tuple[int, int]]:
    """Merge half-open ranges that overlap or lie at most max_gap apart."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start - merged[-1][1] <= max_gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]
