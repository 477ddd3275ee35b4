"""Property tests of usage in a customer's calendar: local days and months across DST changes.

Random events crowd around daylight-saving changes of zones of both hemispheres (São Paulo's
2018 changes at midnight among them); hypothesis draws the zone, the granularity, the
interval and the page size. The expected buckets come from the events and zoneinfo alone: an
event's bucket is its local date (or month), and that bucket starts at the first whole UTC
hour whose local date it is, found by walking the hours, not by the API's arithmetic.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.conftest import Runner, check_on_timescaledb, loaded_runner
from tests.app.test_usage_properties import PAGE_FRAGMENT, usage, walk
from tests.app.usage_data import load

INVENTORY = {"2001": "north", "2002": "north", "2003": "south"}
CARDS = [*INVENTORY, "2004"]  # 2004 is in no organization
ZONES = ["Europe/Lisbon", "America/Sao_Paulo", "Australia/Sydney", "America/New_York", "UTC"]
# Days of DST changes (and a plain one): the intervals start near them.
ANCHORS = [date(2018, 2, 18), date(2018, 11, 4), date(2024, 3, 10), date(2024, 3, 31),
           date(2024, 4, 7), date(2024, 10, 6), date(2024, 10, 27), date(2024, 11, 3),
           date(2024, 6, 15)]

SERIES = """
query Series($card: ID!, $organization: ID!, $ofCard: Boolean!, $from: DateTime!, $to: DateTime!,
             $granularity: Granularity!, $zone: String!, $skipEmpty: Boolean!, $first: Int,
             $after: String, $last: Int, $before: String) {
  simCard(id: $card) @include(if: $ofCard) { usage(...Arguments) { ...Page } }
  organization(id: $organization) @skip(if: $ofCard) { usage(...Arguments) { ...Page } }
}
""".replace("...Arguments", "from: $from, to: $to, granularity: $granularity, timeZone: $zone, "
            "skipEmpty: $skipEmpty, first: $first, after: $after, last: $last, before: $before"
            ) + PAGE_FRAGMENT


def random_events() -> list[tuple[datetime, str, int]]:
    """Events within days of each anchor, and some anywhere in the two years."""
    generator = random.Random(20241027)
    events = []
    for anchor in ANCHORS:
        middle = datetime.combine(anchor, datetime.min.time(), UTC)
        for _ in range(120):
            time = middle + timedelta(seconds=generator.randrange(-5 * 86400, 5 * 86400))
            events.append((time, generator.choice(CARDS), generator.randrange(2**33)))
    for year in (2018, 2024):
        for _ in range(150):
            time = datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=generator.randrange(365 * 86400))
            events.append((time, generator.choice(CARDS), generator.randrange(4097)))
    return events


EVENTS = random_events()


def _local_key(granularity: str, instant: datetime, zone: ZoneInfo) -> tuple:
    local = instant.astimezone(zone)
    if granularity == "HOURLY":
        return (instant.replace(minute=0, second=0, microsecond=0),)
    return (local.year, local.month) if granularity == "MONTHLY" else (local.date(),)


def first_instant(granularity: str, key: tuple, zone: ZoneInfo) -> datetime:
    """The first whole UTC hour whose local day (month) is key, found by walking the hours."""
    if granularity == "HOURLY":
        return key[0]
    day = date(key[0], key[1], 1) if granularity == "MONTHLY" else key[0]
    hour = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=15)
    while _local_key(granularity, hour, zone) != key:
        hour += timedelta(hours=1)
    return hour


def expected_buckets(subject: str, key: str, granularity: str, zone: ZoneInfo) -> dict:
    """Bucket start -> [bytes, events], from the events."""
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for time, card, size in EVENTS:
        owner = card if subject == "card" else INVENTORY.get(card)
        if owner == key:
            start = first_instant(granularity, _local_key(granularity, time, zone), zone)
            buckets[start][0] += size
            buckets[start][1] += 1
    return buckets


def grid(granularity: str, zone: ZoneInfo, anchor: date, offset: int, length: int) -> list[datetime]:
    """The length + 1 boundaries of an interval offset buckets from the anchor."""
    if granularity == "HOURLY":
        start = datetime.combine(anchor, datetime.min.time(), UTC) + timedelta(hours=offset)
        return [start + timedelta(hours=index) for index in range(length + 1)]
    if granularity == "MONTHLY":
        months = [anchor.year * 12 + anchor.month - 1 + offset + index for index in range(length + 1)]
        keys = [(month // 12, month % 12 + 1) for month in months]
    else:
        keys = [(anchor + timedelta(days=offset + index),) for index in range(length + 1)]
    return [first_instant(granularity, key, zone) for key in keys]


def written(instant: datetime, zone_name: str) -> str:
    """A bucket start as the API writes it: with the zone's offset then (Z in UTC)."""
    if zone_name == "UTC":
        return instant.isoformat().replace("+00:00", "Z")
    return instant.astimezone(ZoneInfo(zone_name)).isoformat()


