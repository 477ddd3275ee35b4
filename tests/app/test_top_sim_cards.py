"""Organization.topSimCards against a ranking computed from the events, paged both ways.

Cards tie on purpose (equal bytes), one card changes hands mid-interval (each owner ranks it by
what it used while it was theirs), and intervals start and end on ragged hours, so whole days
and hours are both read.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.pagination import encode_cursor
from tests.app.conftest import Runner, check_on_timescaledb, loaded_runner
from tests.app.usage_data import BEGINNING, load

EPOCH = datetime(2024, 1, 20, tzinfo=UTC)  # 50 days: whole months, days and hours are read
MOVED = "3099"
MOVE = EPOCH + timedelta(days=14, hours=7)  # within February: the month has two owners
INVENTORY = {f"30{n:02}": "red" if n % 3 else "blue" for n in range(40)}
HISTORIES = {MOVED: [(BEGINNING, "red"), (MOVE, "blue")]}

RANKING = """
query Ranking($organization: ID!, $from: DateTime!, $to: DateTime!, $first: Int, $after: String,
              $last: Int, $before: String, $zone: String) {
  organization(id: $organization) {
    topSimCards(from: $from, to: $to, timeZone: $zone, first: $first, after: $after, last: $last,
                before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { simCard { id } bytesUsed eventCount } }
    }
  }
}
"""


def random_events() -> list[tuple[datetime, str, int]]:
    generator = random.Random(31)
    events = []
    for card in [*INVENTORY, MOVED]:
        for _ in range(generator.randrange(0, 30)):
            time = EPOCH + timedelta(seconds=generator.randrange(50 * 86400))
            # Few distinct sizes: many cards tie on their totals.
            events.append((time, card, generator.choice([0, 1000, 2000, 5000])))
    return events


EVENTS = random_events()


def owner(card: str, time: datetime) -> str | None:
    if card == MOVED:
        return "red" if time < MOVE else "blue"
    return INVENTORY.get(card)


def reference(organization: str, start: datetime, end: datetime) -> list[dict]:
    """The ranking from the events: bytes desc, then card id."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for time, card, size in EVENTS:
        if start <= time < end and owner(card, time) == organization:
            totals[card][0] += size
            totals[card][1] += 1
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return [{"simCard": {"id": card}, "bytesUsed": str(total[0]), "eventCount": str(total[1])}
            for card, total in ranked]


def ranking(runner: Runner, variables: dict) -> dict:
    return runner.data(RANKING, variables)["organization"]["topSimCards"]


def walk(runner: Runner, variables: dict, size: int, backward: bool) -> list[dict]:
    """Every card of the ranking, page by page."""
    nodes: list[dict] = []
    cursor = None
    for _ in range(200):
        if backward:
            page = ranking(runner, {**variables, "last": size, "before": cursor})
            assert page["pageInfo"]["hasNextPage"] == (cursor is not None)  # cards follow `before`
            nodes[:0] = [edge["node"] for edge in page["edges"]]
            more, cursor = page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["startCursor"]
        else:
            page = ranking(runner, {**variables, "first": size, "after": cursor})
            assert page["pageInfo"]["hasPreviousPage"] == (cursor is not None)
            nodes.extend(edge["node"] for edge in page["edges"])
            more, cursor = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
        assert len(page["edges"]) <= size
        if not more:
            return nodes
    raise AssertionError("pagination did not end")


questions = st.fixed_dictionaries({
    "organization": st.sampled_from(["red", "blue"]),
    "start_hour": st.integers(-30, 600),
    "hours": st.one_of(st.integers(1, 200), st.integers(600, 1300)),
    "size": st.integers(1, 12),
    "zone": st.sampled_from([None, "UTC", "Europe/Lisbon"]),
})


