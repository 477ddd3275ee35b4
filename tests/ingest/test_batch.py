"""Batch accumulation, per-bucket totals and range coalescing: pure logic, property-tested."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.batch import Batch, DiscontinuousChunk, aggregate, coalesce, merge_ranges
from ingest.chunk_parser import FastParser
from ingest.ownership import Owners, Period
from tests.ingest.helpers import sum_hourly

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OWNERS = {"1": "org-a", "2": "org-a", "3": "org-b"}  # "4" is not in the inventory
HOUR = 3600 * 10**6
SPAN = 200 * HOUR  # events and changes of ownership within the first 200 hours


def hour_number(moment: datetime) -> int:
    return (moment.replace(minute=0, second=0, microsecond=0) - EPOCH) // timedelta(hours=1)


def day_number(moment: datetime) -> int:
    return (moment.replace(hour=0, minute=0, second=0, microsecond=0) - EPOCH).days


events = st.lists(
    st.tuples(
        st.datetimes(datetime(1970, 1, 1), datetime(1970, 1, 9, 7), timezones=st.just(UTC)),
        st.sampled_from(["1", "2", "3", "4"]),
        st.integers(0, 2**40),
    ),
    max_size=200,
)
# Per card: the starts of its periods (some mid-hour, the first maybe after the beginning),
# each with an owner; the last maybe closed.
card_history = st.tuples(
    st.lists(st.integers(0, SPAN), min_size=1, max_size=4, unique=True).map(sorted),
    st.lists(st.sampled_from(["org-a", "org-b", "org-c"]), min_size=4, max_size=4),
    st.one_of(st.none(), st.integers(1, 50 * HOUR)),
)
histories = st.dictionaries(st.sampled_from(["1", "2", "3"]), card_history)


def periods_of(history: dict) -> list[Period]:
    periods = []
    for sim, (starts, organizations, closed_after) in history.items():
        ends = starts[1:] + [None if closed_after is None else starts[-1] + closed_after]
        periods += [Period(sim, organizations[i], start, ends[i]) for i, start in enumerate(starts)]
    return periods


def reference_owner(periods: list[Period], sim: str, time_us: int) -> str | None:
    """The owner by a plain scan over the periods: the oracle of Owners.at."""
    for period in periods:
        if period.sim_card_id == sim and period.valid_from_us <= time_us and (
            period.valid_to_us is None or time_us < period.valid_to_us
        ):
            return period.organization_id
    return None


@settings(max_examples=300, deadline=None)
@given(events, histories)
def test_totals_equal_a_calendar_group_by_of_events_attributed_by_their_time(
    drawn: list, history: dict
) -> None:
    periods = periods_of(history) + [
        Period(sim, organization, 0) for sim, organization in OWNERS.items() if sim not in history
    ]
    owners = Owners(periods)
    times = [(moment - EPOCH) // timedelta(microseconds=1) for moment, _, _ in drawn]
    sims = [sim for _, sim, _ in drawn]
    counts = [count for _, _, count in drawn]
    result = aggregate(sum_hourly(times, sims, counts), owners, events=(times, sims, counts))

    expected = {name: defaultdict(lambda: [0, 0]) for name in
                ("sim_card_hourly", "organization_hourly", "sim_card_daily", "organization_daily")}
    for (moment, sim, count), time_us in zip(drawn, times):
        owner = reference_owner(periods, sim, time_us)
        assert owners.at(sim, time_us) == owner
        slots = [("sim_card_hourly", (sim, owner or ""), hour_number(moment)),
                 ("sim_card_daily", (sim, owner or ""), day_number(moment))]
        if owner is not None:
            slots += [("organization_hourly", owner, hour_number(moment)),
                      ("organization_daily", owner, day_number(moment))]
        for name, key, bucket in slots:
            expected[name][key, bucket][0] += count
            expected[name][key, bucket][1] += 1
    for name, totals in expected.items():
        assert result.rows(name) == sorted((k, b, t[0], t[1]) for (k, b), t in totals.items())
    assert result.hours == sorted({hour_number(moment) for moment, _, _ in drawn})
    assert result.unknown_card_events == sum(1 for _, sim, _ in drawn if not owners.knows(sim))
    # Without rollups (TimescaleDB mode): the same hours and unknown count, no totals.
    light = aggregate(sum_hourly(times, sims, counts), owners, rollups=False)
    assert (light.hours, light.unknown_card_events) == (result.hours, result.unknown_card_events)
    assert light.rows("sim_card_hourly") == []


def test_rows_are_in_primary_key_order() -> None:
    owners = Owners([Period(sim, organization, 0) for sim, organization in OWNERS.items()])
    times, sims, counts = [5 * HOUR, HOUR, 3 * HOUR, HOUR], ["2", "2", "1", "1"], [1, 2, 3, 4]
    result = aggregate(sum_hourly(times, sims, counts), owners, events=(times, sims, counts))
    assert result.rows("sim_card_hourly") == [
        (("1", "org-a"), 1, 4, 1), (("1", "org-a"), 3, 3, 1), (("2", "org-a"), 1, 2, 1), (("2", "org-a"), 5, 1, 1)
    ]
    assert result.rows("organization_hourly") == [("org-a", 1, 6, 2), ("org-a", 3, 3, 1), ("org-a", 5, 1, 1)]


def test_an_hour_in_which_a_card_changed_hands_is_split_by_event_time() -> None:
    owners = Owners([Period("1", "org-a", 0, HOUR + 1800 * 10**6), Period("1", "org-b", HOUR + 1800 * 10**6)])
    times = [HOUR, HOUR + 1800 * 10**6 - 1, HOUR + 1800 * 10**6, 2 * HOUR]
    sims, counts = ["1"] * 4, [1, 2, 4, 8]
    result = aggregate(sum_hourly(times, sims, counts), owners, events=(times, sims, counts))
    assert result.rows("organization_hourly") == [("org-a", 1, 3, 2), ("org-b", 1, 4, 1), ("org-b", 2, 8, 1)]
    assert result.rows("sim_card_daily") == [(("1", "org-a"), 0, 3, 2), (("1", "org-b"), 0, 12, 2)]


units = st.lists(st.integers(-1000, 1000), max_size=60)


@settings(max_examples=300, deadline=None)
@given(units, st.integers(0, 50))
def test_coalesced_ranges_cover_exactly_and_are_minimal(drawn: list, gap: int) -> None:
    ranges = coalesce(drawn, gap)
    covered = {unit for start, end in ranges for unit in range(start, end)}
    assert covered >= set(drawn)
    for start, end in ranges:  # each range starts and ends on a unit that is there
        assert start in drawn and end - 1 in drawn
    for (_, end), (start, _) in zip(ranges, ranges[1:]):  # apart by more than the gap
        assert start - end > gap
    uncovered_inside = covered - set(drawn)
    for unit in uncovered_inside:  # holes inside a range are shorter than the gap allows
        assert any(unit + step in drawn for step in range(1, gap + 1))


def test_a_year_of_hourly_backfill_is_one_range() -> None:
    year = range(0, 365 * 24, 3)  # every third hour of a year
    assert coalesce(year, 24) == [(0, 365 * 24 - 2)]
    assert len(coalesce([0, 100, 200], 24)) == 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-500, 500), st.integers(1, 40)), max_size=30), st.integers(0, 20))
def test_merged_ranges_cover_the_same_units(drawn: list, gap: int) -> None:
    ranges = [(start, start + length) for start, length in drawn]
    merged = merge_ranges(ranges, gap)
    inside = {u for start, end in ranges for u in range(start, end)}
    merged_units = {u for start, end in merged for u in range(start, end)}
    assert inside <= merged_units
    assert merged == sorted(merged)
    for (_, end), (start, _) in zip(merged, merged[1:]):
        assert start - end > gap


@dataclass
class FakeChunk:
    topic: str
    partition: int
    start_offset: int
    next_offset: int
    values: list = field(default_factory=list)


VALUE = b'{"sim-card-id": "1", "bytes-used": 5, "date": "2020-02-01T10:15:00Z"}'
BAD = b'{"sim-card-id": "1", "bytes-used": 5, "date": "2020-02-00T10:15:00Z"}'


def test_batch_tracks_offsets_per_partition_and_rejections() -> None:
    batch, parser = Batch(), FastParser()
    batch.add(FakeChunk("t", 0, 10, 12, [VALUE, BAD]), parser)
    batch.add(FakeChunk("t", 1, 0, 1, [VALUE]), parser)
    batch.add(FakeChunk("t", 0, 12, 15, [VALUE]), parser)  # a gap of offsets inside: compaction
    assert batch.partitions("t") == [(0, 10, 15), (1, 0, 1)]
    assert len(batch) == 4 and batch.counts == [5, 5, 5]
    assert batch.hourly == sum_hourly(batch.times, batch.sims, batch.counts)
    assert [(r.index, r.rejection.reason) for r in batch.rejected] == [(1, "date-invalid")]
    with pytest.raises(DiscontinuousChunk):
        batch.add(FakeChunk("t", 1, 5, 6, [VALUE]), parser)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1", "22", "333", "4444"]), st.booleans()), max_size=60))
def test_the_cards_of_a_batch_are_those_of_its_accepted_events(drawn: list) -> None:
    batch, parser = Batch(), FastParser()
    values = [
        (VALUE if good else BAD).replace(b'"1"', f'"{sim}"'.encode()) for sim, good in drawn
    ]
    batch.add(FakeChunk("t", 0, 0, len(values), values), parser)
    assert batch.cards() == set(batch.sims) == {sim for sim, good in drawn if good}