questions = st.fixed_dictionaries({
    "subject": st.sampled_from(
        [("card", card) for card in CARDS] + [("organization", name) for name in ("north", "south")]
    ),
    "zone": st.sampled_from(ZONES),
    "granularity": st.sampled_from(["HOURLY", "DAILY", "MONTHLY"]),
    "anchor": st.sampled_from(ANCHORS),
    "offset": st.integers(-4, 2),
    "length": st.integers(1, 9),
    "wall_clock": st.booleans(),  # from/to written as local time without offset
    "skip_empty": st.booleans(),
    "size": st.integers(1, 7),
})


def arguments(question: dict) -> tuple[dict, list[datetime]]:
    zone = ZoneInfo(question["zone"])
    granularity = question["granularity"]
    length = question["length"] * (12 if granularity == "HOURLY" else 1)
    boundaries = grid(granularity, zone, question["anchor"], question["offset"], length)

    def bound(instant: datetime) -> str:
        wall = instant.astimezone(zone).replace(tzinfo=None)
        # A wall time the clocks repeat reads as its earlier instant: written with its offset.
        if question["wall_clock"] and wall.replace(tzinfo=zone) == instant:
            return wall.isoformat()
        return instant.astimezone(zone).isoformat()

    subject, key = question["subject"]
    return {
        "card": key, "organization": key, "ofCard": subject == "card",
        "from": bound(boundaries[0]), "to": bound(boundaries[-1]), "granularity": granularity,
        "zone": question["zone"], "skipEmpty": question["skip_empty"],
    }, boundaries


def check_question(runner: Runner, question: dict) -> None:
    """Every bucket and total equals the reference; walks both ways join to the whole series."""
    variables, boundaries = arguments(question)
    subject, key = question["subject"]
    zone = ZoneInfo(question["zone"])
    expected = expected_buckets(subject, key, question["granularity"], zone)
    dense = usage(runner, {**variables, "skipEmpty": False, "first": 1000}, SERIES)
    assert [edge["node"] for edge in dense["edges"]] == [
        {"start": written(start, question["zone"]),
         "bytesUsed": str(expected.get(start, [0, 0])[0]),
         "eventCount": str(expected.get(start, [0, 0])[1])}
        for start in boundaries[:-1]
    ]
    assert dense["totalCount"] == len(boundaries) - 1
    in_interval = [(start, total) for start, total in expected.items()
                   if boundaries[0] <= start < boundaries[-1]]
    assert int(dense["totalBytesUsed"]) == sum(total[0] for _, total in in_interval)
    assert int(dense["totalEventCount"]) == sum(total[1] for _, total in in_interval)
    whole = usage(runner, {**variables, "first": 1000}, SERIES)
    if question["skip_empty"]:
        assert whole["edges"] == [edge for edge in dense["edges"] if edge["node"]["eventCount"] != "0"]
        assert whole["totalCount"] == len(whole["edges"])
    for backward in (False, True):
        assert walk(runner, variables, question["size"], backward, SERIES) == whole["edges"]


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions)
def test_local_days_and_months_equal_the_events_in_postgres_mode(runner: Runner, question: dict) -> None:
    check_question(runner, question)


@pytest.mark.timescaledb
def test_local_days_and_months_equal_the_events_in_timescaledb_mode(timescaledb_database: str) -> None:
    load(timescaledb_database, INVENTORY, EVENTS)
    check_on_timescaledb(timescaledb_database, questions, check_question, max_examples=25)
