"""Property tests of usage series on a random data set: pages, totals and skipEmpty agree.

The data set is drawn once per module (seeded); hypothesis draws the questions: whose usage,
which interval and granularity, page size, direction, skipEmpty. The expected series is
computed in Python from the events themselves, independently of the aggregates.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.series import STEPS
from tests.app.conftest import Runner, loaded_runner
from tests.app.usage_data import raw_sum

INVENTORY = {"1001": "alpha", "1002": "alpha", "1003": "beta"}
CARDS = ["1001", "1002", "1003", "1004"]  # 1004 is not in the inventory
EPOCH = datetime(2022, 1, 30, tzinfo=UTC)

SERIES = """
query Series($card: ID!, $organization: ID!, $ofCard: Boolean!, $from: DateTime!, $to: DateTime!,
             $granularity: Granularity!, $skipEmpty: Boolean!, $first: Int, $after: String,
             $last: Int, $before: String) {
  simCard(id: $card) @include(if: $ofCard) { usage(...Arguments) { ...Page } }
  organization(id: $organization) @skip(if: $ofCard) { usage(...Arguments) { ...Page } }
}
"""
# Everything a page of a series says, asked by the property tests of series.
PAGE_FRAGMENT = """
fragment Page on UsageConnection {
  totalCount totalBytesUsed totalEventCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { start bytesUsed eventCount } }
}
"""
# GraphQL has no argument spreads: the same arguments are written out for both subjects.
ARGUMENTS = ("from: $from, to: $to, granularity: $granularity, skipEmpty: $skipEmpty, "
             "first: $first, after: $after, last: $last, before: $before")
SERIES = SERIES.replace("...Arguments", ARGUMENTS) + PAGE_FRAGMENT


def random_events() -> list[tuple[datetime, str, int]]:
    """Bursts of events with quiet hours and days between them, some bytes zero, some huge."""
    generator = random.Random(20220210)
    events = []
    for _ in range(60):
        burst_start = EPOCH + timedelta(minutes=generator.randrange(8 * 24 * 60))
        card = generator.choice(CARDS)
        for _ in range(generator.randrange(1, 12)):
            time = burst_start + timedelta(seconds=generator.randrange(4 * 3600))
            size = generator.choice([0, generator.randrange(4097), generator.randrange(2**40)])
            events.append((time, card, size))
    return events


EVENTS = random_events()


def expected_series(subject: str, key: str, granularity: str) -> dict[datetime, tuple[int, int]]:
    """Bucket start -> (bytes, events), from the events themselves."""
    step = timedelta(seconds=STEPS[granularity])
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for time, card, size in EVENTS:
        owner = card if subject == "card" else INVENTORY.get(card)
        if owner == key:
            start = EPOCH + (time - EPOCH) // step * step
            buckets[start][0] += size
            buckets[start][1] += 1
    return {start: (total[0], total[1]) for start, total in buckets.items()}


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


questions = st.fixed_dictionaries({
    "subject": st.sampled_from(
        [("card", card) for card in CARDS] + [("organization", name) for name in ("alpha", "beta")]
    ),
    "granularity": st.sampled_from(["HOURLY", "DAILY"]),
    "offset": st.integers(-30, 200),
    "length": st.integers(1, 260),
    "skip_empty": st.booleans(),
    "size": st.integers(1, 60),
})


def arguments(question: dict) -> dict:
    step = timedelta(seconds=STEPS[question["granularity"]])
    if question["granularity"] == "DAILY":
        offset, length = question["offset"] // 24, max(1, question["length"] // 24)
    else:
        offset, length = question["offset"], question["length"]
    start = EPOCH + offset * step
    subject, key = question["subject"]
    return {
        "card": key, "organization": key, "ofCard": subject == "card",
        "from": start.isoformat(), "to": (start + length * step).isoformat(),
        "granularity": question["granularity"], "skipEmpty": question["skip_empty"],
    }


def usage(runner: Runner, variables: dict, query: str = SERIES) -> dict:
    data = runner.data(query, variables)
    return (data.get("simCard") or data.get("organization"))["usage"]


def walk(runner: Runner, variables: dict, size: int, backward: bool, query: str = SERIES) -> list[dict]:
    """Every edge of the series, page by page."""
    edges: list[dict] = []
    cursor = None
    for _ in range(300):
        if backward:
            page = usage(runner, {**variables, "last": size, "before": cursor}, query)
            edges[:0] = page["edges"]
            assert page["pageInfo"]["hasNextPage"] == (cursor is not None and page["totalCount"] > 0)
            more, cursor = page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["startCursor"]
        else:
            page = usage(runner, {**variables, "first": size, "after": cursor}, query)
            edges.extend(page["edges"])
            more, cursor = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
        assert len(page["edges"]) <= size
        if not more:
            return edges
    raise AssertionError("pagination did not end")


def whole(runner: Runner, variables: dict) -> dict:
    return usage(runner, {**variables, "first": 1000})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions)
def test_pages_forward_and_backward_give_the_unpaged_series(runner: Runner, question: dict) -> None:
    variables = arguments(question)
    unpaged = whole(runner, variables)
    assert unpaged["pageInfo"]["hasNextPage"] is False
    assert walk(runner, variables, question["size"], backward=False) == unpaged["edges"]
    assert walk(runner, variables, question["size"], backward=True) == unpaged["edges"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions)
def test_buckets_totals_and_raw_rows_agree(runner: Runner, module_database: str, question: dict) -> None:
    variables = arguments(question)
    dense = whole(runner, {**variables, "skipEmpty": False})
    sparse = whole(runner, {**variables, "skipEmpty": True})
    start = datetime.fromisoformat(variables["from"])
    end = datetime.fromisoformat(variables["to"])
    step = timedelta(seconds=STEPS[variables["granularity"]])
    subject, key = question["subject"]
    expected = expected_series(subject, key, variables["granularity"])

    grid = [start + i * step for i in range((end - start) // step)]
    assert dense["totalCount"] == len(grid)
    assert [edge["node"] for edge in dense["edges"]] == [
        {"start": t.isoformat().replace("+00:00", "Z"),
         "bytesUsed": str(expected.get(t, (0, 0))[0]),
         "eventCount": str(expected.get(t, (0, 0))[1])}
        for t in grid
    ]
    non_empty = [edge for edge in dense["edges"] if edge["node"]["eventCount"] != "0"]
    assert sparse["edges"] == non_empty
    assert sparse["totalCount"] == len(non_empty)

    column = "sim_card_id" if subject == "card" else "organization_id"
    truth = raw_sum(module_database, column, key, start, end)
    bucket_bytes = sum(int(edge["node"]["bytesUsed"]) for edge in dense["edges"])
    bucket_events = sum(int(edge["node"]["eventCount"]) for edge in dense["edges"])
    for answer in (dense, sparse):
        assert (int(answer["totalBytesUsed"]), int(answer["totalEventCount"])) == truth
    assert (bucket_bytes, bucket_events) == truth