def check(runner: Runner, question: dict) -> None:
    start = EPOCH + timedelta(hours=question["start_hour"])
    end = start + timedelta(hours=question["hours"])
    variables = {"organization": question["organization"], "from": start.isoformat(),
                 "to": end.isoformat(), "zone": question["zone"]}
    expected = reference(question["organization"], start, end)
    whole = ranking(runner, {**variables, "first": 1000})
    assert [edge["node"] for edge in whole["edges"]] == expected
    assert whole["totalCount"] == len(expected)
    assert walk(runner, variables, question["size"], backward=False) == expected
    assert walk(runner, variables, question["size"], backward=True) == expected


@pytest.fixture(scope="module")
def runner(module_database: str) -> Iterator[Runner]:
    load(module_database, ownership=HISTORIES)
    with loaded_runner(module_database, INVENTORY, EVENTS) as schema_runner:
        yield schema_runner


# Months in a zone an hour off UTC, and one trimmed at both ends: a UTC month less and plus hours.
LOCAL_MONTHS = [
    {"organization": organization, "start_hour": 12 * 24 - 1, "hours": hours, "size": 7, "zone": None}
    for organization in ("red", "blue") for hours in (29 * 24, 29 * 24 + 3, 29 * 24 - 2)
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(questions)
def test_top_sim_cards_equal_the_reference_ranking(runner: Runner, question: dict) -> None:
    check(runner, question)


@pytest.mark.parametrize("question", LOCAL_MONTHS)
def test_a_month_in_a_zone_is_a_utc_month_with_hours_trimmed(runner: Runner, question: dict) -> None:
    check(runner, question)


def test_a_moved_card_ranks_for_each_owner_by_its_own_usage(runner: Runner) -> None:
    variables = {"from": EPOCH.isoformat(), "to": (EPOCH + timedelta(days=50)).isoformat(),
                 "first": 1000}
    for organization in ("red", "blue"):
        nodes = [edge["node"] for edge in ranking(runner, {**variables, "organization": organization})["edges"]]
        moved = [node for node in nodes if node["simCard"]["id"] == MOVED]
        assert moved == [node for node in reference(organization, EPOCH, EPOCH + timedelta(days=50))
                         if node["simCard"]["id"] == MOVED]
        assert moved, "the moved card has usage on both sides of its move"


@pytest.mark.parametrize(("arguments", "message"), [
    ({"from": "2024-03-01T00:30:00Z", "to": "2024-03-02"}, "from must be a whole hour"),
    ({"from": "2024-03-02", "to": "2024-03-01"}, "from must be earlier than to"),
    ({"from": "2024-03-01", "to": "2024-03-02", "first": 1001}, "first must be at most 1000"),
    ({"from": "2024-03-01", "to": "2024-03-02", "first": -1}, "first must not be negative"),
    ({"from": "2024-03-01", "to": "2024-03-02", "zone": "Asia/Kolkata"}, "not a whole number"),
    ({"from": "2024-03-01", "to": "2024-03-02", "zone": "Nowhere/City"}, "not an IANA time zone"),
    ({"from": "2024-03-01", "to": "2024-03-02", "after": encode_cursor("usage-hourly", 1709251200)},
     "belongs to a usage-hourly list"),
    ({"from": "2024-03-01", "to": "2024-03-02", "after": encode_cursor("top-sim-cards", f"{2**63}:3001")},
     "invalid cursor"),
    ({"from": "2024-03-01", "to": "2024-03-02", "before": "not a cursor!"}, "invalid cursor"),
])
def test_bad_ranking_input_is_the_clients_error(runner: Runner, arguments: dict, message: str) -> None:
    result = runner.execute(RANKING, {"organization": "red", **arguments})
    assert result.errors is not None and len(result.errors) == 1
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert message in result.errors[0].message, result.errors[0].message


@pytest.mark.timescaledb
def test_top_sim_cards_in_timescaledb_mode(timescaledb_database: str) -> None:
    load(timescaledb_database, ownership=HISTORIES)
    load(timescaledb_database, INVENTORY, EVENTS)
    check_on_timescaledb(timescaledb_database, st.one_of(st.sampled_from(LOCAL_MONTHS), questions),
                         check, max_examples=20)
